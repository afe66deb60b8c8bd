"""stdlib ``logging`` records into micktrace: the handler and the interception.

Holds :func:`from_stdlib` (a stdlib record as a micktrace record),
:func:`submit` (run one through the configuration in force: the logger's
level, processors such as masking, handlers, ``capture_logs``),
:class:`StdlibHandler` (a :class:`logging.Handler` doing that, usable from
``dictConfig``) and the interception behind ``configure(capture_stdlib=True)``
and :func:`intercept_stdlib`. The public home of these names is
:mod:`micktrace.integrations.stdlib`.

May import: _state, _report, context, levels, serialize, pipeline,
handlers.stats, handlers.stdlib_forward, masking (to mask ``%(name)s``
arguments). It reads the configuration through ``_state`` and is
imported by config.
"""

from __future__ import annotations

import itertools
import logging
import os
import threading
from types import TracebackType
from typing import TYPE_CHECKING, Any, Dict, List, Mapping, Optional, Tuple, Type

from . import _state
from ._report import report
from .context import current as _current_context
from .handlers.stats import count_value
from .handlers.stdlib_forward import CAPTURED_ATTR, FIELDS_ATTR, MESSAGE_ATTR, RECORD_ATTR, StdlibRecord
from .levels import LevelLike, to_level, to_loglevel
from .pipeline import finish
from .serialize import safe_repr, safe_str

if TYPE_CHECKING:
    from .config import Config

#: ``extra=`` attributes known to serve only a library's own formatter, dropped
#: from captured records (docs/stdlib.md): uvicorn's ``color_message`` (the
#: message again, with ANSI colour codes) and Django runserver's
#: ``server_time`` (the record's time again, as text)
PRESENTATION_ATTRS = frozenset({"color_message", "server_time"})

# what every stdlib LogRecord has; anything else on one came from ``extra=``
_STANDARD_ATTRS = (
    frozenset(logging.makeLogRecord({}).__dict__)
    | {
        "message",
        "asctime",
        "taskName",
        RECORD_ATTR,
        FIELDS_ATTR,
        MESSAGE_ATTR,
        CAPTURED_ATTR,
    }
    | PRESENTATION_ATTRS
)


#: loggers through which servers report an exception that escaped the
#: application; their record of one micktrace's web middleware already logged
#: (with the request's context) is folded into that record (docs/web.md)
SERVER_ERROR_LOGGERS = frozenset({"uvicorn.error", "hypercorn.error", "gunicorn.error", "daphne.server"})
_LOGGED_ATTR = "__micktrace_logged__"
#: server records folded that way (``folded_server_errors()``)
_folded = itertools.count()


def mark_logged(exc: BaseException) -> None:
    """Note that *exc* has been logged with its request's context and traceback."""
    try:
        setattr(exc, _LOGGED_ATTR, True)
    except Exception:  # an exception type without __dict__: the server's record stays
        pass


def _already_logged(std: logging.LogRecord) -> bool:
    exc_info = std.exc_info
    if not exc_info or std.name not in SERVER_ERROR_LOGGERS:
        return False
    return bool(getattr(exc_info[1], _LOGGED_ATTR, False))


def folded_server_errors() -> int:
    """How many server records of an exception already logged were folded."""
    return count_value(_folded)


def _message(std: logging.LogRecord, processors: Tuple[Any, ...] = ()) -> str:
    try:
        args = std.args
        if isinstance(args, Mapping) and args and processors and type(std.msg) is str and "%(" in std.msg:
            # the "%(name)s" form: sensitive names are masked before formatting
            from .masking import mapping_args

            return std.msg % mapping_args(processors, args)  # type: ignore[no-any-return]
        return std.getMessage()
    except Exception as exc:
        # stdlib would print "--- Logging error ---" and drop the record; keep it
        report(f"stdlib record from {std.name!r}: formatting the message", exc)
        return f"{safe_str(std.msg)} {safe_repr(std.args)}"


