"""Uncaught exceptions as log records: ``configure(capture_uncaught=True)``.

Holds :func:`install` / :func:`uninstall` (the hooks behind
``configure(capture_uncaught=...)``: :data:`sys.excepthook`,
:data:`threading.excepthook` and the exception handler of asyncio event loops)
and :func:`log_exception`, which :mod:`micktrace.catching` shares. An
uncaught exception becomes one CRITICAL record with the traceback, run
through the configuration in force (masking included); before the process
dies of it, queued records are flushed. Nothing here is installed by
``import micktrace``.

May import: _state, _report, context, levels, record, pipeline, dispatch.
"""

from __future__ import annotations

import functools
import sys
import threading
import time
from types import TracebackType
from typing import Any, Callable, Dict, Optional, Tuple, Type

from . import _state
from ._report import report
from .context import current as _current_context
from .levels import LogLevel, to_loglevel
from .pipeline import finish
from .record import LogRecord

ExcTuple = Tuple[Type[BaseException], BaseException, Optional[TracebackType]]

#: the logger name of records made by the hooks
LOGGER_NAME = "micktrace.uncaught"
#: seconds the sys.excepthook waits for queued records to be delivered
FLUSH_TIMEOUT = 5.0
#: Python's own printers (threading.__excepthook__ is 3.10+; on 3.9 the hook in place at import)
_SYS_DEFAULT = sys.__excepthook__
_THREAD_DEFAULT: Callable[..., Any] = getattr(threading, "__excepthook__", threading.excepthook)


def log_exception(
    exc_info: ExcTuple,
    message: str,
    level: int = LogLevel.CRITICAL,
    logger_name: str = LOGGER_NAME,
    fields: Optional[Dict[str, Any]] = None,
) -> None:
    """One record for *exc_info*, through the configuration in force. Never raises."""
    try:
        cfg = _state.current()
        logger = _state.loggers.get(logger_name)
        threshold = logger._level if logger is not None else cfg.level_for(logger_name)
        record = LogRecord(
            time.time(),
            to_loglevel(level),
            logger_name,
            message,
            dict(fields or {}),
            _current_context(),
            cfg.static,
            exc_info,
            None,
            threading.get_ident(),
            _state.pid,
        )
        finish(record, cfg, threshold)
    except Exception as exc:  # the hook must never make things worse
        report("logging an uncaught exception", exc)


def _flush() -> None:
    try:
        from .dispatch import flush

        flush(FLUSH_TIMEOUT)
    except Exception as exc:
        report("flushing after an uncaught exception", exc)


# -- the hooks -----------------------------------------------------------------------
class _Hooks:
    """What install() replaced, so uninstall() can put it back."""

    def __init__(self) -> None:
        self.sys_hook: Optional[Callable[..., Any]] = None
        self.thread_hook: Optional[Callable[..., Any]] = None
        self.policy: Any = None
        self.policy_factory: Any = None


_installed: Optional[_Hooks] = None
_lock = threading.Lock()


def _chains_to(previous: Optional[Callable[..., Any]], default: Callable[..., Any]) -> bool:
    """Call the hook we replaced, unless it is Python's default printer and a
    handler already shows our record (with its traceback) on stderr: a crash is
    never silent on the terminal, and never printed twice."""
    if previous is None:
        return False
    return previous is not default or not _stderr_shown()


def _stderr_shown() -> bool:
    try:
        for handler in _state.current().handlers:
            if getattr(handler, "stream_spec", None) == "stderr" or getattr(handler, "stream_spec", None) is sys.stderr:
                return True
    except Exception:
        pass
    return False


def _sys_hook(exc_type: Type[BaseException], exc: BaseException, tb: Optional[TracebackType]) -> None:
    hooks = _installed
    previous = hooks.sys_hook if hooks is not None else sys.__excepthook__
    if issubclass(exc_type, KeyboardInterrupt):  # Ctrl-C is not a crash: Python's usual message
        (previous or sys.__excepthook__)(exc_type, exc, tb)
        return
    message = f"uncaught {exc_type.__name__}: the process is ending"
    log_exception((exc_type, exc, tb), message, fields={"thread": threading.current_thread().name})
    _flush()
    if _chains_to(previous, sys.__excepthook__):
        previous(exc_type, exc, tb)  # type: ignore[misc]


