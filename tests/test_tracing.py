"""W3C traceparent parsing/generation and OpenTelemetry trace ids in records (real SDK tracer)."""

from __future__ import annotations

import asyncio
import json
import textwrap
from typing import Any, Dict, List

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF

import micktrace
from conftest import run_python
from micktrace.integrations.otel import add_trace_ids, otel_installed
from micktrace.integrations.tracing import (
    TraceParent,
    current_traceparent,
    new_traceparent,
    outgoing_headers,
    parse_traceparent,
    trace_context,
)
from micktrace.record import LogRecord
from micktrace.testing import capture_logs

VALID = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


# -- traceparent ---------------------------------------------------------------------


def test_parse_the_spec_example() -> None:
    parsed = parse_traceparent(VALID)
    assert parsed == TraceParent("4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7", 1, "00")
    assert parsed is not None and parsed.sampled and parsed.header == VALID and str(parsed) == VALID
    assert parse_traceparent(VALID.encode()) == parsed
    assert parse_traceparent("  " + VALID + " ") == parsed
    unsampled = parse_traceparent(VALID[:-2] + "00")
    assert unsampled is not None and not unsampled.sampled


@pytest.mark.parametrize(
    "value",
    [
        None,
        "",
        "garbage",
        VALID.upper(),  # hex must be lower case
        "ff" + VALID[2:],  # version ff is invalid
        "00-00000000000000000000000000000000-00f067aa0ba902b7-01",  # all-zero trace id
        "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",  # all-zero span id
        VALID + "-extra",  # version 00 has exactly four fields
        "00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01",  # short trace id
        "00_4bf92f3577b34da6a3ce929d0e0e4736_00f067aa0ba902b7_01",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902bz-01",
        b"\xff" * 55,
    ],
)
def test_invalid_traceparents_are_ignored(value: Any) -> None:
    assert parse_traceparent(value) is None


def test_future_versions_may_append_fields() -> None:
    parsed = parse_traceparent("cc" + VALID[2:] + "-what-the-future-holds")
    assert parsed is not None and parsed.version == "cc" and parsed.trace_id == "4bf92f3577b34da6a3ce929d0e0e4736"
    assert parsed.header.startswith("00-")  # we always send version 00
    assert parse_traceparent("cc" + VALID[2:] + "x") is None


def test_generated_traceparents_round_trip_and_children_keep_the_trace() -> None:
    made = new_traceparent()
    assert parse_traceparent(made.header) == made
    child = made.child()
    assert child.trace_id == made.trace_id and child.span_id != made.span_id
    assert len({new_traceparent().trace_id for _ in range(50)}) == 50
    assert new_traceparent(sampled=False).header.endswith("-00")


def test_trace_context_continues_or_starts_a_trace() -> None:
    with capture_logs() as captured:
        with trace_context(VALID, job="sync"):
            micktrace.get_logger("svc").info("continued")
            outgoing = current_traceparent()
        with trace_context():
            micktrace.get_logger("svc").info("started")
    continued, started = (r.context for r in captured.records)
    assert continued["trace_id"] == "4bf92f3577b34da6a3ce929d0e0e4736"
    assert continued["parent_span_id"] == "00f067aa0ba902b7" and continued["job"] == "sync"
    # downstream sees this unit's span as its parent
    assert outgoing is not None and outgoing.span_id == continued["span_id"] != "00f067aa0ba902b7"
    assert len(started["trace_id"]) == 32 and "parent_span_id" not in started


def test_outgoing_headers_carry_request_id_and_traceparent() -> None:
    assert outgoing_headers() == {}
    with micktrace.context(request_id="r-1", trace_id="4bf92f3577b34da6a3ce929d0e0e4736"):
        headers = outgoing_headers()
    assert headers["X-Request-ID"] == "r-1"
    parsed = parse_traceparent(headers["traceparent"])
    assert parsed is not None and parsed.trace_id == "4bf92f3577b34da6a3ce929d0e0e4736"
    with micktrace.context(trace_id="not-hex"):
        assert current_traceparent() is None


def test_correlation_across_two_services_without_opentelemetry() -> None:
    """Service A calls service B with outgoing_headers(); both log the same trace and request id."""
    records: List[LogRecord] = []
    micktrace.configure(handlers=[records.append])

    async def service_b(headers: Dict[str, str]) -> None:
        async with trace_context(headers.get("traceparent"), request_id=headers["X-Request-ID"]):
            micktrace.get_logger("service-b").info("Processing request in service B")

    async def service_a() -> None:
        async with trace_context(request_id="req-42"):
            micktrace.get_logger("service-a").info("Processing request in service A")
            await service_b(outgoing_headers())

    asyncio.run(service_a())
    a, b = records
    assert a.context["trace_id"] == b.context["trace_id"]
    assert a.context["request_id"] == b.context["request_id"] == "req-42"
    assert b.context["parent_span_id"] == a.context["span_id"]


