"""Benchmark: the syslog handler vs stdlib logging.handlers.SysLogHandler, both to the same rsyslogd over TCP.

Run standalone: ``python benchmarks/network_syslog.py [N [REPEATS]]`` (default: N=5,000, within
micktrace's default dispatch queue, and N=50,000, past it, 3 runs each). Starts rsyslogd (the test
fixture's config, in a temporary directory), measures (a) the caller's cost per record (N log calls in
the application thread, no flush) and (b) records per second delivered (first call until rsyslog's
output file holds all N). Writes benchmarks/results/syslog.md.
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
sys.path[:0] = [str(ROOT / "src"), str(ROOT / "tests"), str(ROOT / "benchmarks")]

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


NOTES = """
Caller: N log calls in the application thread, before any flush. Delivered: N records from the first call
until rsyslogd's output file holds all N. rsyslogd (the test suite's configuration) runs as its own process
on 127.0.0.1 and writes every message to a file. 2 cores, shared with other work: medians of alternating runs.

N=5,000 fits micktrace's default dispatch queue (10,000 records): the caller only enqueues, and the
encoding and sending happen on micktrace's threads. Past it the queue is full and the default
`overflow="block"` makes the caller wait for room, so its cost becomes the whole pipeline's per-record CPU
(masking, RFC 5424 encoding, the engine; one GIL): the sustained caller figure is the delivery pace. The
stdlib SysLogHandler formats and sends in the calling thread, one `send` per record.
"""


def main() -> None:
    from network_datadog import median_of, sizes, table

    counts, repeats = sizes()
    texts = []
    for n in counts:
        runs: dict = {"micktrace syslog (tcp)": [], "stdlib SysLogHandler (tcp)": []}
        for _ in range(repeats):
            for name, fn in (("micktrace syslog (tcp)", run_micktrace), ("stdlib SysLogHandler (tcp)", run_stdlib)):
                with tempfile.TemporaryDirectory() as tmp:
                    server = Rsyslog(Path(tmp))
                    server.start()
                    try:
                        runs[name].append(fn(server, n))
                    finally:
                        server.stop()
        results = {name: median_of(r) for name, r in runs.items()}
        texts.append(table(f"## syslog (N={n:,}, TCP to rsyslogd on 127.0.0.1, median of {repeats})", results,
                           "stdlib"))
    text = "\n".join(texts) + NOTES
    print(text)
    out = ROOT / "benchmarks" / "results"
    out.mkdir(exist_ok=True)
    (out / "syslog.md").write_text(text)


if __name__ == "__main__":
    main()
