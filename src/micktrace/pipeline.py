"""A record's way from the log call to the handlers, built once per configuration.

Holds :func:`compose` (the processors, then emit, as one function specialised
for the count: what a log call runs) and :func:`finish` (the general path:
processors, the level check, emit and the active ``capture_logs`` sinks), used
alike by the logger and by stdlib records captured into micktrace.

May import: _state, record.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, Optional, Tuple

from . import _state

if TYPE_CHECKING:
    from .record import LogRecord

Processor = Callable[["LogRecord"], Optional["LogRecord"]]


def compose(processors: Tuple[Processor, ...], emit: Callable[[LogRecord], None]) -> Callable[[LogRecord], None]:
    """*processors* then *emit*, as one function specialised for the count."""
    if not processors:
        return emit
    if len(processors) == 1:
        (first,) = processors

        def run_one(record: LogRecord) -> None:
            result = first(record)
            if result is not None:
                emit(result)

        return run_one
    if len(processors) == 2:
        first, second = processors

        def run_two(record: LogRecord) -> None:
            result = first(record)
            if result is not None:
                result = second(result)
                if result is not None:
                    emit(result)

        return run_two

    def run_all(record: LogRecord) -> None:
        result: Optional[LogRecord] = record
        for processor in processors:
            result = processor(result)  # type: ignore[arg-type]
            if result is None:
                return
        emit(result)  # type: ignore[arg-type]

    return run_all


def finish(record: LogRecord, cfg: Any, level: int) -> None:
    """Processors, the level check (*level*: the logger's) and capture sinks:
    the less common path of a log call (``capture_logs`` active, a stdlib
    record, a call with stdlib keywords)."""
    if not _state.captures:
        if record.level >= level:
            cfg.pipeline(record)
        return
    for processor in cfg.processors:
        result = processor(record)
        if result is None:
            return
        record = result
    if record.level >= level:
        cfg.emit(record)
    for sink in _state.captures:
        sink.append(record)
