"""A stdlib logger's records, collected by a real ``logging.Handler`` for a test."""

from __future__ import annotations

import contextlib
import logging
from typing import Iterator, List


class Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.records: List[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@contextlib.contextmanager
def stdlib_records(name: str) -> Iterator[List[logging.LogRecord]]:
    """The records stdlib logger *name* handles inside the block (every level)."""
    std = logging.getLogger(name)
    collect = Collect()
    level = std.level
    std.addHandler(collect)
    std.setLevel(1)
    try:
        yield collect.records
    finally:
        std.removeHandler(collect)
        std.setLevel(level)
