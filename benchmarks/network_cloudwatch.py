"""Benchmark: the cloudwatch handler vs watchtower.CloudWatchLogHandler, both to the same moto server.

Run standalone: ``python benchmarks/network_cloudwatch.py [N [REPEATS]]``. Starts moto's CloudWatch Logs server
(``python -m moto.server`` on 127.0.0.1, the test fixture's), then for each library measures (a) the
caller's cost per record (N log calls in the application thread, no flush) and (b) records per second
delivered (from the first call until the server holds all N events, read back with ``get_log_events``; the
count is checked again after the clock stops). The server is
warmed with one call first (moto loads its logs backend on the first request).
Both are flushed once the N calls are made (what an application's exit does): watchtower's default
``send_interval`` is 60 s, micktrace's ``linger`` 1 s. watchtower runs with its defaults (queues,
batches of up to 10,000 events / 1 MiB) and a boto3 client pointed at the server, as its docs show;
its structured records are dicts, as its docs recommend. Writes benchmarks/results/cloudwatch.md.
"""

from __future__ import annotations

import logging
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any, Dict, List, Tuple

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "src"), str(ROOT / "tests"), str(ROOT / "benchmarks")]

from support.moto_logs import AWS_ENV, REGION, MotoServer  # noqa: E402

os.environ.update(AWS_ENV)

import boto3  # noqa: E402
import watchtower  # noqa: E402

import micktrace  # noqa: E402
from micktrace.handlers.network.cloudwatch import CloudWatchHandler  # noqa: E402


def _wait_events(server: MotoServer, group: str, stream: str, count: int) -> None:
    """Read the stream (only the new events each time) until it holds *count* events."""
    client = server.client()
    token = None
    seen = 0
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        kwargs: Any = {"logGroupName": group, "logStreamName": stream, "startFromHead": True}
        if token:
            kwargs["nextToken"] = token
        try:
            page = client.get_log_events(**kwargs)
        except client.exceptions.ResourceNotFoundException:
            time.sleep(0.05)
            continue
        seen += len(page["events"])
        token = page["nextForwardToken"]
        if seen >= count:
            return
        if not page["events"]:
            time.sleep(0.05)
    raise RuntimeError(f"only {seen} of {count} events arrived")


def _count(server: MotoServer, group: str, stream: str) -> int:
    client = server.client()
    seen, token = 0, None
    while True:
        kwargs: Any = {"logGroupName": group, "logStreamName": stream, "startFromHead": True}
        if token:
            kwargs["nextToken"] = token
        page = client.get_log_events(**kwargs)
        if not page["events"]:
            return seen
        seen += len(page["events"])
        token = page["nextForwardToken"]


class MotoTarget:
    """moto's server: the events read back with get_log_events."""

    def __init__(self) -> None:
        self.server = MotoServer()
        self.url = self.server.url
        self.server.client().describe_log_groups()  # moto loads its logs backend on the first call: not timed

    def wait(self, group: str, stream: str, n: int) -> None:
        _wait_events(self.server, group, stream, n)

    def count(self, group: str, stream: str) -> int:
        return _count(self.server, group, stream)

    def stop(self) -> None:
        self.server.stop()


class SinkTarget:
    """benchmarks/capacity_sinks.py: parses and counts PutLogEvents bodies, so the client is what is timed."""

    def __init__(self) -> None:
        from capacity_sinks import Sink

        self.sink = Sink("cloudwatch")
        self.url = self.sink.url

    def wait(self, group: str, stream: str, n: int) -> None:
        deadline = time.monotonic() + 300
        while self.sink.count() < n:  # a fresh sink per run: every event it holds is this run's
            if time.monotonic() > deadline:
                raise RuntimeError(f"only {self.sink.count()} of {n} events arrived")
            time.sleep(0.01)

    def count(self, group: str, stream: str) -> int:
        return self.sink.count()

    def stop(self) -> None:
        self.sink.stop()


