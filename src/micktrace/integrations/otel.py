"""OpenTelemetry trace ids on every record: kept at this path for imports written
against it; the processor lives in :mod:`micktrace.trace_ids` (below config,
which installs it)."""

from __future__ import annotations

from ..trace_ids import add_trace_ids, otel_installed, trace_processor

__all__ = ["add_trace_ids", "otel_installed", "trace_processor"]
