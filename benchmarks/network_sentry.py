"""Benchmark: the sentry handler vs sentry-sdk's own logging integration, ERROR records to events.

Run standalone: ``python benchmarks/network_sentry.py [N[,N...] [REPEATS]]`` (default: N=1,000 and N=5,000,
3 runs each). Starts the test suite's loopback emulator of Sentry's envelope endpoint
(tests/support/sentry_relay.py: it checks the key, parses each envelope and keeps the events) in a
process of its own and measures, for each side, (a) the caller's cost per ERROR record (N log calls in
the application thread, before any flush) and (b) events per second delivered (from the first call
until the emulator holds every event that will arrive, both sides flushing once at the end).

The alternative is what an application does without micktrace: ``sentry_sdk.init(dsn=...,
integrations=[LoggingIntegration(event_level=logging.ERROR)])`` and stdlib ``logger.error(...)``. The
SDK builds each event in the calling thread and hands it to its transport's worker thread through a
queue of ``transport_queue_size`` (default 100) envelopes; when that queue is full it drops the event
(counted in its client reports, not retried). The table says how many events each side delivered.

Writes benchmarks/results/sentry.md.
"""

from __future__ import annotations

import json
import logging
import os
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any, Callable, Dict, List, Tuple

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "src"), str(ROOT / "tests")]

import micktrace  # noqa: E402

Result = Tuple[float, float, int]  # (caller seconds per record, delivered events per second, events delivered)
FIELDS = {"user": "ann", "amount": 12.5, "currency": "EUR"}


