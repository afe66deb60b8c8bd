"""The Logger: the object applications and libraries call.

Speed comes from two choices:

* A disabled level's method is a bare ``return None``: each logger belongs to a
  subclass of :class:`Logger` whose methods below its level are
  :func:`_disabled_method`, and ``configure()`` moves every live logger to the
  subclass for its new level. A disabled call costs what calling an empty
  function costs: no record, no clock, no argument formatting.
* An enabled call builds one :class:`LogRecord` inline (see ``_FAST_METHOD``)
  and hands it to the current configuration.
"""

from __future__ import annotations

import functools
import sys
import threading
import time
from typing import TYPE_CHECKING, Any, Callable, Dict, Mapping, Optional, Protocol, Tuple

from . import _state
from ._exceptions import ExcInfoArg, normalize_exc_info
from ._report import report
from .context import current as _current_context
from .levels import LEVEL_NAMES, LevelLike, LogLevel, to_level, to_loglevel
from .messages import format_message
from .pipeline import finish as _finish
from .record import LogRecord
from .serialize import safe_str, swallowable

if TYPE_CHECKING:
    from .config import Config

_time = time.time
_get_ident = threading.get_ident

TRACE = LogLevel.TRACE
DEBUG = LogLevel.DEBUG
INFO = LogLevel.INFO
WARNING = LogLevel.WARNING
ERROR = LogLevel.ERROR
CRITICAL = LogLevel.CRITICAL

#: method name -> the level it logs at
METHOD_LEVELS: Dict[str, int] = {
    "trace": 5,
    "debug": 10,
    "info": 20,
    "warning": 30,
    "warn": 30,
    "error": 40,
    "exception": 40,
    "critical": 50,
    "fatal": 50,
}
_EMPTY: Dict[str, Any] = {}


def _masked_mapping(cfg: Any, msg: Any, args: tuple[Any, ...]) -> Optional[Callable[[Mapping[Any, Any]], Any]]:
    """For stdlib's ``"%(name)s"`` form: the mapping as masking sees it (the names are
    gone once the message is formatted, so the values of sensitive ones are masked now)."""
    if len(args) != 1 or not cfg.processors or type(msg) is not str or "%(" not in msg:
        return None
    from .masking import mapping_args

    return functools.partial(mapping_args, cfg.processors)


class _LevelMethod(Protocol):
    """The signature of every level method (``log.info(...)`` and the others)."""

    def __call__(
        self,
        msg: Any,
        /,
        *args: Any,
        exc_info: ExcInfoArg = None,
        stack_info: bool = False,
        stacklevel: int = 1,
        extra: Optional[Mapping[str, Any]] = None,
        **fields: Any,
    ) -> None: ...


def _at(name: str, level: int, doc: str, exc_default: ExcInfoArg = None) -> Any:
    """The level method *name*: one body for all of them. The enabled ones are
    replaced by generated, faster code below (_install_fast_methods), the
    disabled ones by a class-level no-op (_class_for); this is their reference."""

    def method(
        self: Logger,
        msg: Any,
        /,
        *args: Any,
        exc_info: ExcInfoArg = exc_default,
        stack_info: bool = False,
        stacklevel: int = 1,
        extra: Optional[Mapping[str, Any]] = None,
        **fields: Any,
    ) -> None:
        self._log(level, msg, args, exc_info, stack_info, stacklevel, extra, fields)

    method.__name__ = name
    method.__qualname__ = f"Logger.{name}"
    method.__doc__ = doc
    return method


