"""AWS Lambda: the invocation's request id on every record, and nothing lost at freeze.

Holds :func:`lambda_handler`, a decorator for a Lambda function's handler:
each invocation runs inside ``micktrace.context(request_id=..., faas.invocation_id)``
taken from the Lambda context object's ``aws_request_id``, and micktrace is
flushed before the handler returns (or raises), because Lambda freezes the
process between invocations and a background worker would not get to run.

May import: the public API (context, flush).
"""

from __future__ import annotations

import functools
from typing import Any, Callable, TypeVar

from ..context import context
from ..dispatch import flush

F = TypeVar("F", bound=Callable[..., Any])


def lambda_handler(fn: F) -> F:
    """Wrap a Lambda handler ``fn(event, context)``; see the module docstring."""

    @functools.wraps(fn)
    def wrapper(event: Any, lambda_context: Any = None, *args: Any, **kwargs: Any) -> Any:
        request_id = getattr(lambda_context, "aws_request_id", None)
        fields = {"request_id": request_id, "faas.invocation_id": request_id} if request_id else {}
        try:
            with context(**fields):
                return fn(event, lambda_context, *args, **kwargs)
        finally:
            flush(2.0)

    return wrapper  # type: ignore[return-value]


__all__ = ["lambda_handler"]
