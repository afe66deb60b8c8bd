"""In-memory handlers: for tests, debugging and health endpoints."""

from __future__ import annotations

import collections
import threading
from typing import TYPE_CHECKING, Any, Deque, List, Sequence

from .base import Handler

if TYPE_CHECKING:
    from ..record import LogRecord


class MemoryHandler(Handler):
    """Keeps the last ``capacity`` records (and their formatted lines) in memory.

    ``records`` and ``lines`` are lists copied out under a lock; the oldest
    entries are discarded once ``capacity`` is reached, and counted in
    ``discarded``.
    """

    def __init__(self, capacity: int = 10_000, **kwargs: Any) -> None:
        if not isinstance(capacity, int) or isinstance(capacity, bool) or capacity < 1:
            from ..errors import ConfigError

            raise ConfigError("capacity", capacity, "a positive integer")
        super().__init__(**kwargs)
        self.capacity = capacity
        self._records: Deque[LogRecord] = collections.deque(maxlen=capacity)
        self._lines: Deque[str] = collections.deque(maxlen=capacity)
        self._lock = threading.Lock()
        self.discarded = 0

    def handle(self, record: LogRecord) -> int:
        """Keep the record and its line; returns the line's length (counted as written)."""
        for accept in self.filters:
            if not accept(record):
                return 0
        line = self.format(record)
        with self._lock:
            if len(self._records) == self.capacity:
                self.discarded += 1
            self._records.append(record)
            self._lines.append(line)
        return len(line) + 1

    def handle_batch(self, records: Sequence[LogRecord]) -> int:
        return sum(self.handle(record) for record in records)

    def write_lines(self, lines: List[str]) -> None:  # pragma: no cover - handle() is used
        with self._lock:
            self._lines.extend(lines)

    @property
    def records(self) -> List[LogRecord]:
        with self._lock:
            return list(self._records)

    @property
    def lines(self) -> List[str]:
        with self._lock:
            return list(self._lines)

    def after_fork(self) -> None:
        self._lock = threading.Lock()

    def clear(self) -> None:
        with self._lock:
            self._records.clear()
            self._lines.clear()


class NullHandler(Handler):
    """Discards everything (useful to silence output while keeping metrics)."""

    counts_written = False

    def handle(self, record: LogRecord) -> None:
        return None

    def handle_batch(self, records: Sequence[LogRecord]) -> None:
        return None

    def write_lines(self, lines: List[str]) -> None:
        return None
