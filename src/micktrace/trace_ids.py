"""``trace_id``, ``span_id`` and ``trace_flags`` of the active OpenTelemetry span.

``configure()`` puts :func:`add_trace_ids` first among the processors when
``opentelemetry-api`` is installed (found on the path: nothing is imported to
find out). The processor never imports OpenTelemetry itself: until the
application has imported ``opentelemetry.trace`` it costs one dict lookup.
Once it is imported, each record costs one ``get_current_span()`` call, plus
one small dict when a span is active (docs/tracing.md has the numbers).

The ids are lower-case hex, as W3C ``traceparent`` and the OpenTelemetry log
data model write them (32 digits for the trace, 16 for the span, 2 for the
flags), and go into the record's context, so they replace ``trace_id`` /
``span_id`` put there by a web middleware: the active span is the truth.
"""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING, Any, Callable, Dict, Optional, Tuple

if TYPE_CHECKING:
    from .record import LogRecord

_modules = sys.modules
_available: Optional[bool] = None


def otel_installed() -> bool:
    """True when ``opentelemetry.trace`` can be imported (checked once, without importing it)."""
    global _available
    if _available is None:
        _available = _find_otel()
    return _available


def _find_otel() -> bool:
    if "opentelemetry.trace" in _modules:
        return True
    import importlib.util

    try:
        # "opentelemetry" is a namespace package: finding it imports nothing
        spec = importlib.util.find_spec("opentelemetry")
    except (ImportError, ValueError):
        return False
    if spec is None or not spec.submodule_search_locations:
        return False
    return any(
        os.path.exists(os.path.join(location, "trace", "__init__.py")) for location in spec.submodule_search_locations
    )


# span context -> its ids as hex, or None for an invalid one. A span logs many
# records, and formatting three ints costs more than the rest of the processor.
# Keyed by id(); the entry keeps the span context alive, so an id is never
# reused while its entry exists. Cleared when full, rather than kept in order.
_ids: Dict[int, Tuple[Any, Optional[Dict[str, str]]]] = {}
_IDS_MAX = 1024


def _span_ids(span_context: Any) -> Optional[Dict[str, str]]:
    entry = _ids.get(id(span_context))
    if entry is not None and entry[0] is span_context:
        return entry[1]
    ids: Optional[Dict[str, str]] = None
    if span_context.is_valid:
        ids = {
            "trace_id": f"{span_context.trace_id:032x}",
            "span_id": f"{span_context.span_id:016x}",
            "trace_flags": f"{int(span_context.trace_flags):02x}",
        }
    if len(_ids) >= _IDS_MAX:
        _ids.clear()
    _ids[id(span_context)] = (span_context, ids)
    return ids


def add_trace_ids(record: LogRecord) -> LogRecord:
    """Processor: the active span's ids into the record's context."""
    trace = _modules.get("opentelemetry.trace")
    if trace is None:
        return record  # nobody imported OpenTelemetry, so no span can be active
    try:
        span = trace.get_current_span()
        if span is trace.INVALID_SPAN:  # no active span: the common case, kept short
            return record
        ids = _span_ids(span.get_span_context())
    except Exception:
        return record
    if ids is not None:
        record.context = {**record.context, **ids}
    return record


#: the dispatcher's fused pipeline knows this processor by this mark (and runs
#: it only once OpenTelemetry is imported)
add_trace_ids.micktrace_trace_ids = True  # type: ignore[attr-defined]


def trace_processor() -> Optional[Callable[[LogRecord], LogRecord]]:
    """The processor ``configure()`` installs, or None without OpenTelemetry."""
    return add_trace_ids if otel_installed() else None


__all__ = ["add_trace_ids", "otel_installed", "trace_processor"]
