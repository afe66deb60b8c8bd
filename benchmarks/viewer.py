"""Lines per second through ``micktrace view``, against ``jq`` with the same filter.

    python benchmarks/viewer.py [--lines N] [--repeat R] [--write]

The input is N lines of micktrace's JSON (and logfmt) output, written by
micktrace's own formatters: 70% INFO, 15% DEBUG, 10% WARNING, 4% ERROR,
1% CRITICAL, user_id in 1..100, latency_ms in 1..1000. Each row runs the
command R times as a subprocess reading the file, output to /dev/null, and
keeps the best wall time (interpreter start-up included). Every row's matching
line count is checked against jq's (or a count in Python) before it is timed.
``--write`` also writes benchmarks/results/viewer.md.
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import shutil
import subprocess
import sys
import tempfile
import time
from typing import Dict, List, Optional, Sequence, Tuple

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.join(HERE, "..", "src")
sys.path.insert(0, SRC)

from micktrace.formatters.json import JSONFormatter  # noqa: E402
from micktrace.formatters.logfmt import LogfmtFormatter  # noqa: E402
from micktrace.record import LogRecord  # noqa: E402

LEVELS = [(20, 70), (10, 15), (30, 10), (40, 4), (50, 1)]
LOGGERS = ["app", "app.db", "app.http", "worker.queue"]


def make_lines(count: int, fmt: str) -> List[str]:
    rng = random.Random(7)
    formatter = JSONFormatter() if fmt == "json" else LogfmtFormatter()
    weights = [w for _, w in LEVELS]
    levels = [lv for lv, _ in LEVELS]
    start = time.time() - count / 1000
    lines = []
    for i in range(count):
        record = LogRecord(
            start + i / 1000,
            rng.choices(levels, weights)[0],
            rng.choice(LOGGERS),
            "request handled",
            {"latency_ms": rng.randint(1, 1000), "path": "/api/orders", "status": 200},
            {"request_id": f"req-{i}", "user_id": rng.randint(1, 100)},
            {"service": "bench", "version": "1.0.0"},
            None,
            None,
            1,
            os.getpid(),
        )
        lines.append(formatter.format(record))
    return lines


def best_time(cmd: Sequence[str], repeat: int) -> float:
    env = _env(cmd)
    best = float("inf")
    for _ in range(repeat):
        with open(os.devnull, "wb") as sink:
            started = time.perf_counter()
            subprocess.run(_argv(cmd), stdout=sink, check=True, env=env)
            best = min(best, time.perf_counter() - started)
    return best


def _env(cmd: Sequence[str]) -> Dict[str, str]:
    env = dict(os.environ, PYTHONPATH=SRC)
    if NO_ORJSON in cmd:  # a marker, not an argument: the row without orjson
        env["MICKTRACE_NO_ORJSON"] = "1"
    return env


def _argv(cmd: Sequence[str]) -> List[str]:
    return [arg for arg in cmd if arg != NO_ORJSON]


def count_lines(cmd: Sequence[str]) -> int:
    env = _env(cmd)
    out = subprocess.run(_argv(cmd), capture_output=True, check=True, env=env).stdout
    return out.count(b"\n")


VIEW = [sys.executable, "-m", "micktrace", "view"]
NO_ORJSON = "<no orjson>"
JQ_ERROR_42 = 'select((.level == "ERROR" or .level == "CRITICAL") and .user_id == 42)'


def rows(json_path: str, logfmt_path: str) -> List[Tuple[str, List[str], Optional[List[str]]]]:
    """(name, micktrace view command, the equivalent jq command or None)."""
    return [
        (
            "--json -l ERROR user_id=42",
            [*VIEW, "--json", "-l", "ERROR", "user_id=42", json_path],
            ["jq", "-c", JQ_ERROR_42, json_path],
        ),
        (
            "--json latency_ms>900",
            [*VIEW, "--json", "latency_ms>900", json_path],
            ["jq", "-c", "select(.latency_ms > 900)", json_path],
        ),
        (
            "--json --logger app.db -l WARNING",
            [*VIEW, "--json", "--logger", "app.db", "-l", "WARNING", json_path],
            [
                "jq",
                "-c",
                'select((.logger == "app.db" or (.logger | startswith("app.db."))) '
                'and (.level == "WARNING" or .level == "ERROR" or .level == "CRITICAL"))',
                json_path,
            ],
        ),
        (
            "--json -l ERROR user_id=42 | stdlib json",
            [*VIEW, NO_ORJSON, "--json", "-l", "ERROR", "user_id=42", json_path],
            ["jq", "-c", JQ_ERROR_42, json_path],
        ),
        (
            "--json latency_ms>900 | stdlib json",
            [*VIEW, NO_ORJSON, "--json", "latency_ms>900", json_path],
            ["jq", "-c", "select(.latency_ms > 900)", json_path],
        ),
        (
            "--json -l ERROR user_id=42 | logfmt input",
            [*VIEW, "--json", "-l", "ERROR", "user_id=42", logfmt_path],
            None,
        ),
        ("--color | every line rendered", [*VIEW, "--color", json_path], ["jq", "-C", ".", json_path]),
    ]


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lines", type=int, default=500_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--write", action="store_true", help="write benchmarks/results/viewer.md")
    args = parser.parse_args(argv)
    jq = shutil.which("jq")
    if jq is None:
        print("jq is missing: bash scripts/test-deps.d/30-jq.sh installs it", file=sys.stderr)
        return 1
    try:
        import orjson

        json_lib = f"orjson {orjson.__version__}"
    except ImportError:
        json_lib = "json (stdlib)"
    jq_version = subprocess.run(["jq", "--version"], capture_output=True, text=True).stdout.strip()
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        json_path = os.path.join(tmp, "app.json.log")
        logfmt_path = os.path.join(tmp, "app.logfmt.log")
        for path, fmt in ((json_path, "json"), (logfmt_path, "logfmt")):
            with open(path, "w") as f:
                f.write("\n".join(make_lines(args.lines, fmt)) + "\n")
        for name, view, jq_cmd in rows(json_path, logfmt_path):
            matched = count_lines(view)
            if jq_cmd is not None and "-C" not in jq_cmd:
                expected = count_lines(jq_cmd)
                if matched != expected:
                    print(f"{name}: micktrace view printed {matched} lines, jq {expected}", file=sys.stderr)
                    return 1
            view_s = best_time(view, args.repeat)
            jq_s = best_time(jq_cmd, args.repeat) if jq_cmd is not None else None
            results.append((name, matched, args.lines / view_s, None if jq_s is None else args.lines / jq_s))
            jq_text = "" if jq_s is None else f"  jq {args.lines / jq_s:>11,.0f}/s  ratio {jq_s / view_s:5.2f}x"
            print(f"{name:<52} {args.lines / view_s:>11,.0f} lines/s  ({matched} matched){jq_text}")
    if args.write:
        write_results(results, args.lines, args.repeat, json_lib, jq_version)
    return 0


def write_results(
    results: List[Tuple[str, int, float, Optional[float]]], lines: int, repeat: int, json_lib: str, jq_version: str
) -> None:
    out = [
        "# micktrace view: lines per second",
        "",
        f"`python benchmarks/viewer.py --lines {lines} --repeat {repeat} --write`: {lines:,} lines of",
        "micktrace output in a file, each command run as a subprocess with its output to /dev/null, best",
        "of the runs, interpreter start-up included. Ratio: micktrace view's lines/s over jq's (above 1:",
        "micktrace view is faster). jq runs `select(...)` with the same condition (`jq -c`), and",
        "`jq -C .` for the rendering row. JSON input unless noted; the stdlib json rows set",
        "MICKTRACE_NO_ORJSON=1. Generated by the script; do not edit by hand.",
        "",
        f"Python {platform.python_version()} ({json_lib}), {jq_version}, {platform.machine()}, "
        f"{os.cpu_count()} CPUs, {time.strftime('%Y-%m-%d', time.gmtime())}.",
        "",
        "| micktrace view | notes | matched | micktrace view lines/s | jq lines/s | ratio |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for name, matched, view_rate, jq_rate in results:
        jq_cell = "n/a" if jq_rate is None else f"{jq_rate:,.0f}"
        ratio = "n/a" if jq_rate is None else f"{view_rate / jq_rate:.2f}x"
        command, _, note = name.partition(" | ")
        out.append(f"| `{command}` | {note} | {matched:,} | {view_rate:,.0f} | {jq_cell} | {ratio} |")
    out.append("")
    with open(os.path.join(HERE, "results", "viewer.md"), "w") as f:
        f.write("\n".join(out))


if __name__ == "__main__":
    sys.exit(main())
