"""Batches within a backend's limits, and the bounded backlog they are taken from.

Holds :class:`BatchLimits` (each backend's published limits: records and bytes
per request, bytes per record, per-record overhead, time span and order),
:class:`Item` (one encoded record waiting to be sent) and :class:`Backlog`
(a FIFO bounded in bytes, from which :meth:`Backlog.take_batch` takes the
longest prefix that fits the limits), :class:`BatchResult` (what a partly
successful send reports) and :func:`shortened` (a record cut to fit).

Imports nothing of micktrace above the record.
"""

from __future__ import annotations

import collections
import time
from typing import TYPE_CHECKING, Any, Deque, List, Optional, Sequence, Tuple

if TYPE_CHECKING:
    from ...record import LogRecord

TRUNCATION_MARKER = "...[truncated by micktrace: {dropped} bytes of {size}]"


class BatchLimits:
    """What one request to a backend may carry.

    Args:
        max_records: records per request.
        max_bytes: bytes per request, counting each record's encoded size plus
            ``record_overhead`` (and ``request_overhead`` once).
        max_record_bytes: the largest encoded record the backend accepts; a
            larger one is truncated with a visible marker, never dropped.
        record_overhead: bytes the backend adds to each record in its count
            (CloudWatch: 26).
        request_overhead: bytes of the envelope around the records.
        max_span_seconds: the widest time span one request may hold
            (CloudWatch: 24 h), or None.
        time_ordered: the backend wants the records of a request in time order.
    """

    __slots__ = (
        "max_bytes",
        "max_record_bytes",
        "max_records",
        "max_span_seconds",
        "record_overhead",
        "request_overhead",
        "time_ordered",
    )

    def __init__(
        self,
        max_records: int = 1_000,
        max_bytes: int = 5 * 1024 * 1024,
        max_record_bytes: int = 1024 * 1024,
        record_overhead: int = 0,
        request_overhead: int = 0,
        max_span_seconds: Optional[float] = None,
        time_ordered: bool = False,
    ) -> None:
        self.max_records = max_records
        self.max_bytes = max_bytes
        self.max_record_bytes = min(max_record_bytes, max_bytes - record_overhead - request_overhead)
        self.record_overhead = record_overhead
        self.request_overhead = request_overhead
        self.max_span_seconds = max_span_seconds
        self.time_ordered = time_ordered

    def with_overrides(self, max_records: Optional[int] = None, max_bytes: Optional[int] = None) -> BatchLimits:
        """These limits, lowered (never raised past the backend's) by the user's options."""
        return BatchLimits(
            min(self.max_records, max_records) if max_records else self.max_records,
            min(self.max_bytes, max_bytes) if max_bytes else self.max_bytes,
            self.max_record_bytes,
            self.record_overhead,
            self.request_overhead,
            self.max_span_seconds,
            self.time_ordered,
        )

    def __repr__(self) -> str:
        return "BatchLimits(" + ", ".join(f"{n}={getattr(self, n)!r}" for n in self.__slots__) + ")"


class Item:
    """One record on its way: the record (for the fallback), what the backend
    gets (``payload``), its size in the backend's count, and how many times a
    send of it failed."""

    __slots__ = ("attempts", "done", "enqueued", "payload", "record", "size", "time_ns")

    def __init__(self, record: LogRecord, payload: Any, size: int) -> None:
        self.record = record
        self.payload = payload
        self.size = size
        self.time_ns: int = record.time_ns
        self.enqueued = time.monotonic()
        self.attempts = 0
        #: delivered, or handed to the fallback: settled exactly once (see the engine)
        self.done = False


