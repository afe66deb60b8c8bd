"""The background worker: one bounded queue and one thread per background handler.

Holds :class:`BackgroundWorker`: the caller's side (``put``: an append to a
deque, the overflow policy when it is full), the worker's side (batches off
the queue, masking a batch when the worker masks, delivery with retries and a
circuit breaker, the fallback), and its control (``flush``, ``stop``).

May import: _state, _report, levels, record, handlers.fallback, handlers.stats,
dispatch.options, dispatch.lifecycle (the worker registry and exit hooks).
"""

from __future__ import annotations

import collections
import random
import threading
import time
from typing import TYPE_CHECKING, Any, Deque, List, Optional, Set

from .. import _state
from .._report import report
from .._signals import SignalSafeEvent, in_signal_handler
from ..handlers.fallback import write_to_fallback as _fallback_write
from ..handlers.stats import stats_of
from ..levels import LogLevel
from ..record import LogRecord
from . import lifecycle
from .options import DispatchOptions

if TYPE_CHECKING:
    from ..handlers.base import Handler
    from ..masking import Masker


class _Masked:
    """A queued record the caller already masked (see ``BackgroundWorker.masker``)."""

    __slots__ = ("record",)

    def __init__(self, record: LogRecord) -> None:
        self.record = record


class _FlushMarker:
    __slots__ = ("event",)

    def __init__(self) -> None:
        self.event = threading.Event()


