"""ASGI middleware (Starlette, FastAPI, any ASGI app): request context and one
completion record per request.

>>> app.add_middleware(RequestContextMiddleware)           # FastAPI / Starlette  # doctest: +SKIP
>>> app = RequestContextMiddleware(app)                     # any ASGI app         # doctest: +SKIP

For every HTTP request the context holds ``request_id``, ``method`` and
``path`` (plus ``trace_id``, ``span_id``, ``parent_span_id`` when a valid
``traceparent`` came in) for everything the request logs, in the endpoint, in
background tasks it starts and in sync endpoints run in a thread pool. The
response carries the request id header. When the app returns, one record
``request completed`` with ``status`` and ``duration_ms`` is written (ERROR
for 5xx). An exception escaping the app is logged once, as ``request failed``
with the traceback and the request's context. When no response had started,
the middleware answers ``500 Internal Server Error`` itself (with the id
header) and the exception ends there; when one had (a framework's error page,
a broken stream), it is re-raised for the server, and the server's own record
of it is folded away by the stdlib bridge (a cancelled request is not logged).
WebSocket connections get the context, without a completion record. Other scopes (lifespan) pass through untouched.

Pure ASGI (no ``BaseHTTPMiddleware``), so it needs no framework and adds one
``send`` wrapper per request.
"""

from __future__ import annotations

import time
from typing import Any, Awaitable, Callable, Dict, List, MutableMapping, Optional, Tuple

from ..context import context, new_correlation_id
from ._web import DEFAULT_HEADER, DEFAULT_LOGGER, RequestLogging

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


def _headers(scope: Scope, wanted: Tuple[bytes, ...]) -> Dict[bytes, str]:
    found: Dict[bytes, str] = {}
    for name, value in scope.get("headers") or ():
        lowered = name.lower()
        if lowered in wanted and lowered not in found:
            found[lowered] = value.decode("latin-1")
    return found


class RequestContextMiddleware:
    """See the module docstring. Options as in :class:`~micktrace.integrations._web.RequestLogging`:
    ``header``, ``trust_header``, ``logger``, ``log_requests``, ``generate_id``."""

    def __init__(
        self,
        app: ASGIApp,
        header: str = DEFAULT_HEADER,
        trust_header: bool = True,
        logger: str = DEFAULT_LOGGER,
        log_requests: bool = True,
        generate_id: Callable[[], str] = new_correlation_id,
    ) -> None:
        self.app = app
        self.web = RequestLogging(header, trust_header, logger, log_requests, generate_id)
        self._header_bytes = self.web.header_lower.encode("latin-1")
        self._wanted = (self._header_bytes, b"traceparent")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope.get("type")
        if kind not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        headers = _headers(scope, self._wanted)
        method = scope.get("method") or ("WEBSOCKET" if kind == "websocket" else "")
        request_id, fields = self.web.request_context(
            method, scope.get("path") or "/", headers.get(self._header_bytes), headers.get(b"traceparent")
        )
        echo = (self._header_bytes, request_id.encode("latin-1"))
        status: List[Optional[int]] = [None]

        async def send_with_id(message: Message) -> None:
            if message.get("type") in ("http.response.start", "websocket.accept"):
                status[0] = message.get("status")
                response_headers = list(message.get("headers") or ())
                if not any(name.lower() == self._header_bytes for name, _ in response_headers):
                    response_headers.append(echo)
                    message = {**message, "headers": response_headers}
            await send(message)

        start = time.perf_counter()
        with context(fields):
            if kind == "websocket":
                await self.app(scope, receive, send_with_id)
                return
            try:
                await self.app(scope, receive, send_with_id)
            except Exception as exc:
                if status[0] is not None:
                    # a response has started (a framework's error page, a broken
                    # stream): logged once here, with the request's context, and
                    # left to the server, whose own record of it is folded
                    self.web.failed(start, exc, status[0])
                    raise
                # nothing sent yet: answer the 500 here, inside the request's
                # context and with the id (an outer layer's or the server's 500
                # would have neither, nor would the server's access line); the
                # exception ends here, logged once
                await _send_500(send_with_id)
                if not self.web.log_requests:
                    raise  # not logged here: the server logs it
                self.web.failed(start, exc, 500)
                return
            self.web.completed(start, status[0])


async def _send_500(send: Send) -> None:
    body = b"Internal Server Error"
    try:
        await send(
            {
                "type": "http.response.start",
                "status": 500,
                "headers": [(b"content-type", b"text/plain; charset=utf-8"), (b"content-length", b"%d" % len(body))],
            }
        )
        await send({"type": "http.response.body", "body": body})
    except Exception:  # the client went away: the server deals with that
        pass


__all__ = ["RequestContextMiddleware"]