def run_micktrace(server: Any, n: int) -> Tuple[float, float]:
    handler = CloudWatchHandler(log_group="/bench/micktrace", log_stream="bench", region=REGION,
                                endpoint_url=server.url, exit_timeout=120)  # fmt: skip
    micktrace.configure(handlers=[handler])
    log = micktrace.get_logger("bench")
    start = time.perf_counter()
    for i in range(n):
        log.info("order placed", seq=i, user="ann", amount=12.5)
    caller = time.perf_counter() - start
    micktrace.flush(120)
    server.wait("/bench/micktrace", "bench", n)
    total = time.perf_counter() - start
    micktrace.shutdown()
    assert server.count("/bench/micktrace", "bench") == n
    return caller / n, n / total


def run_watchtower(server: Any, n: int) -> Tuple[float, float]:
    client = boto3.client("logs", region_name=REGION, endpoint_url=server.url)
    handler = watchtower.CloudWatchLogHandler(log_group_name="/bench/watchtower", log_stream_name="bench",
                                              boto3_client=client)  # fmt: skip
    log = logging.getLogger("bench.watchtower")
    log.propagate = False
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    start = time.perf_counter()
    for i in range(n):
        log.info({"message": "order placed", "seq": i, "user": "ann", "amount": 12.5})
    caller = time.perf_counter() - start
    handler.flush()
    server.wait("/bench/watchtower", "bench", n)
    total = time.perf_counter() - start
    handler.close()
    log.removeHandler(handler)
    assert server.count("/bench/watchtower", "bench") == n
    return caller / n, n / total


def _table(title: str, results: Dict[str, Tuple[float, float]]) -> List[str]:
    (m_call, m_rate), (w_call, w_rate) = results.values()
    lines = [title, "", "| | caller µs/record | delivered records/s |", "|---|---|---|"]
    for name, (call, rate) in results.items():
        lines.append(f"| {name} | {call * 1e6:.2f} | {rate:,.0f} |")
    lines.append(
        f"| ratio micktrace/watchtower | {m_call / w_call:.2f} (target <= 0.25) "
        f"| {m_rate / w_rate:.2f} (target >= 3) |"
    )
    return lines


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 20_000
    repeats = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    contenders = (("micktrace cloudwatch", run_micktrace), ("watchtower CloudWatchLogHandler", run_watchtower))
    lines: List[str] = []
    for title, target in (
        (f"## cloudwatch (N={n:,}, PutLogEvents to moto's server on 127.0.0.1, median of {repeats})", MotoTarget),
        (f"## cloudwatch client capacity (N={n:,}, PutLogEvents to a counting sink on 127.0.0.1, "
         f"median of {repeats})", SinkTarget),
    ):
        runs: Dict[str, List[Tuple[float, float]]] = {name: [] for name, _ in contenders}
        for _ in range(repeats):
            for name, fn in contenders:
                server = target()
                try:
                    runs[name].append(fn(server, n))
                finally:
                    server.stop()
        results = {name: (statistics.median(r[0] for r in rs), statistics.median(r[1] for r in rs))
                   for name, rs in runs.items()}  # fmt: skip
        lines += [*_table(title, results), ""]
    lines += ["With moto, delivery is bounded by moto's server (one Python process parsing and storing each 1 MB "
              "PutLogEvents body) for both libraries; the read-back is inside the clock for both. The counting sink "
              "(benchmarks/capacity_sinks.py, its own process) only parses and counts each body, so the second table "
              "shows what each client can push. The caller's cost is micktrace's own: a log call hands the record "
              "to the background worker, which encodes it off the caller's thread."]
    text = "\n".join(lines) + "\n"
    print(text)
    out = ROOT / "benchmarks" / "results"
    out.mkdir(exist_ok=True)
    (out / "cloudwatch.md").write_text(text)


if __name__ == "__main__":
    main()
