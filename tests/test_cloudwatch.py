"""The cloudwatch handler against moto's CloudWatch Logs server (a subprocess on 127.0.0.1),
records read back with boto3; faults injected by a proxy in front of it."""

from __future__ import annotations

import json
import logging
import os
import socket
import subprocess
import sys
import textwrap
import time
import uuid
from pathlib import Path
from typing import Any, Dict, Iterator, List

import boto3
import pytest
from botocore.config import Config

import micktrace
from micktrace.errors import ConfigError
from micktrace.handlers.network.cloudwatch import CloudWatchHandler
from micktrace.record import LogRecord
from micktrace.testing import check_handler
from support.handler_tests import handler_row as _row
from support.http_faults import Recorder
from support.moto_logs import AWS_ENV, REGION, MotoServer

SRC = str(Path(__file__).resolve().parents[1] / "src")
@pytest.fixture(scope="session")
def moto() -> Iterator[MotoServer]:
    server = MotoServer()
    yield server
    server.stop()


@pytest.fixture(autouse=True)
def _aws_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for key in ("AWS_PROFILE", "AWS_REGION", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_CLOUDWATCH_LOGS",
                "AWS_SESSION_TOKEN"):  # fmt: skip
        monkeypatch.delenv(key, raising=False)
    for key, value in AWS_ENV.items():
        monkeypatch.setenv(key, value)
    yield
    micktrace.shutdown(timeout=2)
    micktrace.configure(reset=True)


@pytest.fixture
def group() -> str:
    return f"/test/{uuid.uuid4().hex[:12]}"


def _fast(**options: Any) -> Dict[str, Any]:
    base: Dict[str, Any] = {"linger": 0.05, "backoff": 0.02, "max_backoff": 0.3}
    base.update(options)
    return base


# -- the spec's example and the options ---------------------------------------------------


def test_spec_configuration_example_runs_as_written(moto: MotoServer, tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    from test_spec_examples import APP_CONFIG, run_block

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto.url)  # boto3 reads it itself: the example stays as written
    run_block(APP_CONFIG)
    micktrace.get_logger("app").info("hello", n=1)
    micktrace.shutdown()
    (got,) = moto.wait("my-app", 1)
    assert got["message"] == "hello" and got["n"] == 1 and got["level"] == "INFO"
    assert got["service"] == "my-app" and got["version"] == "1.0.0" and got["environment"] == "production"
    assert got["_stream"] == f"{socket.gethostname()}-{os.getpid()}"
    assert json.loads((tmp_path / "app.log").read_text().splitlines()[-1])["message"] == "hello"


def test_flat_keys_and_aliases(moto: MotoServer, group: str) -> None:
    micktrace.configure(handlers=[{"type": "cloudwatch", "log_group_name": group, "log_stream": "flat",
                                   "region_name": REGION, "endpoint_url": moto.url, **_fast()}])  # fmt: skip
    micktrace.get_logger("flat").warning("flat keys", k="v")
    micktrace.shutdown()
    (got,) = moto.wait(group, 1)
    assert got["_stream"] == "flat" and got["k"] == "v" and got["level"] == "WARNING"


def test_records_arrive_once_in_order_with_fields(moto: MotoServer, group: str) -> None:
    handler = CloudWatchHandler(log_group=group, region=REGION, endpoint_url=moto.url, **_fast())
    micktrace.configure(handlers=[handler], level="TRACE")
    log = micktrace.get_logger("orders.api")
    with micktrace.context(request_id="r-1"):
        for i in range(300):
            getattr(log, ("info", "warning", "error", "trace")[i % 4])("order %s", i, seq=i, user="ann", ok=True)
    assert micktrace.flush(10)
    got = moto.wait(group, 300)
    assert [r["seq"] for r in got] == list(range(300))
    assert got[1]["level"] == "WARNING" and got[3]["level"] == "TRACE" and got[5]["message"] == "order 5"
    assert got[0]["request_id"] == "r-1" and got[0]["user"] == "ann" and got[0]["ok"] is True
    assert got[0]["logger"] == "orders.api"
    assert {r["_stream"] for r in got} == {f"{socket.gethostname()}-{os.getpid()}"}
    assert all(0 <= time.time() * 1000 - r["_ts"] < 600_000 for r in got)
    row = _row()
    assert row["delivered"] == 300 and row["fallback"] == 0 and not row["rejected"]


