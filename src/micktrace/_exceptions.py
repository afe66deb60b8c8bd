"""Exception info as structured data and as text."""

from __future__ import annotations

import sys
from types import TracebackType
from typing import Any, Optional, Tuple, Type, Union

from .serialize import safe_str

ExcInfo = Tuple[Type[BaseException], BaseException, Optional[TracebackType]]
ExcInfoArg = Union[bool, BaseException, ExcInfo, None]

#: How many chained causes/contexts are followed.
MAX_CHAIN = 8
#: How many frames of one traceback are kept in structured output.
MAX_FRAMES = 100


def normalize_exc_info(exc_info: ExcInfoArg) -> ExcInfo | None:
    """Turn the ``exc_info=`` argument (True, an exception, a tuple) into a tuple or None."""
    if exc_info is None or exc_info is False:
        return None
    if exc_info is True:
        current = sys.exc_info()
        if current[0] is None:
            return None
        return current
    if isinstance(exc_info, BaseException):
        return (type(exc_info), exc_info, exc_info.__traceback__)
    if isinstance(exc_info, tuple) and len(exc_info) == 3 and exc_info[0] is not None:
        return exc_info
    return None


def _type_name(exc_type: type) -> str:
    module = getattr(exc_type, "__module__", None)
    name = getattr(exc_type, "__qualname__", None) or getattr(exc_type, "__name__", "Exception")
    if module and module not in ("builtins", "__main__"):
        return f"{module}.{name}"
    return str(name)


def exception_dict(exc_info: ExcInfo, _depth: int = 0) -> dict[str, Any]:
    """``{"type", "message", "traceback", "frames", "cause"}`` for one exception chain."""
    import traceback

    exc_type, exc, tb = exc_info
    result: dict[str, Any] = {"type": _type_name(exc_type), "message": safe_str(exc)}
    if _depth == 0:  # the full text already includes every chained exception
        result["traceback"] = exception_text(exc_info)
    frames = []
    try:
        for frame in traceback.extract_tb(tb, limit=MAX_FRAMES):
            frames.append({"file": frame.filename, "line": frame.lineno, "function": frame.name})
    except Exception:
        pass
    result["frames"] = frames
    if _depth < MAX_CHAIN and exc is not None:
        cause = exc.__cause__
        if cause is not None:
            result["cause"] = exception_dict((type(cause), cause, cause.__traceback__), _depth + 1)
        elif exc.__context__ is not None and not exc.__suppress_context__:
            ctx = exc.__context__
            result["context"] = exception_dict((type(ctx), ctx, ctx.__traceback__), _depth + 1)
    return result


def exception_text(exc_info: ExcInfo) -> str:
    """The traceback as Python prints it (chained causes included)."""
    import traceback

    try:
        return "".join(traceback.format_exception(*exc_info)).rstrip("\n")
    except Exception:
        return f"{_type_name(exc_info[0])}: {safe_str(exc_info[1])}"
