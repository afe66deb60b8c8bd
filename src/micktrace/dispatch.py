"""Getting records to handlers: in the caller, or through a background worker.

Sync handlers run in the calling thread. Each background handler gets its own
:class:`BackgroundWorker`: a bounded FIFO queue and one daemon thread that
takes records off in batches and hands each batch to the handler with a single
``handle_batch`` call (one write, or one request). One worker per handler means
a handler that hangs or fails stalls only itself.

The caller's part of a background call is an ``append`` to a deque (atomic
under the GIL) and, only when the worker is asleep, setting an event. The
worker does the formatting and the I/O.

Promises kept here, and where:

* Order: one FIFO queue per handler, one consumer, so records from one thread
  reach a handler in the order they were logged.
* Nothing lost on exit: an ``atexit`` hook flushes every worker with a bounded
  timeout (``exit_timeout``, default 5 s). ``sys.exit()``, an unhandled
  exception and ``KeyboardInterrupt`` all run ``atexit``; ``os._exit()`` and
  SIGKILL cannot be caught by anyone. SIGTERM kills without ``atexit`` unless
  the application opts in with :func:`flush_on_signals`.
* Bounded memory: ``queue_size`` records at most; the ``overflow`` policy
  decides what happens when it is full; every drop is counted and summarised
  by a warning record once space returns.
* Fork: after ``os.fork()`` the child gets fresh queues and locks and starts
  its own workers on first use; records queued in the parent stay the
  parent's (the parent's worker writes them), so nothing is written twice.
* Failures: a failed batch is retried with exponential backoff and jitter;
  after ``breaker_threshold`` consecutive failures the circuit opens for
  ``breaker_cooldown`` seconds and batches go straight to the fallback (stderr
  by default) instead of hammering a dead endpoint.
"""

from __future__ import annotations

import atexit
import collections
import os
import random
import sys
import threading
import time
import weakref
from typing import TYPE_CHECKING, Any, Callable, Deque, Dict, List, Mapping, Optional, Sequence, Tuple

from ._report import report
from .errors import ConfigError
from .handlers.fallback import write_to_fallback as _fallback_write
from .handlers.stats import stats_of
from .levels import LogLevel, to_level
from .record import LogRecord

if TYPE_CHECKING:
    from .handlers.base import Handler
    from .masking import Masker

OVERFLOW_POLICIES = ("block", "drop_newest", "drop_oldest", "drop_below")
DISPATCH_MODES = ("sync", "background")


class DispatchOptions:
    """Validated background-dispatch settings (see ``configure(dispatch=...)``)."""

    __slots__ = (
        "backoff",
        "batch_size",
        "block_timeout",
        "breaker_cooldown",
        "breaker_threshold",
        "drop_below",
        "exit_timeout",
        "max_backoff",
        "mode",
        "overflow",
        "queue_size",
        "retries",
    )

    def __init__(
        self,
        mode: Optional[str] = None,
        queue_size: int = 10_000,
        overflow: str = "block",
        drop_below: Any = "WARNING",
        block_timeout: float = 1.0,
        batch_size: int = 1_000,
        retries: int = 3,
        backoff: float = 0.05,
        max_backoff: float = 2.0,
        breaker_threshold: int = 5,
        breaker_cooldown: float = 30.0,
        exit_timeout: float = 5.0,
    ) -> None:
        self.mode = mode
        self.queue_size = queue_size
        self.overflow = overflow
        self.drop_below = drop_below
        self.block_timeout = block_timeout
        self.batch_size = batch_size
        self.retries = retries
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.breaker_threshold = breaker_threshold
        self.breaker_cooldown = breaker_cooldown
        self.exit_timeout = exit_timeout

    def as_dict(self) -> Dict[str, Any]:
        return {name: getattr(self, name) for name in self.__slots__}


