"""The delivery engine (micktrace.handlers.network.engine) through the ``http``
handler and a loopback recorder that injects faults: nothing lost, nothing
duplicated, health tells the truth."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path
from typing import Any, Dict, Iterator, List

import pytest

import micktrace
from micktrace.handlers.network.batching import Backlog, BatchLimits, Item
from micktrace.handlers.network.engine import NetworkHandler
from micktrace.handlers.network.retry import Backoff, DeliveryError, classify, parse_retry_after
from micktrace.record import LogRecord
from support.http_faults import Recorder

SRC = str(Path(__file__).resolve().parents[1] / "src")


@pytest.fixture
def recorder() -> Iterator[Recorder]:
    rec = Recorder()
    yield rec
    rec.close()


@pytest.fixture(autouse=True)
def _reset() -> Iterator[None]:
    yield
    micktrace.shutdown(timeout=2)
    micktrace.configure(reset=True)


def _http(recorder: Recorder, **options: Any) -> Dict[str, Any]:
    spec = {"type": "http", "url": recorder.url + "/ingest", "linger": 0.05, "backoff": 0.02, "max_backoff": 0.2}
    spec.update(options)
    return spec


def _delivered(recorder: Recorder) -> List[Dict[str, Any]]:
    out: List[Dict[str, Any]] = []
    for request in recorder.accepted():
        out.extend(request.ndjson())
    return out


def _seqs(recorder: Recorder) -> List[int]:
    return [line["seq"] for line in _delivered(recorder) if "seq" in line]


def _handler_metrics() -> Dict[str, Any]:
    (row,) = micktrace.metrics()["handlers"].values()
    return row


def test_records_arrive_once_in_order_in_batches(recorder: Recorder) -> None:
    micktrace.configure(handlers=[_http(recorder)])
    log = micktrace.get_logger("net")
    for i in range(2_000):
        log.info("event", seq=i)
    assert micktrace.flush(10)
    assert _seqs(recorder) == list(range(2_000))
    row = _handler_metrics()
    assert row["delivered"] == row["emitted"] == 2_000
    assert row["batches_sent"] == len(recorder.accepted()) < 2_000 / 10  # batched, not one request a record
    assert row["fallback"] == row["dropped"] == 0


def test_retryable_failures_are_retried_without_duplicates(recorder: Recorder) -> None:
    recorder.fail(2, 503)
    recorder.reset(1)
    recorder.fail(1, 429, headers={"Retry-After": "0.1"})
    micktrace.configure(handlers=[_http(recorder)])
    log = micktrace.get_logger("net")
    for i in range(300):
        log.info("event", seq=i)
    assert micktrace.flush(10)
    assert _seqs(recorder) == list(range(300))
    row = _handler_metrics()
    assert row["retries"] >= 4
    assert row["fallback"] == 0
    assert micktrace.health()["handlers"]["HttpJsonHandler"]["state"] == "ok"


def test_an_outage_of_several_seconds_loses_nothing(recorder: Recorder) -> None:
    recorder.fail_for(2.0, 503)
    micktrace.configure(handlers=[_http(recorder, backoff=0.1, max_backoff=0.5, retries=30)])
    log = micktrace.get_logger("net")
    for i in range(100):
        log.info("event", seq=i)
        time.sleep(0.01)
    assert recorder.wait_for(lambda: len(_seqs(recorder)) >= 100, 20)
    assert _seqs(recorder) == list(range(100))


def test_a_rejected_record_is_isolated_and_the_rest_delivered(recorder: Recorder, capsys: Any) -> None:
    recorder.respond_with(lambda req: (400, {}, b'{"error":"bad field"}') if b"poison" in req.body else None)
    micktrace.configure(handlers=[_http(recorder, linger=0.5)])
    log = micktrace.get_logger("net")
    for i in range(64):
        log.info("event", seq=i, kind="poison" if i == 37 else "ok")
    assert micktrace.flush(10)
    assert _seqs(recorder) == [i for i in range(64) if i != 37]
    row = _handler_metrics()
    assert row["rejected"] == 1 and row["fallback"] == 1
    err = capsys.readouterr().err
    assert "bad field" in err and "seq=37" in err  # the fallback names the backend's reason


def test_403_opens_the_circuit_and_health_says_unauthorized(recorder: Recorder, capsys: Any) -> None:
    recorder.respond_with(lambda req: (403, {}, b"forbidden: api key sk_live_notreally"))
    micktrace.configure(handlers=[_http(recorder, breaker_cooldown=60, headers={"X-Api-Key": "sk_live_notreally"})])
    log = micktrace.get_logger("net")
    for i in range(10):
        log.info("event", seq=i)
    micktrace.flush(5)
    health = micktrace.health()
    row = health["handlers"]["HttpJsonHandler"]
    assert row["state"] == "unauthorized" and row["status"] == "failing" and health["status"] == "failing"
    assert "sk_live_notreally" not in json.dumps(health, default=str)
    assert "sk_live_notreally" not in capsys.readouterr().err
    assert _handler_metrics()["fallback"] == 10
    requests_before = len(recorder.requests)
    log.info("while open", seq=99)
    micktrace.flush(5)
    assert len(recorder.requests) == requests_before  # no hammering: straight to the fallback


def test_feedback_from_the_sender_thread_never_reenters(recorder: Recorder) -> None:
    class Chatty(NetworkHandler):
        """Logs through micktrace while sending, as an SDK logging through stdlib would."""

        def __init__(self, **kwargs: Any) -> None:
            super().__init__(**kwargs)
            self.sent: List[Any] = []

        def encode(self, record: LogRecord) -> bytes:
            return record.message.encode()

        def send(self, batch: List[Item]) -> None:
            micktrace.get_logger("sdk").info("sending a batch", size=len(batch))
            self.sent.extend(item.payload for item in batch)

    chatty = Chatty(linger=0.01)
    micktrace.configure(handlers=[chatty])
    log = micktrace.get_logger("app")
    for i in range(20):
        log.info(f"m{i}")
        time.sleep(0.005)
    micktrace.flush(5)
    time.sleep(0.2)
    micktrace.flush(5)
    assert chatty.sent == [f"m{i}".encode() for i in range(20)]
    assert chatty.counters["feedback_skipped"] >= 1


def test_a_record_from_an_ended_thread_whose_ident_the_sender_reuses_is_delivered() -> None:
    """Python hands an ended thread's ident to the next thread: a record an application
    thread made before it ended may carry the ident our sender thread has now. It is
    the application's record, not the sender's chatter, and must be delivered."""

    class Keeper(NetworkHandler):
        def __init__(self, **kwargs: Any) -> None:
            super().__init__(**kwargs)
            self.sent: List[Any] = []

        def encode(self, record: LogRecord) -> bytes:
            return record.message.encode()

        def send(self, batch: List[Item]) -> None:
            self.sent.extend(item.payload for item in batch)

    keeper = Keeper(linger=0.01)
    made_before = time.time()
    keeper.handle(LogRecord(made_before, 20, "app", "first", {}, {}, {}, None, None, 1, os.getpid()))
    keeper.flush()
    sender = keeper._thread
    assert sender is not None and sender.ident is not None
    # made by an application thread that ended before the sender started, and got its ident
    late = LogRecord(made_before, 20, "app", "queued earlier", {}, {}, {}, None, None, sender.ident, os.getpid())
    # what the sender itself logs while it runs is still kept out
    chatter = LogRecord(time.time() + 1, 20, "sdk", "chatter", {}, {}, {}, None, None, sender.ident, os.getpid())
    keeper.handle_batch([late, chatter])
    keeper.flush()
    keeper.close()
    assert keeper.sent == [b"first", b"queued earlier"]
    assert keeper.counters["feedback_skipped"] == 1


def test_oversized_record_is_truncated_with_a_marker(recorder: Recorder) -> None:
    micktrace.configure(handlers=[_http(recorder)])
    # each value stays under the JSON formatter's own per-value cut; together 2.4 MB
    wide = {f"f{i}": "x" * 8000 for i in range(300)}
    micktrace.get_logger("net").info("wide " + "y" * 8000, seq=0, **wide)
    assert micktrace.flush(10)
    (line,) = _delivered(recorder)
    assert "[truncated by micktrace" in line["message"]
    assert line["micktrace_truncated"] is True
    assert _handler_metrics()["truncated"] == 1


def test_backlog_is_bounded_and_drops_are_counted() -> None:
    class Stuck(NetworkHandler):
        def __init__(self, **kwargs: Any) -> None:
            super().__init__(**kwargs)
            self.release = threading.Event()

        def encode(self, record: LogRecord) -> bytes:
            return b"y" * 1000

        def send(self, batch: List[Item]) -> None:
            self.release.wait(30)

    stuck = Stuck(max_backlog_bytes=20_000, overflow="drop_newest", linger=0, batch_size=5)
    micktrace.configure(handlers=[stuck], dispatch="sync")
    log = micktrace.get_logger("app")
    for i in range(200):
        log.info("r", i=i)
    health = stuck.health()
    assert health["backlog_bytes"] <= 20_000 + 5 * 1000
    row = _handler_metrics()
    assert row["dropped"] >= 200 - 20 - 5 - 5
    assert row["dropped"] + row["accepted"] == 200
    stuck.release.set()


def test_exit_delivers_the_backlog_within_the_deadline(recorder: Recorder, tmp_path: Path) -> None:
    script = textwrap.dedent(
        f"""
        import micktrace
        micktrace.configure(handlers=[{{"type": "http", "url": "{recorder.url}/x", "linger": 5}}])
        log = micktrace.get_logger("exit")
        for i in range(500):
            log.info("event", seq=i)
        raise SystemExit(3)
        """
    )
    proc = subprocess.run([sys.executable, "-c", script], env={**os.environ, "PYTHONPATH": SRC}, timeout=30,
                          capture_output=True, text=True)
    assert proc.returncode == 3, proc.stderr
    assert _seqs(recorder) == list(range(500))


def test_exit_with_a_hung_backend_sends_the_rest_to_the_fallback(recorder: Recorder, tmp_path: Path) -> None:
    recorder.hang(50, 30)
    fallback = tmp_path / "fallback.log"
    script = textwrap.dedent(
        f"""
        import micktrace, time
        micktrace.configure(
            handlers=[{{"type": "http", "url": "{recorder.url}/x", "linger": 0, "timeout": 30}}],
            fallback={{"type": "file", "path": {str(fallback)!r}, "dispatch": "sync", "format": "json"}},
            dispatch={{"exit_timeout": 2}},
        )
        log = micktrace.get_logger("exit")
        for i in range(200):
            log.info("event", seq=i)
        """
    )
    started = time.monotonic()
    proc = subprocess.run([sys.executable, "-c", script], env={**os.environ, "PYTHONPATH": SRC}, timeout=60,
                          capture_output=True, text=True)
    elapsed = time.monotonic() - started
    assert proc.returncode == 0, proc.stderr
    assert elapsed < 20  # the deadline (2 s) holds, not the 30 s request timeout
    seqs = sorted(json.loads(line)["seq"] for line in fallback.read_text().splitlines())
    assert seqs == list(range(200))


# -- the parts ----------------------------------------------------------------------------


def _item(size: int, t_ns: int = 0) -> Item:
    record = LogRecord(t_ns / 1e9, 20, "x", "m", {}, {}, {}, None, None, 0, 0)
    return Item(record, b"p" * size, size)


def test_take_batch_respects_count_bytes_overhead_and_span() -> None:
    limits = BatchLimits(max_records=10, max_bytes=1000, record_overhead=26, max_span_seconds=60, time_ordered=True)
    backlog = Backlog()
    for i in range(30):
        backlog.append(_item(100, t_ns=i * 10**9))
    batch = backlog.take_batch(limits)
    assert len(batch) == 7  # 7 * 126 = 882 <= 1000 < 8 * 126
    wide = Backlog()
    wide.append(_item(10, 0))
    wide.append(_item(10, 30 * 10**9))
    wide.append(_item(10, 61 * 10**9))
    assert len(wide.take_batch(limits)) == 2
    unordered = Backlog()
    for t in (5, 3, 4):
        unordered.append(_item(10, t * 10**9))
    assert [it.time_ns for it in unordered.take_batch(limits)] == [3 * 10**9, 4 * 10**9, 5 * 10**9]


def test_classification_and_backoff() -> None:
    assert classify(DeliveryError.from_status(429, "x")).kind == "retryable"
    assert DeliveryError.from_status(400, "x").kind == "permanent"
    assert DeliveryError.from_status(403, "x").kind == "unauthorized"
    assert DeliveryError.from_status(413, "x").kind == "too_large"
    assert classify(ConnectionResetError()).kind == "retryable"
    boto_like = type("ThrottlingException", (Exception,), {})()
    assert classify(boto_like).kind == "retryable"
    assert parse_retry_after("2") == 2.0
    assert parse_retry_after("garbage") is None
    backoff = Backoff(0.1, 1.0)
    assert all(0 <= backoff.delay(n) <= min(1.0, 0.1 * 2**n) for n in range(10) for _ in range(20))
    assert backoff.delay(3, retry_after=0.5) == 0.5
    assert backoff.delay(3, retry_after=500) == 1.0