def test_stream_placeholders_retention_and_secrets(moto: MotoServer, group: str) -> None:
    handler = CloudWatchHandler(
        log_group_name=group, log_stream_name="app/{hostname}/{date}/{pid}", region=REGION,
        endpoint_url=moto.url, retention_days=30, aws_access_key_id="AKIASECRETKEYID",
        aws_secret_access_key="s3cr3t-access-key", aws_session_token="tok-session-xyz", **_fast(),
    )  # fmt: skip
    micktrace.configure(handlers=[handler])
    micktrace.get_logger("x").info("placed", seq=0)
    micktrace.shutdown()
    (got,) = moto.wait(group, 1)
    assert got["_stream"] == f"app/{socket.gethostname()}/{time.strftime('%Y-%m-%d', time.gmtime())}/{os.getpid()}"
    (info,) = moto.client().describe_log_groups(logGroupNamePrefix=group)["logGroups"]
    assert info["retentionInDays"] == 30
    shown = repr(handler) + json.dumps(handler.health(), default=str)
    assert group in shown and REGION in shown
    for secret in ("AKIASECRETKEYID", "s3cr3t-access-key", "tok-session-xyz"):
        assert secret not in shown and secret in handler._secrets


def test_injected_client_and_session(moto: MotoServer, group: str) -> None:
    client = moto.client()
    session = boto3.session.Session(region_name=REGION)
    one = CloudWatchHandler(log_group=group, log_stream="by-client", client=client, **_fast())
    two = CloudWatchHandler(log_group=group, log_stream="by-session", boto3_session=session, endpoint_url=moto.url,
                            **_fast())  # fmt: skip
    assert one.region == REGION and two.region == REGION
    micktrace.configure(handlers=[one, two])
    micktrace.get_logger("x").info("both", seq=1)
    micktrace.shutdown()
    got = moto.wait(group, 2)
    assert sorted(r["_stream"] for r in got) == ["by-client", "by-session"]
    assert one._client is client  # an injected client is used as it is, kept after close


def test_create_group_and_stream_off(moto: MotoServer, group: str, capsys: Any) -> None:
    micktrace.configure(handlers=[{"type": "cloudwatch", "log_group": group, "create_group": False,
                                   "endpoint_url": moto.url, **_fast()}])  # fmt: skip
    micktrace.get_logger("x").info("nowhere", seq=0)
    micktrace.flush(10)
    row = _row()
    assert row["rejected"] == 1 and row["fallback"] == 1 and row["delivered"] == 0
    assert "create_group is off" in capsys.readouterr().err
    micktrace.configure(reset=True)
    moto.client().create_log_group(logGroupName=group)
    micktrace.configure(handlers=[{"type": "cloudwatch", "log_group": group, "log_stream": "s", "create_group": False,
                                   "create_stream": False, "endpoint_url": moto.url, **_fast()}])  # fmt: skip
    micktrace.get_logger("x").info("no stream", seq=1)
    micktrace.flush(10)
    assert _row()["rejected"] == 1 and "create_stream is off" in capsys.readouterr().err
    moto.client().create_log_stream(logGroupName=group, logStreamName="s")
    micktrace.get_logger("x").info("now there", seq=2)
    micktrace.flush(10)
    assert [r["seq"] for r in moto.wait(group, 1)] == [2]


def test_a_group_deleted_meanwhile_is_created_again(moto: MotoServer, group: str) -> None:
    handler = CloudWatchHandler(log_group=group, region=REGION, endpoint_url=moto.url, retention_days=7, **_fast())
    micktrace.configure(handlers=[handler])
    _log(5)
    assert micktrace.flush(10)
    assert len(moto.wait(group, 5)) == 5
    moto.client().delete_log_group(logGroupName=group)
    _log(5, 5)
    assert micktrace.flush(10)
    assert [r["seq"] for r in moto.wait(group, 5)] == [5, 6, 7, 8, 9]
    (info,) = moto.client().describe_log_groups(logGroupNamePrefix=group)["logGroups"]
    assert info["retentionInDays"] == 7 and handler.counters["delivered"] == 10 and _row()["fallback"] == 0


