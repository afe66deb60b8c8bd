"""WSGI middleware (Flask, Django's WSGI handler, any WSGI app): request
context and one completion record per request.

>>> app.wsgi_app = RequestContextMiddleware(app.wsgi_app)   # Flask  # doctest: +SKIP
>>> application = RequestContextMiddleware(get_wsgi_application())  # Django's wsgi.py  # doctest: +SKIP

For Django, :class:`micktrace.integrations.django.RequestContextMiddleware` in
``MIDDLEWARE`` is the idiomatic spelling (and the one Django's test client
goes through).

For every request the context holds ``request_id``, ``method`` and ``path``
(plus ``trace_id``, ``span_id``, ``parent_span_id`` when a valid
``traceparent`` came in), also while the server iterates a streamed body. The
response carries the request id header. One ``request completed`` record with
``status`` and ``duration_ms`` is written when the response is done: at once
for a list body, else when the body has been iterated to its end or closed,
whichever comes first (so streaming time counts). An exception escaping the
app is logged once, as ``request failed`` with the traceback and the request's
context; while the headers have not been sent the middleware answers ``500
Internal Server Error`` itself (with the id header) and the exception ends
there, else it is re-raised for the server.
"""

from __future__ import annotations

import sys
import time
from typing import Any, Callable, Dict, Iterable, Iterator, List, Optional, Tuple

from ..context import context, new_correlation_id
from ._web import DEFAULT_HEADER, DEFAULT_LOGGER, RequestLogging

StartResponse = Callable[..., Any]
_ERROR_BODY = b"Internal Server Error"
_ERROR_HEADERS = (("Content-Type", "text/plain; charset=utf-8"), ("Content-Length", str(len(_ERROR_BODY))))
WSGIApp = Callable[[Dict[str, Any], StartResponse], Iterable[bytes]]


def _status_code(status_line: str) -> Optional[int]:
    try:
        return int(status_line.split(" ", 1)[0])
    except (ValueError, AttributeError):
        return None


def _wsgi_path(environ: Dict[str, Any]) -> str:
    path = environ.get("PATH_INFO") or "/"
    try:
        # PEP 3333 hands the raw bytes over as latin-1; URLs are UTF-8
        return str(path.encode("latin-1").decode("utf-8"))
    except (UnicodeError, AttributeError):
        return str(path)


class _ResponseBody:
    """The app's body, iterated and closed inside the request's context."""

    def __init__(self, body: Iterable[bytes], fields: Dict[str, Any], finish: Callable[[Optional[Exception]], None]):
        self._body = body
        self._iterator: Optional[Iterator[bytes]] = None
        self._fields = fields
        self._finish = finish

    def __iter__(self) -> Iterator[bytes]:
        return self

    def __next__(self) -> bytes:
        with context(self._fields):
            if self._iterator is None:
                self._iterator = iter(self._body)
            try:
                return next(self._iterator)
            except StopIteration:
                # the body is all out; servers close() it next, but test
                # clients often never do
                self._finish(None)
                raise
            except Exception as exc:
                self._finish(exc)
                raise

    def close(self) -> None:
        with context(self._fields):
            try:
                close = getattr(self._body, "close", None)
                if close is not None:
                    close()
            finally:
                self._finish(None)


class RequestContextMiddleware:
    """See the module docstring. Options as in :class:`~micktrace.integrations._web.RequestLogging`:
    ``header``, ``trust_header``, ``logger``, ``log_requests``, ``generate_id``."""

    def __init__(
        self,
        app: WSGIApp,
        header: str = DEFAULT_HEADER,
        trust_header: bool = True,
        logger: str = DEFAULT_LOGGER,
        log_requests: bool = True,
        generate_id: Callable[[], str] = new_correlation_id,
    ) -> None:
        self.app = app
        self.web = RequestLogging(header, trust_header, logger, log_requests, generate_id)
        self._environ_key = "HTTP_" + header.upper().replace("-", "_")

    def __call__(self, environ: Dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        web = self.web
        request_id, fields = web.request_context(
            environ.get("REQUEST_METHOD") or "",
            _wsgi_path(environ),
            environ.get(self._environ_key),
            environ.get("HTTP_TRACEPARENT"),
        )
        status: List[Optional[int]] = [None]
        header_lower = web.header_lower

        def start_with_id(status_line: str, headers: List[Tuple[str, str]], exc_info: Any = None) -> Any:
            status[0] = _status_code(status_line)
            if not any(name.lower() == header_lower for name, _ in headers):
                headers = [*headers, (web.header, request_id)]
            return start_response(status_line, headers, exc_info)

        start = time.perf_counter()
        with context(fields):
            try:
                body = self.app(environ, start_with_id)
            except Exception as exc:
                if not web.log_requests:
                    raise  # not logged here: left to the server, which logs it
                try:
                    # answer the 500 here, with the id; if the app had started a
                    # response, PEP 3333 lets exc_info replace it until the
                    # headers are sent, and makes start_response raise after that
                    again = sys.exc_info() if status[0] is not None else None
                    start_with_id("500 Internal Server Error", list(_ERROR_HEADERS), again)
                except Exception:
                    web.failed(start, exc, status[0])
                    raise exc from None
                web.failed(start, exc, 500)  # logged once, with the request's context: the exception ends here
                return [_ERROR_BODY]
            if isinstance(body, (list, tuple)):
                web.completed(start, status[0])
                return body
        finished = [False]

        def finish(exc: Optional[Exception]) -> None:
            if finished[0]:
                return
            finished[0] = True
            if exc is not None:
                web.failed(start, exc, status[0])
            else:
                web.completed(start, status[0])

        return _ResponseBody(body, fields, finish)


__all__ = ["RequestContextMiddleware"]
