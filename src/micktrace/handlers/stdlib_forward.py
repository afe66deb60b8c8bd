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

While the default handler is the only one and micktrace's level is left at
its default, the stdlib logger's level decides: :func:`deferring_namespace`
gives loggers the level methods that ask :func:`stdlib_wants`, and
:func:`forward` fills in the caller's place (:func:`find_caller`) as stdlib
does by default (docs/stdlib.md, "Levels" and "Caller").

This module does not import :mod:`logging` at import time: the default
configuration is built on the first log call, and an application that never
imports ``logging`` cannot have configured it.

May import: _state, _report, levels, record, pipeline, formatters, handlers.base,
handlers.console.
"""

from __future__ import annotations

import sys
from threading import get_ident
from typing import TYPE_CHECKING, Any, Dict, List, Optional, Sequence, Set, Tuple

from .. import _state
from .._report import report
from ..formatters.logfmt import logfmt_key, logfmt_value
from ..levels import LEVEL_NAMES, to_level, to_loglevel
from ..pipeline import finish
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


_root: List[Any] = [None]
_modules = sys.modules


def stdlib_root() -> Any:
    """stdlib's root logger once ``logging`` has been imported, else None
    (kept after the first find: the root logger lives as long as the process)."""
    root = _root[0]
    if root is None:
        logging = sys.modules.get("logging")
        if logging is not None:
            root = _root[0] = logging.root
    return root


def stdlib_wants(name: str, level: int) -> bool:
    """While micktrace forwards to stdlib: True when the application configured
    stdlib and the stdlib logger *name* is enabled for *level* (its effective
    level, ``logging.disable()``). The check the zero-config loggers make for
    a level below micktrace's own (docs/stdlib.md)."""
    root = _root[0] or stdlib_root()
    if root is None or not root.handlers:
        return False
    # stdlib caches isEnabledFor: the cheaper test first
    return bool((_stdlib_loggers.get(name) or _stdlib_logger(name)).isEnabledFor(level) and stdlib_configured())


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


