"""The newrelic handler against a loopback HTTPS emulator of the New Relic Log API.

The emulator (tests/support/intakes.py) checks X-License-Key / Api-Key,
gunzips, parses and validates the detailed format ({"common", "logs"} blocks)
and enforces the 1 MB payload limit on what is sent. New Relic has no
standalone log client to check our format with (its agent forwards logs from
inside an instrumented application only), so the emulator follows the Log API
documentation.
"""

from __future__ import annotations

import json
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
from micktrace.handlers.network import newrelic as nr_module
from micktrace.handlers.network.newrelic import NewRelicHandler
from micktrace.record import LogRecord
from micktrace.testing import check_handler
from support.handler_tests import fallback_spec as _fallback
from support.handler_tests import handler_row as _row
from support.intakes import NewRelicIntake, tls_cert

SRC = str(Path(__file__).resolve().parents[1] / "src")

SPEC_EXAMPLE = """
import micktrace

micktrace.configure(
    level="INFO",
    handlers=[{
        "type": "newrelic",
        "license_key": "your-license-key",
        "app_name": "my-application"
    }]
)

logger = micktrace.get_logger(__name__)
logger.info("Database query", table="users", duration_ms=45, rows_returned=150)
"""


@pytest.fixture(scope="module")
def cert(tmp_path_factory: pytest.TempPathFactory) -> Tuple[str, str]:
    return tls_cert(tmp_path_factory.mktemp("tls"))


@pytest.fixture
def intake(cert: Tuple[str, str]) -> Iterator[NewRelicIntake]:
    server = NewRelicIntake(*cert)
    yield server
    server.close()