def test_bad_options(monkeypatch: pytest.MonkeyPatch) -> None:
    bad: List[Dict[str, Any]] = [
        {}, {"log_group": "bad group name"}, {"log_group": "g", "retention_days": 2},
        {"log_group": "a", "log_group_name": "b"}, {"log_group": "g", "log_stream": "{user}"},
        {"log_group": "g", "endpoint_url": "localhost:4566"}, {"log_group": "g", "region": "a", "region_name": "b"},
    ]  # fmt: skip
    for kwargs in bad:
        with pytest.raises(ConfigError):
            CloudWatchHandler(**kwargs)
    with pytest.raises(ConfigError) as info:
        micktrace.configure(handlers=[{"type": "cloudwatch", "config": {"log_group": "g", "retention_days": 10}}])
    assert info.value.key == "handlers[0].retention_days" and "3653" in str(info.value.allowed)
    monkeypatch.delenv("AWS_DEFAULT_REGION")
    with pytest.raises(ConfigError) as info:
        micktrace.configure(handlers=[{"type": "cloudwatch", "log_group": "g"}])
    assert info.value.key == "handlers[0].region"


# -- the platform's limits ------------------------------------------------------------------


def _record(ts: float, seq: int, message: str = "m", **data: Any) -> LogRecord:
    return LogRecord(ts, 20, "limits", message, {"seq": seq, **data}, {}, {}, None, None, 0, os.getpid())


def test_limits_count_span_order_and_truncation(moto: MotoServer, group: str) -> None:
    handler = CloudWatchHandler(log_group=group, region=REGION, endpoint_url=moto.url, linger=0.5,
                                exit_timeout=30)  # fmt: skip
    micktrace.configure(handlers=[handler])
    now = time.time()
    # out of order within a batch (sorted before sending), and 30 h apart (two calls)
    handler.handle_batch([_record(now - 60, 1), _record(now - 30 * 3600, 0), _record(now - 30, 2)])
    wide = {f"f{i}": "x" * 8000 for i in range(140)}  # each value under the JSON formatter's own cut: 1.1 MB
    handler.handle_batch([_record(now, 3, "big", **wide)])
    handler.flush()
    got = moto.wait(group, 4)
    assert [r["seq"] if "seq" in r else "cut" for r in got] == [0, 1, 2, "cut"]
    assert "[truncated by micktrace" in got[3]["message"] and got[3]["micktrace_truncated"] is True
    row = _row()
    assert row["batches_sent"] >= 2 and row["truncated"] == 1 and row["delivered"] == 4
    micktrace.configure(reset=True)
    # one-byte messages: 10,001 events are 270 kB, so the 10,000-events limit is what splits them
    many = CloudWatchHandler(log_group=group, log_stream="many", region=REGION, endpoint_url=moto.url, linger=2,
                             exit_timeout=60, formatter=lambda r: r.message)  # fmt: skip
    micktrace.configure(handlers=[many])
    many.handle_batch([_record(now, i, "e") for i in range(10_001)])
    many.flush()
    assert many.counters["batches_sent"] == 2 and many.counters["delivered"] == 10_001
    assert len([e for e in moto.events(group) if e["logStreamName"] == "many"]) == 10_001


def test_too_old_and_too_new_events_go_to_the_fallback(moto: MotoServer, group: str, capsys: Any) -> None:
    handler = CloudWatchHandler(log_group=group, region=REGION, endpoint_url=moto.url, linger=0.5)
    micktrace.configure(handlers=[handler])
    now = time.time()
    handler.handle_batch([_record(now - 20 * 86400, 0), _record(now - 15 * 86400, 1), _record(now, 2),
                          _record(now + 5 * 3600, 3)])  # fmt: skip
    handler.flush()
    assert [r["seq"] for r in moto.wait(group, 1)] == [2]
    row = _row()
    assert row["rejected"] == 3 and row["fallback"] == 3 and row["delivered"] == 1
    err = capsys.readouterr().err
    assert err.count("too old for CloudWatch Logs") == 2 and err.count("too new for CloudWatch Logs") == 1


# -- conformance against the real server ------------------------------------------------------


