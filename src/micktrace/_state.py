"""Process-wide state, kept in one place.

Nothing here is created at import time except empty containers and a lock: no
threads, no files, no handlers. The first ``get_logger`` or ``configure`` builds
the configuration.
"""

from __future__ import annotations

import os
import threading
import weakref
from typing import TYPE_CHECKING, Any, Dict, List, Optional, Tuple

if TYPE_CHECKING:
    from .config import Config
    from .handlers.base import Handler
    from .logger import Logger

lock = threading.RLock()
config: Optional[Config] = None
loggers: Dict[str, Logger] = {}
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


def _after_fork_in_child() -> None:
    global pid, exit_deadline
    pid = os.getpid()
    exit_deadline = None


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
