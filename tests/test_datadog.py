# ruff: noqa: W291 (the spec's example is pasted verbatim, trailing spaces included)
"""The datadog handler against a loopback HTTPS emulator of the Datadog logs intake (v2).

The emulator (tests/support/intakes.py) checks DD-API-KEY, gunzips, parses and
validates the entries and enforces the published limits; the official
``datadog-api-client`` reads our entries back and submits through the same
emulator, so both sides speak one protocol.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any, Dict, Iterator, List, Tuple

import pytest

import micktrace
from micktrace.errors import ConfigError
from micktrace.handlers.network import datadog as dd_module
from micktrace.handlers.network.datadog import SITES, DatadogHandler, status_of
from micktrace.testing import check_handler
from support.intakes import DatadogIntake, tls_cert

SRC = str(Path(__file__).resolve().parents[1] / "src")

SPEC_EXAMPLE = """
import micktrace

micktrace.configure(
    level="INFO",
    handlers=[{
        "type": "datadog",
        "api_key": "your-api-key",
        "service": "my-service", 
        "env": "production"
    }]
)

logger = micktrace.get_logger(__name__)
logger.info("Payment processed", amount=100.0, currency="USD", customer_id=12345)
"""


@pytest.fixture(scope="module")
def cert(tmp_path_factory: pytest.TempPathFactory) -> Tuple[str, str]:
    return tls_cert(tmp_path_factory.mktemp("tls"))


@pytest.fixture
def intake(cert: Tuple[str, str]) -> Iterator[DatadogIntake]:
    server = DatadogIntake(*cert)
    yield server
    server.close()


@pytest.fixture(autouse=True)
def _reset() -> Iterator[None]:
    # datadog_api_client's Configuration() sets the levels of these stdlib loggers: give them back
    loggers = [logging.getLogger(name) for name in ("urllib3", "datadog_api_client")]
    levels = [logger.level for logger in loggers]
    yield
    micktrace.shutdown(timeout=2)
    micktrace.configure(reset=True)
    for logger, level in zip(loggers, levels):
        logger.setLevel(level)


def _spec(intake: DatadogIntake, **options: Any) -> Dict[str, Any]:
    spec: Dict[str, Any] = {"type": "datadog", "api_key": intake.api_key, "endpoint": intake.url,
                            "ca_certs": intake.ca_certs, "linger": 0.05, "backoff": 0.02,
                            "max_backoff": 0.2}  # fmt: skip
    spec.update(options)
    return spec


def _fallback(path: Path) -> Dict[str, Any]:
    return {"type": "file", "path": str(path), "dispatch": "sync", "format": "json"}


def _row() -> Dict[str, Any]:
    (row,) = micktrace.metrics()["handlers"].values()
    return dict(row)


def _seqs(intake: DatadogIntake) -> List[int]:
    return [e["seq"] for e in intake.snapshot() if "seq" in e]


# -- the spec's example and the wire format --------------------------------------------------------


def test_spec_example_runs_as_written(intake: DatadogIntake, monkeypatch: pytest.MonkeyPatch) -> None:
    """The README block verbatim; only the intake's address is the loopback one (trusted through SSL_CERT_FILE)."""
    intake.api_key = "your-api-key"
    monkeypatch.setattr(dd_module, "INTAKE_URL", intake.url)
    monkeypatch.setenv("SSL_CERT_FILE", intake.ca_certs)
    exec(compile(SPEC_EXAMPLE, "<spec>", "exec"), {"__name__": "spec_example"})
    assert micktrace.flush(10)
    (entry,) = intake.wait(1)
    assert entry["message"] == "Payment processed"
    assert (entry["amount"], entry["currency"], entry["customer_id"]) == (100.0, "USD", 12345)
    assert entry["service"] == "my-service" and entry["ddtags"] == "env:production"
    assert entry["status"] == "info" and entry["ddsource"] == "python" and entry["logger"] == {"name": "spec_example"}
    assert entry["hostname"] == socket.gethostname()
    request = intake.recorder.accepted()[0]
    assert request.headers["content-encoding"] == "gzip" and request.headers["dd-api-key"] == "your-api-key"
    assert request.path == "/api/v2/logs"


