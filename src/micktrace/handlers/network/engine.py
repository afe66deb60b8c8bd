"""The delivery engine every network handler shares.

Holds :class:`NetworkHandler`. A backend subclasses it and says only how to
*encode* one record and how to *send* a batch; the engine does the rest:

* **Batching** by count, bytes and age (``linger``) within the backend's
  :class:`~micktrace.handlers.network.batching.BatchLimits`; a record larger
  than the backend accepts is truncated with a visible marker.
* **Retries** with exponential backoff and full jitter, honouring
  ``Retry-After``; failures are classified (:mod:`.retry`): a permanent
  rejection of a batch is split in halves until the bad record is isolated (it
  goes to the fallback with the backend's reason, the rest is delivered); a
  401/403 opens the circuit ("unauthorized") and a probe retries later;
  repeated retryable failures open it too ("circuit_open").
* **Partial success**: ``send`` may return a :class:`BatchResult` naming the
  records to retry (a bulk API's 429 items) and those rejected (with reasons).
* **Bounded memory**: the backlog is bounded in bytes (``max_backlog_bytes``);
  when it is full the ``overflow`` policy applies and every drop is counted.
* **Exit**: ``flush()`` and ``close()`` deliver what is held within
  ``exit_timeout``; when the process is exiting (``micktrace._state.exit_deadline``)
  whatever cannot be delivered by then goes to the fallback, counted.
* **No feedback loop**: records made by the engine's own sender thread (what
  an SDK logs while we send) never re-enter this handler; they are counted.
* **Health and metrics** per handler, with configured secrets scrubbed from
  every error text.

Threads: the dispatcher's worker (or the caller, with ``dispatch="sync"``)
runs :meth:`NetworkHandler.handle_batch`, which encodes and appends to the
backlog; one sender thread per handler takes batches off and sends them.

May import: _state, _report, errors, record, handlers.base, handlers.fallback,
handlers.stats and the modules of this package.
"""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING, Any, Dict, List, Optional, Sequence, Tuple

from ... import _state
from ..._report import report
from ..._signals import SignalSafeEvent
from ...errors import ConfigError, check_number
from ..base import Handler
from ..fallback import write_to_fallback
from ..stats import stats_of
from .batching import Backlog, BatchLimits, BatchResult, Item, shortened
from .delivery import CIRCUIT_OPEN, OK, STATE_UNAUTHORIZED, DeliveryLoop
from .retry import Backoff, DeliveryError, classify

if TYPE_CHECKING:
    from ...record import LogRecord

__all__ = ["BatchResult", "NetworkHandler"]

OVERFLOW_POLICIES = ("block", "drop_newest", "drop_oldest")
REDACTED = "[REDACTED]"


