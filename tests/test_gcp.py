"""The gcp / stackdriver handler against a loopback emulator of the Cloud Logging API (REST v2).

The emulator (tests/support/gcp_logging.py) checks the bearer token, validates
each request and entry against the documented schema and limits, honours
``partialSuccess``, and serves ``entries:list`` so google-cloud-logging's own
``Client.list_entries()`` reads back what the handler wrote. Credentials are
real google-auth objects: a static token, or an authorized-user file (ADC)
whose token endpoint is the emulator, refreshed for real.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any, Dict, Iterator, List

import pytest
from google.oauth2.credentials import Credentials

import micktrace
from micktrace.errors import ConfigError
from micktrace.handlers.network import gcp as gcp_module
from micktrace.handlers.network import gcp_resource
from micktrace.handlers.network.gcp import GcpHandler, severity_of
from micktrace.testing import check_handler
from support.gcp_logging import CloudLoggingEmulator
from support.handler_tests import fallback_spec as _fallback
from support.handler_tests import handler_row as _row

SRC = str(Path(__file__).resolve().parents[1] / "src")
TESTS = str(Path(__file__).resolve().parent)
PROJECT = "test-project"
#: no process of these tests may reach a real metadata server: a closed loopback port stands in
SAFE_ENV = {"NO_GCE_CHECK": "true", "GCE_METADATA_HOST": "127.0.0.1:9", "GCE_METADATA_IP": "127.0.0.1:9"}
PLATFORM_VARS = ("K_SERVICE", "K_REVISION", "K_CONFIGURATION", "FUNCTION_TARGET", "FUNCTION_SIGNATURE_TYPE",
                 "FUNCTION_NAME", "FUNCTION_REGION", "ENTRY_POINT", "CLOUD_RUN_JOB", "CLOUD_RUN_EXECUTION",
                 "CLOUD_RUN_TASK_INDEX", "CLOUD_RUN_TASK_ATTEMPT", "GAE_SERVICE", "GAE_VERSION", "GAE_INSTANCE",
                 "KUBERNETES_SERVICE_HOST", "GOOGLE_CLOUD_PROJECT", "GCLOUD_PROJECT",
                 "GOOGLE_APPLICATION_CREDENTIALS")  # fmt: skip

SPEC_EXAMPLE = """
import micktrace

micktrace.configure(
    level="INFO",
    handlers=[{
        "type": "stackdriver",
        "project_id": "my-gcp-project",
        "log_name": "my-app-log"
    }]
)

logger = micktrace.get_logger(__name__)
logger.info("GCP service call", service="storage", operation="upload")
"""


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    for name in PLATFORM_VARS:
        monkeypatch.delenv(name, raising=False)
    for name, value in SAFE_ENV.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("CLOUDSDK_CONFIG", str(tmp_path / "no-gcloud"))
    monkeypatch.setattr(gcp_resource, "DMI_PRODUCT_NAME", str(tmp_path / "no-dmi"))
    loggers = [logging.getLogger(name) for name in ("urllib3", "google")]
    levels = [logger.level for logger in loggers]
    yield
    micktrace.shutdown(timeout=2)
    micktrace.configure(reset=True)
    for logger, level in zip(loggers, levels):
        logger.setLevel(level)


@pytest.fixture
def api() -> Iterator[CloudLoggingEmulator]:
    server = CloudLoggingEmulator(PROJECT)
    yield server
    server.close()


def _spec(api: CloudLoggingEmulator, **options: Any) -> Dict[str, Any]:
    spec: Dict[str, Any] = {"type": "gcp", "project_id": PROJECT, "credentials": Credentials(token=api.token),
                            "endpoint": api.url, "linger": 0.05, "backoff": 0.02, "max_backoff": 0.2}  # fmt: skip
    spec.update(options)
    return spec


def _seqs(api: CloudLoggingEmulator) -> List[int]:
    return [e["jsonPayload"]["seq"] for e in api.snapshot() if "seq" in e["jsonPayload"]]


def _state() -> str:
    return str(micktrace.health()["handlers"]["GcpHandler"]["state"])


# -- the spec's example and the wire format --------------------------------------------------------


def test_spec_example_runs_as_written_with_application_default_credentials(
    api: CloudLoggingEmulator, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The README block verbatim. ADC is a service-account key file whose token endpoint is the emulator:
    google-auth signs a JWT and gets a token for real; only the API's address is the loopback one."""
    api.project = "my-gcp-project"
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(api.service_account(tmp_path / "key.json")))
    monkeypatch.setattr(gcp_module, "DEFAULT_ENDPOINT", api.url)
    exec(compile(SPEC_EXAMPLE, "<spec>", "exec"), {"__name__": "spec_example"})
    assert micktrace.flush(10)
    (entry,) = api.wait(1)
    assert entry["logName"] == "projects/my-gcp-project/logs/my-app-log"
    assert entry["jsonPayload"] == {"message": "GCP service call", "logger": "spec_example", "service": "storage",
                                    "operation": "upload"}  # fmt: skip
    assert entry["severity"] == "INFO"
    assert entry["resource"] == {"type": "global", "labels": {"project_id": "my-gcp-project"}}
    writes = [r for r in api.recorder.accepted() if r.path.startswith("/v2/entries:write")]
    assert api.recorder.accepted()[0].path == "/token"  # ADC got its token first
    assert writes[0].headers["authorization"].startswith("Bearer gcp-issued-token-")