def parse_dispatch(value: Any, key: str, base: Optional[DispatchOptions] = None) -> DispatchOptions:
    """``"sync"``, ``"background"`` or a dict of :class:`DispatchOptions` fields."""
    options = dict(base.as_dict()) if base is not None else {}
    mode_key = key
    if isinstance(value, str):
        value = {"mode": value}
    else:
        mode_key = f"{key}.mode"
    if not isinstance(value, Mapping):
        raise ConfigError(key, value, "'sync', 'background' or a dict of dispatch options")
    allowed = DispatchOptions.__slots__
    for name, item in value.items():
        if name not in allowed:
            raise ConfigError(f"{key}.{name}", item, "the dispatch options " + ", ".join(allowed))
        options[name] = item
    opts = DispatchOptions(**options)
    if opts.mode is not None and opts.mode not in DISPATCH_MODES:
        raise ConfigError(mode_key, opts.mode, ", ".join(DISPATCH_MODES))
    if opts.overflow not in OVERFLOW_POLICIES:
        raise ConfigError(f"{key}.overflow", opts.overflow, ", ".join(OVERFLOW_POLICIES))
    opts.drop_below = to_level(opts.drop_below, f"{key}.drop_below")
    for name in ("queue_size", "batch_size"):
        number = getattr(opts, name)
        if isinstance(number, bool) or not isinstance(number, int) or number < 1:
            raise ConfigError(f"{key}.{name}", number, "a positive integer")
    for name in ("retries", "breaker_threshold"):
        number = getattr(opts, name)
        if isinstance(number, bool) or not isinstance(number, int) or number < 0:
            raise ConfigError(f"{key}.{name}", number, "a non-negative integer")
    for name in ("block_timeout", "backoff", "max_backoff", "breaker_cooldown", "exit_timeout"):
        number = getattr(opts, name)
        if isinstance(number, bool) or not isinstance(number, (int, float)) or number < 0:
            raise ConfigError(f"{key}.{name}", number, "a non-negative number of seconds")
    return opts


# ---------------------------------------------------------------------------
# the background worker

_workers: weakref.WeakSet[BackgroundWorker] = weakref.WeakSet()
_workers_lock = threading.Lock()
_atexit_registered = False


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
        with _workers_lock:
            _workers.add(self)

    def _init_runtime(self) -> None:
        self.queue: Deque[Any] = collections.deque()
        self._wakeup = threading.Event()
        self._space = threading.Condition(threading.Lock())
        self._waiting_for_space = 0
        self._idle = False
        self._thread: Optional[threading.Thread] = None
        self._start_lock = threading.Lock()
        self._stopped = False
        self.high_water = 0
        self._drops_since_summary = 0
        self._first_drop_time: Optional[float] = None
        self._overflowing = False

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
            from . import _state

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
        deadline = time.monotonic() + opts.block_timeout
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
        global _atexit_registered
        with self._start_lock:
            if self._thread is not None or self._stopped:
                return
            thread = threading.Thread(target=self._run, name=f"micktrace-{self.handler.name}", daemon=True)
            self._thread = thread
            thread.start()
        if not _atexit_registered:
            with _workers_lock:
                if not _atexit_registered:
                    atexit.register(_flush_at_exit)
                    _atexit_registered = True
        _register_multiprocessing_finalizer()

    # -- worker side -----------------------------------------------------------
    def _run(self) -> None:
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
            for marker in markers:
                try:
                    self.handler.flush()
                except Exception as exc:
                    self.stats.record_failure(exc)
                    report(f"handler {self.handler.name!r}", exc, "failed to flush")
                marker.event.set()

    def _drop_summary(self) -> LogRecord:
        from . import _state
        from .record import LogRecord

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
            except Exception as exc:
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

    @property
    def depth(self) -> int:
        return sum(1 for item in list(self.queue) if type(item) is not _FlushMarker)

    def _after_fork_in_child(self) -> None:
        # the parent's queued records are the parent's to write; the thread
        # and the locks did not survive the fork
        self._init_runtime()


# ---------------------------------------------------------------------------
# the dispatcher used by a configuration


#: records emitted per level, since the process started (see metrics())
level_counts: Dict[int, Any] = {}


def _level_counter(level: int) -> Any:
    import itertools

    with _workers_lock:
        return level_counts.setdefault(level, itertools.count())


for _level in LogLevel:
    _level_counter(int(_level))