def test_records_arrive_once_in_order_with_fields_context_and_static(intake: DatadogIntake) -> None:
    micktrace.configure(service="billing", environment="staging", version="2.1.0", fields={"region": "eu-1"},
                        handlers=[_spec(intake, tags={"team": "payments"}, hostname="web-7")])  # fmt: skip
    log = micktrace.get_logger("app.billing").bind(tenant="acme")
    with micktrace.context(request_id="req-1"):
        for i in range(2_500):
            log.info("charged", seq=i, amount=i / 10, status="paid", message_id=f"m{i}")
    assert micktrace.flush(15)
    assert _seqs(intake) == list(range(2_500))
    first = intake.snapshot()[0]
    assert first["service"] == "billing" and first["ddtags"] == "team:payments,env:staging,version:2.1.0"
    assert first["hostname"] == "web-7" and first["region"] == "eu-1" and first["request_id"] == "req-1"
    assert first["tenant"] == "acme" and first["fields.status"] == "paid" and first["status"] == "info"
    assert "environment" not in first and "version" not in first  # they are the env/version tags
    assert all(len(r.json()) <= 1_000 for r in intake.recorder.accepted())  # the intake's entry limit
    row = _row()
    assert row["delivered"] == 2_500 and row["fallback"] == row["dropped"] == 0
    assert 3 <= row["batches_sent"] < 100


def test_an_int_too_long_to_print_is_delivered_marked_not_sent_to_the_fallback(intake: DatadogIntake) -> None:
    micktrace.configure(handlers=[_spec(intake)], masking=False)  # masking would have replaced them already
    micktrace.get_logger("app").info("huge", seq=0, big=10**5000, nested={"n": [10**4400]})
    assert micktrace.flush(15)
    entry = intake.snapshot()[0]
    assert entry["seq"] == 0 and entry["big"].startswith("<int of about 5001 digits, too long to print")
    assert entry["nested"]["n"][0].startswith("<int of about 4401 digits")
    row = _row()
    assert row["delivered"] == 1 and row["fallback"] == 0


def test_levels_map_to_datadog_statuses(intake: DatadogIntake) -> None:
    micktrace.configure(level="TRACE", handlers=[_spec(intake)])
    log = micktrace.get_logger("lv")
    for seq, name in enumerate(("trace", "debug", "info", "warning", "error", "critical")):
        getattr(log, name)(name, seq=seq)
    log.log(25, "custom", seq=6)
    assert micktrace.flush(10)
    got = sorted(intake.wait(7), key=lambda e: e["seq"])
    assert [e["status"] for e in got] == ["debug", "debug", "info", "warning", "error", "critical", "info"]
    assert [e["level"] for e in got] == ["TRACE", "DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL", "LEVEL25"]
    assert status_of(100) == "critical" and status_of(0) == "debug"


def test_exception_and_caller_go_where_datadog_reads_them(intake: DatadogIntake) -> None:
    micktrace.configure(handlers=[_spec(intake)])
    try:
        raise KeyError("missing")
    except KeyError:
        micktrace.get_logger("err").exception("lookup failed", seq=0, error="mine")
    assert micktrace.flush(10)
    (entry,) = intake.wait(1)
    assert entry["error"]["kind"] == "KeyError" and "missing" in entry["error"]["message"]
    assert "Traceback" in entry["error"]["stack"] and entry["fields.error"] == "mine"