def _thread_hook(args: Any) -> None:
    hooks = _installed
    previous = hooks.thread_hook if hooks is not None else _THREAD_DEFAULT
    if args.exc_type is SystemExit:  # threading ignores it too
        return
    name = args.thread.name if args.thread is not None else "?"
    log_exception(
        (args.exc_type, args.exc_value, args.exc_traceback),
        f"uncaught {args.exc_type.__name__} in thread {name!r}",
        fields={"thread": name},
    )
    if _chains_to(previous, _THREAD_DEFAULT):
        previous(args)  # type: ignore[misc]


def asyncio_exception_handler(loop: Any, context: Dict[str, Any]) -> None:
    """An asyncio exception handler (``loop.set_exception_handler``) that logs what
    the loop reports: a task's exception nobody retrieved, a failing callback."""
    exc = context.get("exception")
    message = str(context.get("message") or "unhandled exception in the event loop")
    fields: Dict[str, Any] = {}
    for key in ("task", "future", "handle"):
        if context.get(key) is not None:
            fields[f"asyncio_{key}"] = repr(context[key])
    if isinstance(exc, BaseException):
        log_exception((type(exc), exc, exc.__traceback__), f"uncaught {type(exc).__name__} in asyncio: {message}",
                      fields=fields)
    else:
        log_exception_free(message, fields)


def log_exception_free(message: str, fields: Dict[str, Any]) -> None:
    """An event-loop error that carries no exception: an ERROR record."""
    try:
        cfg = _state.current()
        record = LogRecord(time.time(), LogLevel.ERROR, LOGGER_NAME, message, dict(fields), _current_context(),
                           cfg.static, None, None, threading.get_ident(), _state.pid)
        finish(record, cfg, cfg.level_for(LOGGER_NAME))
    except Exception as exc:
        report("logging an event-loop error", exc)


def _hook_loop(loop: Any) -> Any:
    try:
        if loop.get_exception_handler() is None:
            loop.set_exception_handler(asyncio_exception_handler)
    except Exception as exc:
        report("installing the asyncio exception handler", exc)
    return loop


def install() -> None:
    """Log uncaught exceptions: the main thread, other threads, asyncio loops."""
    global _installed
    with _lock:
        if _installed is not None:
            return
        hooks = _Hooks()
        hooks.sys_hook = sys.excepthook
        hooks.thread_hook = threading.excepthook
        _installed = hooks
        sys.excepthook = _sys_hook
        threading.excepthook = _thread_hook
        import asyncio  # only when asked for: the application opted in

        # loops made from now on (asyncio.run, new_event_loop) get the handler
        policy = asyncio.get_event_loop_policy()
        factory = policy.new_event_loop
        hooks.policy, hooks.policy_factory = policy, factory

        @functools.wraps(factory)
        def new_event_loop() -> Any:
            return _hook_loop(factory())

        policy.new_event_loop = new_event_loop  # type: ignore[method-assign]
        try:
            _hook_loop(asyncio.get_running_loop())  # configure() called inside a running loop
        except RuntimeError:
            pass


def uninstall() -> None:
    """Put back the hooks :func:`install` replaced (when they are still ours)."""
    global _installed
    with _lock:
        hooks = _installed
        if hooks is None:
            return
        _installed = None
        if sys.excepthook is _sys_hook:
            sys.excepthook = hooks.sys_hook or sys.__excepthook__
        if threading.excepthook is _thread_hook:
            threading.excepthook = hooks.thread_hook or _THREAD_DEFAULT
        if hooks.policy is not None:
            try:
                del hooks.policy.new_event_loop  # the instance attribute we set: the class's method again
            except AttributeError:
                pass


def installed() -> bool:
    return _installed is not None


def apply_setting(requested: Optional[bool], reset: bool) -> None:
    """What ``configure(capture_uncaught=..., reset=...)`` asks for."""
    if requested is True:
        install()
    elif requested is False or reset:
        uninstall()
