"""Benchmark: the syslog handler vs stdlib logging.handlers.SysLogHandler, both to the same rsyslogd over TCP.

Run standalone: ``python benchmarks/network_syslog.py [N]``. Starts rsyslogd (the test fixture's config, in a
temporary directory), measures (a) the caller's cost per record (N log calls in the application thread, no
flush) and (b) records per second delivered (first call until rsyslog's output file holds all N). Writes
benchmarks/results/syslog.md.
"""

from __future__ import annotations

import logging
import logging.handlers
import socket
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "src"), str(ROOT / "tests")]

import micktrace  # noqa: E402
from micktrace.handlers.network.syslog import SyslogHandler  # noqa: E402
from test_syslog import Rsyslog  # noqa: E402


def _wait_lines(server: Rsyslog, count: int) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if server.out.exists() and server.out.read_bytes().count(b"\n") >= count:
            return
        time.sleep(0.01)
    raise RuntimeError("not all records arrived")


def run_micktrace(server: Rsyslog, n: int) -> tuple:
    handler = SyslogHandler(address=("127.0.0.1", server.tcp), protocol="tcp")
    micktrace.configure(handlers=[handler])
    log = micktrace.get_logger("bench")
    start = time.perf_counter()
    for i in range(n):
        log.info("order placed", seq=i, user="ann", amount=12.5)
    caller = time.perf_counter() - start
    _wait_lines(server, n)
    total = time.perf_counter() - start
    micktrace.shutdown()
    return caller / n, n / total


def run_stdlib(server: Rsyslog, n: int) -> tuple:
    handler = logging.handlers.SysLogHandler(("127.0.0.1", server.tcp), socktype=socket.SOCK_STREAM)
    handler.append_nul = False  # LF framing, which rsyslog's imtcp reads
    handler.setFormatter(logging.Formatter("bench: %(message)s seq=%(seq)s user=%(user)s amount=%(amount)s\n"))
    log = logging.getLogger("bench.stdlib")
    log.propagate = False
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    start = time.perf_counter()
    for i in range(n):
        log.info("order placed", extra={"seq": i, "user": "ann", "amount": 12.5})
    caller = time.perf_counter() - start
    _wait_lines(server, n)
    total = time.perf_counter() - start
    handler.close()
    return caller / n, n / total


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 20_000
    results = {}
    for name, fn in (("micktrace syslog (tcp)", run_micktrace), ("stdlib SysLogHandler (tcp)", run_stdlib)):
        with tempfile.TemporaryDirectory() as tmp:
            server = Rsyslog(Path(tmp))
            server.start()
            try:
                results[name] = fn(server, n)
            finally:
                server.stop()
    (m_call, m_rate), (s_call, s_rate) = results.values()
    lines = [f"## syslog (N={n}, TCP to rsyslogd on 127.0.0.1)", "",
             "| | caller µs/record | delivered records/s |", "|---|---|---|"]  # fmt: skip
    for name, (call, rate) in results.items():
        lines.append(f"| {name} | {call * 1e6:.2f} | {rate:,.0f} |")
    lines.append(
        f"| ratio micktrace/stdlib | {m_call / s_call:.2f} (target <= 0.25) | {m_rate / s_rate:.2f} (target >= 3) |"
    )
    text = "\n".join(lines) + "\n"
    print(text)
    (ROOT / "benchmarks" / "results" / "syslog.md").write_text(text)


if __name__ == "__main__":
    main()