# -- OpenTelemetry --------------------------------------------------------------------


@pytest.fixture
def tracer() -> trace.Tracer:
    # a provider of our own: the global one can be set only once per process
    return TracerProvider().get_tracer("micktrace-tests")


def test_otel_is_detected_and_its_processor_installed() -> None:
    assert otel_installed()
    assert add_trace_ids in micktrace.config.current_config().processors


def test_every_record_in_a_span_carries_its_ids_in_hex(tracer: trace.Tracer) -> None:
    log = micktrace.get_logger("otel")
    with capture_logs() as captured:
        log.info("outside")
        with tracer.start_as_current_span("outer") as outer:
            log.info("in outer")
            with tracer.start_as_current_span("inner") as inner:
                log.bind(k=1).warning("in inner")
        log.info("outside again")
    out1, in_outer, in_inner, out2 = captured.records
    assert "trace_id" not in out1.context and "trace_id" not in out2.context
    octx, ictx = outer.get_span_context(), inner.get_span_context()
    assert in_outer.context == {
        "trace_id": format(octx.trace_id, "032x"),
        "span_id": format(octx.span_id, "016x"),
        "trace_flags": format(octx.trace_flags, "02x"),
    }
    assert int(in_outer.context["trace_flags"], 16) & 1  # sampled (newer SDKs also set the W3C "random" bit)
    assert in_inner.context["trace_id"] == in_outer.context["trace_id"]
    assert in_inner.context["span_id"] == format(ictx.span_id, "016x")
    assert len(in_inner.context["trace_id"]) == 32 and int(in_inner.context["trace_id"], 16) == octx.trace_id


def test_json_output_has_the_ids_at_top_level(tracer: trace.Tracer, capsys: pytest.CaptureFixture[str]) -> None:
    micktrace.configure(format="json")
    with tracer.start_as_current_span("op") as span, micktrace.context(request_id="r-1"):
        micktrace.get_logger("api").info("handled")
    doc = json.loads(capsys.readouterr().err)
    assert doc["trace_id"] == format(span.get_span_context().trace_id, "032x")
    assert doc["span_id"] == format(span.get_span_context().span_id, "016x")
    assert doc["trace_flags"] == format(span.get_span_context().trace_flags, "02x") and doc["request_id"] == "r-1"


def test_unsampled_span_reports_the_sampled_bit_clear(tracer: trace.Tracer) -> None:
    unsampled = TracerProvider(sampler=ALWAYS_OFF).get_tracer("off")
    with capture_logs() as captured, unsampled.start_as_current_span("quiet"):
        micktrace.get_logger("otel").info("x")
    assert int(captured.records[0].context["trace_flags"], 16) & 1 == 0


def test_active_span_wins_over_ids_from_a_traceparent(tracer: trace.Tracer) -> None:
    with capture_logs() as captured, trace_context(VALID):
        with tracer.start_as_current_span("op") as span:
            micktrace.get_logger("otel").info("x")
            outgoing = current_traceparent()
    ctx = captured.records[0].context
    assert ctx["trace_id"] == format(span.get_span_context().trace_id, "032x")
    assert ctx["parent_span_id"] == "00f067aa0ba902b7"  # the rest of the context stays
    assert outgoing is not None and outgoing.span_id == ctx["span_id"]


def test_spans_in_concurrent_tasks_stay_apart(tracer: trace.Tracer) -> None:
    async def task(n: int) -> Any:
        with tracer.start_as_current_span(f"task-{n}") as span:
            await asyncio.sleep(0)
            micktrace.get_logger("otel").info("step", n=n)
            await asyncio.sleep(0)
            return format(span.get_span_context().span_id, "016x")

    async def main() -> List[Any]:
        return await asyncio.gather(*(task(n) for n in range(10)))

    with capture_logs() as captured:
        span_ids = asyncio.run(main())
    for record in captured.records:
        assert record.context["span_id"] == span_ids[record.data["n"]]


def test_micktrace_does_not_import_opentelemetry_for_the_application() -> None:
    code = textwrap.dedent(
        """
        import sys, micktrace
        micktrace.get_logger("x").info("hello")
        from micktrace.config import current_config
        from micktrace.integrations.otel import add_trace_ids
        assert add_trace_ids in current_config().processors  # installed, since it is importable
        assert "opentelemetry.trace" not in sys.modules           # but not imported
        print("ok")
        """
    )
    result = run_python(code)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "ok\n"