class Backlog:
    """A FIFO of :class:`Item`, bounded in bytes by its owner (see the engine).

    Not thread-safe by itself: the engine holds its lock around every call.
    """

    def __init__(self) -> None:
        self.items: Deque[Item] = collections.deque()
        self.bytes = 0

    def __len__(self) -> int:
        return len(self.items)

    def append(self, item: Item) -> None:
        self.items.append(item)
        self.bytes += item.size

    def appendleft_all(self, items: List[Item]) -> None:
        """Put *items* back at the front, in their order (a retry keeps its place)."""
        for item in reversed(items):
            self.items.appendleft(item)
            self.bytes += item.size

    def popleft(self) -> Item:
        item = self.items.popleft()
        self.bytes -= item.size
        return item

    def oldest_age(self, now: float) -> float:
        return now - self.items[0].enqueued if self.items else 0.0

    def full_batch_ready(self, limits: BatchLimits) -> bool:
        """True when the backlog already holds a request's worth of records or bytes."""
        if len(self.items) >= limits.max_records:
            return True
        return self.bytes + len(self.items) * limits.record_overhead >= limits.max_bytes - limits.request_overhead

    def take_batch(self, limits: BatchLimits) -> List[Item]:
        """The longest prefix of the backlog that fits *limits*, removed from it."""
        batch: List[Item] = []
        used = limits.request_overhead
        first_ns = last_ns = 0
        span_ns = int(limits.max_span_seconds * 1e9) if limits.max_span_seconds else 0
        items = self.items
        while items and len(batch) < limits.max_records:
            item = items[0]
            cost = item.size + limits.record_overhead
            if batch and used + cost > limits.max_bytes:
                break
            if span_ns and batch:
                low, high = min(first_ns, item.time_ns), max(last_ns, item.time_ns)
                if high - low > span_ns:
                    break
                first_ns, last_ns = low, high
            elif not batch:
                first_ns = last_ns = item.time_ns
            batch.append(self.popleft())
            used += cost
        if limits.time_ordered and len(batch) > 1:
            batch.sort(key=lambda it: it.time_ns)  # stable: equal stamps keep their order
        return batch

    def clear(self) -> List[Item]:
        out = list(self.items)
        self.items.clear()
        self.bytes = 0
        return out


class BatchResult:
    """What a partly successful ``send`` reports: indexes (into the batch it was
    given) of records to send again, and of records the backend rejected for
    good, each with the backend's reason. Everything else was delivered."""

    __slots__ = ("rejected", "retry", "retry_after")

    def __init__(
        self,
        retry: Sequence[int] = (),
        rejected: Sequence[Tuple[int, str]] = (),
        retry_after: Optional[float] = None,
    ) -> None:
        self.retry = list(retry)
        self.rejected = list(rejected)
        self.retry_after = retry_after


def shortened(record: LogRecord, max_bytes: int, size: int) -> LogRecord:
    """A copy of *record* (*size* bytes encoded) that fits *max_bytes*: the
    message cut with a visible marker (or, when the fields made it too large,
    the marker added), the fields replaced by a note of what was cut."""
    from ...record import LogRecord

    message = truncate_text(record.message, max(64, max_bytes // 2))
    if message == record.message:  # the fields made it too large: say so where a reader looks
        message += TRUNCATION_MARKER.format(dropped=size - len(message), size=size)
    return LogRecord(
        record.timestamp,
        record.level,
        record.logger_name,
        message,
        {"micktrace_truncated": True, "original_size": size},
        {},
        dict(record.static),
        None,
        None,
        record.thread_id,
        record.process_id,
    )


def truncate_text(text: str, max_bytes: int) -> str:
    """*text* cut to at most *max_bytes* UTF-8 bytes, ending with a visible marker."""
    data = text.encode("utf-8", "replace")
    if len(data) <= max_bytes:
        return text
    marker = TRUNCATION_MARKER.format(dropped=len(data) - max_bytes, size=len(data))
    keep = max(0, max_bytes - len(marker.encode()) - 16)
    head = data[:keep].decode("utf-8", "ignore")
    dropped = len(data) - len(head.encode("utf-8"))
    return head + TRUNCATION_MARKER.format(dropped=dropped, size=len(data))