class BackgroundWorker:
    """A bounded queue and a thread that delivers its records to one handler."""

    def __init__(self, handler: Handler, options: DispatchOptions) -> None:
        self.handler = handler
        self.options = options
        #: the masking processor, when this worker masks the records it takes
        #: off the queue instead of the caller (see Dispatcher): set when this
        #: handler is the configuration's only destination
        self.masker: Optional[Masker] = None
        self.stats = stats_of(handler)
        self._init_runtime()
        with lifecycle.workers_lock:
            lifecycle.workers.add(self)

    def _init_runtime(self) -> None:
        self.queue: Deque[Any] = collections.deque()
        self._wakeup = SignalSafeEvent()
        self._space = threading.Condition(threading.Lock())
        self._waiting_for_space = 0
        #: threads waiting for space now: a signal handler that logs on one of
        #: them must not wait again (it would nest without end, or deadlock)
        self._waiting_threads: Set[int] = set()
        self._idle = False
        self._thread: Optional[threading.Thread] = None
        self._start_lock = threading.RLock()  # a signal handler may log while it is held
        self._stopped = False
        self.high_water = 0
        self._drops_since_summary = 0
        self._first_drop_time: Optional[float] = None
        self._overflowing = False
        #: the exit flush is done: records are delivered by the thread that logs them
        self._exited = False
        self._draining = False
        #: time.monotonic() when the batch in hand was taken; None when none is
        self.busy_since: Optional[float] = None

    # -- caller side ---------------------------------------------------------
    def put(self, record: LogRecord) -> None:
        queue = self.queue
        if len(queue) >= self.options.queue_size and not self._make_room(record):
            return
        queue.append(record)
        if self._idle:
            self._wakeup.set()
        if self._thread is None:
            self._start()

    def put_masked(self, record: LogRecord) -> None:
        """:meth:`put` for a record the caller has already masked."""
        queue = self.queue
        if len(queue) >= self.options.queue_size and not self._make_room(record, True):
            return
        queue.append(_Masked(record) if self.masker is not None else record)
        if self._idle:
            self._wakeup.set()
        if self._thread is None:
            self._start()

    def _make_room(self, record: LogRecord, masked: bool = False) -> bool:
        """The queue is full: apply the overflow policy. True if *record* may be queued."""
        if self._stopped:
            # a configure() replaced this worker after the caller read the old
            # configuration: hand the record to the configuration in force
            cfg = _state.config
            if cfg is not None and self not in cfg.dispatcher.workers:
                masker = self.masker
                if masker is not None and not masked:
                    record = masker(record)
                cfg.dispatcher.emit_masked(record)
                return False
        opts = self.options
        policy = opts.overflow
        if policy == "drop_newest":
            self._count_drop()
            return False
        if policy == "drop_oldest":
            try:
                self.queue.popleft()
                self._count_drop()
            except IndexError:
                pass
            return True
        if policy == "drop_below" and record.level < opts.drop_below:
            self._count_drop()
            return False
        # block: wait for space, at most block_timeout; once a wait has timed
        # out we stop waiting (and drop) until the queue drains below the limit,
        # so a hung handler costs the application one timeout, not one per call
        if self._overflowing:
            self._count_drop()
            return False
        if self._thread is None:
            self._start()
        ident = threading.get_ident()
        if ident in self._waiting_threads or in_signal_handler():
            # logged from a signal handler: it may have interrupted this
            # thread's own wait for space, or a moment when this thread holds a
            # lock the worker needs to make room. Queue the record (the bound
            # is exceeded by the few records signal handlers make) rather than
            # wait for what cannot come.
            return True
        deadline = time.monotonic() + opts.block_timeout
        self._waiting_threads.add(ident)
        try:
            return self._wait_for_space(deadline)
        finally:
            self._waiting_threads.discard(ident)

    def _wait_for_space(self, deadline: float) -> bool:
        opts = self.options
        with self._space:
            self._waiting_for_space += 1
            try:
                while len(self.queue) >= opts.queue_size:
                    if self._idle:
                        self._wakeup.set()
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        self._overflowing = True
                        self._count_drop()
                        return False
                    self._space.wait(min(remaining, 0.05))
            finally:
                self._waiting_for_space -= 1
        return True

    def _count_drop(self) -> None:
        self.stats.add("dropped")
        if self._drops_since_summary == 0:
            self._first_drop_time = time.time()
        self._drops_since_summary += 1

    def _start(self) -> None:
        if self._exited:
            self._deliver_queued_now()
            return
        with self._start_lock:
            if self._thread is not None or self._stopped:
                return
            thread = threading.Thread(target=self._run, name=f"micktrace-{self.handler.name}", daemon=True)
            self._thread = thread
            thread.start()
        lifecycle.ensure_exit_hooks()

    def after_final_flush(self) -> None:
        """The exit flush is done (atexit): end the thread; records logged later
        (by atexit hooks registered before micktrace's, or ``__del__`` methods
        during interpreter shutdown) are delivered at once by the thread that
        logs them, instead of waiting in a queue nobody will read."""
        self._exited = True
        self.stop(0.5)
        self._thread = None
        self._deliver_queued_now()

    def _deliver_queued_now(self) -> None:
        if self._draining:  # a handler logging while it delivers: the loop below takes it
            return
        with self._start_lock:
            self._draining = True
            try:
                for _round in range(10):  # a handler whose every write logs again cannot spin for ever
                    if not self.queue:
                        return
                    batch = self.drain()
                    if batch:
                        self._deliver(batch)
                    try:
                        self.handler.flush()
                    except Exception as exc:
                        self.stats.record_failure(exc)
            finally:
                self._draining = False

    # -- worker side -----------------------------------------------------------
    def _run(self) -> None:
        """The worker thread: :meth:`_loop`, restarted if anything escapes it.

        A record can make a handler or a value's ``__str__`` raise anything,
        ``SystemExit`` and ``KeyboardInterrupt`` included (in this thread they
        are not the user's Ctrl-C: signals go to the main thread). The batch in
        hand goes to the fallback, the restart is counted and reported, and the
        loop goes on: the worker never dies while health says healthy.
        """
        while True:
            self._batch_in_hand: List[LogRecord] = []
            self._markers_in_hand: List[_FlushMarker] = []
            try:
                self._loop()
                return
            except BaseException as exc:
                self.stats.add("worker_restarts")
                self.stats.record_failure(exc)
                report(f"worker of handler {self.handler.name!r}", exc, "restarted after an error")
                batch, self._batch_in_hand = self._batch_in_hand, []
                self.busy_since = None
                for marker in self._markers_in_hand:
                    marker.event.set()  # a flush() waiting on this batch is not left hanging
                if batch:
                    try:
                        _fallback_write(self.handler, batch)
                    except BaseException:
                        self.stats.add("dropped", len(batch))

    def _loop(self) -> None:
        queue = self.queue
        batch_size = self.options.batch_size
        while True:
            if not queue:
                self._idle = True
                if not queue:  # re-check after announcing idleness (see put)
                    self._wakeup.wait(1.0)
                self._wakeup.clear()
                self._idle = False
                if self._stopped and not queue:
                    return
                continue
            depth = len(queue)
            if depth > self.high_water:
                self.high_water = depth
            batch: List[LogRecord] = []
            markers: List[_FlushMarker] = []
            premasked: List[int] = []
            popleft = queue.popleft
            try:
                while len(batch) < batch_size:
                    item = popleft()
                    if type(item) is not LogRecord:
                        if type(item) is _FlushMarker:
                            markers.append(item)
                            break
                        if type(item) is _Masked:
                            premasked.append(len(batch))
                            item = item.record
                    batch.append(item)
            except IndexError:
                pass
            if batch and self._own_records(batch):
                # records the worker's own thread made while delivering (what a
                # handler logs through a captured stdlib): never back into it
                own = threading.get_ident()
                kept = [r for r in batch if r.thread_id != own]
                self.stats.add("feedback_skipped", len(batch) - len(kept))
                keep_index = {id(r): i for i, r in enumerate(kept)}
                premasked = [keep_index[id(batch[i])] for i in premasked if id(batch[i]) in keep_index]
                batch = kept
            self._batch_in_hand, self._markers_in_hand = batch, markers
            self.busy_since = time.monotonic()  # health: a worker stuck on one batch is degraded
            masker = self.masker
            if masker is not None and batch:
                masker.mask_batch(batch, premasked)  # never raises: it withholds what it cannot mask
            if self._waiting_for_space or self._overflowing:
                with self._space:
                    if len(queue) < self.options.queue_size:
                        self._overflowing = False
                    self._space.notify_all()
            if self._drops_since_summary and not self._overflowing:
                batch.append(self._drop_summary())
            if batch:
                self._deliver(batch)
            self._batch_in_hand = []
            self.busy_since = None
            for marker in markers:
                try:
                    self.handler.flush()
                except Exception as exc:
                    self.stats.record_failure(exc)
                    report(f"handler {self.handler.name!r}", exc, "failed to flush")
                marker.event.set()

    @staticmethod
    def _own_records(batch: List[LogRecord]) -> bool:
        own = threading.get_ident()
        for record in batch:
            if record.thread_id == own:
                return True
        return False

    def _drop_summary(self) -> LogRecord:

        count, since = self._drops_since_summary, self._first_drop_time or time.time()
        self._drops_since_summary = 0
        stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(since))
        return LogRecord(
            time.time(),
            LogLevel.WARNING,
            "micktrace",
            f"{count} records dropped since {stamp} (queue of handler {self.handler.name!r} was full)",
            {"dropped": count, "handler": self.handler.name},
            {},
            {},
            None,
            None,
            threading.get_ident(),
            _state.pid,
        )

    def _deliver(self, batch: List[LogRecord]) -> None:
        handler, stats, opts = self.handler, self.stats, self.options
        if stats.circuit_open_until:
            if time.monotonic() < stats.circuit_open_until:
                _fallback_write(handler, batch)  # open circuit: don't hammer a dead endpoint
                return
            stats.circuit_open_until = 0.0  # half-open: this batch is the probe
        attempt = 0
        while True:
            started = time.perf_counter()
            try:
                written = handler.handle_batch(batch)
            except BaseException as exc:
                stats.record_failure(exc)
                report(f"handler {handler.name!r}", exc)
                if attempt < opts.retries and not self._stopped:
                    stats.add("retried")
                    delay = min(opts.max_backoff, opts.backoff * (2**attempt))
                    time.sleep(delay * (0.5 + random.random()))  # jitter avoids retry storms
                    attempt += 1
                    continue
                stats.consecutive_failures += 1
                if opts.breaker_threshold and stats.consecutive_failures >= opts.breaker_threshold:
                    stats.circuit_open_until = time.monotonic() + opts.breaker_cooldown
                _fallback_write(handler, batch)
                return
            stats.record_batch(len(batch), written, time.perf_counter() - started)
            return

    # -- control ------------------------------------------------------------------
    def flush(self, timeout: Optional[float] = None) -> bool:
        """Wait until everything queued before this call is handled and the
        handler flushed. False if *timeout* ran out first."""
        thread = self._thread
        if thread is None or not thread.is_alive():
            if self.queue and not self._stopped:
                self._start()
                thread = self._thread
            if thread is None or not thread.is_alive():
                return not self.queue
        marker = _FlushMarker()
        self.queue.append(marker)
        self._wakeup.set()
        return marker.event.wait(timeout)

    def stop(self, timeout: Optional[float] = None) -> bool:
        """Flush, then end the thread. Later puts go to the configuration in force."""
        done = self.flush(timeout)
        self._stopped = True
        self._wakeup.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout if timeout is not None else None)
        return done

    def drain(self) -> List[LogRecord]:
        """Take every record still queued (masked, if this worker masks): for the
        exit path, when the deadline passed before the worker got to them."""
        out: List[LogRecord] = []
        masker = self.masker
        while True:
            try:
                item = self.queue.popleft()
            except IndexError:
                return out
            if type(item) is _FlushMarker:
                item.event.set()
                continue
            if type(item) is _Masked:
                out.append(item.record)
            elif masker is not None:
                masked = masker(item)
                if masked is not None:
                    out.append(masked)
            else:
                out.append(item)

    @property
    def depth(self) -> int:
        return sum(1 for item in list(self.queue) if type(item) is not _FlushMarker)

    def _after_fork_in_child(self) -> None:
        # the parent's queued records are the parent's to write; the thread
        # and the locks did not survive the fork
        self._init_runtime()


