"""Per-handler counters and health state, read by :func:`micktrace.metrics` and
:func:`micktrace.health`.

Holds :class:`HandlerStats` and :func:`stats_of`. Imports nothing of micktrace:
every layer that delivers records (the dispatcher's workers, the sync route, the
network delivery engine) counts into the same object.
"""

from __future__ import annotations

import collections
import itertools
import threading
import time
from typing import Any, Deque, Dict, Optional


def count_value(counter: Any) -> int:
    """The current value of an ``itertools.count`` without advancing it."""
    # next() on an itertools.count is atomic under the GIL; its repr is "count(N)"
    return int(repr(counter)[6:-1])


class HandlerStats:
    """Counters and health of one handler.

    The sync path counts with ``itertools.count`` (whose ``next`` is atomic
    under the GIL, so concurrent callers lose no increment); a worker is the
    only writer of its own plain counters; rare events take a lock.
    """

    LATENCY_SAMPLES = 1024

    def __init__(self) -> None:
        self.sync_emitted = itertools.count()
        self.worker_emitted = 0
        # reentrant: a signal handler's record may be counted while this thread holds it
        self._lock = threading.RLock()
        self.failed = 0
        self.dropped = 0
        self.retried = 0
        self.fallback = 0
        #: records made while this handler ran, kept from re-entering it
        self.feedback_skipped = 0
        #: sync calls that ran out of their time limit (the ``timeout`` dispatch option)
        self.timed_out = 0
        #: times the background worker was restarted after something escaped it
        self.worker_restarts = 0
        self.bytes_written = 0
        self.batches = 0
        self.batch_records = 0
        self.max_batch = 0
        self.latencies: Deque[float] = collections.deque(maxlen=self.LATENCY_SAMPLES)
        self.last_error: Optional[str] = None
        self.last_error_time: Optional[float] = None
        self.last_success_time: Optional[float] = None
        self.consecutive_failures = 0
        self.circuit_open_until = 0.0
        self.emitted_at_error = 0

    def add(self, name: str, n: int = 1) -> None:
        with self._lock:
            setattr(self, name, getattr(self, name) + n)

    def add_sync_written(self, written: int) -> None:
        """Characters a handler wrote for one record on the sync path (the caller's thread)."""
        with self._lock:
            self.bytes_written += written

    def record_failure(self, exc: BaseException) -> None:
        with self._lock:
            self.emitted_at_error = self.emitted  # health: recovered once this grows
            self.failed += 1
            self.last_error = f"{type(exc).__name__}: {exc}"
            self.last_error_time = time.time()

    def record_batch(self, records: int, written: Optional[int], elapsed: float) -> None:
        """A batch was delivered by a worker (the only writer of these counters)."""
        self.consecutive_failures = 0
        self.last_success_time = time.time()
        self.latencies.append(elapsed)
        self.batches += 1
        self.batch_records += records
        if records > self.max_batch:
            self.max_batch = records
        if isinstance(written, int):
            self.bytes_written += written
        self.worker_emitted += records

    @property
    def emitted(self) -> int:
        return count_value(self.sync_emitted) + self.worker_emitted

    def after_fork(self) -> None:
        # a lock held by a parent thread at the fork would never be released in the child
        self._lock = threading.RLock()

    def snapshot(self) -> Dict[str, Any]:
        lat = sorted(self.latencies)

        def pct(p: float) -> Optional[float]:
            if not lat:
                return None
            return round(lat[min(len(lat) - 1, int(p * len(lat)))] * 1000, 3)

        # on the sync path every delivered record is a write of its own: a batch of one
        sync = count_value(self.sync_emitted)
        batches = self.batches + sync
        batch_records = self.batch_records + sync
        return {
            "emitted": self.emitted,
            "failed": self.failed,
            "dropped": self.dropped,
            "retried": self.retried,
            "fallback": self.fallback,
            "feedback_skipped": self.feedback_skipped,
            "timed_out": self.timed_out,
            "worker_restarts": self.worker_restarts,
            "bytes_written": self.bytes_written,
            "batches": batches,
            "avg_batch_size": round(batch_records / batches, 2) if batches else 0,
            "max_batch_size": max(self.max_batch, 1 if sync else 0),
            "write_latency_ms_p50": pct(0.50),
            "write_latency_ms_p99": pct(0.99),
        }


def stats_of(handler: Any) -> HandlerStats:
    """The :class:`HandlerStats` of *handler*, created on first use."""
    stats: Optional[HandlerStats] = handler.__dict__.get("_stats")
    if stats is None:
        stats = HandlerStats()
        handler.__dict__["_stats"] = stats
    return stats
