"""Benchmark: the otlp handler vs opentelemetry-sdk's LoggingHandler + BatchLogRecordProcessor + OTLPLogExporter.

Run standalone: ``python benchmarks/network_otlp.py [N]``. Starts the tests' OTLP/HTTP receiver (protobuf,
opentelemetry-proto) in its own process on 127.0.0.1, then for each side measures (a) the caller's cost per
record (N log calls in the application thread, no flush) and (b) records per second delivered (first call until
the receiver holds all N). Both sides send OTLP/HTTP protobuf to the same receiver; the SDK side uses its
documented setup (BatchLogRecordProcessor with its defaults, a stdlib logger with the SDK's LoggingHandler).
Writes benchmarks/results/otlp.md.
"""

from __future__ import annotations

import logging
import subprocess
import sys
import time
import urllib.request
import warnings
from pathlib import Path
from typing import Tuple

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "src")]

import micktrace  # noqa: E402


class Receiver:
    def __init__(self) -> None:
        self.proc = subprocess.Popen([sys.executable, str(ROOT / "tests" / "support" / "otlp_receiver.py")],
                                     stdout=subprocess.PIPE, text=True)  # fmt: skip
        assert self.proc.stdout is not None
        self.url = self.proc.stdout.readline().strip()

    def count(self) -> int:
        with urllib.request.urlopen(self.url.rsplit("/v1/logs", 1)[0] + "/count", timeout=10) as resp:
            return int(resp.read())

    def wait(self, n: int) -> int:
        """Until *n* records arrived, or until the count stops growing (a side that dropped some): the count."""
        deadline = time.monotonic() + 180
        last, still = -1, 0
        while True:
            got = self.count()
            if got >= n:
                return got
            still = still + 1 if got == last else 0
            if still > 50 or time.monotonic() > deadline:  # 1 s without progress
                return got
            last = got
            time.sleep(0.02)

    def stop(self) -> None:
        self.proc.kill()
        self.proc.wait()


def run_micktrace(receiver: Receiver, n: int) -> Tuple[float, float, int]:
    micktrace.configure(service="bench", handlers=[{"type": "otlp", "endpoint": receiver.url}])
    log = micktrace.get_logger("bench")
    start = time.perf_counter()
    for i in range(n):
        log.info("order placed", seq=i, user="ann", amount=12.5)
    caller = time.perf_counter() - start
    got = receiver.wait(n)
    total = time.perf_counter() - start
    micktrace.shutdown()
    return caller / n, got / total, n - got


def run_sdk(receiver: Receiver, n: int, queue: int = 2048) -> Tuple[float, float, int]:
    from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
    from opentelemetry.sdk._logs import LoggerProvider, LoggingHandler
    from opentelemetry.sdk._logs.export import BatchLogRecordProcessor
    from opentelemetry.sdk.resources import Resource

    provider = LoggerProvider(resource=Resource.create({"service.name": "bench"}))
    processor = BatchLogRecordProcessor(OTLPLogExporter(endpoint=receiver.url), max_queue_size=queue)
    provider.add_log_record_processor(processor)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        handler = LoggingHandler(logger_provider=provider)
    log = logging.getLogger("bench.otel")
    log.propagate = False
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    start = time.perf_counter()
    for i in range(n):
        log.info("order placed", extra={"seq": i, "user": "ann", "amount": 12.5})
    caller = time.perf_counter() - start
    provider.force_flush()
    got = receiver.wait(n)
    total = time.perf_counter() - start
    provider.shutdown()
    return caller / n, got / total, n - got


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 50_000
    results = {}
    sides = (
        ("micktrace otlp (http/protobuf)", lambda r: run_micktrace(r, n)),
        ("otel-sdk LoggingHandler + BatchLogRecordProcessor (defaults)", lambda r: run_sdk(r, n)),
        (f"otel-sdk, max_queue_size={n} (no drops)", lambda r: run_sdk(r, n, queue=n)),
    )
    for name, fn in sides:
        receiver = Receiver()
        try:
            results[name] = fn(receiver)
        finally:
            receiver.stop()
    (m_call, m_rate, _), _defaults, (s_call, s_rate, _) = results.values()
    lines = [f"## otlp (N={n}, OTLP/HTTP protobuf to a receiver process on 127.0.0.1)", "",
             "| | caller µs/record | delivered records/s | records lost |", "|---|---|---|---|"]  # fmt: skip
    for name, (call, rate, lost) in results.items():
        lines.append(f"| {name} | {call * 1e6:.2f} | {rate:,.0f} | {lost} |")
    lines.append(f"| ratio micktrace / sdk (no drops) | {m_call / s_call:.2f} (target <= 0.25) "
                 f"| {m_rate / s_rate:.2f} (target >= 3) | |")  # fmt: skip
    text = "\n".join(lines) + "\n"
    print(text)
    out = ROOT / "benchmarks" / "results"
    out.mkdir(exist_ok=True)
    (out / "otlp.md").write_text(text)


if __name__ == "__main__":
    main()