def from_stdlib(std: logging.LogRecord, config: Optional[Config] = None, caller: Optional[bool] = None) -> StdlibRecord:
    """The micktrace record for a stdlib record.

    Keeps the logger name, level, time, thread, message (``%``-formatted),
    ``exc_info``, ``stack_info`` and the ``extra=`` fields; adds the micktrace
    context active in the calling thread or task and the configured static
    fields. The caller's file, line and function are kept when *caller* is
    true (default: when the configuration records callers).
    """
    cfg = config if config is not None else _state.current()
    data: Dict[str, Any] = {k: v for k, v in std.__dict__.items() if k not in _STANDARD_ATTRS}
    exc_info = std.exc_info if std.exc_info and std.exc_info[0] is not None else None
    if caller is None:
        caller = cfg.caller
    record = StdlibRecord(
        std.created,
        to_loglevel(std.levelno),
        std.name,
        _message(std, cfg.processors),
        data,
        _current_context(),
        cfg.static,
        exc_info,
        std.stack_info,
        std.thread or threading.get_ident(),
        std.process or _state.pid,
        std.pathname if caller else None,
        std.lineno if caller else None,
        std.funcName if caller else None,
    )
    record.stdlib_record = std
    return record


def submit(std: logging.LogRecord) -> None:
    """Run a stdlib record through micktrace: level of the micktrace logger of
    the same name, processors, handlers, and any active ``capture_logs``."""
    if std.__dict__.get(RECORD_ATTR) is not None:
        return  # micktrace forwarded it to stdlib: it has been delivered already
    if _already_logged(std):
        next(_folded)  # the web middleware logged this exception, with the request's context
        return
    cfg = _state.current()
    name = std.name
    logger = _state.loggers.get(name)
    # the level of the micktrace logger of that name: its cached one when it exists
    threshold = logger._level if logger is not None else cfg.level_for(name)
    if std.levelno < threshold and not _state.captures:
        return
    std.__dict__[CAPTURED_ATTR] = True  # micktrace delivers it (the sentry handler tells sentry-sdk)
    finish(from_stdlib(std, cfg), cfg, threshold)  # the same steps as a micktrace call


_state.log_call_codes.add(submit.__code__)  # a configure() waits for it (_state.wait_for_log_calls)


class StdlibHandler(logging.Handler):
    """A :class:`logging.Handler` that sends stdlib records into micktrace.

    ``dictConfig({"handlers": {"mt": {"class": "micktrace.StdlibHandler"}}, ...})``
    works. Records micktrace itself forwarded to stdlib are ignored, so the two
    directions never loop. The handler takes no lock: micktrace's handlers do
    their own locking.
    """

    #: stdlib_configured() does not count handlers that carry this (BRIDGE_ATTR)
    micktrace_bridge = True

    def __init__(self, level: LevelLike = logging.NOTSET) -> None:
        super().__init__(to_level(level) if isinstance(level, str) else level)

    def handle(self, record: logging.LogRecord) -> bool:
        result: Any = self.filter(record)
        if isinstance(result, logging.LogRecord):  # Python 3.12+: a filter may replace the record
            record = result
        if result:
            self.emit(record)
        return bool(result)

    def emit(self, record: logging.LogRecord) -> None:
        try:
            submit(record)
        except Exception as exc:  # logging must not raise into the application
            report("stdlib bridge", exc)


# ---------------------------------------------------------------------------
# intercepting everything

_active: Optional[StdlibInterception] = None
_lock = threading.RLock()


def _after_fork_in_child() -> None:
    # a parent thread may have held the interception lock at the fork
    global _lock
    _lock = threading.RLock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


def _wanted_level(cfg: Config) -> int:
    """The lowest level micktrace would emit for any logger name."""
    return min([cfg.level, *cfg.logger_levels.values()])