def test_records_arrive_once_in_order_with_fields_context_and_static(api: CloudLoggingEmulator) -> None:
    micktrace.configure(service="billing", environment="staging", fields={"region": "eu-1"},
                        handlers=[_spec(api, labels={"team": "payments"}, log_name="billing/api")])  # fmt: skip
    log = micktrace.get_logger("app.billing").bind(tenant="acme")
    with micktrace.context(request_id="req-1"):
        for i in range(2_500):
            log.info("charged", seq=i, amount=i / 10, status="paid")
    assert micktrace.flush(15)
    assert _seqs(api) == list(range(2_500))
    first = api.snapshot()[0]
    payload = first["jsonPayload"]
    assert payload["service"] == "billing" and payload["environment"] == "staging" and payload["region"] == "eu-1"
    assert payload["tenant"] == "acme" and payload["request_id"] == "req-1" and payload["status"] == "paid"
    assert first["logName"] == f"projects/{PROJECT}/logs/billing%2Fapi" and first["labels"] == {"team": "payments"}
    assert len({e["insertId"] for e in api.snapshot()}) == 2_500 and api.resent == 0
    bodies = [r.json() for r in api.recorder.accepted() if r.path.startswith("/v2/entries:write")]
    assert all(len(b["entries"]) <= 1_000 and b["partialSuccess"] is True for b in bodies)
    row = _row()
    assert row["delivered"] == 2_500 and row["fallback"] == row["dropped"] == 0
    assert 3 <= row["batches_sent"] < 100


def test_levels_map_to_cloud_logging_severities(api: CloudLoggingEmulator) -> None:
    micktrace.configure(level="TRACE", handlers=[_spec(api)])
    log = micktrace.get_logger("lv")
    for seq, name in enumerate(("trace", "debug", "info", "warning", "error", "critical")):
        getattr(log, name)(name, seq=seq)
    log.log(25, "custom", seq=6)
    assert micktrace.flush(10)
    got = sorted(api.wait(7), key=lambda e: e["jsonPayload"]["seq"])
    assert [e["severity"] for e in got] == ["DEBUG", "DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL", "NOTICE"]
    assert [severity_of(n) for n in (0, 20, 21, 29, 60, 70, 99)] == ["DEFAULT", "INFO", "NOTICE", "NOTICE", "ALERT",
                                                                     "EMERGENCY", "EMERGENCY"]  # fmt: skip


def test_timestamps_are_rfc3339_with_nanoseconds_and_read_back_as_sent(api: CloudLoggingEmulator) -> None:
    from support.gcp_logging import parse_time

    handler = GcpHandler(project_id=PROJECT, credentials=Credentials(token=api.token), endpoint=api.url)
    cases = {0: "1970-01-01T00:00:00.000000000Z", 999_999_999: "1970-01-01T00:00:00.999999999Z",
             1_796_692_674_000_000_001: "2026-12-08T01:17:54.000000001Z",
             1_796_692_675_925_526_695: "2026-12-08T01:17:55.925526695Z"}  # fmt: skip
    assert {ns: handler._timestamp(ns) for ns in cases} == cases
    parsed = parse_time(handler._timestamp(1_796_692_675_925_526_695))
    assert parsed is not None and parsed.timestamp() == 1_796_692_675.925526


