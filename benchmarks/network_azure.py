"""Benchmark: the azure handler (Application Insights form) vs azure-monitor-opentelemetry's logging handler.

Run standalone: ``python benchmarks/network_azure.py [N [REPEATS]]`` (default: N=5,000, within
micktrace's default dispatch queue, and N=20,000, past it, 3 runs each). Starts the test suite's
loopback HTTPS emulator of Application Insights' track API (tests/support/azure_intakes.py: it checks
the instrumentation key, gunzips, validates every envelope and keeps them) in a process of its own and
measures, for each side, (a) the caller's cost per record (N log calls in the application thread,
before any flush) and (b) records per second delivered (from the first call until the emulator holds
all N, both sides flushing once at the end). Writes benchmarks/results/azure.md.

The alternative is Microsoft's distro the way its documentation sets up logging:
``configure_azure_monitor(connection_string=..., logger_name=...)`` from azure-monitor-opentelemetry
(installed next to the OpenTelemetry packages already here without changing any of them), which puts
OpenTelemetry's ``LoggingHandler`` on the logger and exports through ``AzureMonitorLogExporter``
behind a ``BatchLogRecordProcessor``. Its tracing, metrics, live metrics, performance counters,
offline storage and instrumentations are switched off (only logs are compared), and the batch
processor's queue is raised to N (``OTEL_BLRP_MAX_QUEUE_SIZE``; the default 2,048 drops the rest of
a burst, and a dropped record is never delivered).

Each measurement runs in a fresh child process (the distro sets process-wide providers once), with
the exporter's telemetry about itself off and ``support.loopback_only`` refusing any connection that
is not to 127.0.0.1.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Dict, List

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "src"), str(ROOT / "tests"), str(ROOT / "benchmarks")]

from network_datadog import FIELDS, NOTES, Result, median_of, sizes, table, wait_for  # noqa: E402

ALTERNATIVE = "azure-monitor-opentelemetry (LoggingHandler + AzureMonitorLogExporter)"


class Emulator:
    """The track API emulator in a process of its own: ``connection_string``, ``ca_certs``, ``count()``."""

    def __init__(self, directory: str) -> None:
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "tests"), str(ROOT / "src")])}
        self.proc = subprocess.Popen([sys.executable, "-m", "support.azure_intakes", "track", directory],
                                     cwd=ROOT / "tests", stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                                     env=env)  # fmt: skip
        assert self.proc.stdout is not None
        self.connection_string, self.ca_certs, self.base = (self.proc.stdout.readline().strip() for _ in range(3))
        if not self.base:
            raise RuntimeError("the emulator did not start")

    def close(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        self.proc.wait(10)


def counter(base: str, ca_certs: str) -> Any:
    import http.client
    import ssl

    port = int(base.rsplit(":", 1)[1])
    conn = http.client.HTTPSConnection("127.0.0.1", port, context=ssl.create_default_context(cafile=ca_certs))

    def count() -> int:
        conn.request("GET", "/_count")
        return int(json.loads(conn.getresponse().read())["count"])

    return count


def child(side: str, n: int, connection_string: str, ca_certs: str, base: str) -> Result:
    """One measurement, in this (fresh) process."""
    from support.azure_intakes import EXPORTER_ENV

    os.environ.update(EXPORTER_ENV, SSL_CERT_FILE=ca_certs, REQUESTS_CA_BUNDLE=ca_certs)
    import support.loopback_only  # noqa: F401  (nothing leaves the machine)

    count = counter(base, ca_certs)
    if side == "micktrace":
        from network_datadog import measure_micktrace

        spec = {"type": "azure", "connection_string": connection_string, "connection_verify": ca_certs}
        return measure_micktrace(spec, count, n)
    import logging

    os.environ["OTEL_BLRP_MAX_QUEUE_SIZE"] = str(max(2048, n))
    from azure.monitor.opentelemetry import configure_azure_monitor
    from opentelemetry._logs import get_logger_provider

    off = {"enabled": False}
    configure_azure_monitor(connection_string=connection_string, logger_name="bench.azure", disable_tracing=True,
                            disable_metrics=True, enable_live_metrics=False, enable_performance_counters=False,
                            disable_offline_storage=True,
                            instrumentation_options={name: off for name in (
                                "azure_sdk", "django", "fastapi", "flask", "psycopg2", "requests", "urllib",
                                "urllib3")})  # fmt: skip
    log = logging.getLogger("bench.azure")
    log.setLevel(logging.INFO)
    log.propagate = False
    start = time.perf_counter()
    for i in range(n):
        log.info("order placed", extra={"seq": i, **FIELDS})
    caller = time.perf_counter() - start
    get_logger_provider().force_flush()  # type: ignore[attr-defined]
    wait_for(count, n)
    total = time.perf_counter() - start
    return caller / n, n / total


def measure(side: str, n: int, tmp: str) -> Result:
    intake = Emulator(tmp)
    try:
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(ROOT / "tests")])}
        out = subprocess.run([sys.executable, __file__, "--child", side, str(n), intake.connection_string,
                              intake.ca_certs, intake.base], env=env, capture_output=True, text=True,
                             timeout=600)  # fmt: skip
        if out.returncode != 0:
            raise RuntimeError(f"{side} run failed: {out.stderr[-2000:]}")
        caller, rate = json.loads(out.stdout.strip().splitlines()[-1])
        return float(caller), float(rate)
    finally:
        intake.close()


def main() -> None:
    counts, repeats = sizes()
    if len(sys.argv) < 2:  # the alternative delivers ~1,000 records/s here: 20,000 is past micktrace's queue
        counts = [5_000, 20_000]
    texts = []
    with tempfile.TemporaryDirectory() as tmp:
        for n in counts:
            mine: List[Result] = []
            theirs: List[Result] = []
            for _ in range(repeats):  # alternating, each against a fresh emulator, in a fresh process
                mine.append(measure("micktrace", n, tmp))
                theirs.append(measure("azure", n, tmp))
            results: Dict[str, Result] = {"micktrace azure": median_of(mine), ALTERNATIVE: median_of(theirs)}
            title = (f"## azure, Application Insights (N={n:,}, median of {repeats} runs, loopback HTTPS emulator "
                     "of the track API)")  # fmt: skip
            texts.append(table(title, results, "azure-monitor-opentelemetry"))
            print(texts[-1], flush=True)
    out = ROOT / "benchmarks" / "results"
    out.mkdir(exist_ok=True)
    alternative = ("\nThe alternative: azure-monitor-opentelemetry's `configure_azure_monitor(logger_name=...)` "
                   "(OpenTelemetry `LoggingHandler`, `BatchLogRecordProcessor` with its queue raised to N so "
                   "that it drops nothing, `AzureMonitorLogExporter`; tracing, metrics, live metrics, offline "
                   "storage and instrumentations off). micktrace gzips its requests; the exporter does not. "
                   "Each run in a fresh process. The emulator here is tests/support/azure_intakes.py "
                   "(`TrackIntake`).\n")  # fmt: skip
    (out / "azure.md").write_text("\n".join(texts) + alternative + NOTES)


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        print(json.dumps(child(sys.argv[2], int(sys.argv[3]), *sys.argv[4:7])))
    else:
        main()