def to_stdlib(
    record: LogRecord, fields_in_message: bool = True, caller: Optional[Tuple[str, int, str]] = None
) -> logging.LogRecord:
    """The :class:`logging.LogRecord` micktrace hands to stdlib for *record*.

    Every field is an attribute of the result (unless a standard attribute has
    that name) and all of them are in ``record.micktrace_fields``; the
    original is ``record.micktrace_record``. With *fields_in_message* the
    message carries the fields as ``key=value`` too, so a plain
    ``"%(message)s"`` format still shows them; ``record.micktrace_message`` is
    the bare message. *caller* (file, line, function) stands in for a record
    made without its caller's place.
    """
    import logging

    fields = record.all_fields()
    message = record.message
    msg = message
    if fields_in_message and fields:
        msg = message + " " + " ".join(logfmt_key(k) + "=" + logfmt_value(v) for k, v in fields.items())
    level = int(record.level)
    filename, lineno, func_name = record.filename, record.lineno, record.func_name
    if filename is None and caller is not None:
        filename, lineno, func_name = caller
    std = logging.getLogRecordFactory()(
        record.logger_name,
        level,
        filename or "(unknown file)",
        lineno or 0,
        msg,
        None,
        record.exc_info,
        func_name,
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


# the files a log call passes through before a sync handler forwards it
_DELIVERY_MODULES = (
    "micktrace.logger",
    "micktrace.pipeline",
    "micktrace.dispatch.dispatcher",
    "micktrace.handlers.base",
    "micktrace.handlers.console",
    __name__,
)
_delivery_files: Set[str] = set()
_LEVEL_METHODS = frozenset(("trace", "debug", "info", "warning", "warn", "error", "exception", "critical", "fatal"))


def find_caller(depth: int = 1) -> Optional[Tuple[str, int, str]]:
    """The file, line and function of the code that made the log call being
    delivered in this thread, as stdlib's ``findCaller`` gives them: the first
    frame outside micktrace's logging path (the generated level methods, the
    logger, the pipeline, the sync dispatcher, this module)."""
    if not _delivery_files:
        for name in _DELIVERY_MODULES:
            module = sys.modules.get(name)
            path = getattr(module, "__file__", None)
            if path:
                _delivery_files.add(path)
    skip = _delivery_files
    frame: Any = sys._getframe(depth)
    while frame is not None:
        code = frame.f_code
        filename = code.co_filename
        if filename in skip or (filename == "<string>" and code.co_name in _LEVEL_METHODS):
            frame = frame.f_back
            continue
        return filename, frame.f_lineno, code.co_name
    return None


def forward(record: LogRecord, fields_in_message: bool = True) -> None:
    """Hand *record* to ``logging.getLogger(record.logger_name)`` if that
    logger is enabled for its level (the stdlib levels and filters apply).

    A record made without its caller's place gets it here, as stdlib fills
    it by default, when it is delivered in the thread that logged it."""
    target = _stdlib_logger(record.logger_name)
    if target.isEnabledFor(int(record.level)):
        caller = None
        if record.filename is None and record.thread_id == get_ident():
            caller = find_caller(2)
        target.handle(to_stdlib(record, fields_in_message, caller))


# -- while forwarding, stdlib's levels decide ---------------------------------------
# logger.py gives a logger these methods (on the class it moves the logger to for
# its level) while the zero-config handler is the only one and micktrace's level
# is left at its default: a level method below micktrace's level then logs when
# stdlib is configured and its logger of that name is enabled for the level. It
# costs a few attribute reads more than the no-op while stdlib is unconfigured.

_METHOD_LEVELS = {"trace": 5, "debug": 10, "info": 20, "warning": 30, "warn": 30, "error": 40, "exception": 40}
_METHOD_LEVELS.update(critical=50, fatal=50)


def _gate(name: str) -> Any:
    level = to_loglevel(_METHOD_LEVELS[name])
    exception = name == "exception"

    def method(self: Any, msg: Any = None, /, *args: Any, **fields: Any) -> None:
        root = _root[0]
        if root is None:
            logging = _modules.get("logging")
            if logging is None:
                return None  # stdlib not even imported: the no-op's fast path
            root = _root[0] = logging.root
        if not root.handlers:
            return None  # stdlib unconfigured
        try:
            if not stdlib_wants(self.name, level):
                return None
            if exception:
                fields.setdefault("exc_info", True)
        except Exception:
            return None  # a log call never raises into the application
        self._log_call(level, msg, args, fields)
        return None

    method.__name__ = name
    method.__qualname__ = "Logger." + name
    return method


def _finish(self: Any, record: LogRecord, cfg: Any) -> None:
    threshold = self._level
    if record.level < threshold and stdlib_wants(self.name, int(record.level)):
        threshold = 0
    finish(record, cfg, threshold)


def _log(self: Any, level: Any, msg: Any, /, *args: Any, **fields: Any) -> None:
    try:
        number = to_level(level)
        if number < self._level and not _state.captures and not stdlib_wants(self.name, number):
            return
    except Exception as exc:
        report(f"logger {self.name!r}", exc)
        return
    self._log_call(to_loglevel(number), msg, args, fields)


def _is_enabled_for(self: Any, level: Any) -> bool:
    number = to_level(level)
    return bool(number >= self._level or stdlib_wants(self.name, number))


def deferring_namespace(disabled: Sequence[str]) -> Dict[str, Any]:
    """The methods of a logger class whose levels *disabled* stdlib may enable."""
    namespace: Dict[str, Any] = {name: _gate(name) for name in disabled}
    namespace.update(_finish=_finish, log=_log, is_enabled_for=_is_enabled_for, isEnabledFor=_is_enabled_for)
    return namespace


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

    counts_written = False  # stdlib's handlers write the text

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

    #: logger.py lets the stdlib logger's level decide while this is the only
    #: handler and micktrace's level is left at its default (docs/stdlib.md)
    defers_levels_to_stdlib = True

    def handle(self, record: LogRecord) -> Optional[int]:
        if stdlib_configured() and not isinstance(record, StdlibRecord):
            forward(record)
            return None
        return super().handle(record)

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
    "deferring_namespace",
    "find_caller",
    "forward",
    "stdlib_configured",
    "stdlib_root",
    "stdlib_wants",
    "to_stdlib",
]
