"""The otlp handler against a real OTLP/HTTP receiver on 127.0.0.1."""

from __future__ import annotations

import time
from typing import Any, Iterator

import pytest
from tests.support.otlp_receiver import OtlpHttpReceiver

from micktrace.handlers.network.otlp import OtlpHandler, severity
from micktrace.record import LogRecord


@pytest.fixture
def receiver() -> Iterator[OtlpHttpReceiver]:
    r = OtlpHttpReceiver()
    yield r
    r.close()


def _record(msg: str, level: int = 20, **data: Any) -> LogRecord:
    return LogRecord(
        time.time(),
        level,
        "app",
        msg,
        data,
        {"request": "r1"},
        {"service": "svc", "version": "1.2", "environment": "prod"},
        None,
        None,
        1,
        2,
    )


def test_severity_mapping() -> None:
    assert severity(5) == (1, "TRACE")
    assert severity(10) == (5, "DEBUG")
    assert severity(20) == (9, "INFO")
    assert severity(30) == (13, "WARN")
    assert severity(40) == (17, "ERROR")
    assert severity(50) == (21, "FATAL")


def test_records_arrive_with_resource_attributes_and_trace(receiver: OtlpHttpReceiver) -> None:
    handler = OtlpHandler(endpoint=receiver.url, headers={"x-token": "secret-token"}, gzip=True, linger=0.05)
    trace = "0af7651916cd43dd8448eb211c80319c"
    try:
        handler.handle_batch(
            [
                _record("one", user={"id": 7, "tags": ["a", 1]}, trace_id=trace, span_id="b7ad6b7169203331"),
                _record("two", level=40),
            ]
        )
        handler.flush()
    finally:
        handler.close()
    got = receiver.records()
    assert [lr.body.string_value for _, lr in got] == ["one", "two"]
    resource, first = got[0]
    assert resource == {"service.name": "svc", "service.version": "1.2", "deployment.environment": "prod"}
    assert first.trace_id.hex() == trace and first.span_id.hex() == "b7ad6b7169203331"
    assert first.severity_number == 9 and first.severity_text == "INFO"
    attrs = {kv.key: kv.value for kv in first.attributes}
    assert attrs["request"].string_value == "r1"
    user = {kv.key: kv.value for kv in attrs["user"].kvlist_value.values}
    assert user["id"].int_value == 7
    assert [v.string_value or v.int_value for v in user["tags"].array_value.values] == ["a", 1]
    assert got[1][1].severity_number == 17
    assert receiver.requests[0][0].get("x-token") == "secret-token"
    assert "secret-token" not in repr(handler)


def test_exception_attributes(receiver: OtlpHttpReceiver) -> None:
    try:
        raise ValueError("bad")
    except ValueError:
        import sys

        exc_info = sys.exc_info()
    rec = LogRecord(time.time(), 40, "app", "boom", {}, {}, {}, exc_info, None, 1, 2)
    handler = OtlpHandler(endpoint=receiver.url, linger=0.05)
    try:
        handler.handle_batch([rec])
        handler.flush()
    finally:
        handler.close()
    attrs = {kv.key: kv.value.string_value for kv in receiver.records()[0][1].attributes}
    assert attrs["exception.type"] == "ValueError" and attrs["exception.message"] == "bad"
    assert "ValueError: bad" in attrs["exception.stacktrace"]


def test_env_endpoint_and_headers(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:9/")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_HEADERS", "api-key=abc%20def,x=1")
    handler = OtlpHandler()
    assert handler.endpoint == "http://127.0.0.1:9/v1/logs"
    assert handler.headers == {"api-key": "abc def", "x": "1"}
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_LOGS_ENDPOINT", "http://127.0.0.1:9/custom")
    assert OtlpHandler().endpoint == "http://127.0.0.1:9/custom"
    handler.close()


def test_bad_protocol() -> None:
    from micktrace import ConfigError

    with pytest.raises(ConfigError):
        OtlpHandler(protocol="thrift")


@pytest.fixture
def proxy(receiver: OtlpHttpReceiver) -> Iterator[Any]:
    from tests.support.http_faults import Recorder

    r = Recorder(upstream=receiver.url)
    yield r
    r.close()


def _deliver(handler: OtlpHandler, n: int) -> None:
    try:
        handler.handle_batch([_record(f"m{i}") for i in range(n)])
        handler.flush()
    finally:
        handler.close()


@pytest.mark.parametrize(
    "fault",
    [
        lambda p: p.fail(2, 429, {"Retry-After": "0"}),
        lambda p: p.fail(3, 503),
        lambda p: p.fail(1, 502),
        lambda p: p.reset(2),
    ],
)
def test_retryable_faults_lose_nothing(receiver: OtlpHttpReceiver, proxy: Any, fault: Any) -> None:
    fault(proxy)
    handler = OtlpHandler(endpoint=proxy.url + "/v1/logs", linger=0.05, backoff=0.01, max_backoff=0.05)
    _deliver(handler, 20)
    assert [lr.body.string_value for _, lr in receiver.records()] == [f"m{i}" for i in range(20)]
    assert handler.counters["delivered"] == 20


def test_403_opens_unauthorized(proxy: Any) -> None:
    proxy.fail(50, 403)
    handler = OtlpHandler(endpoint=proxy.url + "/v1/logs", linger=0.05, exit_timeout=1)
    try:
        handler.handle_batch([_record("x")])
        assert proxy.wait_for(lambda: handler.health()["state"] == "unauthorized", timeout=10)
    finally:
        handler.close()


def test_official_sdk_exporter_output_parses_with_the_receiver(receiver: OtlpHttpReceiver) -> None:
    import opentelemetry.exporter.otlp.proto.http._log_exporter as exporter_mod
    from opentelemetry.sdk._logs import LoggerProvider
    from opentelemetry.sdk._logs.export import SimpleLogRecordProcessor

    provider = LoggerProvider()
    provider.add_log_record_processor(SimpleLogRecordProcessor(exporter_mod.OTLPLogExporter(endpoint=receiver.url)))
    import logging

    from opentelemetry.sdk._logs import LoggingHandler

    logger = logging.getLogger("sdk-check")
    logger.addHandler(LoggingHandler(logger_provider=provider))
    logger.warning("from the sdk")
    provider.shutdown()
    assert [lr.body.string_value for _, lr in receiver.records()] == ["from the sdk"]