@pytest.fixture(autouse=True)
def _reset(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.delenv("NEW_RELIC_LICENSE_KEY", raising=False)
    yield
    micktrace.shutdown(timeout=2)
    micktrace.configure(reset=True)


def _spec(intake: NewRelicIntake, **options: Any) -> Dict[str, Any]:
    spec: Dict[str, Any] = {"type": "newrelic", "license_key": intake.license_key, "endpoint": intake.url,
                            "ca_certs": intake.ca_certs, "linger": 0.05, "backoff": 0.02,
                            "max_backoff": 0.2}  # fmt: skip
    spec.update(options)
    return spec


def _seqs(intake: NewRelicIntake) -> List[int]:
    return [e["seq"] for e in intake.snapshot() if "seq" in e]


def test_spec_example_runs_as_written(intake: NewRelicIntake, monkeypatch: pytest.MonkeyPatch) -> None:
    """The README block verbatim; only the US endpoint is the loopback one (trusted through SSL_CERT_FILE)."""
    intake.license_key = "your-license-key"
    monkeypatch.setitem(nr_module.REGIONS, "us", intake.url)
    monkeypatch.setenv("SSL_CERT_FILE", intake.ca_certs)
    exec(compile(SPEC_EXAMPLE, "<spec>", "exec"), {"__name__": "spec_example"})
    assert micktrace.flush(10)
    (log,) = intake.wait(1)
    assert log["message"] == "Database query" and log["level"] == "INFO"
    assert (log["table"], log["duration_ms"], log["rows_returned"]) == ("users", 45, 150)
    assert intake.common == [{"hostname": socket.gethostname(), "instrumentation.provider": "micktrace",
                              "service.name": "my-application", "entity.name": "my-application"}]  # fmt: skip
    assert log["logger.name"] == "spec_example" and isinstance(log["timestamp"], int)
    request = intake.recorder.accepted()[0]
    assert request.headers["x-license-key"] == "your-license-key" and request.headers["content-encoding"] == "gzip"


def test_records_arrive_once_in_order_within_the_payload_limit(intake: NewRelicIntake) -> None:
    micktrace.configure(service="billing", environment="staging", version="2.1.0",
                        handlers=[_spec(intake, hostname="web-7", linger=0.3)])  # fmt: skip
    log = micktrace.get_logger("app.billing").bind(tenant="acme")
    with micktrace.context(request_id="req-1"):
        for i in range(3_000):
            log.info("charged " + "d" * 2_000, seq=i, level="mine", message="also mine")
    assert micktrace.flush(20)
    assert _seqs(intake) == list(range(3_000))
    first = intake.snapshot()[0]
    assert first["service.name"] == first["entity.name"] == "billing" and first["hostname"] == "web-7"
    assert first["environment"] == "staging" and first["version"] == "2.1.0" and "service" not in first
    assert first["request_id"] == "req-1" and first["tenant"] == "acme" and first["level"] == "INFO"
    assert first["fields.level"] == "mine" and first["fields.message"] == "also mine"
    requests = intake.recorder.accepted()
    assert len(requests) >= 6 and not intake.rejections  # 6 MB of logs, at most 1 MB a request
    assert all(len(r.body) <= 1_000_000 for r in requests)  # uncompressed, so compressed too
    assert _row()["delivered"] == 3_000


def test_levels_exceptions_and_trace_ids(intake: NewRelicIntake) -> None:
    from opentelemetry.sdk.trace import TracerProvider

    tracer = TracerProvider().get_tracer("t")
    micktrace.configure(level="TRACE", handlers=[_spec(intake)])
    log = micktrace.get_logger("lv")
    for seq, name in enumerate(("trace", "debug", "info", "warning", "error", "critical")):
        getattr(log, name)(name, seq=seq)
    with tracer.start_as_current_span("op") as span:
        try:
            raise ValueError("bad value")
        except ValueError:
            log.exception("failed", seq=6)
        ctx = span.get_span_context()
    assert micktrace.flush(10)
    got = sorted(intake.wait(7), key=lambda e: e["seq"])
    assert [e["level"] for e in got] == ["TRACE", "DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL", "ERROR"]
    failed = got[6]
    assert failed["error.class"] == "ValueError" and failed["error.message"] == "bad value"
    assert "Traceback" in failed["error.stack"]
    assert failed["trace.id"] == f"{ctx.trace_id:032x}" and failed["span.id"] == f"{ctx.span_id:016x}"
    assert failed["trace_id"] == failed["trace.id"]  # the original stays
    assert "trace.id" not in got[0]


def test_fields_named_like_ours_are_renamed_not_lost(intake: NewRelicIntake) -> None:
    micktrace.configure(handlers=[_spec(intake)])
    with micktrace.context(**{"trace.id": "ctx-trace"}):
        micktrace.get_logger("names").info("m", seq=0, **{"logger.name": "field-logger", "hostname": "field-host"})
    assert micktrace.flush(10)
    (log,) = intake.wait(1)
    assert log["logger.name"] == "names" and log["fields.logger.name"] == "field-logger"
    assert log["hostname"] == socket.gethostname() and log["fields.hostname"] == "field-host"
    assert log["context.trace.id"] == "ctx-trace" and "trace.id" not in log


def test_one_block_per_service_in_a_batch(intake: NewRelicIntake) -> None:
    handler = NewRelicHandler(license_key=intake.license_key, endpoint=intake.url, ca_certs=intake.ca_certs)

    def record(seq: int, service: str) -> LogRecord:
        return LogRecord(1.7e9 + seq, 20, "x", f"m{seq}", {"seq": seq}, {}, {"service": service}, None, None, 0, 0)

    handler.handle_batch([record(0, "a"), record(1, "a"), record(2, "b"), record(3, "a")])
    handler.flush()
    handler.close()
    assert [e["seq"] for e in intake.snapshot()] == [0, 1, 2, 3]
    assert [c["service.name"] for c in intake.common] == ["a", "b", "a"]
    assert [e["service.name"] for e in intake.snapshot()] == ["a", "a", "b", "a"]
    assert [e["timestamp"] for e in intake.snapshot()] == [1_700_000_000_000 + i * 1000 for i in range(4)]


def test_oversized_record_is_truncated(intake: NewRelicIntake) -> None:
    micktrace.configure(handlers=[_spec(intake)])
    micktrace.get_logger("big").info("q" * 3_000_000, seq=0)
    assert micktrace.flush(10)
    (log,) = intake.wait(1)
    assert "[truncated by micktrace" in log["message"] and not intake.rejections
    assert _row()["truncated"] == 1


# -- options -------------------------------------------------------------------------------------


def test_keys_regions_and_endpoint(monkeypatch: pytest.MonkeyPatch) -> None:
    us, eu = "https://log-api.newrelic.com/log/v1", "https://log-api.eu.newrelic.com/log/v1"
    handler = NewRelicHandler(license_key="abcd1234NRAL")
    assert handler.describe() == us and handler.sender.headers["X-License-Key"] == "abcd1234NRAL"
    assert "Api-Key" not in handler.sender.headers
    assert NewRelicHandler(license_key="eu01xxabcd1234NRAL").describe() == eu  # an EU key implies the EU
    assert NewRelicHandler(license_key="eu01xxabcd1234NRAL", region="us").describe() == us
    assert NewRelicHandler(license_key="abcd1234NRAL", region="eu").describe() == eu
    user = NewRelicHandler(api_key="NRAK-ABCDEF")
    assert user.sender.headers["Api-Key"] == "NRAK-ABCDEF" and "X-License-Key" not in user.sender.headers
    assert user.describe() == us
    monkeypatch.setenv("NEW_RELIC_LICENSE_KEY", "eu01xxfromenv")
    from_env = NewRelicHandler()
    assert from_env.sender.headers["X-License-Key"] == "eu01xxfromenv" and from_env.describe() == eu
    fedramp = NewRelicHandler(endpoint="https://gov-log-api.newrelic.com/log/v1")
    assert fedramp.describe() == "https://gov-log-api.newrelic.com/log/v1"


def test_bad_options_are_config_errors() -> None:
    with pytest.raises(ConfigError) as info:
        micktrace.configure(handlers=[{"type": "newrelic", "app_name": "x"}])
    assert info.value.key == "handlers[0].license_key"
    bad: List[Dict[str, Any]] = [{"region": "ap"}, {"endpoint": "ftp://x"}, {"app_name": 3}, {"license_key": ""},
                                 {"api_key": "NRAK-x1234"}]  # fmt: skip
    for options in bad:
        with pytest.raises(ConfigError) as info:
            NewRelicHandler(**{"license_key": "abcd1234NRAL", **options})
        assert "abcd1234NRAL" not in str(info.value) and "NRAK-x1234" not in str(info.value)


def test_api_key_reaches_the_api(intake: NewRelicIntake) -> None:
    micktrace.configure(service="svc", handlers=[_spec(intake, license_key=None, api_key=intake.api_key,
                                                       app_name="explicit")])  # fmt: skip
    micktrace.get_logger("k").info("x", seq=0)
    assert micktrace.flush(10)
    (log,) = intake.wait(1)
    assert log["service.name"] == "explicit" and log["service"] == "svc"  # app_name wins; the static field stays
    assert intake.recorder.accepted()[0].headers["api-key"] == intake.api_key


def test_secrets_never_show(intake: NewRelicIntake, capsys: pytest.CaptureFixture[str]) -> None:
    key = "nr-secret-license-abcdef0123456789"
    handler = NewRelicHandler(license_key=key, endpoint=intake.url, ca_certs=intake.ca_certs, linger=0.01)
    intake.before = lambda req: (403, {}, f"Forbidden: {req.headers.get('x-license-key')}".encode())
    micktrace.configure(handlers=[handler])
    micktrace.get_logger("s").info("x", seq=0)
    micktrace.flush(5)
    health = micktrace.health()
    assert health["handlers"]["NewRelicHandler"]["state"] == "unauthorized"
    assert "Forbidden: [REDACTED]" in str(handler.last_error)
    shown = repr(handler) + json.dumps(health, default=str) + json.dumps(micktrace.metrics(), default=str)
    assert key not in shown and key not in capsys.readouterr().err


def test_conformance(intake: NewRelicIntake) -> None:
    def break_handler(_handler: Any) -> None:
        intake.license_key = "rotated-away"

    report = check_handler(lambda: _spec(intake, linger=0.01, breaker_cooldown=60), intake.snapshot,
                           break_handler=break_handler)  # fmt: skip
    assert report.ok and not report.skipped, str(report)


# -- faults ----------------------------------------------------------------------------------------


def test_429_retry_after_503_outage_resets_and_a_hang_lose_and_double_nothing(intake: NewRelicIntake) -> None:
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
    assert micktrace.health()["handlers"]["NewRelicHandler"]["state"] == "ok"


def test_a_400_for_one_record_isolates_it(intake: NewRelicIntake, tmp_path: Path) -> None:
    intake.before = lambda req: (400, {}, b'{"error":"bad payload"}') if b"poison" in req.body else None
    fallback = tmp_path / "fallback.jsonl"
    micktrace.configure(handlers=[_spec(intake, linger=0.5)], fallback=_fallback(fallback))
    log = micktrace.get_logger("isolate")
    for i in range(64):
        log.info("event", seq=i, kind="poison" if i == 37 else "ok")
    assert micktrace.flush(10)
    assert _seqs(intake) == [i for i in range(64) if i != 37]
    assert [json.loads(line)["seq"] for line in fallback.read_text().splitlines()] == [37]
    assert _row()["rejected"] == 1
    assert micktrace.health()["handlers"]["NewRelicHandler"]["state"] == "ok"


def test_403_unauthorized_then_a_fixed_key_recovers(intake: NewRelicIntake, tmp_path: Path) -> None:
    fallback = tmp_path / "fallback.jsonl"
    good = intake.license_key
    intake.license_key = "revoked"
    micktrace.configure(handlers=[_spec(intake, breaker_cooldown=0.5, license_key=good)], fallback=_fallback(fallback))
    log = micktrace.get_logger("auth")
    for i in range(10):
        log.info("event", seq=i)
    micktrace.flush(5)
    health = micktrace.health()
    assert health["handlers"]["NewRelicHandler"]["state"].startswith("unauthorized")
    assert health["status"] == "failing"
    intake.license_key = good
    assert intake.recorder.wait_for(lambda: micktrace.health()["handlers"]["NewRelicHandler"]["state"]
                                    == "unauthorized (probing)", 5)  # fmt: skip
    for i in range(10, 20):
        log.info("event", seq=i)
    assert micktrace.flush(10)
    lost = sorted(json.loads(line)["seq"] for line in fallback.read_text().splitlines())
    assert lost + _seqs(intake) == list(range(20))  # each record once: on the fallback or delivered
    assert _seqs(intake) == list(range(10, 20))
    assert micktrace.health()["handlers"]["NewRelicHandler"]["state"] == "ok"


def test_exit_with_a_backlog_delivers_it(intake: NewRelicIntake) -> None:
    script = textwrap.dedent(
        f"""
        import micktrace
        micktrace.configure(handlers=[{{"type": "newrelic", "license_key": {intake.license_key!r},
                                        "endpoint": {intake.url!r}, "ca_certs": {intake.ca_certs!r}, "linger": 5}}])
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


def test_no_newrelic_package_is_needed(intake: NewRelicIntake, tmp_path: Path) -> None:
    """The handler is stdlib-only: with newrelic and requests unimportable it still delivers."""
    blocked = tmp_path / "blocked"
    blocked.mkdir()
    for name in ("newrelic", "requests", "urllib3"):
        (blocked / f"{name}.py").write_text(f"raise ImportError('{name} is blocked in this test')\n")
    script = textwrap.dedent(
        f"""
        import micktrace
        micktrace.configure(handlers=[{{"type": "newrelic", "license_key": {intake.license_key!r},
                                        "endpoint": {intake.url!r}, "ca_certs": {intake.ca_certs!r}}}])
        micktrace.get_logger("bare").info("no sdk", seq=0)
        """
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(blocked), SRC])}
    proc = subprocess.run([sys.executable, "-c", script], env=env, timeout=30, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert _seqs(intake) == [0]
