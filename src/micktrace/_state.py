"""Process-wide state, kept in one place: the bottom of the layers.

Holds the configuration in force and how it is swapped in (:func:`install`,
with the listeners that follow it: the logger registers one to rebind every
logger), how the zero-config default is built on first use
(:func:`current`, through the builder the config layer registers), the logger
cache (bounded), active ``capture_logs`` sinks, the fallback handler and the exit
deadline. Lower layers read the configuration here instead of importing the
layers above them.

Nothing here is created at import time except empty containers and a lock: no
threads, no files, no handlers. The first ``get_logger`` or ``configure`` builds
the configuration. Imports nothing of micktrace.
"""

from __future__ import annotations

import os
import threading
import weakref
from typing import TYPE_CHECKING, Any, Callable, Dict, List, Optional, Tuple

if TYPE_CHECKING:
    from .config import Config
    from .handlers.base import Handler
    from .logger import Logger

lock = threading.RLock()
config: Optional[Config] = None
#: the loggers get_logger() made, by name: the most recently created
#: ``LOGGER_CACHE_SIZE`` are held here; older ones stay reachable by name
#: through ``weak_loggers`` for as long as anything else holds them
loggers: Dict[str, Logger] = {}
weak_loggers: weakref.WeakValueDictionary[str, Logger] = weakref.WeakValueDictionary()
LOGGER_CACHE_SIZE = 4096
all_loggers: weakref.WeakSet[Logger] = weakref.WeakSet()
#: active capture_logs() sinks: each a list that receives every record
captures: Tuple[List[Any], ...] = ()
#: where records go that a handler could not take (None: stderr, text format)
fallback: Optional[Handler] = None
#: settings to rebuild from after shutdown()
pending_settings: Optional[Dict[str, Any]] = None
pid = os.getpid()
#: time.monotonic() by which the process means to be gone (set by the exit flush,
#: shutdown() and flush_on_signals()): network handlers stop retrying then and
#: hand what they still hold to the fallback. None while no exit is under way.
exit_deadline: Optional[float] = None


#: the configuration file applied last (configure_from_file, MICKTRACE_CONFIG):
#: {"path", "status": "ok" | "error", "error", "loaded_at"}, shown by health()
config_file: Optional[Dict[str, Any]] = None
#: called with the new configuration (or None after shutdown()) by install()
listeners: List[Callable[[Optional[Config]], None]] = []
#: builds the zero-config default; registered by micktrace.config when it loads
default_builder: Optional[Callable[[], Config]] = None


def install(new: Optional[Config]) -> None:
    """Make *new* the configuration in force (call with ``lock`` held) and tell
    the listeners: every logger follows at once."""
    global config, fallback
    config = new
    fallback = new.settings.get("fallback") if new is not None else None
    for listener in listeners:
        listener(new)


def current() -> Config:
    """The configuration in force, building the default on first use."""
    cfg = config
    if cfg is not None:
        return cfg
    if default_builder is None:
        raise RuntimeError("micktrace.config is not loaded")
    return default_builder()


def _after_fork_in_child() -> None:
    global pid, exit_deadline, lock
    pid = os.getpid()
    exit_deadline = None
    # a parent thread may have held the lock at the fork: in the child nobody
    # would ever release it (bind(), get_logger() and configure() would hang)
    lock = threading.RLock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
