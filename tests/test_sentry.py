"""The sentry handler against a loopback emulator of Sentry's envelope endpoint.

The emulator (tests/support/sentry_relay.py) checks the auth header, parses the
envelope with its own reader, validates the event and keeps it; the official
sentry-sdk is pointed at the same emulator, both to compare its events with
ours and to show that with the SDK's logging integration on, a record is
reported once.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import textwrap
import threading
from pathlib import Path
from typing import Any, Dict, Iterator, List

import pytest

import micktrace
from micktrace.errors import ConfigError
from micktrace.handlers.network.sentry import SentryHandler
from micktrace.handlers.network.sentry_event import rate_limit_seconds, sentry_level
from micktrace.testing import check_handler
from support.handler_tests import fallback_spec as _fallback
from support.handler_tests import handler_row as _row
from support.sentry_relay import SentryRelay, parse_envelope

SRC = str(Path(__file__).resolve().parents[1] / "src")


@pytest.fixture
def relay() -> Iterator[SentryRelay]:
    server = SentryRelay()
    yield server
    server.close()


@pytest.fixture(autouse=True)
def _reset() -> Iterator[None]:
    yield
    micktrace.shutdown(timeout=2)
    micktrace.configure(reset=True)


@pytest.fixture
def sdk(relay: SentryRelay) -> Iterator[Any]:
    """sentry_sdk.init() pointed at the relay, with the logging integration making events of ERROR records."""
    import sentry_sdk
    from sentry_sdk.integrations.logging import LoggingIntegration

    root_level = logging.getLogger().level
    # only the logging integration: the default ones patch sys.excepthook, threading and http.client for
    # the rest of the test session (inert once the client is inactive, but not ours to leave behind)
    sentry_sdk.init(dsn=relay.dsn, default_integrations=False,
                    integrations=[LoggingIntegration(event_level=logging.ERROR)])  # fmt: skip
    yield sentry_sdk
    sentry_sdk.flush(5)
    sentry_sdk.get_client().close()
    sentry_sdk.init()  # no DSN: an inactive client
    logging.getLogger().setLevel(root_level)


def _spec(relay: SentryRelay, **options: Any) -> Dict[str, Any]:
    spec: Dict[str, Any] = {"type": "sentry", "dsn": relay.dsn, "linger": 0.05, "backoff": 0.02, "max_backoff": 0.2}
    spec.update(options)
    return spec


def _seqs(relay: SentryRelay) -> List[int]:
    return [e["extra"]["seq"] for e in relay.events() if "seq" in e.get("extra", {})]


# -- the event ---------------------------------------------------------------------------------------


def test_an_error_record_is_an_event_with_every_part(relay: SentryRelay) -> None:
    micktrace.configure(service="billing", environment="staging", version="2.1.0", fields={"region": "eu-1"},
                        handlers=[_spec(relay, server_name="web-7")])  # fmt: skip
    log = micktrace.get_logger("app.billing").bind(tenant="acme")
    with micktrace.context(request_id="req-1", trace_id="0af7651916cd43dd8448eb211c80319c",
                           span_id="b7ad6b7169203331"):  # fmt: skip
        log.error("charge failed", seq=0, amount=12.5, nested={"a": [1, 2]})
    log.warning("not an event", seq=1)
    assert micktrace.flush(10)
    (event,) = relay.wait(1)
    assert event["logentry"] == {"message": "charge failed", "formatted": "charge failed"}
    assert event["level"] == "error" and event["logger"] == "app.billing" and event["platform"] == "python"
    assert event["server_name"] == "web-7" and event["environment"] == "staging" and event["release"] == "2.1.0"
    assert event["extra"] == {"tenant": "acme", "seq": 0, "amount": 12.5, "nested": {"a": [1, 2]}}
    assert event["tags"]["request_id"] == "req-1" and event["tags"]["region"] == "eu-1"
    assert event["tags"]["service"] == "billing" and "environment" not in event["tags"]
    assert event["contexts"]["trace"] == {"trace_id": "0af7651916cd43dd8448eb211c80319c",
                                          "span_id": "b7ad6b7169203331", "type": "trace"}  # fmt: skip
    assert abs(event["timestamp"] - __import__("time").time()) < 30 and len(event["event_id"]) == 32
    headers, items = relay.envelopes[0]
    assert headers["event_id"] == event["event_id"] and event["sdk"]["name"] == "micktrace"
    assert [h["type"] for h, _ in items] == ["event"]
    request = relay.recorder.accepted()[0]
    assert request.path == "/api/42/envelope/" and request.headers["content-encoding"] == "gzip"
    assert request.headers["x-sentry-auth"].startswith(f"Sentry sentry_key={relay.public_key}, sentry_version=7")


def test_levels_and_options_level_breadcrumb_level(relay: SentryRelay) -> None:
    micktrace.configure(level="TRACE", handlers=[_spec(relay, level="WARNING", breadcrumb_level="DEBUG")])
    log = micktrace.get_logger("lv")
    for seq, name in enumerate(("trace", "debug", "info", "warning", "error", "critical")):
        getattr(log, name)(name, seq=seq)
    assert micktrace.flush(10)
    events = relay.wait(3)
    assert [e["level"] for e in events] == ["warning", "error", "fatal"]
    assert [c["message"] for c in events[0]["breadcrumbs"]["values"]] == ["debug", "info"]  # TRACE is below
    assert "breadcrumbs" not in events[1]  # each breadcrumb goes with one event
    assert [sentry_level(n) for n in (5, 10, 20, 30, 40, 50, 99)] == [
        "debug", "debug", "info", "warning", "error", "fatal", "fatal"]  # fmt: skip


def test_breadcrumbs_belong_to_the_thread_that_logged_them(relay: SentryRelay) -> None:
    micktrace.configure(handlers=[_spec(relay, max_breadcrumbs=3)])
    log = micktrace.get_logger("crumbs")

    def work(name: str, step: threading.Event, done: threading.Event) -> None:
        for i in range(5):
            log.info(f"{name} step {i}", step=i)
        step.set()
        done.wait(5)
        log.error(f"{name} failed", seq=0 if name == "a" else 1)

    started = [threading.Event(), threading.Event()]
    go = threading.Event()
    threads = [threading.Thread(target=work, args=(n, s, go)) for n, s in zip("ab", started)]
    for thread in threads:
        thread.start()
    for event in started:
        event.wait(5)
    log.debug("below breadcrumb_level")
    go.set()
    for thread in threads:
        thread.join(5)
    assert micktrace.flush(10)
    events = {e["extra"]["seq"]: e for e in relay.wait(2)}
    for seq, name in ((0, "a"), (1, "b")):
        crumbs = events[seq]["breadcrumbs"]["values"]
        assert [c["message"] for c in crumbs] == [f"{name} step {i}" for i in (2, 3, 4)]  # the newest 3
        assert crumbs[0]["category"] == "crumbs" and crumbs[0]["level"] == "info" and crumbs[0]["data"] == {"step": 2}
        assert crumbs[0]["type"] == "log" and crumbs[0]["timestamp"] <= events[seq]["timestamp"]


def test_the_exception_chain_with_stack_frames(relay: SentryRelay) -> None:
    micktrace.configure(handlers=[_spec(relay)])

    def inner() -> None:
        raise KeyError("missing")

    try:
        try:
            inner()
        except KeyError as exc:
            raise RuntimeError("lookup failed") from exc
    except RuntimeError:
        micktrace.get_logger("err").exception("it broke", seq=0)
    assert micktrace.flush(10)
    (event,) = relay.wait(1)
    cause, raised = event["exception"]["values"]
    assert (cause["type"], cause["value"]) == ("KeyError", "'missing'")
    assert (raised["type"], raised["value"]) == ("RuntimeError", "lookup failed")
    assert raised["mechanism"]["handled"] is True
    frames = cause["stacktrace"]["frames"]
    assert [f["function"] for f in frames][-2:] == ["test_the_exception_chain_with_stack_frames", "inner"]
    assert frames[-1]["filename"] == __file__ and frames[-1]["context_line"] == 'raise KeyError("missing")'
    assert isinstance(frames[-1]["lineno"], int) and frames[-1]["in_app"] is True


def test_a_masked_field_stays_masked_and_the_dsn_key_never_shows(
    relay: SentryRelay, capsys: pytest.CaptureFixture[str]
) -> None:
    (handler,) = micktrace.configure(handlers=[_spec(relay, breaker_cooldown=60)]).handlers
    log = micktrace.get_logger("mask")
    log.info("login password=hunter2-secret", password="hunter2-secret")
    log.error("login failed password=hunter2-secret", seq=0, password="hunter2-secret", user="bob")
    assert micktrace.flush(10)
    (event,) = relay.wait(1)
    raw = relay.recorder.accepted()[0].body.decode()
    assert "hunter2-secret" not in raw
    assert event["extra"]["password"] != "hunter2-secret" and event["extra"]["user"] == "bob"
    key, relay.public_key = relay.public_key, "rotated"  # the key is refused from now on: 403
    relay.before = lambda req: (403, {}, f"invalid key {req.headers.get('x-sentry-auth')}".encode())
    log.error("refused", seq=1)
    micktrace.flush(5)
    health = micktrace.health()
    assert health["handlers"][handler.name]["state"] == "unauthorized"
    assert "invalid key Sentry sentry_key=[REDACTED]" in str(handler.last_error)
    shown = repr(handler) + json.dumps(health, default=str) + json.dumps(micktrace.metrics(), default=str)
    assert key not in shown and key not in capsys.readouterr().err and key not in str(handler.last_error)


def test_a_dead_threads_records_are_not_taken_for_the_senders_own(relay: SentryRelay) -> None:
    """Thread ids are reused: a thread that logged and exited before the sender thread started may have
    left it its id. Its records are delivered; what the sender thread itself logs later is not."""
    import time

    from micktrace.record import LogRecord

    handler = SentryHandler(dsn=relay.dsn, linger=0.01)
    try:
        before = time.time()
        handler.handle_batch([LogRecord(before, 40, "t", "starts the sender", {"seq": 0}, {}, {}, None, None, 1, 1)])
        assert handler._thread is not None and handler._thread.ident is not None
        sender = handler._thread.ident
        dead = [LogRecord(before, level, "t", f"from a dead thread {level}", {"seq": 1}, {}, {}, None, None, sender, 1)
                for level in (20, 40)]  # fmt: skip
        own = LogRecord(time.time() + 1, 40, "t", "the sender's own", {"seq": 2}, {}, {}, None, None, sender, 1)
        handler.handle_batch([*dead, own])
        handler.flush()
        events = relay.wait(2)
        assert [e["extra"]["seq"] for e in events] == [0, 1]
        assert events[1]["breadcrumbs"]["values"][0]["message"] == "from a dead thread 20"
        assert handler.counters["feedback_skipped"] == 1
    finally:
        handler.close()


def test_options_dsn_from_the_environment_and_config_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SENTRY_DSN", "https://pubkey1234@o1.ingest.sentry.io/77")
    handler = SentryHandler()
    assert handler.describe() == "https://o1.ingest.sentry.io/api/77/envelope/"
    assert "pubkey1234" not in repr(handler) and handler.event_level == 40 and handler.breadcrumb_level == 20
    assert SentryHandler(dsn="http://k1234@proxy.internal:9000/sentry/5").describe() == (
        "http://proxy.internal:9000/sentry/api/5/envelope/"
    )
    monkeypatch.delenv("SENTRY_DSN")
    with pytest.raises(ConfigError) as info:
        micktrace.configure(handlers=[{"type": "sentry"}])
    assert info.value.key == "handlers[0].dsn"
    with pytest.raises(ConfigError) as info:
        SentryHandler(dsn="https://secretkey99@sentry.example/not-a-project")
    assert info.value.key == "dsn" and "secretkey99" not in str(info.value)
    for options in ({"level": "LOUD"}, {"breadcrumb_level": True}, {"max_breadcrumbs": -1}, {"release": 3}):
        with pytest.raises(ConfigError) as info:
            SentryHandler(dsn="https://k1234@sentry.example/1", **options)
        assert info.value.key == next(iter(options))


def test_rate_limit_header() -> None:
    assert rate_limit_seconds("60:error;default:organization:quota_exceeded, 2::key") == 60
    assert rate_limit_seconds("30:transaction:key, 5::organization") == 5  # no categories: all of them
    assert rate_limit_seconds("30:transaction;session:key") is None
    assert rate_limit_seconds("bogus, 7:default") == 7 and rate_limit_seconds(None) is None


# -- the official SDK --------------------------------------------------------------------------------


def test_our_events_have_the_shape_of_the_sdks_own(relay: SentryRelay, sdk: Any) -> None:
    from sentry_sdk.envelope import Envelope

    micktrace.configure(handlers=[_spec(relay)])
    std = logging.getLogger("shape.std")
    try:
        {}["missing"]
    except KeyError:
        std.error("via the sdk", exc_info=True)
        micktrace.get_logger("shape.mt").exception("via micktrace", seq=0)
    assert micktrace.flush(10)
    sdk.flush(5)
    relay.wait(2)
    by_sdk = {}
    for request in relay.recorder.accepted():
        envelope = Envelope.deserialize(request.body)  # the SDK's own reader takes both
        event = envelope.get_event()
        if event is None:
            continue  # the SDK's sessions and client reports
        assert envelope.headers["event_id"] == event["event_id"]
        assert parse_envelope(request.body)[1][0][0]["type"] == "event"
        by_sdk[event["sdk"]["name"].split(".")[0]] = event
    ours, theirs = by_sdk["micktrace"], by_sdk["sentry"]
    for key in ("event_id", "timestamp", "level", "logger", "platform", "server_name", "exception"):
        assert key in ours and key in theirs
    assert ours["level"] == theirs["level"] == "error"
    assert ours["logentry"]["formatted"] == "via micktrace" and theirs["logentry"]["formatted"] == "via the sdk"
    (mine,), (sdks,) = ours["exception"]["values"], theirs["exception"]["values"]
    assert mine["type"] == sdks["type"] == "KeyError" and mine["value"] == sdks["value"]
    assert set(mine) - {"module"} <= set(sdks) | {"module"}  # type, value, stacktrace, mechanism
    frame_keys = {"filename", "abs_path", "function", "lineno", "context_line", "in_app"}
    assert frame_keys <= set(mine["stacktrace"]["frames"][-1]) and frame_keys <= set(sdks["stacktrace"]["frames"][-1])
    assert mine["stacktrace"]["frames"][-1]["lineno"] == sdks["stacktrace"]["frames"][-1]["lineno"]


def test_forwarded_to_stdlib_with_the_sdk_logging_integration_is_reported_once(relay: SentryRelay, sdk: Any) -> None:
    micktrace.configure(handlers=[_spec(relay), {"type": "stdlib"}])
    micktrace.get_logger("app.fwd").error("once only", seq=0)
    logging.getLogger("app.plain").error("stdlib only")  # not micktrace's: the SDK reports it
    assert micktrace.flush(10)
    sdk.flush(5)
    relay.wait(2)
    relay.recorder.wait_for(lambda: False, 0.3)  # a double would arrive by now
    names = sorted((e["logentry"]["formatted"], relay_sdk(relay, e)) for e in relay.events())
    assert names == [("once only", "micktrace"), ("stdlib only", "sentry")]


def test_captured_from_stdlib_with_the_sdk_logging_integration_is_reported_once(relay: SentryRelay, sdk: Any) -> None:
    micktrace.configure(capture_stdlib=True, handlers=[_spec(relay)])
    try:
        logging.getLogger("app.cap").error("captured %s", "once", extra={"seq": 0})
        logging.getLogger("app.cap").warning("a breadcrumb")
        logging.getLogger("app.cap").error("second", extra={"seq": 1})
        assert micktrace.flush(10)
        sdk.flush(5)
        events = relay.wait(2)
        relay.recorder.wait_for(lambda: False, 0.3)
        assert [(e["logentry"]["formatted"], relay_sdk(relay, e)) for e in relay.events()] == [
            ("captured once", "micktrace"), ("second", "micktrace")]  # fmt: skip
        assert [c["message"] for c in events[1]["breadcrumbs"]["values"]] == ["a breadcrumb"]
    finally:
        micktrace.configure(capture_stdlib=False)


def relay_sdk(_relay: SentryRelay, event: Dict[str, Any]) -> str:
    return str(event["sdk"]["name"]).split(".")[0]  # sentry.python, sentry.python.django...


def test_conformance(relay: SentryRelay) -> None:
    def break_handler(_handler: Any) -> None:
        relay.public_key = "rotated-away"

    report = check_handler(lambda: _spec(relay, level="TRACE", linger=0.01, breaker_cooldown=60),
                           lambda: relay.events(), break_handler=break_handler)  # fmt: skip
    assert report.ok and not report.skipped, str(report)


# -- faults ----------------------------------------------------------------------------------------


def test_429_rate_limits_503_outage_and_resets_lose_and_double_nothing(relay: SentryRelay) -> None:
    rec = relay.recorder
    rec.fail(1, 429, headers={"Retry-After": "1"})
    rec.fail(1, 429, headers={"X-Sentry-Rate-Limits": "1:error;default:key:rate_limited"})
    rec.fail(2, 503)
    rec.reset(2)
    rec.fail_for(1.5, 503)
    micktrace.configure(handlers=[_spec(relay, timeout=1.0, retries=40, backoff=0.05, max_backoff=2, linger=0.02)])
    log = micktrace.get_logger("faults")
    for i in range(300):
        log.error("event", seq=i)
    assert micktrace.flush(30)
    relay.wait(300, 30)
    assert _seqs(relay) == list(range(300))  # once each, in order
    statuses = rec.statuses()
    assert statuses.count(429) == 2 and 503 in statuses
    row = _row()
    assert row["retries"] >= 5 and row["fallback"] == row["dropped"] == 0 and row["delivered"] == 300
    assert micktrace.health()["handlers"]["SentryHandler"]["state"] == "ok"


def test_a_rate_limit_on_a_success_pauses_the_rest(relay: SentryRelay) -> None:
    answered = []

    def limit_first(request: Any) -> Any:
        if not answered:
            answered.append(1)
            headers, _ = parse_envelope(request.body)
            return 200, {"X-Sentry-Rate-Limits": "1:error:key"}, json.dumps({"id": headers["event_id"]}).encode()
        return None

    relay.before = limit_first
    micktrace.configure(handlers=[_spec(relay, linger=0.3)])
    log = micktrace.get_logger("paused")
    for i in range(5):
        log.error("event", seq=i)
    assert micktrace.flush(10)
    relay.wait(4)
    assert _seqs(relay) == [1, 2, 3, 4]  # the first was answered by the test, not kept
    times = [r for r in relay.recorder.answered]
    assert len(times) == 5 and _row()["retries"] >= 1 and _row()["delivered"] == 5


def test_a_rate_limit_holds_for_the_next_batches_too(relay: SentryRelay) -> None:
    relay.recorder.fail(1, 429, headers={"X-Sentry-Rate-Limits": "1:default;error:organization:quota"})
    (handler,) = micktrace.configure(handlers=[_spec(relay, linger=0.01, max_backoff=0.2)]).handlers
    log = micktrace.get_logger("limited")
    log.error("event", seq=0)  # answered 429: no event for 1 s, though the backoff cap is 0.2 s
    assert micktrace.flush(10)
    log.error("event", seq=1)
    assert micktrace.flush(10)
    assert _seqs(relay) == [0, 1] and relay.recorder.statuses() == [429, 200, 200]
    assert _row()["retries"] >= 3 and "rate limited by Sentry" in str(handler.last_error)


def test_a_400_for_one_event_isolates_it(relay: SentryRelay, tmp_path: Path) -> None:
    relay.before = lambda req: (400, {}, b'{"detail":"invalid event"}') if b"poison" in req.body else None
    fallback = tmp_path / "fallback.jsonl"
    micktrace.configure(handlers=[_spec(relay, linger=0.5)], fallback=_fallback(fallback))
    log = micktrace.get_logger("isolate")
    for i in range(30):
        log.error("event", seq=i, kind="poison" if i == 17 else "ok")
    assert micktrace.flush(10)
    assert _seqs(relay) == [i for i in range(30) if i != 17]
    lost = [json.loads(line) for line in fallback.read_text().splitlines()]
    assert [r["seq"] for r in lost] == [17]
    assert _row()["rejected"] == 1 and _row()["delivered"] == 29
    assert micktrace.health()["handlers"]["SentryHandler"]["state"] == "ok"


def test_403_opens_the_circuit_unauthorized_then_recovers(relay: SentryRelay, tmp_path: Path) -> None:
    fallback = tmp_path / "fallback.jsonl"
    good = relay.public_key
    spec = _spec(relay, breaker_cooldown=0.5)
    relay.public_key = "revoked"
    micktrace.configure(handlers=[spec], fallback=_fallback(fallback))
    log = micktrace.get_logger("auth")
    for i in range(10):
        log.error("event", seq=i)
    micktrace.flush(5)
    assert micktrace.health()["handlers"]["SentryHandler"]["state"].startswith("unauthorized")
    relay.public_key = good
    assert relay.recorder.wait_for(lambda: micktrace.health()["handlers"]["SentryHandler"]["state"]
                                   == "unauthorized (probing)", 5)  # fmt: skip
    for i in range(10, 20):
        log.error("event", seq=i)
    assert micktrace.flush(10)
    lost = sorted(json.loads(line)["seq"] for line in fallback.read_text().splitlines())
    assert lost + _seqs(relay) == list(range(20)) and _seqs(relay) == list(range(10, 20))
    assert micktrace.health()["handlers"]["SentryHandler"]["state"] == "ok"


def test_exit_with_a_backlog_delivers_it(relay: SentryRelay) -> None:
    script = textwrap.dedent(
        f"""
        import micktrace
        micktrace.configure(handlers=[{{"type": "sentry", "dsn": {relay.dsn!r}, "linger": 5}}])
        log = micktrace.get_logger("exit")
        log.info("a breadcrumb")
        for i in range(200):
            log.error("event", seq=i)
        raise SystemExit(3)
        """
    )
    proc = subprocess.run([sys.executable, "-c", script], env={**os.environ, "PYTHONPATH": SRC}, timeout=30,
                          capture_output=True, text=True)  # fmt: skip
    assert proc.returncode == 3, proc.stderr
    assert _seqs(relay) == list(range(200))
    assert relay.events()[0]["breadcrumbs"]["values"][0]["message"] == "a breadcrumb"


def test_without_sentry_sdk_the_error_names_the_extra(tmp_path: Path) -> None:
    blocked = tmp_path / "blocked"
    blocked.mkdir()
    (blocked / "sentry_sdk.py").write_text("raise ImportError('sentry_sdk is blocked in this test')\n")
    script = textwrap.dedent(
        """
        import micktrace
        from micktrace.errors import MissingExtraError
        try:
            micktrace.configure(handlers=[{"type": "sentry", "dsn": "https://k1234@o1.ingest.sentry.io/1"}])
        except MissingExtraError as exc:
            print("extra:", exc.extra, "|", exc)
        """
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(blocked), SRC])}
    proc = subprocess.run([sys.executable, "-c", script], env=env, timeout=30, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("extra: sentry |") and "pip install 'micktrace[sentry]'" in proc.stdout


def test_the_docs_example_runs_and_prints_what_it_says(tmp_path: Path) -> None:
    text = (Path(__file__).resolve().parents[1] / "docs" / "sentry.md").read_text()
    blocks = [block.split("```", 1)[0] for block in text.split("```python\n")[1:]]
    assert blocks
    for block in blocks:
        proc = subprocess.run([sys.executable, "-c", block], env={**os.environ, "PYTHONPATH": SRC}, timeout=60,
                              capture_output=True, text=True, cwd=tmp_path)  # fmt: skip
        assert proc.returncode == 0, proc.stderr
        said = [line[2:] for line in block.splitlines() if line.startswith("# ")]  # what the block says it prints
        assert proc.stdout.splitlines() == said