class Logger:
    """A named logger, optionally carrying bound fields.

    Get one with :func:`micktrace.get_logger`. Every method takes the message
    positionally; every other keyword becomes a field, except the stdlib ones:
    ``exc_info``, ``stack_info``, ``stacklevel`` and ``extra`` (merged into the
    fields).
    """

    # slots, not a __dict__: with a dict, the __class__ swap below makes CPython
    # give up its fast method lookup and a disabled call costs ~35% more
    __slots__ = ("__weakref__", "_bound", "_level", "name")

    def __init__(self, name: str, bound: Optional[Dict[str, Any]] = None) -> None:
        self.name = name
        self._bound: Dict[str, Any] = bound if bound is not None else _EMPTY
        self._level = 0
        with _state.lock:
            _state.all_loggers.add(self)
            _apply(self, _config())

    # -- configuration -------------------------------------------------------
    @property
    def bound(self) -> Dict[str, Any]:
        """A copy of the fields bound to this logger."""
        return dict(self._bound)

    @property
    def level(self) -> int:
        """The effective level: records below it are not emitted."""
        return self._level

    def is_enabled_for(self, level: LevelLike) -> bool:
        return to_level(level) >= self._level

    isEnabledFor = is_enabled_for

    def bind(self, **fields: Any) -> Logger:
        """A new logger with *fields* added to every record; this one is unchanged."""
        if not fields:
            return self
        merged = dict(self._bound)
        merged.update(fields)
        return Logger(self.name, merged)

    def unbind(self, *keys: str) -> Logger:
        """A new logger without the named bound fields."""
        return Logger(self.name, {k: v for k, v in self._bound.items() if k not in keys})

    def new(self, **fields: Any) -> Logger:
        """A new logger with only *fields* bound."""
        return Logger(self.name, dict(fields))

    # -- the record path -------------------------------------------------------
    def _log_call(self, level: int, msg: Any, args: tuple[Any, ...], fields: Dict[str, Any]) -> None:
        """The general path for the generated level methods: takes the stdlib
        keywords out of *fields*."""
        exc_info = fields.pop("exc_info", None)
        stack_info = fields.pop("stack_info", False)
        stacklevel = fields.pop("stacklevel", 1)
        extra = fields.pop("extra", None)
        self._log(level, msg, args, exc_info, stack_info, stacklevel + 1, extra, fields)

    def _finish(self, record: LogRecord, cfg: Config) -> None:
        """Processors, the level check and capture sinks (the less common path)."""
        _finish(record, cfg, self._level)

    def _log(
        self,
        level: int,
        msg: Any,
        args: tuple[Any, ...],
        exc_info: ExcInfoArg,
        stack_info: bool,
        stacklevel: int,
        extra: Optional[Mapping[str, Any]],
        fields: Dict[str, Any],
    ) -> None:
        try:
            cfg = _state.config
            if cfg is None:
                cfg = _config()
            bound = self._bound
            if extra:
                if not isinstance(extra, Mapping):
                    extra = {"extra": extra}
                elif not all(type(key) is str for key in extra):
                    # a key that is not a str becomes its text here, once, so the
                    # formatters' collision rules (a reserved name is kept under
                    # "fields.<name>") apply to it as to any other field
                    extra = {safe_str(key): value for key, value in extra.items()}
                merged = {**extra, **fields}
                if args or type(msg) is not str or "{" in msg:  # the call's fields fill {name}
                    msg = format_message(msg, args, merged, _masked_mapping(cfg, msg, args))
                data = {**bound, **merged}
            else:
                if args or type(msg) is not str or (fields and "{" in msg):
                    msg = format_message(msg, args, fields, _masked_mapping(cfg, msg, args))
                # a copy when bound: the logger's dict must not be shared
                data = {**bound, **fields} if bound else fields
            exc = normalize_exc_info(exc_info) if exc_info else None
            filename = lineno = func = None
            stack = None
            if cfg.caller or stack_info:
                frame = sys._getframe(1 + stacklevel)
                if cfg.caller:
                    code = frame.f_code
                    filename, lineno, func = code.co_filename, frame.f_lineno, code.co_name
                if stack_info:
                    import traceback

                    stack = "Stack (most recent call last):\n" + "".join(traceback.format_stack(frame)).rstrip("\n")
            record = LogRecord(
                _time(),
                level,
                self.name,
                msg,
                data,
                _current_context(),
                cfg.static,
                exc,
                stack,
                _get_ident(),
                _state.pid,
                filename,
                lineno,
                func,
            )
            self._finish(record, cfg)
        except BaseException as exc:  # a log call never raises into the application
            if not swallowable(exc):
                raise
            report(f"logger {self.name!r}", exc)

    def log(
        self,
        level: LevelLike,
        msg: Any,
        /,
        *args: Any,
        exc_info: ExcInfoArg = None,
        stack_info: bool = False,
        stacklevel: int = 1,
        extra: Optional[Mapping[str, Any]] = None,
        **fields: Any,
    ) -> None:
        """Log at *level* (a name, number or :class:`LogLevel`)."""
        try:
            number = level if type(level) is int or isinstance(level, LogLevel) else to_level(level)
        except Exception as exc:
            report(f"logger {self.name!r}", exc)
            return
        if number < self._level and not _state.captures:
            return
        self._log(to_loglevel(int(number)), msg, args, exc_info, stack_info, stacklevel, extra, fields)

    trace: _LevelMethod = _at("trace", TRACE, "Log at TRACE (5): finer than DEBUG.")
    debug: _LevelMethod = _at("debug", DEBUG, "Log at DEBUG (10).")
    info: _LevelMethod = _at("info", INFO, "Log at INFO (20).")
    warning: _LevelMethod = _at("warning", WARNING, "Log at WARNING (30).")
    warn = warning
    error: _LevelMethod = _at("error", ERROR, "Log at ERROR (40).")
    exception: _LevelMethod = _at(
        "exception", ERROR, "Log at ERROR with the exception being handled (call it inside ``except``).", True
    )
    critical: _LevelMethod = _at("critical", CRITICAL, "Log at CRITICAL (50).")
    fatal = critical

    def __repr__(self) -> str:
        name = LEVEL_NAMES.get(self._level, str(self._level))
        bound = f" bound={self._bound!r}" if self._bound else ""
        return f"<micktrace.Logger {self.name!r} level={name}{bound}>"


