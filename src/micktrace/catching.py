"""``micktrace.catch``: a decorator and context manager that logs the exception
escaping a function or a block, as loguru's ``logger.catch`` does.

Holds :func:`catch`. The record is made by :func:`micktrace.uncaught.log_exception`
and goes through the configuration in force (the default one is built on first
use, as for any log call).

May import: config, errors, levels, uncaught, _report.
"""

from __future__ import annotations

import functools
import inspect
import sys
from types import TracebackType
from typing import Any, Callable, Optional, Tuple, Type, TypeVar, Union, cast, overload

from . import config as _config
from ._report import report
from .errors import ConfigError
from .levels import LevelLike, to_level
from .uncaught import LOGGER_NAME, log_exception

F = TypeVar("F", bound=Callable[..., Any])


class _Catcher:
    """The object :func:`catch` returns: a decorator and a context manager."""

    def __init__(
        self,
        exception: Union[Type[BaseException], Tuple[Type[BaseException], ...]],
        level: int,
        reraise: bool,
        message: Optional[str],
        onerror: Optional[Callable[[BaseException], Any]],
        exclude: Union[Type[BaseException], Tuple[Type[BaseException], ...], None],
        default: Any,
        logger_name: Optional[str],
    ) -> None:
        self.exception = exception
        self.level = level
        self.reraise = reraise
        self.message = message
        self.onerror = onerror
        self.exclude = exclude
        self.default = default
        self.logger_name = logger_name
        self._where = "the block"

    # context manager
    def __enter__(self) -> _Catcher:
        return self

    def __exit__(self, exc_type: Optional[Type[BaseException]], exc: Optional[BaseException],
                 tb: Optional[TracebackType]) -> bool:
        if exc_type is None or exc is None:
            return False
        if not issubclass(exc_type, self.exception):
            return False
        if self.exclude is not None and issubclass(exc_type, self.exclude):
            return False
        name = self.logger_name or _caller_module()
        _config.current_config()  # the default configuration, when nothing configured one yet
        message = self.message or f"an error was caught in {self._where}"
        log_exception((exc_type, exc, tb), message, self.level, name)
        if self.onerror is not None:
            try:
                self.onerror(exc)
            except Exception as error:
                report("catch(onerror=...)", error)
        return not self.reraise

    # decorator
    def __call__(self, func: F) -> F:
        where = f"function {getattr(func, '__qualname__', func)!r}"
        name = self.logger_name or getattr(func, "__module__", None) or LOGGER_NAME

        def scoped() -> _Catcher:
            inner = _Catcher(self.exception, self.level, self.reraise, self.message, self.onerror, self.exclude,
                             self.default, name)
            inner._where = where
            return inner

        if inspect.iscoroutinefunction(func):

            @functools.wraps(func)
            async def run_async(*args: Any, **kwargs: Any) -> Any:
                with scoped():
                    return await func(*args, **kwargs)
                return self.default

            return cast(F, run_async)

        @functools.wraps(func)
        def run(*args: Any, **kwargs: Any) -> Any:
            with scoped():
                return func(*args, **kwargs)
            return self.default

        return cast(F, run)


def _caller_module() -> str:
    """The module of the code whose ``with catch():`` block is ending."""
    try:
        frame = sys._getframe(2)  # 0: here, 1: __exit__, 2: the with block
        return str(frame.f_globals.get("__name__", LOGGER_NAME))
    except ValueError:
        return LOGGER_NAME


@overload
def catch(exception: F) -> F: ...


@overload
def catch(
    exception: Union[Type[BaseException], Tuple[Type[BaseException], ...]] = ...,
    *,
    level: LevelLike = ...,
    reraise: bool = ...,
    message: Optional[str] = ...,
    onerror: Optional[Callable[[BaseException], Any]] = ...,
    exclude: Union[Type[BaseException], Tuple[Type[BaseException], ...], None] = ...,
    default: Any = ...,
    logger: Optional[str] = ...,
) -> _Catcher: ...


def catch(
    exception: Any = Exception,
    *,
    level: LevelLike = "ERROR",
    reraise: bool = False,
    message: Optional[str] = None,
    onerror: Optional[Callable[[BaseException], Any]] = None,
    exclude: Union[Type[BaseException], Tuple[Type[BaseException], ...], None] = None,
    default: Any = None,
    logger: Optional[str] = None,
) -> Any:
    """Log an exception that escapes a function or a ``with`` block, as loguru's ``logger.catch``.

    ``@micktrace.catch`` (or ``@micktrace.catch()``, ``with micktrace.catch():``)
    logs an exception of type *exception* (default :class:`Exception`, so Ctrl-C
    and ``sys.exit`` pass through) as one record at *level* (default ERROR) with
    the traceback, masked like any record, from the logger named after the
    function's module (or *logger*). The exception is then swallowed and the
    decorated function returns *default*, unless *reraise* is true.
    *onerror(exc)* runs after the record; *exclude* names types to let through
    unlogged. Async functions are supported.
    """
    number = to_level(level, "catch(level)")
    if callable(exception) and not (isinstance(exception, type) and issubclass(exception, BaseException)):
        return _Catcher(Exception, number, reraise, message, onerror, exclude, default, logger)(exception)
    if isinstance(exception, tuple):
        if not all(isinstance(e, type) and issubclass(e, BaseException) for e in exception):
            raise ConfigError("catch(exception)", exception, "an exception class or a tuple of them")
    elif not (isinstance(exception, type) and issubclass(exception, BaseException)):
        raise ConfigError("catch(exception)", exception, "an exception class or a tuple of them")
    return _Catcher(exception, number, reraise, message, onerror, exclude, default, logger)