def _dead_client() -> Any:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: connections are refused
    return boto3.client("logs", region_name=REGION, endpoint_url=f"http://127.0.0.1:{port}",
                        config=Config(retries={"total_max_attempts": 1}, connect_timeout=1))  # fmt: skip


def test_conformance(moto: MotoServer, group: str) -> None:
    def make() -> CloudWatchHandler:
        return CloudWatchHandler(log_group=group, region=REGION, endpoint_url=moto.url, retries=1, **_fast())

    def break_handler(handler: CloudWatchHandler) -> None:
        handler._given_client = handler._client = _dead_client()

    report = check_handler(make, lambda: moto.records(group), break_handler=break_handler, fork=True)
    assert report.passed and not report.skipped and not report.failed, str(report)
    streams = {e["logStreamName"] for e in moto.events(group)}
    assert len(streams) >= 2  # the forked child wrote its own {hostname}-{pid} stream


# -- faults between the handler and the server ---------------------------------------------------


@pytest.fixture
def proxy(moto: MotoServer) -> Iterator[Recorder]:
    rec = Recorder(upstream=moto.url)
    yield rec
    rec.close()


def _through(proxy: Recorder, group: str, **options: Any) -> Dict[str, Any]:
    return {"type": "cloudwatch", "log_group": group, "region": REGION, "endpoint_url": proxy.url,
            **_fast(**options)}  # fmt: skip


def _puts(proxy: Recorder) -> List[int]:
    return [status for request, status in proxy.answered if b"logEvents" in request.body]


def _log(count: int, start: int = 0, **fields: Any) -> None:
    log = micktrace.get_logger("fault")
    for i in range(start, start + count):
        log.info("event", seq=i, **fields)


def test_a_503_outage_of_seconds_loses_nothing(moto: MotoServer, proxy: Recorder, group: str) -> None:
    micktrace.configure(handlers=[_through(proxy, group, exit_timeout=20, retries=30, backoff=0.1, max_backoff=0.5)])
    _log(10)
    assert micktrace.flush(10)
    proxy.fail_for(2.0, 503)
    _log(40, 10)
    assert micktrace.flush(20)
    got = moto.wait(group, 50)
    assert [r["seq"] for r in got] == list(range(50))
    assert 503 in _puts(proxy) and _row()["retries"] >= 1 and _row()["fallback"] == 0
    assert micktrace.health()["handlers"]["CloudWatchHandler"]["state"] == "ok"


def test_throttling_is_retried_after_retry_after(moto: MotoServer, proxy: Recorder, group: str) -> None:
    body = b'{"__type":"ThrottlingException","message":"Rate exceeded"}'
    headers = {"x-amzn-ErrorType": "ThrottlingException:", "Retry-After": "1",
               "Content-Type": "application/x-amz-json-1.1"}  # fmt: skip
    (handler,) = micktrace.configure(handlers=[_through(proxy, group, exit_timeout=20, max_backoff=2)]).handlers
    _log(5)
    assert micktrace.flush(10)
    before = len(_puts(proxy))
    proxy.fail(2, 400, headers=headers, body=body)
    _log(20, 5)
    assert micktrace.flush(20)
    assert [r["seq"] for r in moto.wait(group, 25)] == list(range(25))
    assert _puts(proxy)[before:].count(400) == 2 and _row()["retries"] >= 2 and _row()["rejected"] == 0
    assert "ThrottlingException" in str(micktrace.health()["handlers"]["CloudWatchHandler"]["last_error"])
    # what botocore raises for it is classified retryable, with the server's Retry-After
    proxy.fail(1, 400, headers=headers, body=body)
    client = boto3.client("logs", region_name=REGION, endpoint_url=proxy.url,
                          config=Config(retries={"total_max_attempts": 1}))  # fmt: skip
    with pytest.raises(client.exceptions.ThrottlingException) as info:
        client.put_log_events(logGroupName=group, logStreamName="x", logEvents=[{"timestamp": 1, "message": "m"}])
    error = handler.classify(info.value)
    assert error.kind == "retryable" and error.retry_after == 1.0