def test_exception_and_caller_go_where_google_cloud_reads_them(api: CloudLoggingEmulator) -> None:
    micktrace.configure(caller=True, service="checkout", version="1.2", handlers=[_spec(api)])
    try:
        raise KeyError("missing")
    except KeyError:
        micktrace.get_logger("err").exception("lookup failed", seq=0, error="mine")
    line = sys._getframe().f_lineno - 1
    assert micktrace.flush(10)
    (entry,) = api.wait(1)
    payload = entry["jsonPayload"]
    assert payload["stack_trace"].startswith("Traceback (most recent call last):")  # Error Reporting reads it
    assert "KeyError: 'missing'" in payload["stack_trace"] and payload["error"]["type"] == "KeyError"
    assert payload["serviceContext"] == {"service": "checkout", "version": "1.2"} and payload["fields.error"] == "mine"
    assert entry["sourceLocation"] == {"file": __file__, "line": str(line), "function": "test_exception_and_caller_"
                                       "go_where_google_cloud_reads_them"}  # fmt: skip


def test_fields_named_like_payload_keys_are_renamed_not_lost(api: CloudLoggingEmulator) -> None:
    micktrace.configure(handlers=[_spec(api)])
    with micktrace.context(logger="ctx-logger"):
        micktrace.get_logger("names").info("real message", seq=0, message="field message", stack_trace="x")
    assert micktrace.flush(10)
    payload = api.wait(1)[0]["jsonPayload"]
    assert payload["message"] == "real message" and payload["fields.message"] == "field message"
    assert payload["logger"] == "names" and payload["context.logger"] == "ctx-logger"
    assert payload["fields.stack_trace"] == "x" and "stack_trace" not in payload


def test_trace_ids_from_a_real_opentelemetry_span(api: CloudLoggingEmulator) -> None:
    from opentelemetry.sdk.trace import TracerProvider

    tracer = TracerProvider().get_tracer("t")
    micktrace.configure(handlers=[_spec(api)])
    log = micktrace.get_logger("traced")
    with tracer.start_as_current_span("op") as span:
        log.info("inside", seq=0)
        ctx = span.get_span_context()
    with micktrace.context(trace_id="not-hex-request-id"):
        log.info("middleware id", seq=1)
    log.info("outside", seq=2)
    assert micktrace.flush(10)
    inside, middleware, outside = sorted(api.wait(3), key=lambda e: e["jsonPayload"]["seq"])
    assert inside["trace"] == f"projects/{PROJECT}/traces/{ctx.trace_id:032x}"
    assert inside["spanId"] == f"{ctx.span_id:016x}" and inside["traceSampled"] is True
    assert "trace" not in middleware and middleware["jsonPayload"]["trace_id"] == "not-hex-request-id"
    assert "trace" not in outside and "spanId" not in outside


def test_oversized_record_is_truncated_within_the_entry_limit(api: CloudLoggingEmulator) -> None:
    micktrace.configure(handlers=[_spec(api)])
    micktrace.get_logger("big").info("wide", seq=0, **{f"f{i}": "x" * 4000 for i in range(100)})  # 400 KB of fields
    micktrace.get_logger("big").info("z" * 1_000_000, seq=1)
    assert micktrace.flush(10)
    got = api.wait(2)
    assert len(got) == 2 and not api.rejections
    assert all("[truncated by micktrace" in e["jsonPayload"]["message"] for e in got)
    assert _row()["truncated"] == 2


def test_large_records_split_into_requests_within_10_mb(api: CloudLoggingEmulator) -> None:
    micktrace.configure(handlers=[_spec(api, linger=0.5)])
    log = micktrace.get_logger("bulk")
    for i in range(120):
        log.info("p" * 200_000, seq=i)  # 24 MB in all
    assert micktrace.flush(30)
    assert _seqs(api) == list(range(120))
    writes = [r for r in api.recorder.accepted() if r.path.startswith("/v2/entries:write")]
    assert not api.rejections and len(writes) >= 3 and all(len(r.body) <= 10_000_000 for r in writes)


# -- the official client ---------------------------------------------------------------------------