# The level methods above document the API; at runtime each is replaced by a
# version generated from this template, which handles the common call (a str
# message, keyword fields, no exc_info/stack_info/extra/%-args, no caller info;
# a "{name}" message filled from the fields: messages.py)
# inline, saving a Python call and its argument passing per record, and hands
# everything else to Logger._log. Its signature takes only **fields: binding
# keyword-only parameters costs ~200 ns per call with fields, four `in` checks
# cost less. Generated rather than written out six times
# so the six copies cannot drift apart.
_FAST_METHOD = """
def {name}(self, msg, /, *args, **fields):
    if args or type(msg) is not str{check}:
        return self._log_call(LEVEL, msg, args, fields)
    try:
        cfg = _state.config
        if cfg is None or cfg.caller:
            return self._log_call(LEVEL, msg, args, fields)
        bound = self._bound
        text = _format_message(msg, args, fields) if fields and "{{" in msg else msg
{build}
        if _state.captures or LEVEL < self._level:
            self._finish(record, cfg)
        else:
            cfg.pipeline(record)
    except BaseException as exc:
        if not swallowable(exc):
            raise
        report("logger " + repr(self.name), exc)
"""


# How the template builds the record: in Python (slots assigned directly,
# cheaper than calling __init__) ...
_BUILD_PYTHON = """
        record = _new(LogRecord)
        record.time_ns = _time_ns()
        record.level = LEVEL
        record.logger_name = self.name
        record.message = text
        record.data = {**bound, **fields} if bound else fields
        record.context = _current_context()
        record.static = cfg.static
        record.exc_info = record.stack_info = record.filename = record.lineno = record.func_name = None
        record.thread_id = _get_ident()
        record.process_id = _state.pid"""
_CHECK_PYTHON = """ or fields and (
        "exc_info" in fields or "extra" in fields or "stack_info" in fields or "stacklevel" in fields
    )"""
# ... or, with the optional compiled speedup, in one C call that does the same,
# the check for the stdlib keywords included (micktrace._speedups.make_record:
# ~0.3 us less per call; None when a stdlib keyword is among the fields)
_BUILD_NATIVE = """
        record = _make_record(LEVEL, self.name, text, fields, bound, cfg.static, _state.pid)
        if record is None:
            return self._log_call(LEVEL, msg, args, fields)"""


def _record_builder() -> Tuple[str, str]:
    """The template's (stdlib keyword check, record building) code."""
    from . import _native
    from .context import _context

    if _native.setup_records(LogRecord, _context):
        return "", _BUILD_NATIVE
    return _CHECK_PYTHON, _BUILD_PYTHON


def _install_fast_methods() -> None:
    from . import _native

    check, build = _record_builder()
    for name in ("trace", "debug", "info", "warning", "error", "critical"):
        original = getattr(Logger, name)
        namespace: Dict[str, Any] = {
            "LEVEL": LogLevel[name.upper()],
            "LogRecord": LogRecord,
            "_new": object.__new__,
            "_state": _state,
            "_time_ns": time.time_ns,
            "_get_ident": _get_ident,
            "_current_context": _current_context,
            "report": report,
            "swallowable": swallowable,
            "_make_record": _native.make_record,
            "_format_message": format_message,
        }
        exec(_FAST_METHOD.format(name=name, check=check, build=build), namespace)
        method = namespace[name]
        method.__doc__ = original.__doc__
        method.__qualname__ = original.__qualname__
        method.__module__ = original.__module__
        setattr(Logger, name, method)
    Logger.warn = Logger.warning
    Logger.fatal = Logger.critical