def test_connection_resets_and_a_hung_server(moto: MotoServer, proxy: Recorder, group: str) -> None:
    micktrace.configure(handlers=[_through(proxy, group, timeout=1, exit_timeout=20)])
    _log(5)
    assert micktrace.flush(10)
    proxy.reset(2)
    _log(10, 5)
    assert micktrace.flush(20)
    proxy.hang(1, 4.0)
    _log(10, 15)
    assert micktrace.flush(20)
    got = moto.wait(group, 25)
    seqs = [r["seq"] for r in got]
    assert sorted(seqs) == list(range(25)) and len(seqs) == len(set(seqs))
    health = micktrace.health()["handlers"]["CloudWatchHandler"]
    assert "timeout" in str(health["last_error"]).lower() and health["state"] == "ok"
    assert _row()["fallback"] == 0 and _row()["retries"] >= 3


def test_a_400_for_one_record_is_isolated(moto: MotoServer, proxy: Recorder, group: str, capsys: Any) -> None:
    bad = (400, {"x-amzn-ErrorType": "InvalidParameterException:"},
           b'{"__type":"InvalidParameterException","message":"bad event"}')  # fmt: skip
    proxy.respond_with(lambda req: bad if b"poison" in req.body else None)
    micktrace.configure(handlers=[_through(proxy, group, linger=0.5)])
    log = micktrace.get_logger("fault")
    for i in range(40):
        log.info("event", seq=i, kind="poison" if i == 17 else "ok")
    assert micktrace.flush(20)
    assert [r["seq"] for r in moto.wait(group, 39)] == [i for i in range(40) if i != 17]
    row = _row()
    assert row["rejected"] == 1 and row["fallback"] == 1
    err = capsys.readouterr().err
    assert "bad event" in err and "seq=17" in err


def test_403_access_denied_is_unauthorized(moto: MotoServer, proxy: Recorder, group: str, capsys: Any) -> None:
    denied = (403, {"x-amzn-ErrorType": "AccessDeniedException:"},
              b'{"__type":"AccessDeniedException","message":"not allowed for key AKIADENIEDKEY1"}')  # fmt: skip
    proxy.respond_with(lambda req: denied)
    micktrace.configure(handlers=[_through(proxy, group, breaker_cooldown=60, aws_access_key_id="AKIADENIEDKEY1",
                                           aws_secret_access_key="denied-secret-value")])  # fmt: skip
    _log(10)
    micktrace.flush(10)
    health = micktrace.health()
    row = health["handlers"]["CloudWatchHandler"]
    assert row["state"] == "unauthorized" and health["status"] == "failing"
    assert "AKIADENIEDKEY1" not in json.dumps(health, default=str)
    assert "AKIADENIEDKEY1" not in capsys.readouterr().err
    assert _row()["fallback"] == 10
    before = len(proxy.requests)
    _log(1, 10)
    micktrace.flush(5)
    assert len(proxy.requests) == before  # the circuit is open: straight to the fallback
    assert moto.events(group) == []


def test_data_already_accepted_counts_as_delivered(moto: MotoServer, proxy: Recorder, group: str) -> None:
    micktrace.configure(handlers=[_through(proxy, group)])
    _log(3)
    assert micktrace.flush(10)
    before = len(_puts(proxy))
    proxy.fail(1, 400, headers={"x-amzn-ErrorType": "DataAlreadyAcceptedException:"},
               body=b'{"__type":"DataAlreadyAcceptedException","message":"already accepted"}')  # fmt: skip
    _log(4, 3)
    assert micktrace.flush(10)
    assert _puts(proxy)[before:] == [400]  # not sent again: CloudWatch said it holds this batch
    row = _row()
    assert row["delivered"] == 7 and row["fallback"] == 0 and row["retries"] == 0 and row["rejected"] == 0


# -- exit, the extra, the SDK's own logging ---------------------------------------------------------


def test_exit_delivers_the_backlog(moto: MotoServer, group: str) -> None:
    script = textwrap.dedent(
        f"""
        import micktrace
        micktrace.configure(handlers=[{{"type": "cloudwatch", "config": {{"log_group": "{group}",
                                        "endpoint_url": "{moto.url}", "linger": 5}}}}])
        log = micktrace.get_logger("exit")
        for i in range(500):
            log.info("event", seq=i)
        raise SystemExit(3)
        """
    )
    proc = subprocess.run([sys.executable, "-c", script], env={**os.environ, "PYTHONPATH": SRC}, timeout=60,
                          capture_output=True, text=True)  # fmt: skip
    assert proc.returncode == 3, proc.stderr
    assert [r["seq"] for r in moto.records(group)] == list(range(500))
    assert "fallback" not in proc.stderr