def test_the_official_client_reads_our_entries_back_and_speaks_to_the_emulator(
    api: CloudLoggingEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    from google.api_core.exceptions import Forbidden
    from google.auth.exceptions import RefreshError
    from google.cloud import logging as cloud_logging
    from google.cloud.logging import Resource, StructEntry
    from google.cloud.logging_v2.handlers import _monitored_resources

    # every Logger the client makes (one per log it reads) detects its resource through the metadata server at
    # metadata.google.internal, a fixed address: off Google Cloud it knows nothing, and here it is not asked
    asked: List[str] = []
    monkeypatch.setattr(_monitored_resources, "retrieve_metadata_server", lambda path, **kw: asked.append(path))

    micktrace.configure(handlers=[_spec(api, log_name="orders")])
    with micktrace.context(trace_id="0af7651916cd43dd8448eb211c80319c", span_id="b7ad6b7169203331"):
        micktrace.get_logger("c").warning("via micktrace", seq=0, nested={"a": [1, 2]}, ok=True)
    micktrace.get_logger("c").info("quiet", seq=1)
    assert micktrace.flush(10)
    ours = api.wait(2)
    client = cloud_logging.Client(project=PROJECT, credentials=Credentials(token=api.token), _use_grpc=False,
                                  client_options={"api_endpoint": api.url})  # fmt: skip
    read = list(client.list_entries(filter_=f'logName="projects/{PROJECT}/logs/orders" AND severity>=WARNING'))
    assert len(read) == 1 and isinstance(read[0], StructEntry)
    entry = read[0]
    assert entry.payload == ours[0]["jsonPayload"] and entry.severity == "WARNING"
    assert entry.logger is not None and entry.logger.name == "orders" and entry.insert_id == ours[0]["insertId"]
    assert entry.trace == f"projects/{PROJECT}/traces/0af7651916cd43dd8448eb211c80319c"
    assert entry.span_id == "b7ad6b7169203331"
    assert entry.resource == Resource(type="global", labels={"project_id": PROJECT})
    assert entry.timestamp is not None and entry.timestamp.isoformat()[:23] == ours[0]["timestamp"][:23]
    client.logger("theirs").log_struct({"message": "via the client"}, severity="ERROR")  # the client writes here too
    theirs = api.snapshot()[-1]
    assert theirs["jsonPayload"] == {"message": "via the client"} and theirs["logName"].endswith("/logs/theirs")
    wrong = cloud_logging.Client(project=PROJECT, credentials=Credentials(token="not-a-token"), _use_grpc=False,
                                 client_options={"api_endpoint": api.url})  # fmt: skip
    with pytest.raises(RefreshError):  # a 401: google-auth tries to refresh a token it cannot refresh
        wrong.logger("x").log_text("refused")
    api.denied = True
    with pytest.raises(Forbidden):
        client.logger("x").log_text("refused")
    assert [status for status in api.recorder.statuses()[-2:]] == [401, 403]
    assert asked  # the stand-in was used: nothing went to the real address


def test_conformance(api: CloudLoggingEmulator) -> None:
    def break_handler(_handler: Any) -> None:
        api.token = "gcp-rotated-token-4567"  # the handler's token is revoked; the next handler gets the new one
        api.tokens = {api.token}

    report = check_handler(lambda: _spec(api, linger=0.01, breaker_cooldown=60),
                           lambda: [e["jsonPayload"] | {"severity": e["severity"]} for e in api.snapshot()],
                           break_handler=break_handler)  # fmt: skip
    assert report.ok and not report.skipped, str(report)


# -- options ---------------------------------------------------------------------------------------


def test_options_endpoint_project_resource_and_labels(
    api: CloudLoggingEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    from google.cloud.logging import Resource

    token = Credentials(token=api.token)
    assert GcpHandler(project_id="p1", credentials=token).describe() == "cloud-logging://projects/p1/logs/python"
    assert GcpHandler(project_id="p1", credentials=token, endpoint="logging.googleapis.com").endpoint == \
        "https://logging.googleapis.com"  # fmt: skip
    regional = GcpHandler(project_id="p1", credentials=token, endpoint="https://eu-logging.example.internal/")
    assert regional.describe() == "cloud-logging://projects/p1/logs/python via https://eu-logging.example.internal"
    monkeypatch.setenv("GOOGLE_CLOUD_PROJECT", "from-env")
    assert GcpHandler(credentials=token).project_id == "from-env"
    assert GcpHandler(project_id="explicit", credentials=token).project_id == "explicit"  # the option wins
    resource = Resource(type="gce_instance", labels={"instance_id": "42", "zone": "europe-west1-b"})
    micktrace.configure(handlers=[_spec(api, resource=resource, labels={"team": "core", "tier": 1})])
    micktrace.get_logger("o").info("x", seq=0)
    assert micktrace.flush(10)
    (entry,) = api.wait(1)
    assert entry["resource"] == {"type": "gce_instance", "labels": {"instance_id": "42", "zone": "europe-west1-b"}}
    assert entry["labels"] == {"team": "core", "tier": "1"}


def test_bad_options_are_config_errors(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    token = Credentials(token="t" * 20)
    bad: List[Dict[str, Any]] = [{"log_name": "has space"}, {"log_name": "x" * 600}, {"labels": ["a"]},
                                 {"labels": {f"k{i}": "v" for i in range(65)}}, {"resource": {"labels": {}}},
                                 {"resource": "global"}, {"endpoint": "ftp://x"}, {"endpoint": ""}]  # fmt: skip
    for options in bad:
        with pytest.raises(ConfigError) as info:
            GcpHandler(**{"project_id": "p", "credentials": token, **options})
        assert info.value.key == next(iter(options))
    with pytest.raises(ConfigError) as info:
        micktrace.configure(handlers=[{"type": "gcp", "project_id": "p", "credentials": {"private_key": "SECRET-PEM"}}])
    assert info.value.key == "handlers[0].credentials" and "SECRET-PEM" not in str(info.value)
    with pytest.raises(ConfigError) as info:  # no project anywhere (off Google Cloud, credentials without one)
        micktrace.configure(handlers=[{"type": "stackdriver", "credentials": token}])
    assert info.value.key == "handlers[0].project_id"


def test_without_application_default_credentials_the_error_names_credentials(tmp_path: Path) -> None:
    script = textwrap.dedent(
        """
        import micktrace
        try:
            micktrace.configure(handlers=[{"type": "gcp", "project_id": "p"}])
        except micktrace.ConfigError as exc:
            print(exc.key)
        """
    )
    proc = _run(script, CLOUDSDK_CONFIG=str(tmp_path), HOME=str(tmp_path))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "handlers[0].credentials"


def test_secrets_never_show(api: CloudLoggingEmulator, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The access token (fetched with a service-account key) is echoed back by a hostile 403 body:
    it shows as [REDACTED] in the error, and nowhere in repr, health or metrics."""
    from google.oauth2 import service_account

    key_file = api.service_account(tmp_path / "key.json")
    credentials = service_account.Credentials.from_service_account_file(str(key_file))
    handler = GcpHandler(credentials=credentials, endpoint=api.url, linger=0.01)
    assert handler.project_id == PROJECT  # the key file's project
    api.before = lambda req: (403, {}, f"Forbidden for token {req.headers.get('authorization')}".encode()) \
        if req.path.startswith("/v2/") else None  # fmt: skip
    micktrace.configure(handlers=[handler])
    micktrace.get_logger("s").info("x", seq=0)
    micktrace.flush(5)
    token = handler.credentials.token  # the handler's copy of the credentials, with the logging scope
    assert token and token.startswith("gcp-issued-token-")
    assert _state() == "unauthorized" and "Forbidden for token Bearer [REDACTED]" in str(handler.last_error)
    private_key = json.loads(key_file.read_text())["private_key"]
    shown = repr(handler) + json.dumps(micktrace.health(), default=str) + json.dumps(micktrace.metrics(), default=str)
    shown += capsys.readouterr().err
    assert token not in shown and private_key[40:80] not in shown and "BEGIN PRIVATE KEY" not in shown


# -- faults ----------------------------------------------------------------------------------------


def test_429_retry_after_503_outage_resets_and_a_hang_lose_and_double_nothing(api: CloudLoggingEmulator) -> None:
    rec = api.recorder
    rec.fail(1, 429, headers={"Retry-After": "1"}, body=b'{"error":{"code":429,"status":"RESOURCE_EXHAUSTED"}}')
    rec.fail(2, 503)
    rec.reset(2)
    rec.hang(1, 3.0)
    rec.fail_for(2.0, 503)
    micktrace.configure(handlers=[_spec(api, timeout=1.0, retries=40, backoff=0.05, max_backoff=0.5, linger=0.02)])
    log = micktrace.get_logger("faults")
    for i in range(600):
        log.info("event", seq=i)
    assert micktrace.flush(30)
    assert _seqs(api) == list(range(600))  # once each, in order
    assert api.resent == 0 and 429 in rec.statuses() and 503 in rec.statuses()
    row = _row()
    assert row["retries"] >= 5 and row["fallback"] == row["dropped"] == 0
    assert _state() == "ok"


def test_one_bad_entry_is_refused_alone_and_the_rest_written_in_the_same_request(
    api: CloudLoggingEmulator, tmp_path: Path
) -> None:
    api.refuse = lambda entry: "poisoned payload" if entry["jsonPayload"].get("kind") == "poison" else None
    fallback = tmp_path / "fallback.jsonl"
    micktrace.configure(handlers=[_spec(api, linger=0.5)], fallback=_fallback(fallback))
    log = micktrace.get_logger("isolate")
    for i in range(64):
        log.info("event", seq=i, kind="poison" if i == 37 else "ok")
    assert micktrace.flush(10)
    assert _seqs(api) == [i for i in range(64) if i != 37]
    lost = [json.loads(line) for line in fallback.read_text().splitlines()]
    assert [r["seq"] for r in lost] == [37]
    assert len([r for r in api.recorder.requests if r.path.startswith("/v2/entries:write")]) == 1  # partialSuccess
    assert _row()["rejected"] == 1 and api.resent == 0
    assert _state() == "ok"


def test_without_per_entry_details_a_400_is_split_until_the_bad_entry_is_found(
    api: CloudLoggingEmulator, tmp_path: Path
) -> None:
    def refuse_whole(request: Any) -> Any:
        return (400, {}, b'{"error":{"code":400,"status":"INVALID_ARGUMENT","message":"bad"}}') \
            if b'"poison"' in request.body else None  # fmt: skip

    api.before = refuse_whole
    fallback = tmp_path / "fallback.jsonl"
    micktrace.configure(handlers=[_spec(api, linger=0.5)], fallback=_fallback(fallback))
    for i in range(32):
        micktrace.get_logger("split").info("event", seq=i, kind="poison" if i == 5 else "ok")
    assert micktrace.flush(10)
    assert _seqs(api) == [i for i in range(32) if i != 5]
    assert [json.loads(line)["seq"] for line in fallback.read_text().splitlines()] == [5]


def test_403_opens_the_circuit_then_a_granted_permission_recovers(api: CloudLoggingEmulator, tmp_path: Path) -> None:
    fallback = tmp_path / "fallback.jsonl"
    api.denied = True
    micktrace.configure(handlers=[_spec(api, breaker_cooldown=0.5)], fallback=_fallback(fallback))
    log = micktrace.get_logger("auth")
    for i in range(10):
        log.info("event", seq=i)
    micktrace.flush(5)
    assert _state().startswith("unauthorized") and micktrace.health()["status"] == "failing"
    assert "PERMISSION_DENIED" in str(micktrace.health()["handlers"]["GcpHandler"]["last_error"])
    api.denied = False  # the role was granted
    assert api.recorder.wait_for(lambda: _state() == "unauthorized (probing)", 5)
    for i in range(10, 20):
        log.info("event", seq=i)
    assert micktrace.flush(10)
    lost = sorted(json.loads(line)["seq"] for line in fallback.read_text().splitlines())
    assert lost + _seqs(api) == list(range(20)) and _seqs(api) == list(range(10, 20))
    assert _state() == "ok"


def test_an_expired_token_is_refreshed_and_the_batch_sent_again(api: CloudLoggingEmulator, tmp_path: Path) -> None:
    from google.oauth2 import service_account

    key_file = api.service_account(tmp_path / "key.json")
    handler = GcpHandler(credentials=service_account.Credentials.from_service_account_file(str(key_file)),
                         endpoint=api.url, linger=0.05)  # fmt: skip
    credentials = handler.credentials
    micktrace.configure(handlers=[handler])
    log = micktrace.get_logger("refresh")
    log.info("first", seq=0)
    assert micktrace.flush(10)
    first = credentials.token
    api.tokens.discard(first)  # revoked / expired at the server: 401
    log.info("second", seq=1)
    assert micktrace.flush(10)
    assert _seqs(api) == [0, 1] and credentials.token != first
    assert [s for s in api.recorder.statuses()].count(401) == 1 and _state() == "ok"


def test_captured_stdlib_logging_at_debug_does_not_loop(api: CloudLoggingEmulator) -> None:
    """urllib3 and google-auth log at DEBUG on the sender thread while it sends: captured, those records
    are skipped (counted), never sent, so nothing loops; the application's own stdlib records arrive once."""
    names = ("", "urllib3", "google")
    levels = {name: logging.getLogger(name).level for name in names}
    micktrace.configure(level="DEBUG", capture_stdlib=True, handlers=[_spec(api)])
    try:
        for name in names:
            logging.getLogger(name).setLevel(logging.DEBUG)
        for i in range(50):
            logging.getLogger("app.std").debug("from stdlib %d", i, extra={"seq": i})
        assert micktrace.flush(10)
        assert _seqs(api) == list(range(50)) and len(api.snapshot()) == 50
        assert _row()["feedback_skipped"] > 0
    finally:
        micktrace.configure(capture_stdlib=False)
        for name, level in levels.items():
            logging.getLogger(name).setLevel(level)


#: run first in every subprocess here: a connection to anything but the loopback fails, and is reported at exit
GUARD = (
    "import atexit, sys, support.loopback_only as guard\n"
    "atexit.register(lambda: guard.blocked and print('LEFT THE MACHINE', guard.blocked, file=sys.stderr))\n"
)


def _run(script: str, extra_path: str = "", **extra_env: str) -> subprocess.CompletedProcess[str]:
    """*script* in a fresh interpreter without platform variables, the loopback guard on."""
    env = {k: v for k, v in os.environ.items() if k not in PLATFORM_VARS}
    env.update(SAFE_ENV, PYTHONPATH=os.pathsep.join(p for p in (extra_path, TESTS, SRC) if p), **extra_env)
    proc = subprocess.run([sys.executable, "-c", GUARD + script], env=env, timeout=60, capture_output=True, text=True)
    assert "LEFT THE MACHINE" not in proc.stderr, proc.stderr
    return proc


def test_exit_with_a_backlog_delivers_it(api: CloudLoggingEmulator) -> None:
    proc = _run(textwrap.dedent(
        f"""
        import micktrace
        from google.oauth2.credentials import Credentials
        micktrace.configure(handlers=[{{"type": "gcp", "project_id": {PROJECT!r}, "endpoint": {api.url!r},
                                        "credentials": Credentials(token={api.token!r}), "linger": 5}}])
        log = micktrace.get_logger("exit")
        for i in range(500):
            log.info("event", seq=i)
        raise SystemExit(3)
        """
    ))  # fmt: skip
    assert proc.returncode == 3, proc.stderr
    assert _seqs(api) == list(range(500)) and api.resent == 0


def test_missing_extra_names_gcp(tmp_path: Path) -> None:
    blocked = tmp_path / "blocked"
    (blocked / "google").mkdir(parents=True)
    (blocked / "google" / "__init__.py").write_text("raise ImportError('google is blocked in this test')\n")
    proc = _run(textwrap.dedent(
        """
        import micktrace
        from micktrace.errors import MissingExtraError
        try:
            micktrace.configure(handlers=[{"type": "stackdriver", "project_id": "p"}])
        except MissingExtraError as exc:
            print(exc.extra, "|", exc)
        """
    ), str(blocked))  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    extra, message = proc.stdout.strip().split(" | ")
    assert extra == "gcp" and "pip install 'micktrace[gcp]'" in message


# -- resource detection --------------------------------------------------------------------------

METADATA = {"project/project-id": "meta-project", "instance/id": "4520031799277581759",
            "instance/zone": "projects/123/zones/europe-west1-b",
            "instance/region": "projects/123/regions/europe-west1",
            "instance/attributes/cluster-name": "prod-cluster",
            "instance/attributes/cluster-location": "europe-west1"}  # fmt: skip
PLATFORMS = [
    ({"K_SERVICE": "api", "K_REVISION": "api-00007-abc", "K_CONFIGURATION": "api"}, False,
     {"type": "cloud_run_revision", "labels": {"project_id": PROJECT, "service_name": "api",
      "revision_name": "api-00007-abc", "configuration_name": "api", "location": "europe-west1"}}, {}),
    ({"CLOUD_RUN_JOB": "nightly", "CLOUD_RUN_EXECUTION": "nightly-x2b", "CLOUD_RUN_TASK_INDEX": "3",
      "CLOUD_RUN_TASK_ATTEMPT": "0"}, False,
     {"type": "cloud_run_job", "labels": {"project_id": PROJECT, "job_name": "nightly", "location": "europe-west1"}},
     {"run.googleapis.com/execution_name": "nightly-x2b", "run.googleapis.com/task_index": "3",
      "run.googleapis.com/task_attempt": "0"}),
    ({"FUNCTION_TARGET": "handle", "FUNCTION_SIGNATURE_TYPE": "http", "K_SERVICE": "fn", "K_REVISION": "fn-1",
      "K_CONFIGURATION": "fn"}, False,
     {"type": "cloud_function", "labels": {"project_id": PROJECT, "function_name": "fn", "region": "europe-west1"}},
     {}),
    ({"FUNCTION_NAME": "legacy", "FUNCTION_REGION": "us-central1", "ENTRY_POINT": "main"}, False,
     {"type": "cloud_function", "labels": {"project_id": PROJECT, "function_name": "legacy",
                                           "region": "us-central1"}}, {}),
    ({"GAE_SERVICE": "default", "GAE_VERSION": "v3", "GAE_INSTANCE": "i-1"}, False,
     {"type": "gae_app", "labels": {"project_id": PROJECT, "module_id": "default", "version_id": "v3",
                                    "zone": "europe-west1-b"}}, {}),
    ({"KUBERNETES_SERVICE_HOST": "10.0.0.1", "POD_NAMESPACE": "shop", "HOSTNAME": "cart-7d9f",
      "CONTAINER_NAME": "cart"}, True,
     {"type": "k8s_container", "labels": {"project_id": PROJECT, "cluster_name": "prod-cluster",
      "location": "europe-west1", "namespace_name": "shop", "pod_name": "cart-7d9f", "container_name": "cart"}}, {}),
    ({}, True, {"type": "gce_instance", "labels": {"project_id": PROJECT, "instance_id": "4520031799277581759",
                                                   "zone": "europe-west1-b"}}, {}),
    ({"KUBERNETES_SERVICE_HOST": "10.0.0.1"}, False, {"type": "global", "labels": {"project_id": PROJECT}}, {}),
]  # fmt: skip


@pytest.mark.parametrize(("env", "on_gce", "resource", "labels"), PLATFORMS, ids=lambda v: str(v)[:40])
def test_the_resource_is_detected_per_platform(
    api: CloudLoggingEmulator, monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
    env: Dict[str, str], on_gce: bool, resource: Dict[str, Any], labels: Dict[str, str],
) -> None:  # fmt: skip
    from support.gcp_logging import MetadataServer

    server = MetadataServer(METADATA)
    try:
        monkeypatch.setenv("GCE_METADATA_HOST", server.host)
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        monkeypatch.setenv("HOSTNAME", env.get("HOSTNAME", "host-1"))
        if on_gce:
            dmi = tmp_path / "product_name"
            dmi.write_text("Google Compute Engine\n")
            monkeypatch.setattr(gcp_resource, "DMI_PRODUCT_NAME", str(dmi))
        monkeypatch.setattr(gcp_resource, "K8S_NAMESPACE_FILE", str(tmp_path / "no-namespace"))
        micktrace.configure(handlers=[_spec(api)])
        assert server.asked == []  # nothing asked in the caller's thread when the project is known
        micktrace.get_logger("where").info("here", seq=0)
        assert micktrace.flush(10)
        (entry,) = api.wait(1)
        assert entry["resource"] == resource
        assert entry.get("labels", {}) == labels
    finally:
        server.close()


def test_the_project_comes_from_the_metadata_server_on_google_cloud(
    api: CloudLoggingEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    from support.gcp_logging import MetadataServer

    server = MetadataServer(METADATA)
    try:
        monkeypatch.setenv("GCE_METADATA_HOST", server.host)
        for name, value in PLATFORMS[0][0].items():
            monkeypatch.setenv(name, value)
        handler = GcpHandler(credentials=Credentials(token=api.token), endpoint=api.url)
        assert handler.project_id == "meta-project" and server.asked == ["project/project-id"]
        assert gcp_resource.metadata("instance/nothing-here") is None
    finally:
        server.close()
    assert gcp_resource.metadata("project/project-id") is None  # the server is gone: no value, no error


def test_the_docs_example_runs_as_written(tmp_path: Path) -> None:
    text = (Path(__file__).resolve().parents[1] / "docs" / "gcp.md").read_text()
    blocks = [b.split("```", 1)[0] for b in text.split("```python\n")[1:]]
    assert blocks
    for block in blocks:
        proc = _run(block)
        assert proc.returncode == 0, proc.stderr
        entry = json.loads(proc.stdout)
        assert entry["severity"] == "WARNING" and entry["jsonPayload"]["message"] == "slow request"
        assert entry["trace"] == "projects/my-gcp-project/traces/4bf92f3577b34da6a3ce929d0e0e4736"
        assert entry["logName"] == "projects/my-gcp-project/logs/checkout-api"


def test_an_unreachable_token_endpoint_is_retried_not_taken_for_refused_credentials(
    api: CloudLoggingEmulator, tmp_path: Path
) -> None:
    from google.oauth2 import service_account

    key_file = api.service_account(tmp_path / "key.json")
    info = json.loads(key_file.read_text())
    info["token_uri"] = "http://127.0.0.1:9/token"  # nothing listens there
    fallback = tmp_path / "fallback.jsonl"
    handler = GcpHandler(credentials=service_account.Credentials.from_service_account_info(info), endpoint=api.url,
                         retries=2, backoff=0.01, max_backoff=0.05, linger=0.01, timeout=2)  # fmt: skip
    micktrace.configure(handlers=[handler], fallback=_fallback(fallback))
    micktrace.get_logger("t").info("x", seq=0)
    micktrace.flush(30)
    assert _state() != "unauthorized" and "could not get an access token" in str(handler.last_error)
    assert handler.counters["retries"] == 2 and api.snapshot() == []
    assert [json.loads(line)["seq"] for line in fallback.read_text().splitlines()] == [0]