_install_fast_methods()
# configure() waits for calls under way in these (_state.wait_for_log_calls)
_state.log_call_codes.update(
    getattr(Logger, name).__code__
    for name in ("trace", "debug", "info", "warning", "error", "critical", "log", "_log", "_log_call", "_finish")
)


def _config() -> Config:
    cfg = _state.config
    if cfg is not None:  # no import: this also runs from __del__ at interpreter shutdown
        return cfg
    from .config import current_config

    return current_config()


def _disabled_method(self: Logger, msg: Any = None, /, *args: Any, **kwargs: Any) -> None:
    """Stands in for a logging method whose level is disabled (see _class_for)."""
    return None


# A logger's disabled methods are class attributes of a subclass of Logger made
# for its level (one per distinct set of disabled methods, seven in all), and
# configure() moves each logger to the subclass for its level by assigning
# __class__. Method lookup on the class is what CPython caches best: a disabled
# call then costs what a call of an empty function does.
_level_classes: Dict[Tuple[str, ...], type] = {}


def _class_for(floor: int, defer: bool = False) -> type:
    disabled = tuple(name for name, level in METHOD_LEVELS.items() if level < floor)
    cls = _level_classes.get(disabled + ("stdlib",) * defer)
    if cls is None:
        if not disabled and not defer:
            cls = Logger
        else:
            namespace: Dict[str, Any] = {"__slots__": (), "__module__": Logger.__module__}
            if defer:
                from .handlers.stdlib_forward import deferring_namespace

                namespace.update(deferring_namespace(disabled))
            else:
                namespace.update(dict.fromkeys(disabled, _disabled_method))
            cls = type("Logger", (Logger,), namespace)
            cls.__qualname__ = "Logger"
        _level_classes[disabled + ("stdlib",) * defer] = cls
    return cls


def _defers_to_stdlib(cfg: Config) -> bool:
    # the zero-config default handler alone, micktrace's level left at its
    # default: while it forwards, stdlib's levels decide (docs/stdlib.md)
    handlers = cfg.handlers
    return (
        len(handlers) == 1
        and getattr(handlers[0], "defers_levels_to_stdlib", False)
        and cfg.level == LogLevel.INFO
        and not cfg.logger_levels
    )


def _apply(logger: Logger, cfg: Config) -> None:
    """Set *logger*'s level and swap its disabled methods for the no-op."""
    level = cfg.level_for(logger.name)
    logger._level = level
    floor = 0 if _state.captures else level  # capture_logs() sees every level
    cls = _class_for(floor, _defers_to_stdlib(cfg))
    if logger.__class__ is not cls:
        logger.__class__ = cls


def rebind_all(cfg: Config) -> None:
    """Re-apply *cfg* to every live logger (called under the state lock)."""
    for logger in list(_state.all_loggers):
        _apply(logger, cfg)


def _follow(cfg: Optional[Config]) -> None:
    # a listener of _state.install(): None means shutdown() dropped the
    # configuration, and the next one is built from the same settings
    rebind_all(cfg if cfg is not None else _config())


_state.listeners.append(_follow)


def get_logger(name: Optional[str] = None) -> Logger:
    """The logger called *name* (default: the calling module's ``__name__``).

    The same name gives the same object while anything holds it (a module's
    ``log = get_logger(__name__)``) and while it is among the last few thousand
    names made: loggers named from unbounded values (request ids) do not grow
    the cache for good. Getting a logger changes nothing global; it follows
    whatever the application configures, now or later.
    """
    if name is None:
        name = sys._getframe(1).f_globals.get("__name__") or "root"
    elif not isinstance(name, str):
        name = str(name)
    logger = _state.loggers.get(name)
    if logger is None:
        with _state.lock:
            logger = _state.loggers.get(name) or _state.weak_loggers.get(name)
            if logger is None:
                logger = Logger(name)
                _state.weak_loggers[name] = logger
            cache = _state.loggers
            cache[name] = logger
            if len(cache) > _state.LOGGER_CACHE_SIZE:
                # the older half leaves the strong cache (a plain dict keeps the
                # hit above at one lookup); a logger someone still holds stays
                # the same object through weak_loggers
                _state.loggers = dict(list(cache.items())[len(cache) // 2 :])
    return logger


getLogger = get_logger