class NetworkHandler(DeliveryLoop, Handler):
    """Base class of the handlers that send records over the network.

    Subclasses set :attr:`limits` (and :attr:`secret_options`) and implement
    :meth:`encode` and :meth:`send`; they may override :meth:`payload_size`,
    :meth:`classify`, :meth:`truncated`, :meth:`reset_connection` and
    :meth:`describe`.

    Args (every network handler takes these, besides its own):
        batch_size: at most this many records per request (never more than the backend allows).
        max_batch_bytes: at most this many bytes per request (likewise).
        linger: seconds a record may wait for more to share its request (default 1.0).
        max_backlog_bytes: the most encoded bytes held waiting (default 32 MiB).
        overflow: ``"block"`` (wait up to ``block_timeout`` for room, then drop),
            ``"drop_newest"`` or ``"drop_oldest"`` when the backlog is full.
        block_timeout: seconds the ``block`` policy waits (default 1.0).
        retries: further attempts at a batch after a retryable failure (default 8).
        backoff, max_backoff: the base and the cap of the backoff, in seconds.
        breaker_threshold: batches given up in a row that open the circuit (default 5).
        breaker_cooldown: seconds until a probe after the circuit opened (default 30).
        exit_timeout: seconds ``flush()``/``close()`` wait for delivery (default 5).
        timeout: seconds one request may take (default 10).
    """

    default_dispatch = "background"
    #: configure()'s global ``format`` does not apply: the backend's format is written
    encodes_itself = True
    #: the backend's published limits per request
    limits = BatchLimits()
    #: names of options whose values are secrets (hidden in repr, errors and health)
    secret_options: Tuple[str, ...] = ()

    def __init__(
        self,
        *,
        batch_size: Optional[int] = None,
        max_batch_bytes: Optional[int] = None,
        linger: float = 1.0,
        max_backlog_bytes: int = 32 * 1024 * 1024,
        overflow: str = "block",
        block_timeout: float = 1.0,
        retries: int = 8,
        backoff: float = 0.2,
        max_backoff: float = 30.0,
        breaker_threshold: int = 5,
        breaker_cooldown: float = 30.0,
        exit_timeout: float = 5.0,
        timeout: float = 10.0,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if batch_size is not None:
            check_number("batch_size", batch_size, 1, integer=True)
        if max_batch_bytes is not None:
            check_number("max_batch_bytes", max_batch_bytes, 1024, integer=True)
        if overflow not in OVERFLOW_POLICIES:
            raise ConfigError("overflow", overflow, ", ".join(OVERFLOW_POLICIES))
        self.batch_limits = self.limits.with_overrides(batch_size, max_batch_bytes)  # an instance may set its own
        self.linger = float(check_number("linger", linger))
        self.max_backlog_bytes = int(check_number("max_backlog_bytes", max_backlog_bytes, 1024, integer=True))
        self.overflow = overflow
        self.block_timeout = float(check_number("block_timeout", block_timeout))
        self.retries = int(check_number("retries", retries, 0, integer=True))
        self.backoff = Backoff(float(check_number("backoff", backoff)), float(check_number("max_backoff", max_backoff)))
        self.breaker_threshold = int(check_number("breaker_threshold", breaker_threshold, 0, integer=True))
        self.breaker_cooldown = float(check_number("breaker_cooldown", breaker_cooldown))
        self.exit_timeout = float(check_number("exit_timeout", exit_timeout))
        self.timeout = float(check_number("timeout", timeout, 0.001))
        self._secrets: List[str] = []
        self._init_runtime()

    # -- for subclasses ----------------------------------------------------------
    def encode(self, record: LogRecord) -> Any:
        """What the backend receives for *record* (bytes, or an object with a size)."""
        raise NotImplementedError

    def payload_size(self, payload: Any) -> int:
        """The size of an encoded record in the backend's count (default: ``len``)."""
        return len(payload)

    def send(self, batch: List[Item]) -> Optional[BatchResult]:
        """Deliver *batch* (``item.payload`` each). Raise for a failure of the whole
        batch (a :class:`DeliveryError`, or any exception: :meth:`classify` sorts it);
        return a :class:`BatchResult` for a partial one, or None when all arrived."""
        raise NotImplementedError

    def classify(self, exc: BaseException) -> DeliveryError:
        """*exc* raised by :meth:`send` as a :class:`DeliveryError`."""
        return classify(exc)

    def truncated(self, record: LogRecord, max_bytes: int, size: int) -> Any:
        """An encoding of *record* (*size* bytes encoded) within *max_bytes*
        (see :func:`~micktrace.handlers.network.batching.shortened`)."""
        return self.encode(shortened(record, max_bytes, size))

    def reset_connection(self) -> None:
        """Forget clients and connections (called in a forked child and after close)."""

    def describe(self) -> str:
        """Where records go, for repr and health (no secrets)."""
        return ""

    # -- runtime state -------------------------------------------------------------
    def _init_runtime(self) -> None:
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._wake = SignalSafeEvent()
        self._backlog = Backlog()
        self._inflight: List[Item] = []
        self._flush_requests = 0
        self._thread: Optional[threading.Thread] = None
        self._sender_since_ns = 0
        self._closing = False
        self.state = OK
        self._reopen_at = 0.0
        self._consecutive_failures = 0
        self.counters: Dict[str, int] = {
            "accepted": 0,
            "delivered": 0,
            "batches_sent": 0,
            "bytes_sent": 0,
            "retries": 0,
            "rejected": 0,
            "truncated": 0,
            "feedback_skipped": 0,
        }
        self.last_error: Optional[str] = None
        self.last_error_time: Optional[float] = None
        self.last_success_time: Optional[float] = None

    def add_secret(self, value: Any) -> None:
        """Scrub *value* from every error text this handler shows."""
        if isinstance(value, str) and len(value) >= 4 and value not in self._secrets:
            self._secrets.append(value)

    def scrub(self, text: str) -> str:
        for secret in self._secrets:
            if secret in text:
                text = text.replace(secret, REDACTED)
        return text

    # -- the record path (dispatcher worker, or the caller) -------------------------
    def handle(self, record: LogRecord) -> None:
        self.handle_batch([record])

    def handle_batch(self, records: Sequence[LogRecord]) -> Optional[int]:
        sender = self._thread
        own = sender.ident if sender is not None else None
        # Python reuses a thread's ident once the thread has ended: a record made by
        # an application thread that ended before our sender started can carry the
        # sender's ident. Only a record made since the sender started is its own.
        since = self._sender_since_ns
        items: List[Item] = []
        filters = self.filters
        limit = self.batch_limits.max_record_bytes
        for record in records:
            if own is not None and record.thread_id == own and record.time_ns >= since:
                self.counters["feedback_skipped"] += 1  # logged by an SDK while we sent: not ours to send
                continue
            if filters and not all(f(record) for f in filters):
                continue
            try:
                payload = self.encode(record)
                size = self.payload_size(payload)
                if size > limit:
                    payload = self.truncated(record, limit, size)
                    size = self.payload_size(payload)
                    self.counters["truncated"] += 1
            except Exception as exc:
                self._note_error(f"encoding failed: {type(exc).__name__}: {exc}")
                write_to_fallback(self, [record], self.scrub(f"could not encode: {exc}"))
                continue
            items.append(Item(record, payload, size))
        if not items:
            return 0
        if self._closing:
            self._settle(items, "handler closed")
            return 0
        with self._lock:
            for item in items:
                if not self._make_room(item.size):
                    self._settle_locked([item], dropped=True)
                    continue
                self._backlog.append(item)
                self.counters["accepted"] += 1
            self._changed.notify_all()
        if self._thread is None:
            self._start()
        return None

    def _make_room(self, size: int) -> bool:
        """Called with the lock held: True once *size* bytes fit the backlog."""
        backlog = self._backlog
        if backlog.bytes + size <= self.max_backlog_bytes:
            return True
        if self.overflow == "drop_newest":
            return False
        if self.overflow == "drop_oldest":
            while backlog and backlog.bytes + size > self.max_backlog_bytes:
                self._settle_locked([backlog.popleft()], dropped=True)
            return True
        deadline = time.monotonic() + self.block_timeout
        while backlog.bytes + size > self.max_backlog_bytes:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or self._closing:
                return False
            if self._thread is None:
                self._lock.release()
                try:
                    self._start()
                finally:
                    self._lock.acquire()
            self._changed.wait(min(remaining, 0.05))
        return True

    # -- settling items: delivered, fallback or dropped, each exactly once -----------
    def _settle_locked(self, items: List[Item], dropped: bool = False) -> List[Item]:
        fresh = [item for item in items if not item.done]
        for item in fresh:
            item.done = True
        if dropped and fresh:
            stats_of(self).add("dropped", len(fresh))
            # report() takes only its own lock and writes to stderr: safe under ours
            report(f"handler {self.name!r}", None, f"dropped {len(fresh)} records: its backlog was full")
        return fresh

    def _settle(self, items: List[Item], reason: Optional[str], dropped: bool = False) -> None:
        with self._lock:
            fresh = self._settle_locked(items, dropped)
        if fresh and not dropped:
            write_to_fallback(self, [item.record for item in fresh], reason)

    # -- the sender thread -------------------------------------------------------------
    def _start(self) -> None:
        with self._lock:
            if self._thread is not None or self._closing:
                return
            thread = threading.Thread(target=self._run, name=f"micktrace-send-{self.name}", daemon=True)
            self._thread = thread
            self._sender_since_ns = time.time_ns()
        thread.start()

    def _run(self) -> None:
        while True:
            with self._lock:
                while not self._backlog and not self._closing:
                    self._changed.wait(1.0)
                if not self._backlog and self._closing:
                    return
                limits = self.batch_limits
                while (
                    not self._backlog.full_batch_ready(limits)
                    and not self._flush_requests
                    and not self._closing
                    and _state.exit_deadline is None
                ):
                    wait = self.linger - self._backlog.oldest_age(time.monotonic())
                    if wait <= 0:
                        break
                    self._changed.wait(wait)
                batch = self._backlog.take_batch(limits)
                self._inflight = batch
                self._changed.notify_all()  # room in the backlog
            try:
                self._deliver(batch)
            except Exception as exc:  # a bug of ours or the backend's: never lose the batch
                self._note_error(f"{type(exc).__name__}: {exc}")
                self._settle(batch, self.scrub(f"delivery failed: {exc}"))
            with self._lock:
                self._inflight = []
                self._changed.notify_all()

    # -- control -------------------------------------------------------------------------
    def flush(self) -> None:
        """Wait until everything accepted so far is delivered, at most
        ``exit_timeout`` (or until the process's exit deadline); when exiting,
        what is still held then goes to the fallback."""
        deadline = _state.exit_deadline
        if deadline is None:
            deadline = time.monotonic() + self.exit_timeout
        with self._lock:
            if not self._backlog and not self._inflight:
                return
            self._flush_requests += 1
            self._changed.notify_all()
            try:
                while self._backlog or self._inflight:
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        break
                    self._changed.wait(min(remaining, 0.1))
            finally:
                self._flush_requests -= 1
        if _state.exit_deadline is not None or self._closing:
            self._give_up("the exit deadline passed before delivery")

    def abandon(self, reason: str) -> None:
        """Hand everything held to the fallback now, and every record that
        arrives later too (the process is about to end)."""
        self._closing = True
        self._wake.set()
        self._give_up(reason)

    def _give_up(self, reason: str) -> None:
        with self._lock:
            left = self._backlog.clear() + list(self._inflight)
            self._changed.notify_all()
        self._settle(left, reason)

    def close(self) -> None:
        """Deliver what is held (within ``exit_timeout``), stop the sender, and
        put anything left on the fallback."""
        if self._closing:
            return
        self._closing = True
        self._wake.set()
        self.flush()
        with self._lock:
            self._changed.notify_all()
            thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(0.5)
        self._give_up("the handler was closed before delivery")
        try:
            self.reset_connection()
        except Exception:
            pass
        super().close()

    def after_fork(self) -> None:
        # the parent's backlog is the parent's to send; the sender thread and the
        # locks did not survive the fork, and SDK clients must not be shared
        self._init_runtime()
        try:
            self.reset_connection()
        except Exception:
            pass

    # -- monitoring -------------------------------------------------------------------------
    def health(self) -> Dict[str, Any]:
        state = self.state
        if state in (CIRCUIT_OPEN, STATE_UNAUTHORIZED) and time.monotonic() >= self._reopen_at:
            state = f"{state} (probing)"
        return {
            "state": state,
            "destination": self.describe(),
            "last_error": self.last_error,
            "last_error_time": self.last_error_time,
            "last_success_time": self.last_success_time,
            "backlog_records": len(self._backlog) + len(self._inflight),
            "backlog_bytes": self._backlog.bytes + sum(item.size for item in self._inflight),
        }

    def metrics(self) -> Dict[str, Any]:
        stats = stats_of(self)
        out: Dict[str, Any] = dict(self.counters)
        out["dropped"] = stats.dropped
        out["fallback"] = stats.fallback
        out["backlog_records"] = len(self._backlog) + len(self._inflight)
        out["backlog_bytes"] = self._backlog.bytes
        out["state"] = self.state
        return out

    def __repr__(self) -> str:
        where = self.describe()
        return f"<{type(self).__name__} {self.name!r}{' ' + where if where else ''} level={self.level}>"
