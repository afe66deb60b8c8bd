"""A sync handler with a time limit: the ``timeout`` dispatch option.

Holds :class:`TimedSync`. A sync handler runs in the calling thread, so one
that hangs (a socket with no timeout, a lock never released) would hang the
application with it. With ``dispatch={"mode": "sync", "timeout": 2.0}`` the
handler runs in a thread of its own instead, one record at a time, and the
log call waits for it at most ``timeout`` seconds:

* in time: the call returns as a sync call does, the record written;
* too late: the call returns; the record stays with the handler (written if
  it ever returns, never twice), counted in ``timed_out`` and reported, and
  the handler's health fails until it delivers again;
* while a call that ran out of time is still running, later records do not
  wait at all: they go to the fallback (counted in ``fallback``), so a hung
  handler costs the application one timeout, not one per call.

May import: _state, _report, handlers.fallback, handlers.stats.
"""

from __future__ import annotations

import collections
import threading
import time
from typing import TYPE_CHECKING, Any, Callable, Deque, Optional, Tuple

from .. import _state
from .._report import report
from ..handlers.fallback import write_to_fallback
from ..handlers.stats import stats_of

if TYPE_CHECKING:
    from ..handlers.base import Handler
    from ..record import LogRecord


class TimedSync:
    """Runs one sync handler in its own thread; callers wait at most *timeout*."""

    def __init__(self, handler: Handler, timeout: float) -> None:
        self.handler = handler
        self.timeout = timeout
        self.stats = stats_of(handler)
        self._pid = -1  # the runtime is made on first use, and again after a fork

    def _init_runtime(self) -> None:
        self._jobs: Deque[Tuple[LogRecord, threading.Event]] = collections.deque()
        self._wakeup = threading.Event()
        self._thread: Optional[threading.Thread] = None
        self._lock = threading.Lock()
        #: time.monotonic() when the call in hand started; None when idle
        self.busy_since: Optional[float] = None
        #: set when the last call that ran out of time has returned
        self._late: Optional[threading.Event] = None
        self._pid = _state.pid
        self._stopped = False

    def route(self, record: LogRecord) -> None:
        """Deliver *record* through the handler, waiting at most ``timeout``."""
        if self._pid != _state.pid:
            with _state.lock:
                if self._pid != _state.pid:
                    self._init_runtime()
        late = self._late
        if late is not None and not late.is_set():
            write_to_fallback(self.handler, [record], f"the handler has not returned for {self._stuck_for():.1f} s")
            return
        if threading.current_thread() is self._thread:
            self.stats.add("feedback_skipped")  # the handler logging about itself
            return
        done = threading.Event()
        self._jobs.append((record, done))
        if self._thread is None:
            self._start()
        self._wakeup.set()
        if done.wait(self.timeout):
            return
        self._late = done
        self.stats.add("timed_out")
        self.stats.record_failure(TimeoutError(f"the handler did not return within {self.timeout} s"))
        report(
            f"handler {self.handler.name!r}",
            None,
            f"did not return within {self.timeout} s; later records go to the fallback until it does",
        )

    @property
    def hung(self) -> bool:
        """A call ran out of time and has not returned yet."""
        late = self._late
        return late is not None and not late.is_set()

    def _stuck_for(self) -> float:
        since = self.busy_since
        return time.monotonic() - since if since is not None else 0.0

    def _start(self) -> None:
        with self._lock:
            if self._thread is None:
                thread = threading.Thread(target=self._run, name=f"micktrace-sync-{self.handler.name}", daemon=True)
                self._thread = thread
                thread.start()

    def stop(self) -> None:
        """End the thread once the records handed over are handled (the
        configuration that used this handler was replaced)."""
        if self._pid == _state.pid:
            self._stopped = True
            self._wakeup.set()

    def _run(self) -> None:
        jobs, wakeup, handle, stats = self._jobs, self._wakeup, self.handler.handle, self.stats
        while True:
            if not jobs:
                if self._stopped:
                    self._thread = None
                    return
                wakeup.wait()
                wakeup.clear()
                continue
            record, done = jobs.popleft()
            self.busy_since = time.monotonic()
            try:
                written = handle(record)
            except BaseException as exc:  # a handler may raise anything; this thread goes on
                stats.record_failure(exc)
                report(f"handler {self.handler.name!r}", exc)
                write_to_fallback(self.handler, [record])
            else:
                next(stats.sync_emitted)
                if isinstance(written, int) and written:
                    stats.add_sync_written(written)
            finally:
                self.busy_since = None
                done.set()


def timed_route(handler: Handler, timeout: float, previous: Any) -> Tuple[TimedSync, Callable[[LogRecord], None]]:
    """The :class:`TimedSync` for *handler* (*previous*'s when it had one, so a
    configure() never runs a handler twice at once) and its route."""
    timed = previous if isinstance(previous, TimedSync) and previous.handler is handler else TimedSync(handler, timeout)
    timed.timeout = timeout
    return timed, timed.route