def test_fields_named_like_entry_keys_are_renamed_not_lost(intake: DatadogIntake) -> None:
    micktrace.configure(service="svc", handlers=[_spec(intake)])
    with micktrace.context(hostname="ctx-host"):
        micktrace.get_logger("names").info("real message", seq=0, message="field message", service="field-svc",
                                           logger="field-logger", ddtags="x", dd={"a": 1})  # fmt: skip
    assert micktrace.flush(10)
    (entry,) = intake.wait(1)
    assert entry["message"] == "real message" and entry["fields.message"] == "field message"
    assert entry["service"] == "svc" and entry["fields.service"] == "field-svc"
    assert entry["logger"] == {"name": "names"} and entry["fields.logger"] == "field-logger"
    assert entry["hostname"] == socket.gethostname() and entry["context.hostname"] == "ctx-host"
    assert entry["fields.ddtags"] == "x" and entry["fields.dd"] == {"a": 1} and "dd" not in entry
    raw = intake.recorder.accepted()[0].body.decode()
    assert raw.count('"service":') == 1 and raw.count('"message":') == 1  # no key written twice


def test_trace_ids_from_a_real_opentelemetry_span(intake: DatadogIntake) -> None:
    from opentelemetry import trace
    from opentelemetry.sdk.trace import TracerProvider

    tracer = TracerProvider().get_tracer("t")
    micktrace.configure(handlers=[_spec(intake)])
    log = micktrace.get_logger("traced")
    with tracer.start_as_current_span("op") as span:
        log.info("inside", seq=0)
        ctx = span.get_span_context()
    with micktrace.context(trace_id="not-hex-request-id"):
        log.info("middleware id", seq=1)
    log.info("outside", seq=2)
    assert micktrace.flush(10)
    inside, middleware, outside = sorted(intake.wait(3), key=lambda e: e["seq"])
    assert trace.get_current_span() is trace.INVALID_SPAN
    assert inside["dd"] == {"trace_id": str(ctx.trace_id & (2**64 - 1)), "span_id": str(ctx.span_id)}
    assert inside["trace_id"] == f"{ctx.trace_id:032x}" and inside["span_id"] == f"{ctx.span_id:016x}"
    assert "dd" not in middleware and middleware["trace_id"] == "not-hex-request-id"
    assert "dd" not in outside and "trace_id" not in outside


def test_oversized_record_is_truncated_within_the_entry_limit(intake: DatadogIntake) -> None:
    micktrace.configure(handlers=[_spec(intake)])
    wide = {f"f{i}": "x" * 8000 for i in range(300)}  # 2.4 MB together
    micktrace.get_logger("big").info("wide " + "y" * 8000, seq=0, **wide)
    big = "z" * 3_000_000
    micktrace.get_logger("big").info(big, seq=1)
    assert micktrace.flush(10)
    got = intake.wait(2)
    assert len(got) == 2 and intake.oversized == 0 and not intake.rejections
    assert all("[truncated by micktrace" in e["message"] for e in got)
    assert got[0]["micktrace_truncated"] is True
    assert _row()["truncated"] == 2


def test_large_records_split_into_requests_within_5_mb(intake: DatadogIntake) -> None:
    micktrace.configure(handlers=[_spec(intake, linger=0.5)])
    log = micktrace.get_logger("bulk")
    for i in range(40):
        log.info("p" * 400_000, seq=i)  # 16 MB in all
    assert micktrace.flush(20)
    assert _seqs(intake) == list(range(40))
    assert not intake.rejections and len(intake.recorder.accepted()) >= 4
    assert all(len(r.body) <= 5_000_000 for r in intake.recorder.accepted())


# -- options -------------------------------------------------------------------------------------