def test_missing_boto3_names_the_extra(tmp_path: Path) -> None:
    fake = tmp_path / "boto3"
    fake.mkdir()
    (fake / "__init__.py").write_text("raise ImportError('boto3 is not installed here')\n")
    script = textwrap.dedent(
        """
        import sys, micktrace
        micktrace.configure(handlers=[{"type": "http", "url": "http://127.0.0.1:9/x"}])
        assert "boto3" not in sys.modules and "botocore" not in sys.modules
        try:
            micktrace.configure(handlers=[{"type": "cloudwatch", "log_group": "g", "region": "us-east-1"}])
        except micktrace.MissingExtraError as exc:
            print("MISSING", exc.extra, exc)
        """
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), SRC])}
    proc = subprocess.run([sys.executable, "-c", script], env=env, timeout=60, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert "MISSING aws" in proc.stdout and "pip install 'micktrace[aws]'" in proc.stdout


def test_botocore_debug_logging_captured_does_not_loop(moto: MotoServer, group: str) -> None:
    loggers = [logging.getLogger(name) for name in ("botocore", "boto3", "urllib3")]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.DEBUG)
    try:
        handler = CloudWatchHandler(log_group=group, region=REGION, endpoint_url=moto.url, **_fast())
        micktrace.configure(handlers=[handler], level="DEBUG", capture_stdlib=True)
        _log(20)
        logging.getLogger("botocore.test").debug("from the application thread", extra={"seq": 20})
        assert micktrace.flush(10)
        time.sleep(0.5)  # a loop would keep the sender busy with its own records
        assert micktrace.flush(10)
        assert handler.counters["feedback_skipped"] >= 10  # botocore logged while sending: not sent again
        for logger in loggers:
            logger.setLevel(logging.WARNING)  # the read-back client below logs too: keep it out
        got = moto.wait(group, 21)
        assert [r.get("seq") for r in got] == list(range(21)), [r["message"] for r in got][:30]
        assert got[-1]["logger"] == "botocore.test" and handler.counters["delivered"] == 21
    finally:
        for logger, level in zip(loggers, levels):
            logger.setLevel(level)


def test_the_docs_example_runs_as_written(tmp_path: Path) -> None:
    text = (Path(__file__).resolve().parents[1] / "docs" / "cloudwatch.md").read_text()
    blocks = [b.split("```", 1)[0] for b in text.split("```python\n")[1:]]
    assert blocks
    for block in blocks:
        proc = subprocess.run([sys.executable, "-c", block], env={**os.environ, "PYTHONPATH": SRC}, timeout=60,
                              capture_output=True, text=True, cwd=tmp_path)  # fmt: skip
        assert proc.returncode == 0, proc.stderr
        stream, _sep, message = proc.stdout.partition(" ")
        assert stream.endswith(time.strftime("-%Y-%m-%d", time.gmtime())) and "'slow request'" in message


# -- the fast path: our JSON body, botocore's signature ------------------------------------------


