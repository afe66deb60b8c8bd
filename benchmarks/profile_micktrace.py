"""Where micktrace's time goes: cProfile of the hot paths, plus a cost breakdown.

    python benchmarks/profile_micktrace.py            # JSON to file (sync and background), disabled call
    python benchmarks/profile_micktrace.py --n 50000 --top 15
    python benchmarks/profile_micktrace.py --src /path/to/other/src   # another tree

The breakdown times each step of a structured call on its own (the same work
the hot path does, step by step), so the cost of every piece can be compared
with the floor: build a dict, serialise it, write it.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import sys
import tempfile
import time
import timeit
from pathlib import Path
from typing import Any, Callable, Dict, List, Tuple

ROOT = Path(__file__).resolve().parent.parent


def _best_ns(stmt: Callable[[], Any], number: int, repeat: int = 7) -> float:
    return min(timeit.repeat(stmt, number=number, repeat=repeat)) / number * 1e9


def profile_calls(label: str, fn: Callable[[], None], top: int) -> str:
    profiler = cProfile.Profile()
    profiler.enable()
    fn()
    profiler.disable()
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out)
    stats.sort_stats("tottime").print_stats(top)
    text = out.getvalue()
    start = text.find("   ncalls")
    return f"== {label} (sorted by own time)\n" + (text[start:] if start >= 0 else text)


def breakdown(path: str) -> List[Tuple[str, float]]:
    """Per-step costs of one structured JSON record, in ns (best of 7)."""
    import micktrace
    from micktrace.formatters import JSONFormatter
    from micktrace.handlers import FileHandler

    captured: List[Any] = []
    log = micktrace.get_logger("bench")
    # one real record, caught by a callable handler
    micktrace.configure(level="INFO", handlers=[captured.append], reset=True)
    log.info("User login", user_id=123, ip="1.2.3.4", success=True, latency_ms=12.5, path="/api/x")
    sync = {"dispatch": "sync"} if _has_dispatch() else {}
    micktrace.configure(
        level="INFO", format="json", handlers=[{"type": "file", "config": {"path": path}}], reset=True, **sync
    )
    record = captured[0]
    formatter = JSONFormatter()
    handler = FileHandler(path, formatter=formatter)
    line = formatter.format(record)
    data = (line + "\n").encode()
    fd = os.open(path, os.O_WRONLY | os.O_APPEND)
    import orjson

    def noop(msg: str, *a: Any, **k: Any) -> None:
        pass

    steps: List[Tuple[str, Callable[[], Any]]] = [
        (
            "no-op call with 5 kwargs (floor)",
            lambda: noop("m", user_id=123, ip="1.2.3.4", success=True, latency_ms=12.5, path="/api/x"),
        ),
        ("time.time_ns()", time.time_ns),
        (
            "build the 9-key dict",
            lambda: {
                "timestamp": "2026-01-01T00:00:00.000000Z",
                "level": "INFO",
                "logger": "bench",
                "message": "User login",
                "user_id": 123,
                "ip": "1.2.3.4",
                "success": True,
                "latency_ms": 12.5,
                "path": "/api/x",
            },
        ),
        (
            "orjson.dumps(that dict)",
            lambda: orjson.dumps(
                {
                    "timestamp": "x",
                    "level": "INFO",
                    "logger": "bench",
                    "message": "User login",
                    "user_id": 123,
                    "ip": "1.2.3.4",
                    "success": True,
                    "latency_ms": 12.5,
                    "path": "/api/x",
                }
            ),
        ),
        ("JSONFormatter.format(record)", lambda: formatter.format(record)),
        ("(line + '\\n').encode()", lambda: (line + "\n").encode("utf-8", "backslashreplace")),
        ("os.write(fd, line) syscall", lambda: os.write(fd, data)),
        ("FileHandler.handle(record)", lambda: handler.handle(record)),
        (
            "log.info(...) sync, to file",
            lambda: log.info("User login", user_id=123, ip="1.2.3.4", success=True, latency_ms=12.5, path="/api/x"),
        ),
    ]
    results = []
    for label, stmt in steps:
        results.append((label, _best_ns(stmt, 2000)))
    os.close(fd)
    handler.close()
    return results


def _has_dispatch() -> bool:
    import inspect

    import micktrace

    return "dispatch" in inspect.signature(micktrace.configure).parameters


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=30_000, help="records per profiled run")
    parser.add_argument("--top", type=int, default=12, help="functions shown per profile")
    parser.add_argument("--src", default=str(ROOT / "src"), help="the directory holding the micktrace package")
    args = parser.parse_args()
    sys.path.insert(0, str(Path(args.src).resolve()))
    os.environ.pop("MICKTRACE_NO_ORJSON", None)
    import micktrace

    print(f"micktrace from {os.path.dirname(micktrace.__file__)}; Python {sys.version.split()[0]}\n")
    workdir = tempfile.mkdtemp(prefix="micktrace-profile-")
    path = os.path.join(workdir, "profile.log")
    n = args.n
    kwargs: Dict[str, Any] = {"user_id": 123, "ip": "1.2.3.4", "success": True, "latency_ms": 12.5, "path": "/api/x"}
    try:
        modes = ["sync", "background"] if _has_dispatch() else [None]
        for mode in modes:
            extra = {"dispatch": mode} if mode else {}
            micktrace.configure(
                level="INFO", format="json", handlers=[{"type": "file", "config": {"path": path}}], reset=True, **extra
            )
            log = micktrace.get_logger("bench")
            flush = getattr(micktrace, "flush", lambda **_: None)

            def run(log: Any = log, flush: Any = flush) -> None:
                for _ in range(n):
                    log.info("User login", **kwargs)
                flush(timeout=60)

            run()  # warm up
            start = time.perf_counter()
            run()
            per_call = (time.perf_counter() - start) / n * 1e6
            print(f"JSON to file, dispatch={mode or 'default'}: {per_call:.2f} us per record (flush included)")
            print(profile_calls(f"JSON to file, dispatch={mode or 'default'}, {n} records", run, args.top))

        micktrace.configure(level="INFO", reset=True, handlers=[{"type": "null"}])
        log = micktrace.get_logger("bench")
        debug = log.debug
        print(f"disabled debug: the method is {debug!r}")
        rows = [
            ('log.debug("msg")', lambda: log.debug("msg")),
            ('log.debug("msg", 5 fields)', lambda: log.debug("msg", **kwargs)),
        ]
        for label, stmt in rows:
            print(f"  {label:32s} {_best_ns(stmt, 200_000):7.1f} ns (lambda call included)")
        print()
        print("== cost breakdown of one structured record (ns, best of 7)")
        for label, cost in breakdown(path):
            print(f"  {label:40s} {cost:8.0f}")
    finally:
        shutdown = getattr(micktrace, "shutdown", None)
        if shutdown:
            shutdown()
        for name in os.listdir(workdir):
            os.remove(os.path.join(workdir, name))
        os.rmdir(workdir)
    return 0


if __name__ == "__main__":
    sys.exit(main())
