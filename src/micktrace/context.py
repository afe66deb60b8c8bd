"""Context fields carried by :mod:`contextvars`: per thread, per asyncio task.

The context is one immutable dict held in a ContextVar. Entering a block builds
a new dict and sets it; leaving resets the variable to the token, so the outer
state comes back exactly, also when the block raises. Because the dict is never
mutated, a record can keep a reference to it as its snapshot at no cost.
"""

from __future__ import annotations

import contextvars
import functools
from types import TracebackType
from typing import Any, Callable, Dict, Optional, Type, TypeVar

F = TypeVar("F", bound=Callable[..., Any])

_EMPTY: Dict[str, Any] = {}
_context: contextvars.ContextVar[Dict[str, Any]] = contextvars.ContextVar("micktrace_context", default=_EMPTY)
current = _context.get  # the hot path reads the context through this


def get_context() -> Dict[str, Any]:
    """A copy of the context fields active here."""
    return dict(_context.get())


def set_context(fields: Optional[Dict[str, Any]] = None, /, **kwargs: Any) -> None:
    """Merge *fields* into the current context (until the enclosing block ends)."""
    merged = dict(_context.get())
    if fields:
        for key, value in fields.items():
            # a key that is not a str becomes its text, so the formatters'
            # collision rules apply to it ("context.level", never "level")
            merged[key if type(key) is str else _key_text(key)] = value
    merged.update(kwargs)
    _context.set(merged)


def _key_text(key: Any) -> str:
    try:
        return str(key)
    except Exception:
        return f"<unprintable key {type(key).__name__}>"


def clear_context() -> None:
    """Remove every context field in the current thread or task."""
    _context.set(_EMPTY)


def unset_context(*keys: str) -> None:
    """Remove the named keys from the current context."""
    merged = {k: v for k, v in _context.get().items() if k not in keys}
    _context.set(merged)


class context:
    """Add fields to every record logged inside the block.

    Works as ``with context(request_id=...)``, ``async with context(...)`` and as a
    decorator of plain or ``async`` functions. Blocks nest; leaving one restores
    the outer fields, also on exceptions.
    """

    __slots__ = ("_fields", "_tokens")

    def __init__(self, fields: Optional[Dict[str, Any]] = None, /, **kwargs: Any) -> None:
        merged = dict(fields) if fields else {}
        merged.update(kwargs)
        self._fields = merged
        self._tokens: list[contextvars.Token[Dict[str, Any]]] = []

    def __enter__(self) -> Dict[str, Any]:
        new = {**_context.get(), **self._fields}
        self._tokens.append(_context.set(new))
        return dict(new)  # a copy: records keep the original as their snapshot

    def __exit__(
        self,
        exc_type: Optional[Type[BaseException]],
        exc: Optional[BaseException],
        tb: Optional[TracebackType],
    ) -> None:
        tokens = self._tokens
        # One instance may be entered by several tasks or threads at once (a
        # module-level ``context(...)`` used in every request): the token to
        # reset is the newest one made in *this* Context, not simply the last.
        for i in range(len(tokens) - 1, -1, -1):
            token = tokens[i]
            try:
                _context.reset(token)
            except (ValueError, RuntimeError):
                continue
            del tokens[i]
            return
        if not tokens:
            return
        # exited in another Context (e.g. a generator resumed elsewhere):
        # restore the values rather than the token
        token = tokens.pop()
        _context.set(token.old_value if token.old_value is not contextvars.Token.MISSING else _EMPTY)

    async def __aenter__(self) -> Dict[str, Any]:
        return self.__enter__()

    async def __aexit__(
        self,
        exc_type: Optional[Type[BaseException]],
        exc: Optional[BaseException],
        tb: Optional[TracebackType],
    ) -> None:
        self.__exit__(exc_type, exc, tb)

    def __call__(self, fn: F) -> F:
        import inspect

        fields = self._fields
        if inspect.iscoroutinefunction(fn):

            @functools.wraps(fn)
            async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
                with context(fields):
                    return await fn(*args, **kwargs)

            return async_wrapper  # type: ignore[return-value]

        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with context(fields):
                return fn(*args, **kwargs)

        return wrapper  # type: ignore[return-value]


def acontext(fields: Optional[Dict[str, Any]] = None, /, **kwargs: Any) -> context:
    """The ``async with`` spelling of :class:`context` (the same object)."""
    return context(fields, **kwargs)


def new_correlation_id() -> str:
    """A random 32-hex-digit id (the size of a W3C trace id)."""
    import uuid

    return uuid.uuid4().hex


class correlation(context):
    """A context block with a ``correlation_id`` (generated unless given).

    ``with correlation() as cid:`` yields the id; it is in every record inside.
    If a correlation id is already active and none is given, it is kept.
    """

    __slots__ = ("_explicit",)

    def __init__(self, correlation_id: Optional[str] = None, /, **kwargs: Any) -> None:
        self._explicit = correlation_id is not None
        if correlation_id is None:
            correlation_id = _context.get().get("correlation_id") or new_correlation_id()
        super().__init__(correlation_id=correlation_id, **kwargs)

    def __call__(self, fn: F) -> F:
        """As a decorator: each call gets its own correlation id (unless one was
        given, or one is already active when the function is called)."""
        if self._explicit:
            return super().__call__(fn)
        import inspect

        extra = {k: v for k, v in self._fields.items() if k != "correlation_id"}
        if inspect.iscoroutinefunction(fn):

            @functools.wraps(fn)
            async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
                with correlation(**extra):
                    return await fn(*args, **kwargs)

            return async_wrapper  # type: ignore[return-value]

        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with correlation(**extra):
                return fn(*args, **kwargs)

        return wrapper  # type: ignore[return-value]

    def __enter__(self) -> str:  # type: ignore[override]
        super().__enter__()
        return str(self._fields["correlation_id"])

    async def __aenter__(self) -> str:  # type: ignore[override]
        return self.__enter__()


def acorrelation(correlation_id: Optional[str] = None, /, **kwargs: Any) -> correlation:
    """The ``async with`` spelling of :class:`correlation`."""
    return correlation(correlation_id, **kwargs)


def wrap(fn: F) -> F:
    """Bind *fn* to a copy of the caller's context, for running in another thread.

    Each call runs in its own copy, so the wrapped function may run in several
    threads at once.
    """
    ctx = contextvars.copy_context()

    @functools.wraps(fn)
    def run_in_context(*args: Any, **kwargs: Any) -> Any:
        return ctx.copy().run(fn, *args, **kwargs)

    return run_in_context  # type: ignore[return-value]