def test_fast_path_body_and_sigv4_signature(moto: MotoServer, proxy: Recorder, group: str) -> None:
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    handler = CloudWatchHandler(log_group=group, log_stream='s"1', region=REGION, endpoint_url=proxy.url,
                                aws_access_key_id="AKIAFASTPATHKEY", aws_secret_access_key="fast-secret",
                                **_fast())  # fmt: skip
    micktrace.configure(handlers=[handler])
    texts = ['quote " backslash \\ ]', "line\nbreak\ttab \x00 \x1f", "ünïcødé ☃ 𝄞", "lone \udcff surrogate"]
    log = micktrace.get_logger("fast")
    for i, text in enumerate(texts):
        log.info(text, seq=i)
    assert micktrace.flush(10)
    assert handler._fast is not None  # a botocore client, no proxy: the fast path sent it
    got = moto.wait(group, 4)
    assert [r["message"] for r in got] == [*texts[:3], "lone \\udcff surrogate"]  # as the JSON formatter wrote it
    assert {r["_stream"] for r in got} == {'s"1'}
    (put,) = [r for r in proxy.requests if r.headers.get("x-amz-target") == "Logs_20140328.PutLogEvents"]
    body = put.json()
    assert body["logGroupName"] == group and [e["timestamp"] for e in body["logEvents"]] == [r["_ts"] for r in got]
    # the signature is what botocore computes for these headers and this body with the same credentials
    auth = put.headers["authorization"]
    assert auth.startswith(f"AWS4-HMAC-SHA256 Credential=AKIAFASTPATHKEY/{time.strftime('%Y%m%d', time.gmtime())}")
    signed = auth.split("SignedHeaders=")[1].split(",")[0].split(";")
    assert {"host", "x-amz-date", "x-amz-target", "content-type"} <= set(signed)
    request = AWSRequest(method="POST", url=proxy.url, data=put.raw, headers={k: put.headers[k] for k in signed})
    request.context["timestamp"] = put.headers["x-amz-date"]
    signer = SigV4Auth(Credentials("AKIAFASTPATHKEY", "fast-secret"), "logs", REGION)
    expected = signer.signature(signer.string_to_sign(request, signer.canonical_request(request)), request)
    assert auth.endswith(f"Signature={expected}")


def test_refreshable_credentials_are_refreshed(moto: MotoServer, proxy: Recorder, group: str) -> None:
    import botocore.session
    from botocore.credentials import CredentialProvider, RefreshableCredentials

    keys: List[str] = []

    def fetch() -> Dict[str, str]:
        keys.append(f"AKIAREFRESH{len(keys):04d}")
        expiry = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 60))  # inside the refresh window
        return {"access_key": keys[-1], "secret_key": "s", "token": "t", "expiry_time": expiry}

    class Provider(CredentialProvider):  # type: ignore[misc]
        METHOD = "test-refresh"

        def load(self) -> Any:
            return RefreshableCredentials.create_from_metadata(fetch(), fetch, self.METHOD)

    core = botocore.session.Session()
    core.get_component("credential_provider").insert_before("env", Provider())
    session = boto3.session.Session(botocore_session=core, region_name=REGION)
    handler = CloudWatchHandler(log_group=group, boto3_session=session, endpoint_url=proxy.url, **_fast())
    micktrace.configure(handlers=[handler])
    for i in range(2):
        micktrace.get_logger("refresh").info("event", seq=i)
        assert micktrace.flush(10)
    used = [r.headers["authorization"].split("Credential=")[1].split("/")[0] for r in proxy.requests
            if r.headers.get("x-amz-target", "").endswith("PutLogEvents")]  # fmt: skip
    assert len(used) == 2 and used[0] != used[1] and set(used) <= set(keys)  # frozen anew for each request
    assert [r["seq"] for r in moto.wait(group, 2)] == [0, 1]


class _Wrapped:
    """A logs client that is not a botocore client (a test double a user might inject): the SDK path."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self.calls: List[int] = []
        self.meta = client.meta

    def put_log_events(self, **kwargs: Any) -> Any:
        self.calls.append(len(kwargs["logEvents"]))
        return self.client.put_log_events(**kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.client, name)


def test_a_client_that_is_not_botocore_gets_put_log_events(moto: MotoServer, group: str,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    wrapped = _Wrapped(moto.client())
    handler = CloudWatchHandler(log_group=group, client=wrapped, **_fast())
    micktrace.configure(handlers=[handler])
    log = micktrace.get_logger("sdk")
    log.info('a "quoted" message ☃', seq=0)
    log.info("second", seq=1)
    assert micktrace.flush(10)
    got = moto.wait(group, 2)
    assert [r["message"] for r in got] == ['a "quoted" message ☃', "second"] and sum(wrapped.calls) == 2
    assert handler._fast is None
    # a proxy in the environment: botocore's path too (it knows proxies; http.client does not)
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")
    monkeypatch.setenv("NO_PROXY", "")
    monkeypatch.setenv("no_proxy", "")
    from micktrace.handlers.network.cloudwatch import PutLogEvents

    assert not PutLogEvents.usable(boto3.client("logs", region_name=REGION, endpoint_url=moto.url))
    monkeypatch.delenv("HTTP_PROXY")
    assert PutLogEvents.usable(boto3.client("logs", region_name=REGION, endpoint_url=moto.url))