class StdlibInterception:
    """The changes :func:`intercept_stdlib` made, and their undoing.

    Use ``undo()``, or the object as a context manager. ``undo()`` restores
    the root logger's handlers and level and every other logger's handlers
    and ``propagate`` flag exactly as they were.
    """

    def __init__(self, level: Optional[LevelLike], exclusive: bool, owner: str) -> None:
        self.level = to_level(level) if level is not None else None
        self.exclusive = exclusive
        self.owner = owner
        self.handler = StdlibHandler()
        self.active = False
        self._root_handlers: List[logging.Handler] = []
        self._root_level = logging.NOTSET
        self._others: List[Tuple[logging.Logger, List[logging.Handler], bool]] = []

    def _install(self) -> None:
        root = logging.getLogger()
        self._root_handlers = list(root.handlers)
        self._root_level = root.level
        self._others = []
        if self.exclusive:
            for logger in list(logging.Logger.manager.loggerDict.values()):
                if not isinstance(logger, logging.Logger):
                    continue  # a PlaceHolder: no logger, no handlers yet
                if logger.handlers or not logger.propagate:
                    self._others.append((logger, list(logger.handlers), logger.propagate))
                    for handler in list(logger.handlers):
                        logger.removeHandler(handler)
                    logger.propagate = True
            for handler in list(root.handlers):
                root.removeHandler(handler)
        root.addHandler(self.handler)
        self.active = True
        self.sync_level()

    def sync_level(self, cfg: Optional[Config] = None) -> None:
        """Set the root logger's level: the one given, or the lowest one the
        micktrace configuration emits (so stdlib does not build records
        micktrace would drop, and drops none it would keep)."""
        if not self.active:
            return
        level = self.level
        if level is None:
            level = _wanted_level(cfg if cfg is not None else _state.current())
        logging.getLogger().setLevel(level)

    def undo(self) -> None:
        """Restore the stdlib state found when the interception began."""
        global _active
        with _lock:
            if not self.active:
                return
            self.active = False
            root = logging.getLogger()
            for handler in list(root.handlers):
                root.removeHandler(handler)
            for handler in self._root_handlers:
                root.addHandler(handler)
            root.setLevel(self._root_level)
            for logger, handlers, propagate in self._others:
                for handler in list(logger.handlers):
                    logger.removeHandler(handler)
                for handler in handlers:
                    logger.addHandler(handler)
                logger.propagate = propagate
            if _active is self:
                _active = None

    def __enter__(self) -> StdlibInterception:
        return self

    def __exit__(
        self,
        exc_type: Optional[Type[BaseException]],
        exc: Optional[BaseException],
        tb: Optional[TracebackType],
    ) -> None:
        self.undo()

    def __repr__(self) -> str:
        state = "active" if self.active else "undone"
        return f"<StdlibInterception {state} exclusive={self.exclusive} level={self.level}>"


def intercept_stdlib(level: Optional[LevelLike] = None, *, exclusive: bool = True) -> StdlibInterception:
    """Route every stdlib ``logging`` record into micktrace.

    Puts a :class:`StdlibHandler` on the root logger and sets the root level
    to *level* (default: the lowest level the micktrace configuration emits,
    kept in step by later ``configure()`` calls). With *exclusive* (the
    default) every other handler is taken off the root and all other loggers,
    and those loggers propagate to the root, so each record is written once,
    by micktrace; a library that configures its own handlers later (uvicorn's
    ``log_config``, for instance) must be told not to.

    Calling it again replaces the previous interception. Returns a
    :class:`StdlibInterception`; its ``undo()`` (or leaving its ``with``
    block) restores what was there before.
    """
    return _intercept(level, exclusive, "intercept_stdlib")


def _intercept(level: Optional[LevelLike], exclusive: bool, owner: str) -> StdlibInterception:
    global _active
    with _lock:
        new = StdlibInterception(level, exclusive, owner)  # validates the level first
        if _active is not None:
            _active.undo()
        new._install()
        _active = new
        return new


def active_interception() -> Optional[StdlibInterception]:
    """The interception in force, if any."""
    return _active


def apply_capture_setting(cfg: Config, requested: Optional[bool], reset: bool) -> None:
    """Called by ``configure()`` after the new configuration is in force.

    ``capture_stdlib=True`` intercepts (unless already intercepting),
    ``capture_stdlib=False`` undoes any interception, and ``reset=True``
    undoes one that ``configure`` made. The root level follows the new
    configuration unless a level was given to :func:`intercept_stdlib`.
    """
    with _lock:
        active = _active
        if requested is True:
            if active is None:
                _intercept(None, True, "configure")
            else:
                active.sync_level(cfg)
        elif requested is False:
            if active is not None:
                active.undo()
        elif active is not None:
            if reset and active.owner == "configure":
                active.undo()
            else:
                active.sync_level(cfg)


