"""Is this log call being made from inside a Python signal handler?

Holds :func:`in_signal_handler`. A signal handler runs on the main thread
between two bytecodes of whatever it interrupted, so a log call from it can
arrive while that same thread is half-way through a handler's write or holds
one of micktrace's locks. The dispatcher asks this question only on that rare
re-entrant path, to tell a record logged by a signal handler (delivered once
the interrupted write has finished) from a record a handler logs about itself
(kept from re-entering it): it walks the stack looking for the code of a
currently installed Python signal handler.

May import: the standard library only.
"""

from __future__ import annotations

import signal
import sys
import threading
from types import CodeType
from typing import Any, Optional, Set, Tuple

_MAX_DEPTH = 200


def _code_of(handler: Any) -> Optional[CodeType]:
    code = getattr(handler, "__code__", None)
    if code is None:
        code = getattr(getattr(handler, "__func__", None), "__code__", None)
    if code is None and callable(handler):
        code = getattr(type(handler).__call__, "__code__", None)
    return code if isinstance(code, CodeType) else None


_signal_numbers: Optional[Tuple[int, ...]] = None


def handler_codes() -> Set[CodeType]:
    """The code objects of every Python-level signal handler installed now.

    Called whenever a log call would wait for queue space (a signal handler must
    not): the signal numbers are listed once (``signal.valid_signals()`` builds
    an enum per signal, ~100 µs a call) and the default and ignore dispositions
    (ints) are passed over at once."""
    global _signal_numbers
    numbers = _signal_numbers
    if numbers is None:
        numbers = _signal_numbers = tuple(int(signum) for signum in signal.valid_signals())
    getsignal = signal.getsignal
    codes: Set[CodeType] = set()
    for signum in numbers:
        try:
            handler = getsignal(signum)
        except (ValueError, OSError):
            continue
        if handler is None or isinstance(handler, int):  # SIG_DFL, SIG_IGN, or not set from Python
            continue
        code = _code_of(handler)
        if code is not None:
            codes.add(code)
    return codes


def in_signal_handler() -> bool:
    """True when a frame of the current stack runs an installed signal handler."""
    if threading.current_thread() is not threading.main_thread():
        return False  # Python runs signal handlers on the main thread only
    try:
        codes = handler_codes()
        if not codes:
            return False
        frame = sys._getframe(1)
        depth = 0
        while frame is not None and depth < _MAX_DEPTH:
            if frame.f_code in codes:
                return True
            frame = frame.f_back  # type: ignore[assignment]
            depth += 1
    except Exception:
        return False
    return False


class SignalSafeEvent(threading.Event):
    """A :class:`threading.Event` whose ``set()`` may be called from a signal
    handler that interrupted a ``set()`` on the same thread.

    ``threading.Event`` guards its flag with a plain lock: a signal arriving
    while the main thread is inside ``set()`` (holding that lock), whose handler
    logs and so calls ``set()`` again, would wait for that lock forever; and a
    nested ``notify_all()`` would release a waiter the interrupted one is
    releasing. Here the lock is reentrant and a nested ``set()`` on the thread
    already setting returns at once: the interrupted call sets the flag and
    wakes the waiters. Only ``set()`` may be called from a signal handler.
    """

    def __init__(self) -> None:
        super().__init__()
        self._cond = threading.Condition(threading.RLock())
        self._setter: Optional[int] = None

    def set(self) -> None:
        me = threading.get_ident()
        if self._setter == me:
            self._flag = True
            return
        with self._cond:
            self._setter = me
            try:
                self._flag = True
                self._cond.notify_all()
            finally:
                self._setter = None
