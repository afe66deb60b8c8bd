"""What the ASGI, WSGI and Django middleware share: the request's ids and the
completion record."""

from __future__ import annotations

import re
import time
from typing import Any, Callable, Dict, Optional, Tuple

from ..context import new_correlation_id
from ..logger import Logger, get_logger
from ..stdlib_capture import mark_logged
from .tracing import parse_traceparent, trace_fields

DEFAULT_HEADER = "X-Request-ID"
DEFAULT_LOGGER = "micktrace.web"

# an id a client sends is written into every record and echoed back: accept
# only short, plain tokens, so it cannot forge log lines or response headers
_SAFE_ID = re.compile(r"[A-Za-z0-9._~:/+=@\-]{1,128}\Z")


def valid_request_id(value: Optional[str]) -> Optional[str]:
    if value is None:
        return None
    value = value.strip()
    return value if _SAFE_ID.match(value) else None


class RequestLogging:
    """The settings the middleware classes share, and their per-request steps.

    Args:
        header: the request-id header read from the request and set on the
            response (``X-Request-ID``).
        trust_header: take the request id from the request when it has a valid
            one; False always generates one.
        logger: name of the logger for the completion record (``micktrace.web``).
        log_requests: write one completion record per request.
        generate_id: makes request ids (default: 32 random hex digits).
    """

    def __init__(
        self,
        header: str = DEFAULT_HEADER,
        trust_header: bool = True,
        logger: str = DEFAULT_LOGGER,
        log_requests: bool = True,
        generate_id: Callable[[], str] = new_correlation_id,
    ) -> None:
        self.header = header
        self.header_lower = header.lower()
        self.trust_header = trust_header
        self.log_requests = log_requests
        self.generate_id = generate_id
        self.logger: Logger = get_logger(logger)

    def request_context(
        self, method: str, path: str, request_id: Optional[str], traceparent: Optional[str]
    ) -> Tuple[str, Dict[str, Any]]:
        """The request id and the context fields for one request.

        The id is the request's header when valid (and trusted), else the
        trace id of a valid ``traceparent``, else a new one. A valid
        ``traceparent`` also gives ``trace_id``, ``span_id`` (new, this
        request's) and ``parent_span_id`` (the caller's).
        """
        incoming = parse_traceparent(traceparent) if traceparent else None
        rid = valid_request_id(request_id) if self.trust_header else None
        if rid is None:
            rid = incoming.trace_id if incoming is not None else self.generate_id()
        fields: Dict[str, Any] = {"request_id": rid, "method": method, "path": path}
        fields.update(trace_fields(incoming))
        return rid, fields

    def completed(self, start: float, status: Optional[int]) -> None:
        """Log the completion record (inside the request's context)."""
        if not self.log_requests:
            return
        duration_ms = round((time.perf_counter() - start) * 1000, 3)
        if status is not None and status >= 500:
            self.logger.error("request completed", status=status, duration_ms=duration_ms)
        else:
            self.logger.info("request completed", status=status, duration_ms=duration_ms)

    def failed(self, start: float, exc: BaseException, status: Optional[int] = None) -> None:
        """Log an exception that escaped the application (inside the request's context)."""
        if not self.log_requests:
            return
        duration_ms = round((time.perf_counter() - start) * 1000, 3)
        self.logger.error(
            "request failed", exc_info=exc, status=status if status is not None else 500, duration_ms=duration_ms
        )
        mark_logged(exc)


__all__ = ["DEFAULT_HEADER", "DEFAULT_LOGGER", "RequestLogging", "valid_request_id"]
