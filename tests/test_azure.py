# ruff: noqa: W291 (the spec's example is pasted verbatim, trailing spaces included)
"""The azure handler against loopback HTTPS emulators of Application Insights' track API and the
Logs Ingestion API (tests/support/azure_intakes.py).

The emulators validate what they receive as the services document it; the official
azure-monitor-ingestion client speaks to the ingestion emulator (and is what the handler
uses), and the official azure-monitor-opentelemetry-exporter speaks to the track emulator
and reads our envelopes back with its own models, so both sides speak one protocol.
"""

from __future__ import annotations

import http.client
import json
import os
import ssl
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any, Dict, Iterator, List, Tuple

import pytest

import micktrace
from micktrace.errors import ConfigError
from micktrace.handlers.network import azure_track
from micktrace.handlers.network.azure import AzureMonitorHandler
from micktrace.handlers.network.azure_track import parse_connection_string, severity_of
from micktrace.testing import check_handler
from support.azure_intakes import EXPORTER_ENV, IKEY, RULE_ID, STREAM, IngestionIntake, StaticCredential, TrackIntake
from support.intakes import tls_cert

SRC = str(Path(__file__).resolve().parents[1] / "src")
TESTS = str(Path(__file__).resolve().parent)

SPEC_EXAMPLE = """
import micktrace

micktrace.configure(
    level="INFO", 
    handlers=[{
        "type": "azure",
        "connection_string": "InstrumentationKey=your-key"
    }]
)

logger = micktrace.get_logger(__name__)
logger.info("Azure function completed", execution_time=200)
"""


@pytest.fixture(scope="module")
def cert(tmp_path_factory: pytest.TempPathFactory) -> Tuple[str, str]:
    return tls_cert(tmp_path_factory.mktemp("tls"))


@pytest.fixture
def track(cert: Tuple[str, str]) -> Iterator[TrackIntake]:
    server = TrackIntake(*cert)
    yield server
    server.close()


@pytest.fixture
def ingestion(cert: Tuple[str, str]) -> Iterator[IngestionIntake]:
    server = IngestionIntake(*cert)
    yield server
    server.close()


