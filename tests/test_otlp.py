"""The otlp handler against a real OTLP/HTTP receiver on 127.0.0.1."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from typing import Any, Dict, Iterator, List

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


# -- through configure(), as a user writes it ----------------------------------------------

SRC = str(__import__("pathlib").Path(__file__).resolve().parents[1] / "src")


def _bodies(receiver: Any) -> List[str]:
    return [lr.body.string_value for _, lr in receiver.records()]


def test_configure_sets_the_resource_from_service_version_environment(receiver: OtlpHttpReceiver) -> None:
    import micktrace

    micktrace.configure(
        service="checkout", version="2.1.0", environment="staging",
        handlers=[{"type": "otlp", "config": {"endpoint": receiver.url, "linger": 0.01}}],
    )  # fmt: skip
    try:
        log = micktrace.get_logger("app.orders")
        with micktrace.context(request_id="r-9"):
            log.info("order placed", order_id=42, password="hunter2")
        micktrace.flush()
    finally:
        micktrace.reset()
    (resource, lr), = receiver.records()
    assert resource == {"service.name": "checkout", "service.version": "2.1.0", "deployment.environment": "staging"}
    attrs = {kv.key: kv.value for kv in lr.attributes}
    assert attrs["order_id"].int_value == 42 and attrs["request_id"].string_value == "r-9"
    assert attrs["logger.name"].string_value == "app.orders"
    assert "hunter2" not in lr.SerializeToString().decode("latin-1")


def test_trace_ids_of_the_active_otel_span_land_on_the_log_record(receiver: OtlpHttpReceiver) -> None:
    from opentelemetry.sdk.trace import TracerProvider

    import micktrace

    micktrace.configure(handlers=[{"type": "otlp", "endpoint": receiver.url, "linger": 0.01}])
    try:
        tracer = TracerProvider().get_tracer("t")
        with tracer.start_as_current_span("work") as span:
            micktrace.get_logger("t").info("inside")
            ctx = span.get_span_context()
        micktrace.flush()
    finally:
        micktrace.reset()
    (_, lr), = receiver.records()
    assert lr.trace_id == ctx.trace_id.to_bytes(16, "big") and lr.span_id == ctx.span_id.to_bytes(8, "big")


def test_conformance_over_http(receiver: OtlpHttpReceiver) -> None:
    from micktrace.testing import check_handler

    def read_back() -> List[Dict[str, Any]]:
        out = []
        for _resource, lr in receiver.records():
            fields = {kv.key: _plain(kv.value) for kv in lr.attributes}
            out.append(dict(fields, message=lr.body.string_value, level=lr.severity_text.replace("WARN", "WARNING")
                            .replace("FATAL", "CRITICAL")))  # fmt: skip
        return out

    report = check_handler(lambda: OtlpHandler(endpoint=receiver.url, linger=0.01), read_back)
    assert report.passed and not report.skipped, str(report)


def _plain(value: Any) -> Any:
    kind = value.WhichOneof("value")
    if kind == "kvlist_value":
        return {kv.key: _plain(kv.value) for kv in value.kvlist_value.values}
    if kind == "array_value":
        return [_plain(v) for v in value.array_value.values]
    return getattr(value, kind) if kind else None


def test_exit_with_a_backlog_delivers_it(receiver: OtlpHttpReceiver) -> None:
    script = textwrap.dedent(
        f"""
        import micktrace
        micktrace.configure(handlers=[{{"type": "otlp", "endpoint": "{receiver.url}", "linger": 5}}])
        log = micktrace.get_logger("exit")
        for i in range(300):
            log.info(f"e{{i}}")
        raise SystemExit(4)
        """
    )
    proc = subprocess.run([sys.executable, "-c", script], env={**os.environ, "PYTHONPATH": SRC}, timeout=60,
                          capture_output=True, text=True)  # fmt: skip
    assert proc.returncode == 4, proc.stderr
    assert _bodies(receiver) == [f"e{i}" for i in range(300)]


def test_missing_extra_names_it(tmp_path: Any) -> None:
    blocker = tmp_path / "opentelemetry"
    blocker.mkdir()
    (blocker / "__init__.py").write_text("raise ImportError('blocked by the test')\n")
    script = textwrap.dedent(
        """
        import micktrace
        from micktrace.errors import MissingExtraError
        try:
            micktrace.configure(handlers=[{"type": "otlp", "endpoint": "http://127.0.0.1:9/v1/logs"}])
        except MissingExtraError as exc:
            print("MISSING", exc)
        """
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), SRC])}
    proc = subprocess.run([sys.executable, "-c", script], env=env, timeout=60, capture_output=True, text=True)
    assert "MISSING" in proc.stdout and "micktrace[opentelemetry]" in proc.stdout, proc.stdout + proc.stderr


def test_stdlib_records_logged_while_sending_do_not_loop(receiver: OtlpHttpReceiver) -> None:
    import logging

    import micktrace

    class Chatty(OtlpHandler):
        def send(self, batch: Any) -> Any:
            logging.getLogger("urllib3.connectionpool").debug("sending %d", len(batch))
            return super().send(batch)

    handler = Chatty(endpoint=receiver.url, linger=0.01)
    micktrace.configure(handlers=[handler], capture_stdlib=True, level="DEBUG")
    try:
        logging.getLogger("urllib3").setLevel(logging.DEBUG)
        micktrace.get_logger("app").info("once")
        micktrace.flush()
        time.sleep(0.3)
        micktrace.flush()
        bodies = _bodies(receiver)
    finally:
        logging.getLogger("urllib3").setLevel(logging.NOTSET)
        micktrace.reset()
    assert bodies.count("once") == 1
    assert len(bodies) < 5, bodies  # the handler's own chatter is not fed back into it without end


# -- gRPC -------------------------------------------------------------------------------------


@pytest.fixture
def grpc_receiver() -> Iterator[Any]:
    from tests.support.otlp_receiver import OtlpGrpcReceiver

    r = OtlpGrpcReceiver(token="grpc-secret")
    yield r
    r.close()


def test_grpc_delivers_with_metadata(grpc_receiver: Any) -> None:
    handler = OtlpHandler(endpoint=grpc_receiver.url, protocol="grpc", headers={"Authorization": "Bearer grpc-secret"},
                          linger=0.01)  # fmt: skip
    _deliver(handler, 30)
    assert _bodies(grpc_receiver) == [f"m{i}" for i in range(30)]
    assert grpc_receiver.metadata[0]["authorization"] == "Bearer grpc-secret"
    assert "grpc-secret" not in repr(handler) and "grpc-secret" not in str(handler.health())


def test_grpc_unavailable_is_retried_without_loss_or_duplicates(grpc_receiver: Any) -> None:
    import grpc

    grpc_receiver.fail(3, grpc.StatusCode.UNAVAILABLE)
    handler = OtlpHandler(endpoint=grpc_receiver.url, protocol="grpc", headers={"Authorization": "Bearer grpc-secret"},
                          linger=0.01, backoff=0.01, max_backoff=0.05)  # fmt: skip
    _deliver(handler, 25)
    assert _bodies(grpc_receiver) == [f"m{i}" for i in range(25)]
    assert handler.counters["retries"] >= 3


def test_grpc_unauthenticated_opens_the_circuit(grpc_receiver: Any) -> None:
    handler = OtlpHandler(endpoint=grpc_receiver.url, protocol="grpc", headers={"Authorization": "Bearer wrong"},
                          linger=0.01, exit_timeout=1)  # fmt: skip
    try:
        handler.handle_batch([_record("x")])
        deadline = time.monotonic() + 10
        while handler.health()["state"] != "unauthorized" and time.monotonic() < deadline:
            time.sleep(0.05)
        assert handler.health()["state"] == "unauthorized"
    finally:
        handler.close()
    assert _bodies(grpc_receiver) == []


def test_grpc_conformance(grpc_receiver: Any) -> None:
    from micktrace.testing import check_handler

    def read_back() -> List[Dict[str, Any]]:
        return [dict({kv.key: _plain(kv.value) for kv in lr.attributes}, message=lr.body.string_value,
                     level=lr.severity_text.replace("WARN", "WARNING").replace("FATAL", "CRITICAL"))
                for _resource, lr in grpc_receiver.records()]  # fmt: skip

    report = check_handler(
        lambda: OtlpHandler(endpoint=grpc_receiver.url, protocol="grpc",
                            headers={"Authorization": "Bearer grpc-secret"}, linger=0.01),
        read_back, fork=False,
    )  # fmt: skip
    assert report.passed and not report.failed, str(report)