class Dispatcher:
    """Routes records to sync handlers (in the caller) and background workers."""

    def __init__(
        self,
        handlers: Sequence[Handler],
        modes: Sequence[str],
        options: Sequence[DispatchOptions],
        previous: Optional[Dispatcher] = None,
        masker: Optional[Masker] = None,
    ) -> None:
        reusable: Dict[int, BackgroundWorker] = {}
        self.workers: Tuple[BackgroundWorker, ...]
        if previous is not None:
            reusable = {id(w.handler): w for w in previous.workers}
        background = [mode == "background" for mode in modes]
        #: True when the one background worker masks records instead of the
        #: caller: *masker* was given (masking on, no user processor after it)
        #: and that worker is the only destination, so a record is still
        #: masked once, before any handler sees it, and the caller is spared
        #: the cost. capture_logs() and the other paths that mask in the
        #: caller hand records over with emit_masked().
        self.masks_in_worker = masker is not None and len(handlers) == 1 and all(background)
        sync: List[Handler] = []
        workers: List[BackgroundWorker] = []
        routes: List[Tuple[int, Callable[[LogRecord], None]]] = []
        routes_masked: List[Tuple[int, Callable[[LogRecord], None]]] = []
        for handler, in_background, opts in zip(handlers, background, options):
            if in_background:
                worker = reusable.get(id(handler))
                if worker is None or worker._stopped:
                    worker = BackgroundWorker(handler, opts)
                else:
                    worker.options = opts
                workers.append(worker)
                if self.masks_in_worker:
                    worker.masker = masker
                    routes.append((handler.level, worker.put))
                    routes_masked.append((handler.level, worker.put_masked))
                else:
                    # a worker that masked for an earlier configuration keeps
                    # its masker for the records still queued unmasked, and is
                    # told which records are masked already
                    put = worker.put if worker.masker is None else worker.put_masked
                    routes.append((handler.level, put))
                    routes_masked.append((handler.level, put))
            else:
                sync.append(handler)
                stats_of(handler)
                route = _sync_route(handler)
                routes.append((handler.level, route))
                routes_masked.append((handler.level, route))
        self.sync = tuple(sync)
        self.workers = tuple(workers)
        self.routes = tuple(routes)
        self.routes_masked = tuple(routes_masked)

    def fused_pipeline(
        self, processors: Sequence[Callable[[LogRecord], Optional[LogRecord]]]
    ) -> Optional[Callable[[LogRecord], None]]:
        """*processors* then :meth:`emit` as one function, for the configuration
        most services run: one background handler, and no processor in the
        caller but the OpenTelemetry one. None for any other configuration.

        It does what the general pipeline does (the trace ids, the level count,
        the handler's level check, :meth:`BackgroundWorker.put`) with two Python
        calls fewer, and the queue append inline: about 0.3 us less per record.
        """
        from .integrations.otel import add_trace_ids

        if len(self.routes) != 1 or len(self.workers) != 1:
            return None
        (worker,) = self.workers
        handler_level, route = self.routes[0]
        if route != worker.put:  # bound methods compare equal, never identical
            return None
        if processors and tuple(processors) != (add_trace_ids,):
            return None
        with_trace_ids = bool(processors)
        imported = sys.modules.get
        counter_for = level_counts.get
        new_counter = _level_counter
        # a configure() builds a new pipeline, so the options in force now are
        # the ones this pipeline serves
        queue_size = worker.options.queue_size

        def pipeline(record: LogRecord) -> None:
            if with_trace_ids and imported("opentelemetry.trace") is not None:
                record = add_trace_ids(record)
            level = record.level
            counter = counter_for(level)
            next(counter if counter is not None else new_counter(level))
            if level >= handler_level:
                queue = worker.queue  # read each time: a fork gives the worker a new one
                if len(queue) >= queue_size or worker._thread is None:
                    worker.put(record)  # full (the overflow policy), or the first record
                    return
                queue.append(record)
                if worker._idle:
                    worker._wakeup.set()

        return pipeline

    def emit(self, record: LogRecord) -> None:
        level = record.level
        counter = level_counts.get(level)
        next(counter if counter is not None else _level_counter(level))
        for handler_level, route in self.routes:
            if level >= handler_level:
                route(record)

    def emit_masked(self, record: LogRecord) -> None:
        """:meth:`emit` for a record that has been through the masking processor."""
        level = record.level
        counter = level_counts.get(level)
        next(counter if counter is not None else _level_counter(level))
        for handler_level, route in self.routes_masked:
            if level >= handler_level:
                route(record)


def _sync_route(handler: Handler) -> Callable[[LogRecord], None]:
    stats = stats_of(handler)
    handle = handler.handle
    emitted = stats.sync_emitted

    def route(record: LogRecord) -> None:
        try:
            handle(record)
        except Exception as exc:
            stats.record_failure(exc)
            report(f"handler {handler.name!r}", exc)
            _fallback_write(handler, [record])
        else:
            next(emitted)

    return route


# ---------------------------------------------------------------------------
# module-level control


def all_workers() -> List[BackgroundWorker]:
    with _workers_lock:
        return [w for w in _workers if not w._stopped]


