"""Helpers for testing code that logs with micktrace."""

from __future__ import annotations

import threading
from types import TracebackType
from typing import Any, Iterator, List, Optional, Pattern, Type, Union

from . import _state
from .levels import LevelLike, to_level
from .record import LogRecord


class CapturedLogs:
    """The records captured by :func:`capture_logs`, with query helpers.

    ``records`` holds every record emitted inside the block, at every level,
    whatever the configured level and handlers, from every logger and thread.
    """

    def __init__(self) -> None:
        self._sink: List[LogRecord] = []
        self._lock = threading.Lock()

    @property
    def records(self) -> List[LogRecord]:
        return self._sink

    @property
    def messages(self) -> List[str]:
        return [r.message for r in list(self._sink)]

    def filter(
        self,
        level: Optional[LevelLike] = None,
        logger: Optional[str] = None,
        message: Union[str, Pattern[str], None] = None,
        min_level: Optional[LevelLike] = None,
        **fields: Any,
    ) -> List[LogRecord]:
        """Records matching all the criteria: exact ``level``, ``min_level``,
        ``logger`` (name or a parent of it), a ``message`` substring or compiled
        pattern (searched), and field values (looked up in the record's fields,
        then its context, then the static fields)."""
        exact = to_level(level) if level is not None else None
        least = to_level(min_level) if min_level is not None else None
        out = []
        for record in list(self._sink):
            if exact is not None and record.level != exact:
                continue
            if least is not None and record.level < least:
                continue
            if logger is not None and not (record.logger_name == logger or record.logger_name.startswith(logger + ".")):
                continue
            if message is not None:
                if isinstance(message, str):
                    if message not in record.message:
                        continue
                elif message.search(record.message) is None:
                    continue
            if fields and not all(_field(record, k) == v for k, v in fields.items()):
                continue
            out.append(record)
        return out

    def clear(self) -> None:
        self._sink.clear()

    def __len__(self) -> int:
        return len(self._sink)

    def __iter__(self) -> Iterator[LogRecord]:
        return iter(list(self._sink))

    def __getitem__(self, index: int) -> LogRecord:
        return self._sink[index]

    def __enter__(self) -> CapturedLogs:
        from .config import current_config
        from .logger import rebind_all

        with _state.lock:
            _state.captures = (*_state.captures, self._sink)
            rebind_all(current_config())
        return self

    def __exit__(
        self,
        exc_type: Optional[Type[BaseException]],
        exc: Optional[BaseException],
        tb: Optional[TracebackType],
    ) -> None:
        from .config import current_config
        from .logger import rebind_all

        with _state.lock:
            _state.captures = tuple(s for s in _state.captures if s is not self._sink)
            rebind_all(current_config())


_MISSING = object()


def _field(record: LogRecord, key: str) -> Any:
    if key in record.data:
        return record.data[key]
    if key in record.context:
        return record.context[key]
    return record.static.get(key, _MISSING)


def capture_logs() -> CapturedLogs:
    """Capture every record emitted inside the ``with`` block.

    >>> with capture_logs() as captured:
    ...     get_logger("x").debug("hello", n=1)
    >>> captured.records[0].data
    {'n': 1}
    """
    return CapturedLogs()


# the handler conformance kit lives in its own module (it drives configure(),
# which sits above this module's capture helpers); it is part of the testing API
from .conformance import ConformanceReport, check_handler  # noqa: E402

__all__ = ["CapturedLogs", "ConformanceReport", "capture_logs", "check_handler"]
