"""Records per second through the file handler, with and without rotation.

    python benchmarks/file_rotation.py [--records N] [--processes P]

Rows:

* ``handler.write``: one ``FileHandler.write(line)`` per record (what the sync
  dispatch path does), preformatted lines: the cost of the transport alone.
* ``handler.write_lines``: batches of 1,000 lines (what the background worker does).
* ``logger -> file``: ``log.info(...)`` through ``configure()`` with the default
  background dispatch, timed until ``micktrace.flush()`` returns (everything on disk).
* ``P processes -> one file``: P processes, each logging N records into the same
  rotating file; records/s over all of them, start to last exit.

Each row runs with rotation off, and with size rotation every 1 MB (and gz
compression, in the last rows), in a fresh temporary directory.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from typing import Any, Callable, Dict, List, Tuple

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "src"))

import micktrace  # noqa: E402
from micktrace.handlers.file import FileHandler  # noqa: E402

LINE = '{"timestamp":"2024-05-01T12:00:00.000000Z","level":"INFO","logger":"bench","message":"request handled","i":%d}'

VARIANTS: List[Tuple[str, Dict[str, Any]]] = [
    ("no rotation, watch off", {"watch": False}),
    ("no rotation, watch on (default)", {}),
    ("rotation 1 MB", {"rotation": "1 MB"}),
    ("rotation 1 MB + daily", {"rotation": ["1 MB", "daily"]}),
    ("rotation 1 MB + gz", {"rotation": "1 MB", "compression": "gz"}),
]


def _timed(fn: Callable[[], None]) -> float:
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def bench_write(n: int, options: Dict[str, Any]) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        handler = FileHandler(os.path.join(tmp, "app.log"), **options)
        lines = [LINE % i for i in range(n)]
        write = handler.write

        def run() -> None:
            for line in lines:
                write(line)

        elapsed = _timed(run)
        handler.wait_for_compression()
        handler.close()
    return n / elapsed


def bench_write_lines(n: int, options: Dict[str, Any], batch: int = 1000) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        handler = FileHandler(os.path.join(tmp, "app.log"), **options)
        lines = [LINE % i for i in range(n)]
        batches = [lines[i : i + batch] for i in range(0, n, batch)]

        def run() -> None:
            for chunk in batches:
                handler.write_lines(chunk)

        elapsed = _timed(run)
        handler.wait_for_compression()
        handler.close()
    return n / elapsed


def bench_logger(n: int, options: Dict[str, Any]) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        spec = {"type": "file", "path": os.path.join(tmp, "app.log"), **options}
        micktrace.configure(format="json", handlers=[spec], reset=True)
        log = micktrace.get_logger("bench")

        def run() -> None:
            for i in range(n):
                log.info("request handled", i=i)
            micktrace.flush(timeout=None)

        elapsed = _timed(run)
        for handler in micktrace.configure().handlers:
            if isinstance(handler, FileHandler):
                handler.wait_for_compression()
        micktrace.shutdown()
        micktrace.configure(reset=True)
    return n / elapsed


CHILD = r"""
import sys, micktrace
path, n, rotation = sys.argv[1], int(sys.argv[2]), sys.argv[3]
spec = {"type": "file", "path": path}
if rotation != "off":
    spec["rotation"] = rotation
micktrace.configure(format="json", handlers=[spec])
log = micktrace.get_logger("bench")
for i in range(n):
    log.info("request handled", i=i)
"""


def bench_processes(n: int, processes: int, rotation: str) -> float:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.path.join(HERE, "..", "src") + os.pathsep + env.get("PYTHONPATH", "")
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "app.log")
        started = time.perf_counter()
        children = [
            subprocess.Popen([sys.executable, "-c", CHILD, path, str(n), rotation], env=env) for _ in range(processes)
        ]
        for child in children:
            if child.wait() != 0:
                raise SystemExit("a benchmark child failed")
        elapsed = time.perf_counter() - started
        lines = 0
        for name in os.listdir(tmp):
            if not name.startswith("."):
                with open(os.path.join(tmp, name), "rb") as f:
                    lines += f.read().count(b"\n")
        if lines != n * processes:
            raise SystemExit(f"expected {n * processes} lines, found {lines}")
    return n * processes / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--processes", type=int, default=4)
    args = parser.parse_args()
    n = args.records

    rows: List[Tuple[str, str, float]] = []
    for label, options in VARIANTS:
        rows.append(("handler.write (per record)", label, bench_write(n, options)))
    for label, options in VARIANTS:
        rows.append(("handler.write_lines (1,000 per batch)", label, bench_write_lines(n, options)))
    for label, options in VARIANTS:
        rows.append(("logger -> file (background)", label, bench_logger(n, options)))
    for rotation in ("off", "1 MB"):
        label = "no rotation" if rotation == "off" else f"rotation {rotation}"
        rate = bench_processes(n // 2, args.processes, rotation)
        rows.append((f"{args.processes} processes -> one file", label, rate))

    width = max(len(r[0]) for r in rows)
    vwidth = max(len(r[1]) for r in rows)
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs, {n:,} records per row")
    print(f"{'path':<{width}}  {'variant':<{vwidth}}  {'records/s':>12}")
    for path, label, rate in rows:
        print(f"{path:<{width}}  {label:<{vwidth}}  {rate:>12,.0f}")


if __name__ == "__main__":
    main()
