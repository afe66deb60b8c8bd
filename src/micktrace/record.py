"""The log record: one immutable-by-convention object per emitted log call."""

from __future__ import annotations

import math
import os
import threading
from typing import Any, Dict, Optional

from ._exceptions import ExcInfo, exception_dict, exception_text
from .levels import LogLevel, level_name, to_level, to_loglevel

_EMPTY: Dict[str, Any] = {}


def seconds_to_ns(seconds: float) -> int:
    """Epoch seconds as integer nanoseconds, rounded to the nearest one.

    ``int(seconds * 1e9)`` would be wrong: the product is rounded to a multiple
    of 256 ns and then truncated, so ``…20.25`` would come out as ``…20.249999``.
    """
    whole = math.floor(seconds)
    return whole * 1_000_000_000 + round((seconds - whole) * 1_000_000_000)


class LogRecord:
    """Everything known about one log call.

    Attributes:
        timestamp: seconds since the epoch (float), taken when the call was made
            (a property over ``time_ns``, the same instant in integer nanoseconds).
        level: a :class:`LogLevel` (or an int for custom levels).
        logger_name: the logger's name.
        message: the message, ``%``-formatted with the call's positional args.
        data: the record's own fields: bound fields, ``extra=`` and keyword fields.
        context: the context fields active when the call was made (a snapshot).
        static: fields configured for every record (``service``, ``version``, ``environment``).
        exc_info: ``(type, exception, traceback)`` or None.
        stack_info: the formatted call stack when ``stack_info=True`` was passed.
        thread_id, process_id: where the call was made.
        filename, lineno, func_name: the caller, when caller info is enabled
            (``configure(caller=True)`` or a handler that shows the path).

    Only ``timestamp``, ``level``, ``logger_name`` and ``message`` are required,
    as in MickTrace 1.x: ``data`` defaults to ``{}``, context and static fields
    to none, the thread and process to the caller's; ``level`` may be a name.
    """

    __slots__ = (
        "_exception",  # the exception as a dict, computed once (masking replaces it)
        "context",
        "data",
        "exc_info",
        "filename",
        "func_name",
        "level",
        "lineno",
        "logger_name",
        "message",
        "process_id",
        "stack_info",
        "static",
        "thread_id",
        "time_ns",
    )
    _exception: Optional[Dict[str, Any]]

    def __init__(
        self,
        timestamp: float,
        level: LogLevel | int | str,
        logger_name: str,
        message: str,
        data: Optional[Dict[str, Any]] = None,
        context: Optional[Dict[str, Any]] = None,
        static: Optional[Dict[str, Any]] = None,
        exc_info: Optional[ExcInfo] = None,
        stack_info: Optional[str] = None,
        thread_id: Optional[int] = None,
        process_id: Optional[int] = None,
        filename: Optional[str] = None,
        lineno: Optional[int] = None,
        func_name: Optional[str] = None,
    ) -> None:
        self.time_ns = seconds_to_ns(timestamp)
        # MickTrace 1.x code builds records as LogRecord(timestamp, "INFO", name, message, data)
        self.level = level if not isinstance(level, str) else to_loglevel(to_level(level, "LogRecord(level)"))
        self.logger_name = logger_name
        self.message = message
        self.data = data if data is not None else {}
        self.context = context if context is not None else _EMPTY
        self.static = static if static is not None else _EMPTY
        self.exc_info = exc_info
        self.stack_info = stack_info
        self.thread_id = thread_id if thread_id is not None else threading.get_ident()
        self.process_id = process_id if process_id is not None else os.getpid()
        self.filename = filename
        self.lineno = lineno
        self.func_name = func_name

    # -- convenience views ---------------------------------------------------
    @property
    def timestamp(self) -> float:
        """Seconds since the epoch (float). Stored as integer nanoseconds
        (:attr:`time_ns`), which format faster."""
        return self.time_ns / 1_000_000_000

    @timestamp.setter
    def timestamp(self, value: float) -> None:
        self.time_ns = seconds_to_ns(value)

    @property
    def name(self) -> str:
        """Alias of :attr:`logger_name` (the stdlib spelling)."""
        return self.logger_name

    @property
    def fields(self) -> Dict[str, Any]:
        """Alias of :attr:`data`."""
        return self.data

    @property
    def level_name(self) -> str:
        return level_name(self.level)

    @property
    def exception(self) -> Optional[Dict[str, Any]]:
        """The exception as ``{"type", "message", "traceback", "frames", "cause"}``, or None.

        Computed once per record. Formatters write this, not ``exc_info``, so the
        masking processor can replace it with a copy whose message and
        traceback text hide secrets (``exc_info`` keeps the live exception).
        """
        if self.exc_info is None:
            return None
        try:
            view = self._exception
        except AttributeError:  # records may be built without __init__ (logger fast path)
            view = None
        if view is None:
            view = exception_dict(self.exc_info)
            self._exception = view
        return view

    @exception.setter
    def exception(self, view: Optional[Dict[str, Any]]) -> None:
        self._exception = view

    @property
    def exception_text(self) -> Optional[str]:
        """The traceback as Python prints it (masked like :attr:`exception`), or None."""
        view = self.exception
        if view is None:
            return None
        text = view.get("traceback")
        return text if isinstance(text, str) else exception_text(self.exc_info)  # type: ignore[arg-type]

    def all_fields(self) -> Dict[str, Any]:
        """Static, context and record fields merged (record fields win)."""
        if not self.context and not self.static:
            return self.data
        merged = dict(self.static)
        merged.update(self.context)
        merged.update(self.data)
        return merged

    def to_dict(self) -> Dict[str, Any]:
        """The record as the JSON formatter lays it out (values not yet serialised)."""
        from .formatters.json import record_dict

        return record_dict(self)

    def to_json(self) -> str:
        """One line of JSON, as the default JSON formatter writes it."""
        from .formatters.json import JSONFormatter

        return JSONFormatter().format(self)

    def to_logfmt(self) -> str:
        """One line of logfmt, as the default logfmt formatter writes it."""
        from .formatters.logfmt import LogfmtFormatter

        return LogfmtFormatter().format(self)

    def __repr__(self) -> str:
        return (
            f"LogRecord(level={level_name(self.level)}, logger={self.logger_name!r}, "
            f"message={self.message!r}, data={self.data!r}, context={self.context!r})"
        )
