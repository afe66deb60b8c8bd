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

* Order (worker.py): one FIFO queue per handler, one consumer, so records from
  one thread reach a handler in the order they were logged.
* Nothing lost on exit (lifecycle.py): an ``atexit`` hook flushes every worker
  with a bounded timeout (``exit_timeout``, default 5 s). ``sys.exit()``, an
  unhandled exception and ``KeyboardInterrupt`` all run ``atexit``;
  ``os._exit()`` and SIGKILL cannot be caught by anyone. SIGTERM kills without
  ``atexit`` unless the application opts in with :func:`flush_on_signals`,
  except in the worker processes of a multiprocessing pool, which
  multiprocessing (not the application) made and ``terminate()`` ends by
  SIGTERM: there micktrace sets the flush itself, where SIGTERM still has its
  default action. What an exit deadline leaves undelivered goes to the
  fallback, counted on stderr.
* Reconfiguration (config): a record is delivered by the configuration in
  force when its log call began; a replaced configuration's handlers are
  closed once the log calls under way have returned.
* A sync handler that hangs (timed.py): with the ``timeout`` option it runs in
  a thread of its own and a log call waits for it at most that long.
* Bounded memory (worker.py): ``queue_size`` records at most; the ``overflow``
  policy decides what happens when it is full; every drop is counted and
  summarised by a warning record once space returns.
* Fork (lifecycle.py): after ``os.fork()`` the child gets fresh queues and
  locks and starts its own workers on first use; records queued in the parent
  stay the parent's (the parent's worker writes them), so nothing is written twice.
* Failures (worker.py): a failed batch is retried with exponential backoff and
  jitter; after ``breaker_threshold`` consecutive failures the circuit opens for
  ``breaker_cooldown`` seconds and batches go straight to the fallback (stderr
  by default) instead of hammering a dead endpoint.

Modules, each importing only those before it: options, lifecycle, timed, worker,
dispatcher.
May import: _state, _report, errors, levels, record, handlers.
"""

from __future__ import annotations

from .dispatcher import Dispatcher, level_counts
from .lifecycle import aflush, all_workers, flush, flush_on_signals, shutdown
from .options import DISPATCH_MODES, OVERFLOW_POLICIES, DispatchOptions, parse_dispatch
from .worker import BackgroundWorker

__all__ = [
    "DISPATCH_MODES",
    "OVERFLOW_POLICIES",
    "BackgroundWorker",
    "DispatchOptions",
    "Dispatcher",
    "aflush",
    "all_workers",
    "flush",
    "flush_on_signals",
    "level_counts",
    "parse_dispatch",
    "shutdown",
]