@pytest.fixture(autouse=True)
def _reset(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.delenv("APPLICATIONINSIGHTS_CONNECTION_STRING", raising=False)
    yield
    micktrace.shutdown(timeout=2)
    micktrace.configure(reset=True)


def _fast(**options: Any) -> Dict[str, Any]:
    out: Dict[str, Any] = {"linger": 0.05, "backoff": 0.02, "max_backoff": 0.2}
    out.update(options)
    return out


def _track_spec(intake: TrackIntake, **options: Any) -> Dict[str, Any]:
    return {"type": "azure", "connection_string": intake.connection_string, "connection_verify": intake.ca_certs,
            **_fast(**options)}  # fmt: skip


def _ingestion_spec(intake: IngestionIntake, credential: Any = None, **options: Any) -> Dict[str, Any]:
    return {"type": "azure", "endpoint": intake.url, "rule_id": RULE_ID, "stream_name": STREAM,
            "credential": credential or StaticCredential(), "connection_verify": intake.ca_certs,
            **_fast(**options)}  # fmt: skip


def _fallback(path: Path) -> Dict[str, Any]:
    return {"type": "file", "path": str(path), "dispatch": "sync", "format": "json"}


def _props(envelope: Dict[str, Any]) -> Dict[str, Any]:
    return dict(envelope["data"]["baseData"]["properties"])


def _decoded(value: str) -> Any:
    try:
        return json.loads(value)
    except ValueError:
        return value


def _track_rows(intake: TrackIntake) -> List[Dict[str, Any]]:
    """Each envelope as a query of customDimensions sees it (values read back from their JSON text)."""
    rows = []
    for envelope in intake.snapshot():
        row = {key: _decoded(value) for key, value in _props(envelope).items()}
        row["message"] = envelope["data"]["baseData"].get("message")
        rows.append(row)
    return rows


def _seqs(intake: TrackIntake) -> List[int]:
    return [int(_props(e)["seq"]) for e in intake.snapshot() if "seq" in _props(e)]


def _row_seqs(intake: IngestionIntake) -> List[int]:
    return [row["Properties"]["seq"] for row in intake.snapshot()]


def _delivered(form: str, track: TrackIntake, ingestion: IngestionIntake) -> List[int]:
    return _seqs(track) if form == "track" else _row_seqs(ingestion)


def _metrics() -> Dict[str, Any]:
    (row,) = micktrace.metrics()["handlers"].values()
    return dict(row)


def _state() -> str:
    return str(micktrace.health()["handlers"]["AzureMonitorHandler"]["state"])


# -- Application Insights: the spec's example and the envelopes -------------------------------------


def test_spec_example_runs_as_written(track: TrackIntake, monkeypatch: pytest.MonkeyPatch) -> None:
    """The README block verbatim; the track API's default address is the loopback emulator's (trusted
    through SSL_CERT_FILE), and its key is the example's."""
    track.ikey = "your-key"
    monkeypatch.setattr(azure_track, "DEFAULT_INGESTION_ENDPOINT", track.base)
    monkeypatch.setenv("SSL_CERT_FILE", track.ca_certs)
    exec(compile(SPEC_EXAMPLE, "<spec>", "exec"), {"__name__": "spec_example"})
    assert micktrace.flush(10)
    (envelope,) = track.wait(1)
    assert envelope["name"] == "Microsoft.ApplicationInsights.Message" and envelope["iKey"] == "your-key"
    base = envelope["data"]["baseData"]
    assert envelope["data"]["baseType"] == "MessageData" and base["ver"] == 2
    assert base["message"] == "Azure function completed" and base["severityLevel"] == 1
    assert base["properties"] == {"logger": "spec_example", "level": "INFO", "execution_time": "200"}
    request = track.recorder.accepted()[0]
    assert request.path == "/v2.1/track" and request.headers["content-encoding"] == "gzip"
    assert json.loads(request.body) == [envelope]


def test_envelopes_tags_and_properties(track: TrackIntake) -> None:
    micktrace.configure(service="billing", version="2.1.0", environment="prod", fields={"region": "eu-1"},
                        handlers=[_track_spec(track, cloud_role_instance="web-7")])  # fmt: skip
    log = micktrace.get_logger("app.billing").bind(tenant="acme")
    with micktrace.context(request_id="req-1", trace_id="0af7651916cd43dd8448eb211c80319c",
                           span_id="b7ad6b7169203331"):  # fmt: skip
        log.warning("charged", seq=0, amount=12.5, ok=True, none=None, nested={"a": [1, 2]}, level="mine")
    log.info("outside", seq=1)
    assert micktrace.flush(10)
    inside, outside = track.wait(2)
    assert inside["tags"] == {"ai.cloud.role": "billing", "ai.cloud.roleInstance": "web-7",
                              "ai.application.ver": "2.1.0", "ai.internal.sdkVersion": "micktrace:2.0.0",
                              "ai.operation.id": "0af7651916cd43dd8448eb211c80319c",
                              "ai.operation.parentId": "b7ad6b7169203331"}  # fmt: skip
    assert "ai.operation.id" not in outside["tags"]
    props = _props(inside)
    assert props["amount"] == "12.5" and props["ok"] == "true" and props["none"] == "null"
    assert json.loads(props["nested"]) == {"a": [1, 2]} and props["fields.level"] == "mine"
    assert props["level"] == "WARNING" and props["logger"] == "app.billing" and props["tenant"] == "acme"
    assert props["region"] == "eu-1" and props["environment"] == "prod" and props["request_id"] == "req-1"
    assert "service" not in props  # it is the cloud role
    assert inside["data"]["baseData"]["severityLevel"] == 2 and inside["time"].endswith("Z")


def test_levels_map_to_severity(track: TrackIntake) -> None:
    micktrace.configure(level="TRACE", handlers=[_track_spec(track)])
    log = micktrace.get_logger("lv")
    for seq, name in enumerate(("trace", "debug", "info", "warning", "error", "critical")):
        getattr(log, name)(name, seq=seq)
    log.log(25, "custom", seq=6)
    assert micktrace.flush(10)
    got = sorted(track.wait(7), key=lambda e: int(_props(e)["seq"]))
    assert [e["data"]["baseData"]["severityLevel"] for e in got] == [0, 0, 1, 2, 3, 4, 1]
    assert [_props(e)["level"] for e in got] == ["TRACE", "DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL", "LEVEL25"]
    assert severity_of(100) == 4 and severity_of(0) == 0


def test_an_exception_is_exception_data_with_parsed_frames(track: TrackIntake) -> None:
    micktrace.configure(handlers=[_track_spec(track)])

    def inner() -> None:
        raise KeyError("missing")

    try:
        try:
            inner()
        except KeyError as exc:
            raise RuntimeError("lookup failed") from exc
    except RuntimeError:
        micktrace.get_logger("err").exception("request failed", seq=0)
    assert micktrace.flush(10)
    (envelope,) = track.wait(1)
    assert envelope["name"] == "Microsoft.ApplicationInsights.Exception"
    base = envelope["data"]["baseData"]
    assert envelope["data"]["baseType"] == "ExceptionData" and base["severityLevel"] == 3
    outer, cause = base["exceptions"]
    assert (outer["typeName"], outer["message"], outer["id"]) == ("RuntimeError", "lookup failed", 1)
    assert (cause["typeName"], cause["outerId"]) == ("KeyError", 1) and "missing" in cause["message"]
    assert outer["parsedStack"][0]["method"] == "test_an_exception_is_exception_data_with_parsed_frames"
    assert cause["parsedStack"][0]["method"] == "inner" and cause["parsedStack"][0]["level"] == 0
    assert cause["parsedStack"][0]["fileName"] == __file__ and isinstance(cause["parsedStack"][0]["line"], int)
    assert "Traceback" in outer["stack"] and base["properties"]["message"] == "request failed"


def test_long_values_are_cut_to_the_data_model_limits(track: TrackIntake) -> None:
    micktrace.configure(handlers=[_track_spec(track)])
    micktrace.get_logger("big").info("m" * 40_000, seq=0, wide="w" * 10_000)
    micktrace.get_logger("big").info("huge", seq=1, **{f"f{i}": "x" * 8000 for i in range(200)})
    assert micktrace.flush(10)
    first, second = track.wait(2)
    assert not track.refused and track.oversized == 0
    assert len(first["data"]["baseData"]["message"]) == 32_768 and len(_props(first)["wide"]) == 8_192
    assert first["data"]["baseData"]["message"].endswith("[truncated by micktrace]")
    assert "[truncated by micktrace" in second["data"]["baseData"]["message"]  # over 1 MB: the engine's cut
    assert _metrics()["truncated"] == 1


@pytest.mark.parametrize("form", ["track", "ingestion"])
def test_hostile_values_are_delivered_marked(form: str, track: TrackIntake, ingestion: IngestionIntake) -> None:
    micktrace.configure(handlers=[_track_spec(track) if form == "track" else _ingestion_spec(ingestion)])
    micktrace.get_logger("h").info("odd values", seq=0, huge=10**5000, nan=float("nan"), raw=b"\xff", big=2**70)
    assert micktrace.flush(10)
    if form == "track":
        got = _props(track.wait(1)[0])
    else:
        got = {k: json.dumps(v) if not isinstance(v, str) else v for k, v in ingestion.wait(1)[0]["Properties"].items()}
    assert "too long to print" in got["huge"] and got["big"] == str(2**70) and got["seq"] == "0"
    assert _metrics()["delivered"] == 1 and _metrics()["fallback"] == 0


def test_the_official_exporter_and_models_agree_with_the_emulator(track: TrackIntake) -> None:
    """Azure's own exporter sends through the emulator (in a process that cannot reach the network),
    and its generated models read our envelopes and the emulator's answers back."""
    from azure.monitor.opentelemetry.exporter._generated.exporter.models import TelemetryItem, TrackResponse

    micktrace.configure(service="svc", handlers=[_track_spec(track)])
    micktrace.get_logger("c").info("via micktrace", seq=0, n=1)
    assert micktrace.flush(10)
    (ours,) = track.wait(1)
    item = TelemetryItem(ours)
    assert item.name == ours["name"] and item.instrumentation_key == IKEY and item.tags["ai.cloud.role"] == "svc"
    assert item.data.base_type == "MessageData" and item.data.base_data["message"] == "via micktrace"
    conn = http.client.HTTPSConnection("127.0.0.1", track.recorder.port,
                                       context=ssl.create_default_context(cafile=track.ca_certs))  # fmt: skip
    conn.request("POST", "/v2.1/track", body=json.dumps([ours, {"name": "broken"}]),
                 headers={"Content-Type": "application/json"})  # fmt: skip
    response = conn.getresponse()
    answer = TrackResponse(json.loads(response.read()))
    conn.close()
    assert response.status == 206 and (answer.items_received, answer.items_accepted) == (2, 1)
    assert (answer.errors[0].index, answer.errors[0].status_code) == (1, 400)
    script = textwrap.dedent(
        f"""
        import logging, os
        os.environ.update({EXPORTER_ENV!r}, SSL_CERT_FILE={track.ca_certs!r}, REQUESTS_CA_BUNDLE={track.ca_certs!r})
        import support.loopback_only as guard
        from opentelemetry.sdk._logs import LoggerProvider
        from opentelemetry.sdk._logs.export import SimpleLogRecordProcessor
        from opentelemetry.instrumentation.logging.handler import LoggingHandler
        from azure.monitor.opentelemetry.exporter import AzureMonitorLogExporter
        provider = LoggerProvider()
        exporter = AzureMonitorLogExporter(connection_string={track.connection_string!r}, disable_offline_storage=True)
        provider.add_log_record_processor(SimpleLogRecordProcessor(exporter))
        log = logging.getLogger("official")
        log.addHandler(LoggingHandler(logger_provider=provider))
        log.warning("via the exporter", extra={{"seq": 1}})
        provider.shutdown()
        assert not guard.blocked, guard.blocked
        """
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([TESTS, SRC])}
    proc = subprocess.run([sys.executable, "-c", script], env=env, timeout=60, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    theirs = track.wait(3)[-1]
    assert theirs["name"] == ours["name"] and theirs["data"]["baseData"]["properties"]["seq"] == "1"
    assert theirs["data"]["baseData"]["severityLevel"] == 2  # the exporter sends the level as a number too
    assert [status for _, status, _ in track.refused] == [400]  # only the broken item above


# -- Application Insights: partial success and faults ---------------------------------------------


def test_206_items_retried_and_400_items_to_the_fallback(track: TrackIntake, tmp_path: Path) -> None:
    throttled: Dict[int, int] = {}

    def item_status(envelope: Dict[str, Any]) -> Any:
        seq = int(_props(envelope)["seq"])
        if seq == 13:
            return 400, "Field 'message' is not acceptable"
        if seq % 10 == 3 and throttled.get(seq, 0) < 2:  # refused twice with 429, then taken
            throttled[seq] = throttled.get(seq, 0) + 1
            return 429, "Too many requests"
        if seq == 44 and not throttled.get(seq):
            throttled[seq] = 1
            return 500, "Internal error"
        return None

    track.item_status = item_status
    fallback = tmp_path / "fallback.jsonl"
    micktrace.configure(handlers=[_track_spec(track, linger=0.3)], fallback=_fallback(fallback))
    log = micktrace.get_logger("partial")
    for i in range(60):
        log.info("event", seq=i)
    assert micktrace.flush(15)
    assert sorted(_seqs(track)) == [i for i in range(60) if i != 13] and len(_seqs(track)) == 59
    lost = [json.loads(line) for line in fallback.read_text().splitlines()]
    assert [r["seq"] for r in lost] == [13]
    assert 206 in track.recorder.statuses()
    row = _metrics()
    assert row["rejected"] == 1 and row["retries"] >= 2 and row["delivered"] == 59 and row["dropped"] == 0
    assert _state() == "ok"


def test_a_whole_request_400_isolates_the_bad_record(track: TrackIntake, tmp_path: Path) -> None:
    track.before = lambda req: (400, {}, b'{"errors": "bad request"}') if b"poison" in req.body else None
    fallback = tmp_path / "fallback.jsonl"
    micktrace.configure(handlers=[_track_spec(track, linger=0.5)], fallback=_fallback(fallback))
    log = micktrace.get_logger("isolate")
    for i in range(64):
        log.info("event", seq=i, kind="poison" if i == 37 else "ok")
    assert micktrace.flush(10)
    assert _seqs(track) == [i for i in range(64) if i != 37]
    assert [json.loads(line)["seq"] for line in fallback.read_text().splitlines()] == [37]
    assert _metrics()["rejected"] == 1 and _state() == "ok"


def test_an_unknown_instrumentation_key_opens_the_circuit(track: TrackIntake, tmp_path: Path) -> None:
    fallback = tmp_path / "fallback.jsonl"
    good = track.ikey
    micktrace.configure(handlers=[_track_spec(track, breaker_cooldown=0.5)], fallback=_fallback(fallback))
    track.ikey = "0f0f0f0f-0000-0000-0000-000000000000"  # the resource was deleted: the key is unknown now
    log = micktrace.get_logger("auth")
    for i in range(10):
        log.info("event", seq=i)
    micktrace.flush(5)
    assert _state().startswith("unauthorized") and micktrace.health()["status"] == "failing"
    assert "Invalid instrumentation key" in str(micktrace.health()["handlers"]["AzureMonitorHandler"]["last_error"])
    assert len(track.recorder.requests) == 1  # not split record by record
    track.ikey = good
    assert track.recorder.wait_for(lambda: _state() == "unauthorized (probing)", 5)
    for i in range(10, 20):
        log.info("event", seq=i)
    assert micktrace.flush(10)
    lost = sorted(json.loads(line)["seq"] for line in fallback.read_text().splitlines())
    assert lost == list(range(10)) and _seqs(track) == list(range(10, 20))
    assert _state() == "ok"


def test_403_opens_the_circuit_and_a_wrong_path_refuses_the_batch_at_once(track: TrackIntake, tmp_path: Path) -> None:
    fallback = tmp_path / "fallback.jsonl"
    track.before = lambda req: (403, {}, b'{"error": "Forbidden: Entra ID authentication required"}')
    micktrace.configure(handlers=[_track_spec(track, breaker_cooldown=60)], fallback=_fallback(fallback))
    micktrace.get_logger("f").info("event", seq=0)
    micktrace.flush(5)
    assert _state() == "unauthorized" and len(fallback.read_text().splitlines()) == 1
    micktrace.configure(reset=True)
    track.before = None
    track.path = "/elsewhere"  # 404 for our path: a misconfigured endpoint
    micktrace.configure(handlers=[_track_spec(track)], fallback=_fallback(fallback))
    for i in range(20):
        micktrace.get_logger("f").info("event", seq=i)
    micktrace.flush(5)
    assert len(fallback.read_text().splitlines()) == 21 and track.recorder.statuses()[-1] == 404
    assert len(track.recorder.requests) <= 3  # one request per batch, not one per record


# -- options and secrets ------------------------------------------------------------------------------


def test_connection_strings() -> None:
    default = parse_connection_string("InstrumentationKey=k1")
    assert default["ingestionendpoint"] == "https://dc.services.visualstudio.com"
    parts = parse_connection_string("instrumentationkey=k2; EndpointSuffix=applicationinsights.azure.cn;"
                                    "Location=chinaeast2")  # fmt: skip
    assert parts["ingestionendpoint"] == "https://chinaeast2.dc.applicationinsights.azure.cn"
    parts = parse_connection_string("InstrumentationKey=k3;IngestionEndpoint=https://westeurope-5.in.applicationinsights"
                                    ".azure.com/;LiveEndpoint=https://x/;ApplicationId=app")  # fmt: skip
    assert AzureMonitorHandler(connection_string="InstrumentationKey=k3;IngestionEndpoint=https://westeurope-5.in."
                               "applicationinsights.azure.com/").describe() == \
        "https://westeurope-5.in.applicationinsights.azure.com/v2.1/track"  # fmt: skip
    for bad in ("IngestionEndpoint=https://x/", "InstrumentationKey", "InstrumentationKey=k;Authorization=aad", ""):
        with pytest.raises(ConfigError) as info:
            AzureMonitorHandler(connection_string=bad)
        assert info.value.key == "connection_string"


def test_the_environment_variable_is_honoured(track: TrackIntake, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("APPLICATIONINSIGHTS_CONNECTION_STRING", track.connection_string)
    micktrace.configure(handlers=[{"type": "azure", "connection_verify": track.ca_certs, "linger": 0.05}])
    micktrace.get_logger("env").info("from the environment", seq=0)
    assert micktrace.flush(10)
    assert track.wait(1)[0]["iKey"] == IKEY


def test_bad_options_are_config_errors(ingestion: IngestionIntake) -> None:
    with pytest.raises(ConfigError) as info:
        micktrace.configure(handlers=[{"type": "azure"}])
    assert info.value.key == "handlers[0].connection_string"
    assert "APPLICATIONINSIGHTS_CONNECTION_STRING" in str(info.value)
    both = {"connection_string": "InstrumentationKey=k", "endpoint": ingestion.url}
    bad: List[Tuple[Dict[str, Any], str]] = [
        (both, "connection_string"),
        ({"endpoint": "http://127.0.0.1:9", "rule_id": RULE_ID, "stream_name": STREAM}, "endpoint"),
        ({"endpoint": ingestion.url, "stream_name": STREAM}, "rule_id"),
        ({"endpoint": ingestion.url, "rule_id": RULE_ID, "stream_name": ""}, "stream_name"),
        ({"endpoint": ingestion.url, "rule_id": RULE_ID, "stream_name": STREAM, "credential": "secret"}, "credential"),
        ({"connection_string": "InstrumentationKey=k", "connection_verify": 3}, "connection_verify"),
        ({"connection_string": "InstrumentationKey=k", "cloud_role": 5}, "cloud_role"),
    ]
    for options, key in bad:
        with pytest.raises(ConfigError) as info:
            micktrace.configure(handlers=[{"type": "azure", **options}])
        assert info.value.key == f"handlers[0].{key}", options
        assert "secret" not in str(info.value)
    assert "azure" not in micktrace.config.PLANNED_HANDLER_TYPES


def test_secrets_never_show(track: TrackIntake, capsys: pytest.CaptureFixture[str]) -> None:
    ikey = "5e5e5e5e-aaaa-bbbb-cccc-secretsecret"
    handler = AzureMonitorHandler(connection_string=f"InstrumentationKey={ikey};IngestionEndpoint={track.base}",
                                  connection_verify=track.ca_certs, linger=0.01)  # fmt: skip
    track.before = lambda req: (400, {}, json.dumps({"itemsReceived": 1, "itemsAccepted": 0, "errors": [
        {"index": 0, "statusCode": 400, "message": f"Invalid instrumentation key {ikey}"}]}).encode())
    micktrace.configure(handlers=[handler])
    micktrace.get_logger("s").info("x", seq=0)
    micktrace.flush(5)
    health = micktrace.health()
    assert health["handlers"]["AzureMonitorHandler"]["state"] == "unauthorized"
    assert "Invalid instrumentation key [REDACTED]" in str(handler.last_error)
    shown = repr(handler) + json.dumps(health, default=str) + json.dumps(micktrace.metrics(), default=str)
    assert ikey not in shown and ikey not in capsys.readouterr().err


# -- the Logs Ingestion API ------------------------------------------------------------------------------


def test_ingestion_rows_arrive_through_the_official_client(ingestion: IngestionIntake) -> None:
    credential = StaticCredential()
    micktrace.configure(service="billing", handlers=[_ingestion_spec(ingestion, credential,
                                                                     cloud_role_instance="web-7")])  # fmt: skip
    log = micktrace.get_logger("app")
    with micktrace.context(trace_id="0af7651916cd43dd8448eb211c80319c", span_id="b7ad6b7169203331"):
        for i in range(3_000):
            log.info("charged", seq=i, amount=i / 10)
    try:
        raise ValueError("bad input")
    except ValueError:
        log.exception("failed", seq=3_000)
    assert micktrace.flush(20)
    rows = ingestion.wait(3_001)
    assert _row_seqs(ingestion) == list(range(3_001))
    first = rows[0]
    assert first["Message"] == "charged" and first["Level"] == "INFO" and first["SeverityLevel"] == 1
    assert first["Logger"] == "app" and first["Service"] == "billing" and first["Host"] == "web-7"
    assert first["TraceId"] == "0af7651916cd43dd8448eb211c80319c" and first["SpanId"] == "b7ad6b7169203331"
    assert first["Properties"]["amount"] == 0.0 and first["TimeGenerated"].endswith("Z")
    assert "ValueError: bad input" in rows[-1]["Exception"]
    requests = ingestion.recorder.accepted()
    assert all(r.headers["content-encoding"] == "gzip" and len(r.body) <= 1_000_000 for r in requests)
    assert all(r.headers["authorization"] == f"Bearer {credential.token}" for r in requests)
    assert "azsdk-python-monitor-ingestion" in requests[0].headers["user-agent"] and len(requests) >= 2
    assert credential.scopes[0] == ("https://monitor.azure.com/.default",)


def test_ingestion_flattened_fields_and_audience(ingestion: IngestionIntake) -> None:
    credential = StaticCredential()
    micktrace.configure(handlers=[_ingestion_spec(ingestion, credential, flatten_fields=True,
                                                  audience="https://monitor.azure.us")])  # fmt: skip
    micktrace.get_logger("f").info("flat", seq=0, Message="field", user="ann")
    assert micktrace.flush(10)
    (row,) = ingestion.wait(1)
    assert row["Message"] == "flat" and row["fields.Message"] == "field" and row["user"] == "ann" and row["seq"] == 0
    assert credential.scopes[0] == ("https://monitor.azure.us/.default",)


def test_the_official_client_reads_the_same_endpoint(ingestion: IngestionIntake) -> None:
    from azure.core.exceptions import ClientAuthenticationError, HttpResponseError
    from azure.monitor.ingestion import LogsIngestionClient

    with LogsIngestionClient(ingestion.url, StaticCredential(), connection_verify=ingestion.ca_certs) as client:
        client.upload(rule_id=RULE_ID, stream_name=STREAM, logs=[{"TimeGenerated": "2024-05-01T00:00:00Z", "n": 1}])
        with pytest.raises(HttpResponseError) as info:
            client.upload(rule_id="dcr-unknown", stream_name=STREAM, logs=[{"n": 2}])
        assert info.value.status_code == 404
    with LogsIngestionClient(ingestion.url, StaticCredential("wrong"), connection_verify=ingestion.ca_certs,
                             retry_total=0) as client, pytest.raises(ClientAuthenticationError):  # fmt: skip
        client.upload(rule_id=RULE_ID, stream_name=STREAM, logs=[{"n": 3}])
    assert ingestion.snapshot() == [{"TimeGenerated": "2024-05-01T00:00:00Z", "n": 1}]


@pytest.mark.parametrize("form", ["track", "ingestion"])
def test_429_retry_after_outages_and_resets_lose_and_double_nothing(
    form: str, track: TrackIntake, ingestion: IngestionIntake
) -> None:
    rec = track.recorder if form == "track" else ingestion.recorder
    rec.fail(1, 429, headers={"Retry-After": "1"})
    rec.fail(2, 503)
    rec.reset(2)
    rec.fail(2, 500)
    rec.fail_for(1.0, 503)  # an outage for a while
    options = {"timeout": 2.0, "retries": 40, "backoff": 0.05, "max_backoff": 0.5}
    micktrace.configure(handlers=[_track_spec(track, **options) if form == "track"
                                  else _ingestion_spec(ingestion, **options)])  # fmt: skip
    log = micktrace.get_logger("faults")
    for i in range(600):
        log.info("event", seq=i)
    assert micktrace.flush(30)
    assert _delivered(form, track, ingestion) == list(range(600))  # once each, in order
    assert {429, 503, 500} <= set(rec.statuses())
    row = _metrics()
    assert row["retries"] >= 4 and row["fallback"] == row["dropped"] == 0 and _state() == "ok"


def test_ingestion_bad_row_isolated_and_403_unauthorized(ingestion: IngestionIntake, tmp_path: Path) -> None:
    fallback = tmp_path / "fallback.jsonl"
    ingestion.before = lambda req: (_bad_row(req) if b"poison" in req.body else None)
    micktrace.configure(handlers=[_ingestion_spec(ingestion, linger=0.5, breaker_cooldown=60)],
                        fallback=_fallback(fallback))  # fmt: skip
    log = micktrace.get_logger("isolate")
    for i in range(40):
        log.info("event", seq=i, kind="poison" if i == 21 else "ok")
    assert micktrace.flush(10)
    assert _row_seqs(ingestion) == [i for i in range(40) if i != 21]
    assert [json.loads(line)["seq"] for line in fallback.read_text().splitlines()] == [21]
    assert _state() == "ok" and _metrics()["rejected"] == 1
    ingestion.before = lambda req: (403, {"Content-Type": "application/json"},
                                    b'{"error": {"code": "OperationFailed", "message": "The authentication token '
                                    b'provided does not have access to ingest data for the data collection rule"}}')
    log.info("event", seq=40)
    micktrace.flush(5)
    assert _state() == "unauthorized" and micktrace.health()["status"] == "failing"
    assert [json.loads(line)["seq"] for line in fallback.read_text().splitlines()] == [21, 40]


def _bad_row(_request: Any) -> Any:
    return 400, {"Content-Type": "application/json"}, b'{"error": {"code": "InvalidContentFormat", "message": "bad"}}'


def test_ingestion_wrong_rule_refuses_the_batch_at_once_and_secrets_hide(
    ingestion: IngestionIntake, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fallback = tmp_path / "fallback.jsonl"
    ingestion.token = "a-token-the-service-rotated"
    credential = StaticCredential("leaked-bearer-token-0123456789")
    ingestion.before = lambda req: (401, {}, f"bad token {req.headers.get('authorization')}".encode()) \
        if req.headers.get("authorization") != f"Bearer {ingestion.token}" else None  # fmt: skip
    options = {k: v for k, v in _ingestion_spec(ingestion, credential, breaker_cooldown=60).items() if k != "type"}
    handler = AzureMonitorHandler(**options)
    micktrace.configure(handlers=[handler], fallback=_fallback(fallback))
    micktrace.get_logger("s").info("x", seq=0)
    micktrace.flush(5)
    health = micktrace.health()
    assert health["handlers"]["AzureMonitorHandler"]["state"] == "unauthorized"
    shown = json.dumps(health, default=str) + json.dumps(micktrace.metrics(), default=str) + capsys.readouterr().err
    shown += fallback.read_text() + repr(handler) + str(handler.last_error)
    assert "leaked-bearer-token" not in shown and "[REDACTED]" in shown
    micktrace.configure(reset=True)
    ingestion.before = None
    micktrace.configure(handlers=[{**_ingestion_spec(ingestion, StaticCredential(ingestion.token)),
                                   "rule_id": "dcr-deleted"}], fallback=_fallback(fallback))  # fmt: skip
    for i in range(30):
        micktrace.get_logger("s").info("x", seq=i)
    micktrace.flush(5)
    assert len(fallback.read_text().splitlines()) == 31 and len(ingestion.recorder.requests) <= 3
    assert "DataCollectionRuleNotFound" in str(micktrace.health()["handlers"]["AzureMonitorHandler"]["last_error"])


def test_default_credential_is_azure_identitys() -> None:
    from azure.identity import DefaultAzureCredential

    handler = AzureMonitorHandler(endpoint="https://dce.example.invalid", rule_id=RULE_ID, stream_name=STREAM)
    assert handler.ingestion is not None and isinstance(handler.ingestion.credential._inner, DefaultAzureCredential)
    assert "DefaultAzureCredential" not in repr(handler)
    handler.close()


# -- the conformance kit, exit, missing extra ---------------------------------------------------------


def test_conformance_application_insights(track: TrackIntake) -> None:
    def break_handler(handler: Any) -> None:
        handler.encoder.ikey = "rotated-away"  # this handler only: the key of a deleted resource

    report = check_handler(lambda: _track_spec(track, linger=0.01, breaker_cooldown=60), lambda: _track_rows(track),
                           break_handler=break_handler)  # fmt: skip
    assert report.ok and not report.skipped, str(report)


def test_conformance_logs_ingestion(ingestion: IngestionIntake) -> None:
    def break_handler(handler: Any) -> None:
        handler.ingestion.credential = StaticCredential("revoked")  # this handler only
        handler.ingestion.reset()

    def rows() -> List[Dict[str, Any]]:
        return [{**row, "level": row["Level"], "message": row["Message"]} for row in ingestion.snapshot()]

    report = check_handler(lambda: _ingestion_spec(ingestion, linger=0.01, breaker_cooldown=60, flatten_fields=True),
                           rows, break_handler=break_handler)  # fmt: skip
    assert report.ok and not report.skipped, str(report)


@pytest.mark.parametrize("form", ["track", "ingestion"])
def test_exit_with_a_backlog_delivers_it(form: str, track: TrackIntake, ingestion: IngestionIntake) -> None:
    if form == "track":
        spec = f'{{"type": "azure", "connection_string": {track.connection_string!r}}}'
    else:
        spec = (f'{{"type": "azure", "endpoint": {ingestion.url!r}, "rule_id": {RULE_ID!r}, '
                f'"stream_name": {STREAM!r}, "credential": StaticCredential()}}')  # fmt: skip
    script = textwrap.dedent(
        f"""
        import micktrace
        from support.azure_intakes import StaticCredential
        spec = {spec}
        spec.update(connection_verify={track.ca_certs!r}, linger=5)
        micktrace.configure(handlers=[spec])
        log = micktrace.get_logger("exit")
        for i in range(500):
            log.info("event", seq=i)
        raise SystemExit(3)
        """
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([TESTS, SRC])}
    proc = subprocess.run([sys.executable, "-c", script], env=env, timeout=60, capture_output=True, text=True)
    assert proc.returncode == 3, proc.stderr
    assert _delivered(form, track, ingestion) == list(range(500))


def test_missing_sdk_names_the_extra_and_the_track_form_needs_none(track: TrackIntake, tmp_path: Path) -> None:
    fake = tmp_path / "azure"
    fake.mkdir()
    (fake / "__init__.py").write_text("raise ImportError('azure is not installed here')\n")
    script = textwrap.dedent(
        f"""
        import sys, micktrace
        micktrace.configure(handlers=[{{"type": "azure", "connection_string": {track.connection_string!r},
                                        "connection_verify": {track.ca_certs!r}}}])
        micktrace.get_logger("bare").info("no sdk", seq=0)
        micktrace.flush(10)
        assert not any(name == "azure" or name.startswith("azure.") for name in sys.modules)
        try:
            micktrace.configure(handlers=[{{"type": "azure", "endpoint": "https://dce.example.invalid",
                                            "rule_id": "dcr-1", "stream_name": "Custom-T_CL"}}])
        except micktrace.MissingExtraError as exc:
            print("MISSING", exc.extra, exc)
        """
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), SRC])}
    proc = subprocess.run([sys.executable, "-c", script], env=env, timeout=60, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert "MISSING azure" in proc.stdout and "pip install 'micktrace[azure]'" in proc.stdout
    assert _seqs(track) == [0]