def flush(timeout: Optional[float] = 5.0) -> bool:
    """Deliver every record queued so far, in every background worker, and flush
    every handler. Returns False if *timeout* (seconds, shared) ran out."""
    from . import _state

    deadline = None if timeout is None else time.monotonic() + timeout
    ok = True
    for worker in all_workers():
        remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
        ok = worker.flush(remaining) and ok
    cfg = _state.config
    if cfg is not None:
        for handler in cfg.dispatcher.sync:
            try:
                handler.flush()
            except Exception as exc:
                report(f"handler {handler.name!r}", exc, "failed to flush")
    return ok


async def aflush(timeout: Optional[float] = 5.0) -> bool:
    """:func:`flush` without blocking the event loop (runs it in a thread)."""
    import asyncio

    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(None, flush, timeout)


def shutdown(timeout: Optional[float] = 5.0) -> bool:
    """Flush everything, stop the workers and close the handlers.

    Logging afterwards still works: the handlers are rebuilt from the same
    settings (files reopened; worker threads start again on the next record).
    """
    from . import _state

    ending = _state.exit_deadline is None and timeout is not None
    if ending:  # network handlers hand what they cannot deliver in time to the fallback
        _state.exit_deadline = time.monotonic() + timeout  # type: ignore[operator]
    try:
        ok = flush(timeout)
    finally:
        if ending:
            _state.exit_deadline = None
    for worker in all_workers():
        worker.stop(0.5)
    with _state.lock:
        cfg = _state.config
        if cfg is not None:
            for handler in cfg.handlers:
                try:
                    handler.close()
                except Exception as exc:
                    report(f"handler {handler.name!r}", exc, "failed to close")
            _state.pending_settings = cfg.settings
            _state.install(None)  # the loggers rebuild from the same settings
    return ok


def _exit_timeout() -> float:
    raw = os.environ.get("MICKTRACE_EXIT_TIMEOUT")
    if raw:
        try:
            return float(raw)
        except ValueError:
            pass
    workers = all_workers()
    return max((w.options.exit_timeout for w in workers), default=5.0)


def _flush_at_exit() -> None:
    from . import _state

    try:
        timeout = _exit_timeout()
        _state.exit_deadline = time.monotonic() + timeout
        if not flush(timeout):
            sys.stderr.write("micktrace: some records were still queued when the exit timeout ran out\n")
    except Exception:
        pass


_mp_finalizer_pid = 0


def _register_multiprocessing_finalizer() -> None:
    """A fork-started multiprocessing child ends with ``os._exit()``, which skips
    ``atexit``; multiprocessing runs its own finalizers first, so register one."""
    global _mp_finalizer_pid
    if _mp_finalizer_pid == os.getpid():
        return
    util = sys.modules.get("multiprocessing.util")
    if util is None:
        return
    _mp_finalizer_pid = os.getpid()
    util.Finalize(None, _flush_at_exit, exitpriority=100)


def _after_fork_in_child() -> None:
    global _workers_lock
    from . import _state

    _workers_lock = threading.Lock()
    for worker in list(_workers):
        worker._after_fork_in_child()
    # a lock held by a parent thread at the fork would never be released in the child
    cfg = _state.config
    for handler in cfg.handlers if cfg is not None else ():
        stats = handler.__dict__.get("_stats")
        if stats is not None:
            stats.after_fork()
        try:
            handler.after_fork()
        except Exception as exc:
            report(f"handler {handler.name!r}", exc, "failed to reset after fork")


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


# ---------------------------------------------------------------------------
# opt-in signal handling

_previous_handlers: Dict[int, Any] = {}


def flush_on_signals(*signals: int, timeout: float = 5.0) -> None:
    """Flush queued records when one of *signals* (default: SIGTERM) arrives,
    then let the signal do what it would have done: call the previous Python
    handler, or, if it was the default action, re-deliver the signal with the
    default action so the process ends with the usual status.

    Call it from the application's main thread; a library never should.
    """
    import signal as _signal

    chosen = signals or (_signal.SIGTERM,)

    def on_signal(signum: int, frame: Any) -> None:
        from . import _state

        _state.exit_deadline = time.monotonic() + timeout
        flush(timeout)
        previous = _previous_handlers.get(signum, _signal.SIG_DFL)
        if callable(previous):
            previous(signum, frame)
            return
        if previous == _signal.SIG_IGN:
            return
        _signal.signal(signum, _signal.SIG_DFL)
        os.kill(os.getpid(), signum)

    for signum in chosen:
        previous = _signal.signal(signum, on_signal)
        if previous is not on_signal:
            _previous_handlers[signum] = previous
