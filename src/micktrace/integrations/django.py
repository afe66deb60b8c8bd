"""Django middleware: request context and one completion record per request.

.. code-block:: python

    # settings.py
    MIDDLEWARE = [
        "micktrace.integrations.django.RequestContextMiddleware",  # first: it wraps everything
        ...
    ]
    # optional
    MICKTRACE_REQUEST_ID_HEADER = "X-Request-ID"
    MICKTRACE_TRUST_REQUEST_ID = True
    MICKTRACE_LOG_REQUESTS = True

Works for WSGI and ASGI deployments (sync and async views). The context holds
``request_id``, ``method`` and ``path`` (plus ``trace_id``, ``span_id``,
``parent_span_id`` when a valid ``traceparent`` came in) for everything the
request logs; the response carries the request id header; one ``request
completed`` record with ``status`` and ``duration_ms`` follows (ERROR for 5xx).
Django turns view exceptions into 500 responses before they reach a
middleware placed first, so they show up as ``status=500``.
"""

from __future__ import annotations

import time
from typing import Any, Callable

from ..context import context
from ._web import DEFAULT_HEADER, RequestLogging


def _settings() -> Any:
    import importlib

    try:
        # imported by name: Django ships no type information
        return importlib.import_module("django.conf").settings
    except ImportError:  # pragma: no cover - only without Django
        from ..errors import MissingExtraError

        raise MissingExtraError("the Django middleware", "django", "django") from None


class RequestContextMiddleware:
    """Django middleware; see the module docstring."""

    sync_capable = True
    async_capable = True

    def __init__(self, get_response: Callable[[Any], Any]) -> None:
        import asyncio

        settings = _settings()
        self.get_response = get_response
        self.web = RequestLogging(
            header=getattr(settings, "MICKTRACE_REQUEST_ID_HEADER", DEFAULT_HEADER),
            trust_header=getattr(settings, "MICKTRACE_TRUST_REQUEST_ID", True),
            log_requests=getattr(settings, "MICKTRACE_LOG_REQUESTS", True),
        )
        self._meta_key = "HTTP_" + self.web.header.upper().replace("-", "_")
        self.is_async = asyncio.iscoroutinefunction(get_response)
        if self.is_async:
            # tells Django's handler to await this middleware
            try:
                from asgiref.sync import markcoroutinefunction
            except ImportError:  # asgiref < 3.5.2: Django checks _is_coroutine
                self._is_coroutine = asyncio.coroutines._is_coroutine  # type: ignore[attr-defined]
            else:
                markcoroutinefunction(self)

    def _context(self, request: Any) -> Any:
        meta = request.META
        request_id, fields = self.web.request_context(
            request.method or "", request.path, meta.get(self._meta_key), meta.get("HTTP_TRACEPARENT")
        )
        return request_id, fields

    def __call__(self, request: Any) -> Any:
        if self.is_async:
            return self.__acall__(request)
        request_id, fields = self._context(request)
        start = time.perf_counter()
        with context(fields):
            try:
                response = self.get_response(request)
            except Exception as exc:
                self.web.failed(start, exc)
                raise
            if not response.has_header(self.web.header):
                response[self.web.header] = request_id
            self.web.completed(start, response.status_code)
        return response

    async def __acall__(self, request: Any) -> Any:
        request_id, fields = self._context(request)
        start = time.perf_counter()
        with context(fields):
            try:
                response = await self.get_response(request)
            except Exception as exc:
                self.web.failed(start, exc)
                raise
            if not response.has_header(self.web.header):
                response[self.web.header] = request_id
            self.web.completed(start, response.status_code)
        return response


__all__ = ["RequestContextMiddleware"]
