"""W3C Trace Context (``traceparent``) without any tracing library.

Enough to correlate logs across services: read the ``traceparent`` header of
an incoming request, put its trace id in the logging context, and send a
``traceparent`` (and ``X-Request-ID``) on outgoing calls, so every service's
records carry the same ``trace_id``. With OpenTelemetry installed and a span
active, the span's ids win (see :mod:`micktrace.integrations.otel`).

Header format (https://www.w3.org/TR/trace-context/)::

    00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01
    version-trace_id (32 hex)-parent_id (16 hex)-flags (2 hex, 01 = sampled)
"""

from __future__ import annotations

import os
import re
import sys
from typing import Any, Dict, NamedTuple, Optional, Union

from ..context import context, current

_HEX = re.compile(r"[0-9a-f]+\Z")
_ZERO_TRACE = "0" * 32
_ZERO_SPAN = "0" * 16


class TraceParent(NamedTuple):
    """One parsed ``traceparent`` value.

    ``span_id`` is the header's ``parent-id``: the id of the caller's span.
    """

    trace_id: str
    span_id: str
    flags: int = 1
    version: str = "00"

    @property
    def sampled(self) -> bool:
        return bool(self.flags & 1)

    @property
    def header(self) -> str:
        """The header value (always written as version 00, as the spec asks)."""
        return f"00-{self.trace_id}-{self.span_id}-{self.flags & 0xFF:02x}"

    def child(self) -> TraceParent:
        """The same trace, with a new span id: what to send downstream."""
        return TraceParent(self.trace_id, new_span_id(), self.flags)

    def __str__(self) -> str:
        return self.header


def new_trace_id() -> str:
    """A random 32-hex-digit trace id (never all zeros)."""
    while True:
        value = os.urandom(16).hex()
        if value != _ZERO_TRACE:
            return value


def new_span_id() -> str:
    """A random 16-hex-digit span id (never all zeros)."""
    while True:
        value = os.urandom(8).hex()
        if value != _ZERO_SPAN:
            return value


def new_traceparent(sampled: bool = True) -> TraceParent:
    """A new trace: new trace id and span id."""
    return TraceParent(new_trace_id(), new_span_id(), 1 if sampled else 0)


def parse_traceparent(value: Union[str, bytes, None]) -> Optional[TraceParent]:
    """Parse a ``traceparent`` header; None when it is missing or invalid.

    Follows the W3C rules a receiver must apply: lower-case hex only, version
    ``ff`` is invalid, version ``00`` has exactly four fields, a later version
    may append fields after a ``-``, and all-zero trace or span ids are invalid.
    """
    if value is None:
        return None
    if isinstance(value, bytes):
        try:
            value = value.decode("ascii")
        except UnicodeDecodeError:
            return None
    value = value.strip()
    if len(value) < 55:
        return None
    version = value[:2]
    if not _HEX.match(version) or version == "ff":
        return None
    if version == "00" and len(value) != 55:
        return None
    if len(value) > 55 and value[55] != "-":
        return None
    if value[2] != "-" or value[35] != "-" or value[52] != "-":
        return None
    trace_id, span_id, flags = value[3:35], value[36:52], value[53:55]
    if not (_HEX.match(trace_id) and _HEX.match(span_id) and _HEX.match(flags)):
        return None
    if trace_id == _ZERO_TRACE or span_id == _ZERO_SPAN:
        return None
    return TraceParent(trace_id, span_id, int(flags, 16), version)


def trace_fields(incoming: Optional[TraceParent]) -> Dict[str, str]:
    """Context fields for a unit of work that continues *incoming*:
    ``trace_id``, a new ``span_id`` for this unit, ``parent_span_id``."""
    if incoming is None:
        return {}
    return {"trace_id": incoming.trace_id, "span_id": new_span_id(), "parent_span_id": incoming.span_id}


def trace_context(traceparent: Union[str, bytes, TraceParent, None] = None, **fields: Any) -> context:
    """A :func:`micktrace.context` block that continues a trace or starts one.

    With a valid *traceparent* (a header value or a :class:`TraceParent`) the
    block gets its ``trace_id``, a new ``span_id`` and ``parent_span_id``;
    otherwise a new trace is started (``trace_id`` and ``span_id`` only).
    Inside it, :func:`current_traceparent` gives the header for outgoing calls.
    """
    incoming = traceparent if isinstance(traceparent, TraceParent) else parse_traceparent(traceparent)
    if incoming is None:
        started = new_traceparent()
        trace: Dict[str, Any] = {"trace_id": started.trace_id, "span_id": started.span_id}
    else:
        trace = trace_fields(incoming)
    trace.update(fields)
    return context(trace)


def current_traceparent() -> Optional[TraceParent]:
    """The ``traceparent`` to send on an outgoing call made here, or None.

    From the active OpenTelemetry span when there is one, else from the
    ``trace_id`` / ``span_id`` / ``trace_flags`` in the logging context (a new
    span id stands in when the context has none).
    """
    trace = sys.modules.get("opentelemetry.trace")
    if trace is not None:
        try:
            span_context = trace.get_current_span().get_span_context()
        except Exception:
            span_context = None
        if span_context is not None and span_context.is_valid:
            return TraceParent(
                f"{span_context.trace_id:032x}", f"{span_context.span_id:016x}", int(span_context.trace_flags)
            )
    fields = current()
    trace_id = fields.get("trace_id")
    if not isinstance(trace_id, str) or len(trace_id) != 32 or not _HEX.match(trace_id) or trace_id == _ZERO_TRACE:
        return None
    span_id = fields.get("span_id")
    if not isinstance(span_id, str) or len(span_id) != 16 or not _HEX.match(span_id) or span_id == _ZERO_SPAN:
        span_id = new_span_id()
    flags = fields.get("trace_flags", 1)
    try:
        flag_bits = int(flags, 16) if isinstance(flags, str) else int(flags)
    except (TypeError, ValueError):
        flag_bits = 1
    return TraceParent(trace_id, span_id, flag_bits)


def outgoing_headers(request_id_header: str = "X-Request-ID") -> Dict[str, str]:
    """Headers that carry the current correlation to another service:
    ``traceparent`` (see :func:`current_traceparent`) and the request id, when
    the context has them.

    >>> requests.get(url, headers=micktrace.outgoing_headers())  # doctest: +SKIP
    """
    headers: Dict[str, str] = {}
    parent = current_traceparent()
    if parent is not None:
        headers["traceparent"] = parent.header
    request_id = current().get("request_id")
    if request_id is not None:
        headers[request_id_header] = str(request_id)
    return headers


__all__ = [
    "TraceParent",
    "current_traceparent",
    "new_span_id",
    "new_trace_id",
    "new_traceparent",
    "outgoing_headers",
    "parse_traceparent",
    "trace_context",
    "trace_fields",
]
