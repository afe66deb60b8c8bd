"""Out of micktrace: records handed to the stdlib ``logging`` tree.

Two handlers live here:

* :class:`StdlibForwardHandler` (handler type ``"stdlib"``) always hands
  records to ``logging.getLogger(record.logger_name)``.
* :class:`DefaultConsoleHandler` is micktrace's zero-config handler. For each
  record it checks whether the application configured stdlib logging (the
  root logger has a handler that is not micktrace's own bridge and not one
  pytest installs for its capture); if so it forwards, otherwise it writes to
  stderr itself. Checking per record is what lets a ``logging.basicConfig()``
  made after the first micktrace call take effect; the check is a few
  attribute reads, and only the zero-config path pays it.

This module does not import :mod:`logging` at import time: the default
configuration is built on the first log call, and an application that never
imports ``logging`` cannot have configured it.

May import: levels, lazy_values, record, formatters, handlers.base, handlers.console.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any, Dict, List, Sequence

from .. import lazy_values
from ..formatters.base import resolve_lazy
from ..formatters.logfmt import logfmt_key, logfmt_value
from ..levels import LEVEL_NAMES
from ..record import LogRecord
from .base import Handler
from .console import ConsoleHandler

if TYPE_CHECKING:
    import logging

#: attribute a stdlib LogRecord forwarded by micktrace carries: the micktrace record
RECORD_ATTR = "micktrace_record"
#: attribute holding every field of the record (static, context, own) as one dict
FIELDS_ATTR = "micktrace_fields"
#: attribute holding the message without the fields appended
MESSAGE_ATTR = "micktrace_message"
#: set on stdlib handlers that feed records into micktrace (StdlibHandler)
BRIDGE_ATTR = "micktrace_bridge"

# set by a Formatter on the stdlib record; a field must not shadow them
_FORMATTER_ATTRS = frozenset(("message", "asctime"))


class StdlibRecord(LogRecord):
    """A micktrace record that came in from stdlib ``logging``.

    It is never forwarded back to stdlib (that would deliver it twice, or
    loop). ``stdlib_record`` is the original :class:`logging.LogRecord`.
    """

    __slots__ = ("stdlib_record",)
    stdlib_record: logging.LogRecord


def stdlib_configured() -> bool:
    """True when the application gave the stdlib root logger a handler.

    micktrace's own bridge handlers do not count, nor do the handlers pytest
    puts on the root logger during every test (they say nothing about how the
    application configured logging).
    """
    logging = sys.modules.get("logging")
    if logging is None:
        return False
    for handler in logging.root.handlers:
        if getattr(handler, BRIDGE_ATTR, False):
            continue
        if type(handler).__module__.startswith("_pytest."):
            continue
        return True
    return False


_stdlib_loggers: Dict[str, logging.Logger] = {}


def _stdlib_logger(name: str) -> logging.Logger:
    # stdlib loggers live as long as the process, so caching them is safe and
    # saves getLogger's module lock on every record
    target = _stdlib_loggers.get(name)
    if target is None:
        import logging

        target = logging.getLogger(name)
        _stdlib_loggers[name] = target
    return target


def to_stdlib(record: LogRecord, fields_in_message: bool = True) -> logging.LogRecord:
    """The :class:`logging.LogRecord` micktrace hands to stdlib for *record*.

    Every field is an attribute of the result (unless a standard attribute has
    that name) and all of them are in ``record.micktrace_fields``; the
    original is ``record.micktrace_record``. With *fields_in_message* the
    message carries the fields as ``key=value`` too, so a plain
    ``"%(message)s"`` format still shows them; ``record.micktrace_message`` is
    the bare message.
    """
    import logging

    fields = record.all_fields()
    message = record.message
    msg = message
    if fields_in_message and fields:
        msg = message + " " + " ".join(logfmt_key(k) + "=" + logfmt_value(v) for k, v in fields.items())
    level = int(record.level)
    std = logging.getLogRecordFactory()(
        record.logger_name,
        level,
        record.filename or "(unknown file)",
        record.lineno or 0,
        msg,
        None,
        record.exc_info,
        record.func_name,
        record.stack_info,
    )
    stamp = record.timestamp
    std.created = stamp
    std.msecs = (stamp - int(stamp)) * 1000
    std.relativeCreated = (stamp - getattr(logging, "_startTime", stamp)) * 1000
    std.thread = record.thread_id
    std.process = record.process_id
    if std.levelname.startswith("Level ") and level in LEVEL_NAMES:
        std.levelname = LEVEL_NAMES[level]  # TRACE, without registering it globally
    attrs = std.__dict__
    for key, value in fields.items():
        if type(key) is str and key not in attrs and key not in _FORMATTER_ATTRS:
            attrs[key] = value
    if record.exc_info is not None:
        # stdlib formatters print a preset exc_text instead of formatting the
        # live exception: this is the masked traceback (see docs/masking.md)
        std.exc_text = record.exception_text
    attrs[FIELDS_ATTR] = dict(fields)
    attrs[MESSAGE_ATTR] = message
    attrs[RECORD_ATTR] = record
    return std


def forward(record: LogRecord, fields_in_message: bool = True) -> None:
    """Hand *record* to ``logging.getLogger(record.logger_name)`` if that
    logger is enabled for its level (the stdlib levels and filters apply)."""
    target = _stdlib_logger(record.logger_name)
    if target.isEnabledFor(int(record.level)):
        if lazy_values.used:
            resolve_lazy(record)  # micktrace.lazy() values, computed now that stdlib gets it
        target.handle(to_stdlib(record, fields_in_message))


class StdlibForwardHandler(Handler):
    """Hands every record to the stdlib logger of the same name.

    Use it as ``configure(handlers=[{"type": "stdlib"}])`` to send micktrace's
    records through an application's existing ``logging`` setup. The stdlib
    logger's level, filters, handlers and propagation all apply. Records that
    came in from stdlib (:func:`micktrace.intercept_stdlib`) are not sent back.

    Args:
        fields_in_message: append the fields to the message as ``key=value``
            (they are also attributes of the stdlib record in any case).
    """

    def __init__(self, fields_in_message: bool = True, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.fields_in_message = fields_in_message

    def handle(self, record: LogRecord) -> None:
        if isinstance(record, StdlibRecord):
            return  # stdlib delivered it already, before it reached micktrace
        for accept in self.filters:
            if not accept(record):
                return
        forward(record, self.fields_in_message)

    def handle_batch(self, records: Sequence[LogRecord]) -> None:
        for record in records:
            self.handle(record)

    def write_lines(self, lines: List[str]) -> None:  # pragma: no cover - handle() is used
        raise TypeError("the stdlib handler forwards records, not lines")


class DefaultConsoleHandler(ConsoleHandler):
    """The zero-config handler: stderr, or stdlib when the application set it up.

    Used while neither ``handlers`` nor ``format`` has been configured (and
    ``MICKTRACE_FORMAT`` is unset). See docs/stdlib.md, "Out of micktrace".
    """

    def handle(self, record: LogRecord) -> None:
        if stdlib_configured() and not isinstance(record, StdlibRecord):
            forward(record)
        else:
            super().handle(record)

    def handle_batch(self, records: Sequence[LogRecord]) -> Any:
        if not stdlib_configured():
            return super().handle_batch(records)
        own: List[LogRecord] = []
        for record in records:
            if isinstance(record, StdlibRecord):
                own.append(record)
            else:
                forward(record)
        return super().handle_batch(own) if own else 0


__all__ = [
    "DefaultConsoleHandler",
    "StdlibForwardHandler",
    "StdlibRecord",
    "forward",
    "stdlib_configured",
    "to_stdlib",
]