class Relay:
    """The test suite's envelope-endpoint emulator in a process of its own: ``dsn`` and ``count()``."""

    def __init__(self) -> None:
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "tests"), str(ROOT / "src")])}
        self.proc = subprocess.Popen([sys.executable, "-m", "support.sentry_relay"], cwd=ROOT / "tests",
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env)  # fmt: skip
        assert self.proc.stdout is not None
        self.dsn = self.proc.stdout.readline().strip()
        if not self.dsn:
            raise RuntimeError("the relay did not start")
        self.base = "http://" + self.dsn.split("@", 1)[1].rsplit("/", 1)[0]

    def count(self) -> int:
        with urllib.request.urlopen(self.base + "/_count", timeout=10) as answer:
            return int(json.loads(answer.read())["count"])

    def close(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        self.proc.wait(10)


def settled(count_fn: Callable[[], int], n: int, timeout: float = 120, quiet: float = 1.0) -> Tuple[int, float]:
    """Wait until all *n* arrived, or nothing more arrived for *quiet* seconds: (count, when the last arrived)."""
    deadline = time.monotonic() + timeout
    last, last_at = -1, time.perf_counter()
    while time.monotonic() < deadline:
        got = count_fn()
        if got != last:
            last, last_at = got, time.perf_counter()
        if got >= n or time.perf_counter() - last_at > quiet:
            return got, last_at
        time.sleep(0.01)
    return last, last_at


def measure_micktrace(relay: Relay, n: int) -> Result:
    micktrace.configure(service="bench", environment="bench", handlers=[{"type": "sentry", "dsn": relay.dsn}])
    log = micktrace.get_logger("bench")
    start = time.perf_counter()
    for i in range(n):
        log.error("payment failed", seq=i, **FIELDS)
    caller = time.perf_counter() - start
    micktrace.flush(300)
    got, last_at = settled(relay.count, n)
    micktrace.shutdown()
    micktrace.configure(reset=True)
    return caller / n, got / (last_at - start), got


def measure_sdk(relay: Relay, n: int, lean: bool = False) -> Result:
    """sentry-sdk as its documentation sets it up (``lean``: without its default integrations)."""
    import sentry_sdk
    from sentry_sdk.integrations.logging import LoggingIntegration

    sentry_sdk.init(dsn=relay.dsn, environment="bench", default_integrations=not lean,
                    integrations=[LoggingIntegration(event_level=logging.ERROR)])  # fmt: skip
    log = logging.getLogger("bench.stdlib")
    log.propagate = False
    log.handlers = [logging.NullHandler()]  # the application's own handlers are not what is measured
    log.setLevel(logging.INFO)
    start = time.perf_counter()
    for i in range(n):
        log.error("payment failed", extra={"seq": i, **FIELDS})
    caller = time.perf_counter() - start
    sentry_sdk.flush(300)
    got, last_at = settled(relay.count, n)
    sentry_sdk.get_client().close()
    sentry_sdk.init()  # an inactive client: the next micktrace run is not reported twice
    return caller / n, got / (last_at - start), got


def median_of(runs: List[Result]) -> Result:
    return (statistics.median(r[0] for r in runs), statistics.median(r[1] for r in runs),
            int(statistics.median(r[2] for r in runs)))  # fmt: skip


def table(title: str, n: int, results: Dict[str, Result]) -> str:
    (m_call, m_rate, _m_got), *others = results.values()
    lines = [title, "", "| | caller µs/record | delivered events/s | events delivered of N |", "|---|---|---|---|"]
    for name, (call, rate, got) in results.items():
        lines.append(f"| {name} | {call * 1e6:.1f} | {rate:,.0f} | {got:,} of {n:,} |")
    for label, (s_call, s_rate, _s_got) in zip(("sentry-sdk", "sentry-sdk lean"), others):
        lines.append(f"| ratio micktrace/{label} | {m_call / s_call:.3f} (target <= 0.25) | "
                     f"{m_rate / s_rate:.1f} (target >= 3) | |")  # fmt: skip
    return "\n".join(lines) + "\n"


NOTES = """
Caller: N `error()` calls in the application thread, before any flush. Delivered: events the emulator holds,
divided by the time from the first call until the last of them arrived (both sides flush once at the end;
a side that drops events is measured on what it delivered). The emulator (tests/support/sentry_relay.py)
runs in a process of its own on 127.0.0.1 and answers as Sentry's envelope endpoint does (auth header,
envelope parsing, one event per envelope, 200 with the id). Plain HTTP; both sides gzip. 2 cores, shared
with other work: medians of alternating runs.

sentry-sdk builds the event in the calling thread (the scope, the record's extras, serialization), then
queues the envelope for its transport thread; its queue holds `transport_queue_size` = 100 envelopes and
an event that finds it full is dropped (the SDK counts it in a client report; it is never retried).
micktrace's caller only enqueues the record (its dispatch queue holds 10,000 records); building the event
and the envelope happens on its worker, and the delivery engine keeps every event until it is delivered or
handed to the fallback (never silently dropped). Both send one envelope per event, as Sentry requires.
"""


SIDES: Dict[str, Callable[[Relay, int], Result]] = {
    "micktrace sentry handler": measure_micktrace,
    "sentry-sdk LoggingIntegration, default integrations (stdlib logger.error)": measure_sdk,
    "sentry-sdk LoggingIntegration only (default_integrations=False)": lambda relay, n: measure_sdk(relay, n, True),
}


def main() -> None:
    counts = [int(n) for n in sys.argv[1].split(",")] if len(sys.argv) > 1 else [1_000, 5_000]
    repeats = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    texts = []
    for n in counts:
        runs: Dict[str, List[Result]] = {name: [] for name in SIDES}
        for _ in range(repeats):  # alternating, each against a fresh relay
            for name, measure in SIDES.items():
                relay = Relay()
                try:
                    runs[name].append(measure(relay, n))
                finally:
                    relay.close()
        results: Dict[str, Any] = {name: median_of(side) for name, side in runs.items()}
        title = f"## sentry (N={n:,} ERROR records, median of {repeats} runs, loopback envelope endpoint)"
        texts.append(table(title, n, results))
        print(texts[-1], flush=True)
    out = ROOT / "benchmarks" / "results"
    out.mkdir(exist_ok=True)
    (out / "sentry.md").write_text("\n".join(texts) + NOTES)


if __name__ == "__main__":
    main()
