"""Sending one batch until it is settled: the delivery loop of the engine.

Holds :class:`DeliveryLoop`, the part of :class:`~micktrace.handlers.network.engine.NetworkHandler`
that runs on the sender thread for each batch: send, classify a failure,
retry with backoff (honouring ``Retry-After`` and the exit deadline), split a
rejected batch in halves to isolate the bad record, open the circuit on
401/403 or on repeated failures, and count what was delivered. Every item
ends settled exactly once: delivered, or on the fallback with its reason.

May import: _state, _report, handlers.stats and the modules of this package.
"""

from __future__ import annotations

import threading
import time
from typing import Dict, List, Optional

from ... import _state
from ..._report import report
from ..stats import stats_of
from .batching import BatchResult, Item
from .retry import PERMANENT, TOO_LARGE, UNAUTHORIZED, Backoff, DeliveryError

OK = "ok"
RETRYING = "retrying"
CIRCUIT_OPEN = "circuit_open"
STATE_UNAUTHORIZED = "unauthorized"


class DeliveryLoop:
    """Mixed into NetworkHandler; uses its ``send``, ``classify``, ``scrub``,
    ``_settle``/``_settle_locked``, options and counters."""

    name: str
    state: str
    retries: int
    backoff: Backoff
    breaker_threshold: int
    breaker_cooldown: float
    counters: Dict[str, int]
    last_error: Optional[str]
    last_error_time: Optional[float]
    last_success_time: Optional[float]
    _lock: threading.Lock
    _wake: threading.Event
    _reopen_at: float
    _consecutive_failures: int

    def send(self, batch: List[Item]) -> Optional[BatchResult]:
        raise NotImplementedError

    def classify(self, exc: BaseException) -> DeliveryError:
        raise NotImplementedError

    def scrub(self, text: str) -> str:
        raise NotImplementedError

    def _settle(self, items: List[Item], reason: Optional[str], dropped: bool = False) -> None:
        raise NotImplementedError

    def _settle_locked(self, items: List[Item], dropped: bool = False) -> List[Item]:
        raise NotImplementedError

    def _past_deadline(self) -> bool:
        deadline = _state.exit_deadline
        return deadline is not None and time.monotonic() >= deadline

    def _deliver(self, batch: List[Item]) -> None:
        parts = [batch]
        while parts:
            part = parts.pop(0)
            halves = self._deliver_part(part)
            if halves:
                parts[:0] = halves

    def _deliver_part(self, items: List[Item]) -> Optional[List[List[Item]]]:
        """Send *items* until settled; the two halves when a rejection must be split."""
        attempt = 0
        while items:
            items = [item for item in items if not item.done]
            if not items:
                return None
            if self._past_deadline():
                self._settle(items, "the exit deadline passed before delivery")
                return None
            if self.state in (CIRCUIT_OPEN, STATE_UNAUTHORIZED) and time.monotonic() < self._reopen_at:
                self._settle(items, f"circuit open ({self.state}): {self.last_error}")
                return None
            started = time.perf_counter()
            try:
                result = self.send(items)
            except Exception as exc:
                error = self.classify(exc)
                reason = self.scrub(error.reason)
                self._note_error(reason, exc)
                if error.kind == UNAUTHORIZED:
                    self._open_circuit(STATE_UNAUTHORIZED)
                    self._settle(items, f"unauthorized: {reason}")
                    return None
                if error.kind in (PERMANENT, TOO_LARGE):
                    if len(items) > 1:
                        middle = len(items) // 2
                        return [items[:middle], items[middle:]]
                    self.counters["rejected"] += 1
                    self._settle(items, f"rejected by the backend: {reason}")
                    return None
                if attempt >= self.retries:
                    self._consecutive_failures += 1
                    if self.breaker_threshold and self._consecutive_failures >= self.breaker_threshold:
                        self._open_circuit(CIRCUIT_OPEN)
                    self._settle(items, f"gave up after {attempt + 1} attempts: {reason}")
                    return None
                attempt += 1
                self._retry_wait(attempt, error.retry_after)
                continue
            self._succeeded(items, result, time.perf_counter() - started)
            if result is None or not result.retry:
                return None
            items = [items[i] for i in result.retry if 0 <= i < len(items)]
            if attempt >= self.retries:
                self._settle(items, "gave up after retrying the items the backend asked to resend")
                return None
            attempt += 1
            self._retry_wait(attempt, result.retry_after)
        return None

    def _retry_wait(self, attempt: int, retry_after: Optional[float]) -> None:
        self.counters["retries"] += 1
        stats_of(self).add("retried")
        self.state = RETRYING
        delay = self.backoff.delay(attempt, retry_after)
        deadline = _state.exit_deadline
        if deadline is not None:
            delay = min(delay, max(0.0, deadline - time.monotonic()))
        self._wake.wait(delay)
        self._wake.clear()

    def _open_circuit(self, state: str) -> None:
        self.state = state
        self._reopen_at = time.monotonic() + self.breaker_cooldown
        stats_of(self).circuit_open_until = self._reopen_at

    def _succeeded(self, items: List[Item], result: Optional[BatchResult], elapsed: float) -> None:
        retry = set(result.retry) if result is not None else set()
        rejected = dict(result.rejected) if result is not None else {}
        delivered = [item for i, item in enumerate(items) if i not in retry and i not in rejected]
        with self._lock:
            fresh = self._settle_locked(delivered)
        counters = self.counters
        counters["delivered"] += len(fresh)
        counters["batches_sent"] += 1
        counters["bytes_sent"] += sum(item.size for item in fresh)
        stats = stats_of(self)
        stats.latencies.append(elapsed)
        stats.consecutive_failures = 0
        stats.circuit_open_until = 0.0
        self._consecutive_failures = 0
        self.state = OK
        self.last_success_time = time.time()
        for index, reason in rejected.items():
            if 0 <= index < len(items):
                counters["rejected"] += 1
                self._settle([items[index]], self.scrub(f"rejected by the backend: {reason}"))

    def _note_error(self, reason: str, exc: Optional[BaseException] = None) -> None:
        reason = self.scrub(reason)
        self.last_error = reason
        self.last_error_time = time.time()
        stats = stats_of(self)
        with stats._lock:
            stats.failed += 1
            stats.last_error = reason
            stats.last_error_time = self.last_error_time
            stats.emitted_at_error = stats.emitted
        report(f"handler {self.name!r}", None, f"failed: {reason}")
