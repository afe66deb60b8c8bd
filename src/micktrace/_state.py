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

import gc
import os
import sys
import threading
import time
import weakref
from types import CodeType, FrameType
from typing import TYPE_CHECKING, Any, Callable, Dict, List, Optional, Set, Tuple

if TYPE_CHECKING:
    from .config import Config
    from .handlers.base import Handler
    from .logger import Logger

lock = threading.RLock()
config: Optional[Config] = None
#: the loggers get_logger() made, by name: at most ``LOGGER_CACHE_SIZE`` of
#: the most recent (the older half leaves when it is full) are held here;
#: older ones stay reachable by name through ``weak_loggers`` for as long as
#: anything else holds them
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


#: the code of every function that reads the configuration at the start of a
#: log call and then delivers through it (the logger's methods, the stdlib
#: capture): a thread running one of them may hold a configuration that is no
#: longer in force (see wait_for_log_calls)
log_call_codes: Set[CodeType] = set()
#: how long a configuration that was replaced waits for the log calls still
#: using it before its handlers are closed anyway (a handler that hangs)
RETIRE_GRACE = 2.0


def _frames_of_threads() -> Dict[int, FrameType]:
    """``sys._current_frames()`` with the cyclic collector held off. CPython (3.11) builds
    that dict while holding the runtime's thread-list lock; an allocation in there can run
    a collection, and collecting a ``threading.local`` takes the same lock again: the
    process hangs for good (seen here, in configure()). With the collector off for these
    few allocations nothing can be collected inside."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        return sys._current_frames()
    finally:
        if enabled:
            gc.enable()


def _log_calls_in_flight(me: int) -> Dict[int, FrameType]:
    """Every other thread inside a log call: its outermost log-call frame."""
    codes = log_call_codes
    found: Dict[int, FrameType] = {}
    for ident, frame in _frames_of_threads().items():
        if ident == me:
            continue
        f: Optional[FrameType] = frame
        while f is not None:
            if f.f_code in codes:
                found[ident] = f  # keep walking: the outermost one counts
            f = f.f_back
    return found


#: the log calls a wait gave up on, by thread (see wait_for_log_calls)
_given_up: Dict[int, FrameType] = {}


def wait_for_log_calls(timeout: float = RETIRE_GRACE) -> bool:
    """Wait until every log call that was under way when this was called has
    returned (call it after :func:`install`): then no thread can still deliver
    through the configuration replaced, and its handlers may be closed.

    Costs the logging threads nothing: it looks at their stacks. A frame object
    held here cannot be reused by a later call, so a thread found in a log call
    is done with it once that frame is no longer on its stack. False if
    *timeout* ran out first (a handler that hangs); a call given up on once is
    not waited for again.
    """
    global _given_up
    try:
        me = threading.get_ident()
        waiting = _log_calls_in_flight(me)
        # a call already waited for in vain (a handler that hangs for good)
        # is not waited for again: one configure() paid for it
        _given_up = {ident: f for ident, f in _given_up.items() if waiting.get(ident) is f}
        waiting = {ident: f for ident, f in waiting.items() if _given_up.get(ident) is not f}
        deadline = time.monotonic() + timeout
        pause = 0.0002
        while waiting:
            if time.monotonic() >= deadline:
                _given_up.update(waiting)
                return False
            time.sleep(pause)
            pause = min(pause * 2, 0.005)
            now = _log_calls_in_flight(me)
            waiting = {ident: f for ident, f in waiting.items() if now.get(ident) is f}
        return True
    except Exception:  # an exotic interpreter without sys._current_frames
        time.sleep(0.01)
        return False


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
