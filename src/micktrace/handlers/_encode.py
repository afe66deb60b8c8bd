"""Turning a batch of records into the bytes of one file write, and finding
where each record ends in them: what a write cut short by a full disk needs
to keep whole records only, and a size rotation to split a batch at the limit.

May import the standard library and :mod:`micktrace.record` (types only).
"""

from __future__ import annotations

import bisect
import itertools
from typing import TYPE_CHECKING, Any, Callable, List, Optional, Sequence, Tuple

if TYPE_CHECKING:
    from ..record import LogRecord

_plus_one: Callable[[int], int] = (1).__add__


class RecordEnds:
    """Where each record of a write ends in its bytes, found only when asked:
    when a size rotation splits the write, or a full disk cuts it short.

    While the bytes hold one line per record (JSON, and text records without
    a traceback), a split point is found by searching for a newline, without
    measuring every record."""

    __slots__ = ("_count", "_data", "_ends", "_measure", "_one_line")

    def __init__(self, data: bytes, count: int, measure: Callable[[], List[int]]) -> None:
        self._data = data
        self._count = count
        self._measure = measure
        self._ends: Optional[List[int]] = None
        self._one_line: Optional[bool] = None

    def all(self) -> List[int]:
        """The offset after each record."""
        if self._ends is None:
            self._ends = self._measure()
        return self._ends

    def _lines(self) -> bool:
        if self._one_line is None:
            data = self._data
            self._one_line = data.endswith(b"\n") and data.count(b"\n") == self._count
        return self._one_line

    def last_within(self, pos: int, limit: int) -> int:
        """The end of the last record ending after *pos* and by *limit*; *pos* if none does."""
        if self._lines():
            at = self._data.rfind(b"\n", pos, limit)
            return at + 1 if at >= 0 else pos
        ends = self.all()
        i = bisect.bisect_right(ends, limit)
        return ends[i - 1] if i and ends[i - 1] > pos else pos

    def first_after(self, pos: int) -> int:
        """The end of the record that starts at *pos*."""
        if self._lines():
            return self._data.index(b"\n", pos) + 1
        ends = self.all()
        return ends[bisect.bisect_right(ends, pos)]


#: a batch ready to write: its bytes, where its records end, the size reported to metrics
Encoded = Tuple[bytes, RecordEnds, int]


def encode_batch(
    records: Sequence[LogRecord],
    formatter: Any,
    fast: Callable[[LogRecord], str],
    safe: Callable[[LogRecord], str],
    errors: str,
) -> Encoded:
    """A formatter with ``format_bytes`` (JSON with orjson) gives bytes
    straight away: no decode and re-encode per record. Otherwise each record
    is formatted by *fast* (the formatter itself) or, if one fails, all by
    *safe* (which isolates the record that fails)."""
    data = _format_bytes(records, formatter)
    if data is not None:
        raw = data
        return data, RecordEnds(data, len(records), lambda: _record_ends(raw, records, formatter)), len(data)
    try:
        lines = [fast(r) for r in records]
    except Exception:
        lines = [safe(r) for r in records]
    data = ("\n".join(lines) + "\n").encode("utf-8", errors)
    ends = RecordEnds(data, len(lines), lambda: line_ends(lines, errors, len(data)))
    return data, ends, sum(map(len, lines)) + len(lines)


def line_ends(lines: List[str], errors: str, size: int) -> List[int]:
    """The offset after each line of the lines joined by newlines (and one
    after the last) in UTF-8, *size* bytes in all: when that is the number of
    characters, every character is one byte and no line needs encoding again."""
    ends = list(itertools.accumulate(map(_plus_one, map(len, lines))))
    if ends and ends[-1] == size:
        return ends
    return list(itertools.accumulate(len(line.encode("utf-8", errors)) + 1 for line in lines))


def _format_bytes(records: Sequence[LogRecord], formatter: Any) -> Optional[bytes]:
    format_bytes = getattr(formatter, "format_bytes", None)
    if format_bytes is None:
        return None
    format_batch = getattr(formatter, "format_batch", None)
    try:
        if format_batch is not None:  # the whole batch at once (JSON with the C speedup)
            data: bytes = format_batch(records if type(records) is list else list(records))
            return data
        chunks = [format_bytes(r) for r in records]
    except Exception:  # the general path isolates the record that fails
        return None
    chunks.append(b"")
    return b"\n".join(chunks)


def _record_ends(data: bytes, records: Sequence[LogRecord], formatter: Any) -> List[int]:
    """Where each record ends in *data*: after its newline (a JSON line holds
    no other); else measured record by record."""
    parts = data.split(b"\n")
    parts.pop()  # what follows the last newline: nothing
    ends = list(itertools.accumulate(map(_plus_one, map(len, parts))))
    if len(ends) == len(records) and data.endswith(b"\n"):
        return ends
    return list(itertools.accumulate(len(formatter.format_bytes(r)) + 1 for r in records))