def test_sites_env_and_endpoint(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DD_SITE", raising=False)
    monkeypatch.delenv("DD_API_KEY", raising=False)
    for site in SITES:
        assert DatadogHandler(api_key="k" * 32, site=site).describe() == f"https://http-intake.logs.{site}/api/v2/logs"
    assert DatadogHandler(api_key="k" * 32).describe() == "https://http-intake.logs.datadoghq.com/api/v2/logs"
    monkeypatch.setenv("DD_SITE", "datadoghq.eu")
    monkeypatch.setenv("DD_API_KEY", "env-key-1234")
    handler = DatadogHandler()
    assert handler.describe() == "https://http-intake.logs.datadoghq.eu/api/v2/logs"
    assert handler.sender.headers["DD-API-KEY"] == "env-key-1234"
    assert DatadogHandler(site="us5.datadoghq.com").site == "us5.datadoghq.com"  # the option wins
    proxy = DatadogHandler(endpoint="https://dd-proxy.internal:8443/api/v2/logs", site="ddog-gov.com")
    assert proxy.describe() == "https://dd-proxy.internal:8443/api/v2/logs"


def test_bad_options_are_config_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DD_API_KEY", raising=False)
    monkeypatch.delenv("DD_SITE", raising=False)
    with pytest.raises(ConfigError) as info:
        micktrace.configure(handlers=[{"type": "datadog", "service": "x"}])
    assert info.value.key == "handlers[0].api_key"
    bad: List[Dict[str, Any]] = [{"site": "datadoghq.org"}, {"endpoint": "ftp://x"}, {"tags": "a:b"},
                                 {"tags": ["a,b"]}, {"service": 3}, {"api_key": ""}]  # fmt: skip
    for options in bad:
        with pytest.raises(ConfigError):
            DatadogHandler(**{"api_key": "k" * 32, **options})
    with pytest.raises(ConfigError) as info:
        micktrace.configure(handlers=[{"type": "datadog", "api_key": "k" * 32, "colour": "red"}])
    assert info.value.key == "handlers[0].colour"


def test_service_env_version_source_and_tags_options(intake: DatadogIntake) -> None:
    micktrace.configure(service="from-configure", environment="prod", version="1.0",
                        handlers=[_spec(intake, service="checkout", env="canary", version="9.9", source="celery",
                                        tags=["team:core", "env:pinned"])])  # fmt: skip
    micktrace.get_logger("o").info("x", seq=0)
    assert micktrace.flush(10)
    (entry,) = intake.wait(1)
    assert entry["service"] == "checkout" and entry["ddsource"] == "celery"
    assert entry["ddtags"] == "team:core,env:pinned,version:9.9"  # a tag given explicitly is not doubled


def test_secrets_never_show(intake: DatadogIntake, capsys: pytest.CaptureFixture[str]) -> None:
    key = "dd-secret-key-abcdef0123456789"
    intake.api_key = "another-key"
    handler = DatadogHandler(api_key=key, endpoint=intake.url, ca_certs=intake.ca_certs, linger=0.01)
    intake.before = lambda req: (403, {}, f"Forbidden: bad key {req.headers.get('dd-api-key')}".encode())
    micktrace.configure(handlers=[handler])
    micktrace.get_logger("s").info("x", seq=0)
    micktrace.flush(5)
    health = micktrace.health()
    assert health["handlers"]["DatadogHandler"]["state"] == "unauthorized"
    assert "bad key [REDACTED]" in str(handler.last_error)
    shown = repr(handler) + json.dumps(health, default=str) + json.dumps(micktrace.metrics(), default=str)
    assert key not in shown and key not in capsys.readouterr().err


# -- the official client ---------------------------------------------------------------------------


def test_the_official_client_reads_our_entries_and_speaks_to_the_emulator(intake: DatadogIntake) -> None:
    from datadog_api_client import ApiClient, Configuration
    from datadog_api_client.exceptions import ForbiddenException
    from datadog_api_client.v2.api.logs_api import LogsApi
    from datadog_api_client.v2.model.content_encoding import ContentEncoding
    from datadog_api_client.v2.model.http_log import HTTPLog
    from datadog_api_client.v2.model.http_log_item import HTTPLogItem

    micktrace.configure(service="svc", environment="test", handlers=[_spec(intake)])
    with micktrace.context(trace_id="0af7651916cd43dd8448eb211c80319c", span_id="b7ad6b7169203331"):
        micktrace.get_logger("c").warning("via micktrace", seq=0, nested={"a": [1, 2]}, ok=True)
    assert micktrace.flush(10)
    ours = intake.wait(1)
    config = Configuration(host=intake.base, api_key={"apiKeyAuth": intake.api_key}, ssl_ca_cert=intake.ca_certs)
    with ApiClient(config) as client:
        parsed = client.deserialize(json.dumps(ours), (HTTPLog,), True)
        assert isinstance(parsed.value[0], HTTPLogItem)
        assert parsed.value[0].to_dict() == ours[0]  # every field, types included, as the client reads it
        answer = LogsApi(client).submit_log(
            HTTPLog([HTTPLogItem(message="via the client", ddsource="python", service="svc", ddtags="env:x")]),
            content_encoding=ContentEncoding.GZIP,
        )
        assert answer == {}
        wrong = Configuration(host=intake.base, api_key={"apiKeyAuth": "wrong"}, ssl_ca_cert=intake.ca_certs)
        with ApiClient(wrong) as bad_client, pytest.raises(ForbiddenException):
            LogsApi(bad_client).submit_log(HTTPLog([HTTPLogItem(message="refused")]))
    theirs = intake.snapshot()[1]
    assert theirs["message"] == "via the client" and set(theirs) <= set(ours[0])
    assert [r.headers.get("content-encoding") for r in intake.recorder.accepted()] == ["gzip", "gzip"]


def test_conformance(intake: DatadogIntake) -> None:
    def break_handler(_handler: Any) -> None:
        intake.api_key = "rotated-away"

    report = check_handler(lambda: _spec(intake, linger=0.01, breaker_cooldown=60), intake.snapshot,
                           break_handler=break_handler)  # fmt: skip
    assert report.ok and not report.skipped, str(report)


# -- faults ----------------------------------------------------------------------------------------


def test_429_retry_after_503_outage_resets_and_a_hang_lose_and_double_nothing(intake: DatadogIntake) -> None:
    rec = intake.recorder
    rec.fail(1, 429, headers={"Retry-After": "1"})
    rec.fail(2, 503)
    rec.reset(2)
    rec.hang(1, 3.0)
    rec.fail_for(2.0, 503)
    micktrace.configure(handlers=[_spec(intake, timeout=1.0, retries=40, backoff=0.05, max_backoff=0.5, linger=0.02)])
    log = micktrace.get_logger("faults")
    for i in range(600):
        log.info("event", seq=i, uid=f"u{i}")
    assert micktrace.flush(30)
    entries = intake.wait(600, 30)
    assert [e["uid"] for e in entries] == [f"u{i}" for i in range(600)]  # once each, in order
    statuses = rec.statuses()
    assert 429 in statuses and 503 in statuses
    row = _row()
    assert row["retries"] >= 5 and row["fallback"] == row["dropped"] == 0
    assert micktrace.health()["handlers"]["DatadogHandler"]["state"] == "ok"


def test_a_400_for_one_record_isolates_it(intake: DatadogIntake, tmp_path: Path) -> None:
    intake.before = lambda req: (400, {}, b'{"errors":["bad payload"]}') if b"poison" in req.body else None
    fallback = tmp_path / "fallback.jsonl"
    micktrace.configure(handlers=[_spec(intake, linger=0.5)], fallback=_fallback(fallback))
    log = micktrace.get_logger("isolate")
    for i in range(64):
        log.info("event", seq=i, kind="poison" if i == 37 else "ok")
    assert micktrace.flush(10)
    assert _seqs(intake) == [i for i in range(64) if i != 37]
    lost = [json.loads(line) for line in fallback.read_text().splitlines()]
    assert [r["seq"] for r in lost] == [37]
    assert _row()["rejected"] == 1
    assert micktrace.health()["handlers"]["DatadogHandler"]["state"] == "ok"


def test_403_unauthorized_then_a_fixed_key_recovers(intake: DatadogIntake, tmp_path: Path) -> None:
    fallback = tmp_path / "fallback.jsonl"
    good = intake.api_key
    intake.api_key = "revoked"
    micktrace.configure(handlers=[_spec(intake, breaker_cooldown=0.5, api_key=good)], fallback=_fallback(fallback))
    log = micktrace.get_logger("auth")
    for i in range(10):
        log.info("event", seq=i)
    micktrace.flush(5)
    health = micktrace.health()
    assert health["handlers"]["DatadogHandler"]["state"].startswith("unauthorized")
    assert health["status"] == "failing"
    intake.api_key = good  # the key is valid again (rotated on the Datadog side)
    assert intake.recorder.wait_for(lambda: micktrace.health()["handlers"]["DatadogHandler"]["state"]
                                    == "unauthorized (probing)", 5)  # fmt: skip
    for i in range(10, 20):
        log.info("event", seq=i)
    assert micktrace.flush(10)
    lost = sorted(json.loads(line)["seq"] for line in fallback.read_text().splitlines())
    assert lost + _seqs(intake) == list(range(20))  # each record once: on the fallback or delivered
    assert _seqs(intake) == list(range(10, 20))
    assert micktrace.health()["handlers"]["DatadogHandler"]["state"] == "ok"


def test_captured_stdlib_logging_at_debug_does_not_loop(intake: DatadogIntake) -> None:
    """No SDK logs while we send (http.client does not log); the stdlib's own loggers at DEBUG, captured,
    arrive once each, and nothing the sender thread does comes back as a record."""
    stdlib_levels = {name: logging.getLogger(name).level for name in ("", "urllib3", "http.client")}
    micktrace.configure(level="DEBUG", capture_stdlib=True, handlers=[_spec(intake)])
    try:
        for name in stdlib_levels:
            logging.getLogger(name).setLevel(logging.DEBUG)
        for i in range(50):
            logging.getLogger("app.std").debug("from stdlib %d", i, extra={"seq": i})
        assert micktrace.flush(10)
        assert _seqs(intake) == list(range(50)) and len(intake.snapshot()) == 50
        assert _row()["feedback_skipped"] == 0
    finally:
        micktrace.configure(capture_stdlib=False)
        for name, level in stdlib_levels.items():
            logging.getLogger(name).setLevel(level)


def test_exit_with_a_backlog_delivers_it(intake: DatadogIntake) -> None:
    script = textwrap.dedent(
        f"""
        import micktrace
        micktrace.configure(handlers=[{{"type": "datadog", "api_key": {intake.api_key!r}, "endpoint": {intake.url!r},
                                        "ca_certs": {intake.ca_certs!r}, "linger": 5}}])
        log = micktrace.get_logger("exit")
        for i in range(500):
            log.info("event", seq=i)
        raise SystemExit(3)
        """
    )
    proc = subprocess.run([sys.executable, "-c", script], env={**os.environ, "PYTHONPATH": SRC}, timeout=30,
                          capture_output=True, text=True)  # fmt: skip
    assert proc.returncode == 3, proc.stderr
    assert _seqs(intake) == list(range(500))


def test_no_datadog_package_is_needed(intake: DatadogIntake, tmp_path: Path) -> None:
    """The handler is stdlib-only: with datadog, datadog_api_client and requests unimportable it still delivers."""
    blocked = tmp_path / "blocked"
    blocked.mkdir()
    for name in ("datadog", "datadog_api_client", "requests", "urllib3"):
        (blocked / f"{name}.py").write_text(f"raise ImportError('{name} is blocked in this test')\n")
    script = textwrap.dedent(
        f"""
        import micktrace
        micktrace.configure(handlers=[{{"type": "datadog", "api_key": {intake.api_key!r}, "endpoint": {intake.url!r},
                                        "ca_certs": {intake.ca_certs!r}}}])
        micktrace.get_logger("bare").info("no sdk", seq=0)
        """
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(blocked), SRC])}
    proc = subprocess.run([sys.executable, "-c", script], env=env, timeout=30, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert _seqs(intake) == [0]
