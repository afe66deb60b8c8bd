"""Flushing, exit, fork and signals for every background worker of the process.

Holds the registry of live workers, :func:`flush` / :func:`aflush` /
:func:`shutdown`, the ``atexit`` hook and the multiprocessing finalizer (with
the exit deadline the network handlers honour), the fork hook, and the opt-in
:func:`flush_on_signals`. Workers are reached through the registry (duck
typed), so this module sits below the worker.

May import: _state, _report, handlers.fallback.
"""

from __future__ import annotations

import atexit
import os
import sys
import threading
import time
import weakref
from typing import Any, Dict, List, Optional

from .. import _state
from .._report import report
from ..handlers.fallback import write_to_fallback

#: every live BackgroundWorker (registered by the worker itself)
workers: weakref.WeakSet[Any] = weakref.WeakSet()
workers_lock = threading.Lock()
_atexit_registered = False


def ensure_exit_hooks() -> None:
    """The atexit flush, and the finalizer a fork-started multiprocessing child
    runs instead of atexit: registered once, when the first worker starts."""
    global _atexit_registered
    if not _atexit_registered:
        with workers_lock:
            if not _atexit_registered:
                atexit.register(_flush_at_exit)
                _atexit_registered = True
    _register_multiprocessing_finalizer()
    _flush_on_sigterm_in_pool_worker()


# ---------------------------------------------------------------------------
# module-level control


def all_workers() -> List[Any]:
    """The live BackgroundWorkers (those not stopped)."""
    with workers_lock:
        return [w for w in workers if not w._stopped]


def flush(timeout: Optional[float] = 5.0) -> bool:
    """Deliver every record queued so far, in every background worker, and flush
    every handler. Returns False if *timeout* (seconds, shared) ran out."""
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
    ending = _state.exit_deadline is None and timeout is not None
    if ending:  # network handlers hand what they cannot deliver in time to the fallback
        _state.exit_deadline = time.monotonic() + timeout  # type: ignore[operator]
    try:
        ok = flush(timeout)
    finally:
        if ending:
            _state.exit_deadline = None
    stopping = all_workers()
    with _state.lock:
        cfg = _state.config
        if cfg is not None:
            _state.pending_settings = cfg.settings
            _state.install(None)  # the loggers rebuild from the same settings
    # a log call that read the configuration before it was dropped delivers
    # through it (see config._retire); the next one builds a fresh one
    _state.wait_for_log_calls()
    for worker in stopping:
        worker.stop(0.5)
    for handler in cfg.handlers if cfg is not None else ():
        try:
            handler.close()
        except Exception as exc:
            report(f"handler {handler.name!r}", exc, "failed to close")
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
    try:
        timeout = _exit_timeout()
        _state.exit_deadline = time.monotonic() + timeout
        if not flush(timeout):
            _abandon_at_exit()
        for worker in all_workers():
            worker.after_final_flush()
    except Exception:
        pass


def _abandon_at_exit() -> None:
    """The exit deadline passed: what the workers and the handlers still hold
    goes to the fallback now, from this thread, before the interpreter ends
    the daemon threads (nothing lost silently)."""
    left = held = 0
    for worker in all_workers():
        if worker.busy_since is not None:  # a handler that has not returned: counted, not written twice
            held += len(getattr(worker, "_batch_in_hand", ()))
        records = worker.drain()
        left += len(records)
        if records:
            write_to_fallback(worker.handler, records, "the exit deadline passed before delivery")
    cfg = _state.config
    for handler in cfg.handlers if cfg is not None else ():
        abandon = getattr(handler, "abandon", None)
        if callable(abandon):
            try:
                abandon("the exit deadline passed before delivery")
            except Exception as exc:
                report(f"handler {getattr(handler, 'name', '?')!r}", exc, "failed to hand over at exit")
    try:
        stuck = f", {held} were held by a handler that had not returned (lost)" if held else ""
        sys.stderr.write(f"micktrace: the exit timeout ran out; {left} queued records went to the fallback{stuck}\n")
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


#: where the pool-worker SIGTERM flush was installed (a pid; 0: nowhere yet)
_pool_sigterm_pid = 0
#: the targets multiprocessing runs in a pool's worker processes
_POOL_WORKER_TARGETS = {("multiprocessing.pool", "worker"), ("concurrent.futures.process", "_process_worker")}
ENV_POOL_FLUSH = "MICKTRACE_POOL_FLUSH"


def in_pool_worker() -> bool:
    """True in a worker process of ``multiprocessing.Pool`` or
    ``concurrent.futures.ProcessPoolExecutor`` (fork, spawn or forkserver)."""
    mp = sys.modules.get("multiprocessing")
    if mp is None:
        return False
    try:
        if mp.parent_process() is None:
            return False
        target = getattr(mp.current_process(), "_target", None)
        return (getattr(target, "__module__", None), getattr(target, "__name__", None)) in _POOL_WORKER_TARGETS
    except Exception:
        return False


def _flush_on_sigterm_in_pool_worker() -> None:
    """A pool's worker ends by SIGTERM whenever the pool is terminated, which
    ``with Pool() as pool:`` does on leaving the block: the default action
    kills it with the records its workers still hold. multiprocessing made
    this process and nobody else set a SIGTERM handler in it, so micktrace
    sets one: deliver what is queued (bounded), then die of SIGTERM as before.
    Never in any other process (an application's signals are its own), never
    over a handler someone set, and not at all with MICKTRACE_POOL_FLUSH=0."""
    global _pool_sigterm_pid
    if _pool_sigterm_pid == os.getpid():
        return
    if threading.current_thread() is not threading.main_thread():
        return  # signal handlers are set from the main thread: a later start may
    _pool_sigterm_pid = os.getpid()
    if os.environ.get(ENV_POOL_FLUSH, "").strip() in ("0", "false", "no", "off") or not in_pool_worker():
        return
    import signal as _signal

    try:
        if _signal.getsignal(_signal.SIGTERM) == _signal.SIG_DFL:
            _signal.signal(_signal.SIGTERM, _die_flushed)
    except (ValueError, OSError):
        pass


def _die_flushed(signum: int, frame: Any) -> None:
    """SIGTERM in a pool worker: the exit flush, then the default action.

    The flush runs in a thread this handler waits for at most the exit
    timeout (and a little): the signal may have interrupted this thread
    while it held a handler's lock, and a pool whose worker never dies
    hangs ``terminate()``. What the deadline leaves undelivered goes to the
    fallback with a count on stderr (``_abandon_at_exit``)."""
    import signal as _signal

    finisher = threading.Thread(target=_flush_at_exit, name="micktrace-sigterm-flush", daemon=True)
    finisher.start()
    finisher.join(_exit_timeout() + 1.0)
    _signal.signal(signum, _signal.SIG_DFL)
    os.kill(os.getpid(), signum)


def _after_fork_in_child() -> None:
    global workers_lock
    workers_lock = threading.Lock()
    for worker in list(workers):
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

