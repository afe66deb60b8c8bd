"""Fork safety for file handlers made outside a configuration.

The dispatcher's fork hook calls ``after_fork()`` on every handler of the
configuration in force; a :class:`~micktrace.handlers.file.FileHandler` built
directly (or kept after a reconfiguration) is reached by nobody else, so this
module tracks live file handlers and resets, in a forked child, those the
configuration does not hold: each handler is reset once per fork, whichever
hook runs first. The hook is registered on the first tracked handler, not at
import.

May import the standard library, :mod:`micktrace._state` (the configuration in
force) and :mod:`micktrace.handlers.base` (types only).
"""

from __future__ import annotations

import os
import threading
import weakref
from typing import TYPE_CHECKING, Optional

from .. import _state

if TYPE_CHECKING:
    from .base import Handler

_lock = threading.Lock()
_live: Optional[weakref.WeakSet[Handler]] = None


def track(handler: Handler) -> None:
    """Reset *handler* (``after_fork()``) in forked children, unless the
    configuration in force holds it."""
    global _live
    with _lock:
        if _live is None:
            _live = weakref.WeakSet()
            if hasattr(os, "register_at_fork"):
                os.register_at_fork(after_in_child=_after_fork_in_child)
        _live.add(handler)


def _after_fork_in_child() -> None:
    global _lock
    _lock = threading.Lock()
    cfg = _state.config
    configured = {id(handler) for handler in cfg.handlers} if cfg is not None else set()
    for handler in list(_live or ()):
        if id(handler) in configured:
            continue  # the dispatcher's hook resets it
        try:
            handler.after_fork()
        except Exception:
            pass
