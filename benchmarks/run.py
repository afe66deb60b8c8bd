"""micktrace against stdlib logging, loguru, structlog, picologging and logbook.

    python benchmarks/run.py                  # the full suite (under 5 minutes)
    python benchmarks/run.py --quick          # fewer records and repeats (under 1 minute)
    python benchmarks/run.py --check-only     # outputs checked, timings meaningless (CI)
    python benchmarks/run.py --json out.json  # also write every number as JSON

Each table cell runs in a fresh interpreter (benchmarks/worker.py) with the
working tree's ``src/`` first on the path. Every timed run ends with the
library's flush, and every output file is checked afterwards: the exact line
count, and the first and last line parsed with every field and its type.
The ratio column is micktrace divided by the best peer (the floor is not a
peer); "met" compares it with the issue's targets. See benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import datetime
import importlib.util
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Tuple

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
sys.path.insert(0, str(BENCH_DIR))

from libs import LIBRARIES, MODULES, PEERS  # noqa: E402
from verify import check_file  # noqa: E402

WORKER = BENCH_DIR / "worker.py"
RESULT_PREFIX = "BENCH-RESULT "
#: modules whose presence after ``import micktrace`` means an optional dependency was imported
OPTIONAL_MODULES = (
    "orjson",
    "rich",
    "boto3",
    "botocore",
    "aioboto3",
    "msgpack",
    "lz4",
    "opentelemetry",
    "requests",
    "datadog",
    "newrelic",
    "elasticsearch",
    "google.cloud",
    "azure",
    "sentry_sdk",
    "prometheus_client",
    "psutil",
    "asyncio",
)

PROFILES: Dict[str, Dict[str, Any]] = {
    # percall: seconds per timed run and runs (best is kept); n for background;
    # records for throughput / memory; seconds a stalled caller is given
    "full": {
        # many short runs: on a shared machine the best of them is the most repeatable number
        "target_time": 0.05,
        "repeats": 11,
        "background_n": 5_000,
        "throughput": 200_000,
        "rss": 100_000,
        "stall_wait": 5.0,
        "import_runs": 10,
        "thread_timeout": 60.0,
        "min_thread_timeout": 15.0,
    },
    "quick": {
        "target_time": 0.02,
        "repeats": 3,
        "background_n": 1_000,
        "throughput": 40_000,
        "rss": 20_000,
        "stall_wait": 2.0,
        "import_runs": 3,
        "thread_timeout": 20.0,
        "min_thread_timeout": 3.0,
    },
    "check": {
        "n": 100,
        "warmup": 20,
        "repeats": 1,
        "background_n": 100,
        "throughput": 2_000,
        "rss": 2_000,
        "stall_wait": 1.0,
        "import_runs": 1,
        "thread_timeout": 5.0,
        "min_thread_timeout": 5.0,
    },
}


class Scenario:
    """One row of the table."""

    def __init__(
        self,
        id: str,
        title: str,
        mode: str,
        unit: str,
        libs: Tuple[str, ...],
        kind: str = "json",
        content: str = "json",
        better: str = "lower",
        target: str = "",
        judge: Optional[Callable[[Dict[str, Any]], Optional[bool]]] = None,
        opts: Optional[Dict[str, Any]] = None,
        env: Optional[Dict[str, Dict[str, str]]] = None,
        peers_from: Optional[str] = None,
        extra: Optional[Dict[str, Any]] = None,
    ) -> None:
        self.id = id
        self.title = title
        self.mode = mode
        self.unit = unit
        self.libs = libs
        self.kind = kind
        self.content = content
        self.better = better
        self.target = target
        self.judge = judge
        self.opts = opts or {}
        self.env = env or {}
        self.peers_from = peers_from
        self.extra = extra or {}


ALL = LIBRARIES
NO_FLOOR = tuple(lib for lib in LIBRARIES if lib != "floor")
QUEUED = ("micktrace", "stdlib", "loguru", "picologging", "logbook")


def _ratio_at_most(limit: float) -> Callable[[Dict[str, Any]], Optional[bool]]:
    return lambda row: None if row.get("ratio") is None else row["ratio"] <= limit


def _ratio_at_least(limit: float) -> Callable[[Dict[str, Any]], Optional[bool]]:
    return lambda row: None if row.get("ratio") is None else row["ratio"] >= limit


def _value_at_most(limit: float) -> Callable[[Dict[str, Any]], Optional[bool]]:
    return lambda row: None if row.get("micktrace") is None else row["micktrace"] <= limit


def _vs_floor(limit: float) -> Callable[[Dict[str, Any]], Optional[bool]]:
    def judge(row: Dict[str, Any]) -> Optional[bool]:
        mine, floor = row.get("micktrace"), _value(row, "floor")
        if mine is None or not floor:
            return None
        row["ratio_floor"] = mine / floor
        return bool(mine / floor <= limit)

    return judge


def _vs_lib(lib: str) -> Callable[[Dict[str, Any]], Optional[bool]]:
    def judge(row: Dict[str, Any]) -> Optional[bool]:
        mine, theirs = row.get("micktrace"), _value(row, lib)
        if mine is None or not theirs:
            return None
        row["ratio_" + lib] = mine / theirs
        return bool(mine < theirs)

    return judge


def _four_threads(row: Dict[str, Any]) -> Optional[bool]:
    status = row["results"].get("micktrace", {}).get("status")
    if status in ("deadlock", "timeout"):
        return False
    return None if row.get("ratio") is None else row["ratio"] >= 2.0


def _import_judge(row: Dict[str, Any]) -> Optional[bool]:
    mine = row["results"].get("micktrace", {})
    if mine.get("status") != "ok":
        return None
    return bool(mine["value"] <= 15.0 and not mine.get("optional_imported"))


SCENARIOS: List[Scenario] = [
    Scenario(
        "disabled",
        '1  disabled debug("msg")',
        "percall",
        "ns",
        ALL,
        kind="disabled",
        target="<= 1.15x floor",
        judge=_vs_floor(1.15),
    ),
    Scenario(
        "disabled_fields",
        "1b disabled, 5 fields",
        "percall",
        "ns",
        ALL,
        kind="disabled_fields",
        target="<= 1.0x best",
        judge=_ratio_at_most(1.0),
    ),
    Scenario(
        "text",
        "2  text line to file",
        "percall",
        "us",
        ALL,
        kind="text",
        content="text",
        target="< picologging",
        judge=_vs_lib("picologging"),
    ),
    Scenario(
        "json", "3  JSON, 5 fields, to file", "percall", "us", ALL, target="<= 0.4x best", judge=_ratio_at_most(0.4)
    ),
    Scenario(
        "json_sync",
        "3  ... micktrace dispatch=sync",
        "percall",
        "us",
        ("micktrace",),
        kind="json_sync",
        peers_from="json",
        target="(info)",
    ),
    Scenario(
        "json_rotation",
        "3  ... micktrace file rotation on",
        "percall",
        "us",
        ("micktrace",),
        kind="json_rotation",
        peers_from="json",
        target="(info)",
    ),
    Scenario(
        "json_stdjson",
        "3  ... all without orjson",
        "percall",
        "us",
        ALL,
        opts={"json": "stdlib"},
        env={"micktrace": {"MICKTRACE_NO_ORJSON": "1"}},
        target="< 1.0x best",
        judge=_ratio_at_most(0.999),
    ),
    Scenario(
        "json_purepy",
        "3  ... micktrace pure Python (no C speedup)",
        "percall",
        "us",
        ("micktrace",),
        env={"micktrace": {"MICKTRACE_NO_SPEEDUPS": "1"}},
        peers_from="json",
        target="(info)",
    ),
    Scenario(
        "json_stdjson_purepy",
        "3  ... micktrace pure Python, no orjson",
        "percall",
        "us",
        ("micktrace",),
        opts={"json": "stdlib"},
        env={"micktrace": {"MICKTRACE_NO_SPEEDUPS": "1", "MICKTRACE_NO_ORJSON": "1"}},
        peers_from="json_stdjson",
        target="(info)",
    ),
    Scenario(
        "json_ctx",
        "3b + 3 bound, 2 context",
        "percall",
        "us",
        ALL,
        kind="json_ctx",
        content="json_ctx",
        target="(info)",
    ),
    Scenario(
        "throughput_1t",
        "4  throughput, 1 thread",
        "threads",
        "k rec/s",
        ALL,
        better="higher",
        target=">= 2.5x best",
        judge=_ratio_at_least(2.5),
        extra={"threads": 1},
    ),
    Scenario(
        "throughput_4t",
        "4  throughput, 4 threads",
        "threads",
        "k rec/s",
        ALL,
        better="higher",
        target=">= 2x best, no deadlock",
        judge=_four_threads,
        extra={"threads": 4},
    ),
    Scenario("rss", "5  RSS growth, N records", "rss", "MiB", ALL, target="< 10 MiB", judge=_value_at_most(10.0)),
    Scenario(
        "rss_stalled",
        "5  RSS growth, stalled handler",
        "stalled",
        "MiB",
        QUEUED,
        target="bounded (< 16 MiB)",
        judge=_value_at_most(16.0),
    ),
    Scenario(
        "background",
        "6  caller cost, background (thread CPU)",
        "percall",
        "us",
        QUEUED,
        kind="background",
        target="<= 1.5 us",
        judge=_value_at_most(1.5),
        extra={"field": "calls_cpu_ns"},
    ),
    Scenario(
        "background_wall",
        "6  ... wall clock, tight loop",
        "derived",
        "us",
        QUEUED,
        kind="background",
        target="(info)",
        extra={"from": "background", "field": "calls_ns"},
    ),
    Scenario(
        "import",
        "7  import time",
        "import",
        "ms",
        NO_FLOOR,
        content="none",
        target="< 15 ms, no optional deps",
        judge=_import_judge,
    ),
    Scenario(
        "masking",
        "8  masking cost on (3)",
        "masking",
        "%",
        ("micktrace",),
        target="<= +25%",
        judge=_value_at_most(25.0),
    ),
    Scenario(
        "masking_distinct",
        "8  ... + a distinct value per call",
        "masking",
        "%",
        ("micktrace",),
        target="(info)",
        extra={"suffix": "_distinct"},
    ),
]


def _value(row: Dict[str, Any], lib: str) -> Optional[float]:
    result = row["results"].get(lib) or {}
    return result.get("value") if result.get("status") == "ok" else None


# ---------------------------------------------------------------------------
# running workers


#: the source tree whose micktrace is measured (``--src``; default: this checkout's src/)
SOURCE = ROOT / "src"


def _worker_env(extra: Optional[Dict[str, str]] = None) -> Dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MICKTRACE_")}
    env["PYTHONPATH"] = os.pathsep.join([str(SOURCE), *filter(None, [os.environ.get("PYTHONPATH")])])
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env.update(extra or {})
    return env


def _cpu_seconds(pid: int) -> Optional[float]:
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None


def _size(path: str) -> int:
    try:
        return os.path.getsize(path)
    except OSError:
        return -1


def _diagnose_hang(pid: int, path: str) -> Tuple[str, str]:
    """A worker overran its time: "deadlock" if it neither uses CPU nor writes
    for a second (e.g. a C extension waiting on a lock while holding the GIL,
    so not even the worker's own watchdog can run), else "timeout"."""
    cpu0, size0 = _cpu_seconds(pid), _size(path)
    time.sleep(1.0)
    cpu1, size1 = _cpu_seconds(pid), _size(path)
    if cpu0 is not None and cpu1 is not None and cpu1 - cpu0 < 0.05 and size0 == size1:
        return "deadlock", f"hung: no CPU time and no output for 1 s ({max(size1, 0)} bytes written)"
    return "timeout", "still running (using CPU or writing) when its time ran out"


def run_worker(spec: Dict[str, Any], env: Optional[Dict[str, str]], timeout: float) -> Dict[str, Any]:
    proc = subprocess.Popen(
        [sys.executable, str(WORKER), json.dumps(spec)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=_worker_env(env),
        cwd=str(ROOT),
    )
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        path = os.path.join(spec["dir"], f"{spec['lib']}-{spec['id']}.log")
        status, reason = _diagnose_hang(proc.pid, path)
        proc.kill()
        proc.communicate()
        try:
            os.remove(path)
        except OSError:
            pass
        return {"status": status, "reason": f"worker killed after {timeout:.0f} s: {reason}"}
    for line in reversed(out.splitlines()):
        if line.startswith(RESULT_PREFIX):
            result: Dict[str, Any] = json.loads(line[len(RESULT_PREFIX) :])
            if err.strip():
                result["stderr"] = err.strip()[-2000:]
            return result
    return {"status": "error", "reason": f"worker exited {proc.returncode}: {(err or out)[-2000:]}"}


def measure_import(lib: str, runs: int) -> Dict[str, Any]:
    """Best of *runs* fresh interpreters: the time of ``import <module>`` alone."""
    module = MODULES[lib]
    code = (
        "import time\n"
        "t = time.perf_counter()\n"
        f"import {module}\n"
        "t = time.perf_counter() - t\n"
        "import json, sys, threading\n"
        f"optional = [m for m in {list(OPTIONAL_MODULES)!r} if m in sys.modules]\n"
        "print(json.dumps({'seconds': t, 'optional': optional, 'threads': threading.active_count()}))\n"
    )
    best: Optional[Dict[str, Any]] = None
    for _ in range(runs):
        try:
            proc = subprocess.run(
                [sys.executable, "-c", code], capture_output=True, text=True, env=_worker_env(), timeout=60
            )
        except subprocess.TimeoutExpired:
            return {"status": "timeout", "reason": "import took over 60 s"}
        if proc.returncode != 0:
            return {"status": "error", "reason": proc.stderr[-2000:]}
        sample = json.loads(proc.stdout.strip().splitlines()[-1])
        if best is None or sample["seconds"] < best["seconds"]:
            best = sample
    assert best is not None
    return {
        "status": "ok",
        "value": best["seconds"] * 1000.0,
        "optional_imported": best["optional"] if lib == "micktrace" else [],
        "threads_after_import": best["threads"],
        "runs": runs,
    }


def _available(lib: str) -> bool:
    if lib == "micktrace":
        return (SOURCE / "micktrace" / "__init__.py").exists()
    if lib == "floor":
        return True
    return importlib.util.find_spec(MODULES[lib]) is not None


class Job:
    def __init__(self, scenario: Scenario, lib: str, spec: Dict[str, Any], timeout: float, slot: str) -> None:
        self.scenario = scenario
        self.lib = lib
        self.spec = spec
        self.timeout = timeout
        self.slot = slot  # the key under which the result is stored ("micktrace", or "mask_on", ...)


def _jobs_for(scenario: Scenario, lib: str, profile: Dict[str, Any], workdir: str) -> List[Job]:
    base = {"lib": lib, "dir": workdir, "opts": scenario.opts}
    if scenario.mode == "derived":  # a second view of another row's runs
        return []
    if scenario.mode == "percall":
        spec = dict(base, mode="percall", kind=scenario.kind, id=scenario.id, repeats=profile["repeats"])
        if scenario.kind == "background":
            spec["n"] = profile["background_n"]
        elif "n" in profile:
            spec.update(n=profile["n"], warmup=profile["warmup"])
        else:
            spec["target_time"] = profile["target_time"]
        return [Job(scenario, lib, spec, 180.0, lib)]
    if scenario.mode == "masking":
        jobs = []
        suffix = scenario.extra.get("suffix", "")
        for slot in ("mask_on", "mask_off"):
            kind = slot + suffix
            spec = dict(base, mode="percall", kind=kind, id=kind, repeats=profile["repeats"])
            if "n" in profile:
                spec.update(n=profile["n"], warmup=profile["warmup"])
            else:
                spec["target_time"] = profile["target_time"]
            jobs.append(Job(scenario, lib, spec, 180.0, slot))
        return jobs
    if scenario.mode == "threads":
        spec = dict(
            base,
            mode="threads",
            id=scenario.id,
            threads=scenario.extra["threads"],
            total=profile["throughput"],
            timeout=profile["thread_timeout"],
        )
        return [Job(scenario, lib, spec, profile["thread_timeout"] + 20.0, lib)]
    if scenario.mode == "rss":
        return [Job(scenario, lib, dict(base, mode="rss", id=scenario.id, n=profile["rss"]), 180.0, lib)]
    if scenario.mode == "stalled":
        spec = dict(base, mode="stalled", id=scenario.id, n=profile["rss"], wait=profile["stall_wait"])
        return [Job(scenario, lib, spec, profile["stall_wait"] + 180.0, lib)]
    if scenario.mode == "import":
        return [Job(scenario, lib, {"runs": profile["import_runs"]}, 0.0, lib)]
    raise ValueError(scenario.mode)


def _headline(scenario: Scenario, result: Dict[str, Any]) -> Optional[float]:
    """The number shown in the table for one cell, in the row's unit."""
    mode = scenario.mode
    if mode in ("percall", "masking", "derived"):
        field = scenario.extra.get("field") or ("calls_ns" if scenario.kind == "background" else "total_ns")
        seconds_ns = result[field]
        return seconds_ns if scenario.unit == "ns" else seconds_ns / 1000.0
    if mode == "threads":
        return result["records_per_s"] / 1000.0
    if mode in ("rss", "stalled"):
        return result["peak_growth_mib"]
    if mode == "import":
        return result["value"]
    return None


def _verify(scenario: Scenario, job: Job, result: Dict[str, Any]) -> None:
    """Check the worker's file; turns the result into an error if it is wrong."""
    path = result.get("path")
    if result.get("status") != "ok" or not path:
        return
    try:
        content = scenario.content
        if job.spec.get("kind", "").startswith("disabled"):
            content = "json"  # only the one enabled check call is in the file
        result["lines"] = check_file(
            path,
            content,
            expected_lines=result.get("expected_lines"),
            min_lines=result.get("min_lines"),
            max_lines=result.get("max_lines"),
            which=tuple(result.get("check_lines") or ("first", "last")),
        )
        result["verified"] = True
    except (AssertionError, OSError) as exc:
        result["status"] = "error"
        result["reason"] = f"output check failed: {exc}"
    finally:
        try:
            os.remove(path)
        except OSError:
            pass


def execute(job: Job, workdir: str) -> Dict[str, Any]:
    scenario = job.scenario
    if not _available(job.lib):
        return {"status": "missing", "reason": f"{MODULES[job.lib]} is not installed", "wall_s": 0.0}
    started = time.perf_counter()
    if scenario.mode == "import":
        result = measure_import(job.lib, job.spec["runs"])
    else:
        result = run_worker(job.spec, scenario.env.get(job.lib), job.timeout)
        _verify(scenario, job, result)
        if result.get("status") == "ok":
            result["value"] = _headline(scenario, result)
    result["wall_s"] = time.perf_counter() - started
    return result


# ---------------------------------------------------------------------------
# the table


def _summarise(
    scenario: Scenario, results: Dict[str, Dict[str, Any]], rows: Dict[str, Dict[str, Any]]
) -> Dict[str, Any]:
    row: Dict[str, Any] = {
        "id": scenario.id,
        "title": scenario.title,
        "unit": scenario.unit,
        "better": scenario.better,
        "target": scenario.target,
        "results": results,
    }
    if scenario.mode == "masking":
        on, off = results.get("mask_on", {}), results.get("mask_off", {})
        if on.get("status") == "ok" and off.get("status") == "ok":
            overhead = (on["value"] / off["value"] - 1.0) * 100.0
            results["micktrace"] = {"status": "ok", "value": overhead, "on_us": on["value"], "off_us": off["value"]}
        else:
            reason = on.get("reason") or off.get("reason") or "n/a"
            results["micktrace"] = {"status": on.get("status", "n/a"), "reason": reason}
    peer_results = results
    if scenario.peers_from and scenario.peers_from in rows:
        peer_results = rows[scenario.peers_from]["results"]
        for lib in (*PEERS, "floor"):
            if lib in peer_results:
                results.setdefault(lib, dict(peer_results[lib], copied_from=scenario.peers_from))
    mine = results.get("micktrace", {})
    row["micktrace"] = mine.get("value") if mine.get("status") == "ok" else None
    best_lib, best = None, None
    for lib in PEERS:
        value = _value({"results": peer_results}, lib)
        if value is None:
            continue
        if best is None or (value < best if scenario.better == "lower" else value > best):
            best_lib, best = lib, value
    row["best_peer"], row["best_value"] = best_lib, best
    row["ratio"] = row["micktrace"] / best if row["micktrace"] is not None and best else None
    row["met"] = scenario.judge(row) if scenario.judge else None
    return row


def _cell(result: Optional[Dict[str, Any]]) -> str:
    if not result:
        return ""
    status = result.get("status")
    if status == "ok":
        value = result.get("value")
        if value is None:
            return "ok"
        text = f"{value:.0f}" if abs(value) >= 100 else f"{value:.1f}" if abs(value) >= 10 else f"{value:.2f}"
        return text + ("*" if result.get("caller_blocked") else "")
    return {"n/a": "n/a", "missing": "-", "deadlock": "DEADLOCK", "timeout": "TIMEOUT"}.get(str(status), "ERROR")


SHORT = {"picologging": "picolog"}


def _against(row: Dict[str, Any]) -> str:
    """The ratio a target is judged on, when it is not the ratio column."""
    for key, label in (("ratio_floor", "floor"), ("ratio_picologging", "picolog")):
        if row.get(key) is not None:
            return f" ({row[key]:.2f}x {label})"
    return ""


def render_table(rows: List[Dict[str, Any]], libs: Tuple[str, ...]) -> str:
    headers = ["scenario", "unit", *[SHORT.get(lib, lib) for lib in libs], "best peer", "ratio", "target", "met"]
    body = []
    for row in rows:
        ratio = row.get("ratio")
        met = row.get("met")
        body.append(
            [
                row["title"],
                row["unit"],
                *[_cell(row["results"].get(lib)) for lib in libs],
                SHORT.get(row["best_peer"] or "", row["best_peer"] or "-"),
                f"{ratio:.2f}x" if ratio is not None else "-",
                row["target"],
                ("-" if met is None else ("yes" if met else "NO")) + _against(row),
            ]
        )
    widths = [max(len(str(r[i])) for r in [headers, *body]) for i in range(len(headers))]
    numeric = set(range(2, 2 + len(libs))) | {len(headers) - 3}

    def fmt(cells: List[str]) -> str:
        return "  ".join(c.rjust(w) if i in numeric else c.ljust(w) for i, (c, w) in enumerate(zip(cells, widths)))

    lines = [fmt(headers), fmt(["-" * w for w in widths])]
    lines += [fmt(r) for r in body]
    return "\n".join(line.rstrip() for line in lines)


def _problems(rows: List[Dict[str, Any]]) -> List[str]:
    notes = []
    for row in rows:
        for lib, result in row["results"].items():
            if result.get("copied_from"):
                continue
            status = result.get("status")
            if status in ("error", "timeout", "deadlock") or (status == "n/a" and lib == "micktrace"):
                reason = (result.get("reason") or "").strip().splitlines()
                notes.append(f"{row['id']} / {lib}: {status}: {reason[-1] if reason else ''}")
    return notes


def render_markdown(meta: Dict[str, Any], rows: List[Dict[str, Any]], libs: Tuple[str, ...], notes: List[str]) -> str:
    """The results as a Markdown section (what RESULTS.md holds)."""
    headers = ["scenario", "unit", *libs, "best peer", "ratio", "target", "met"]
    lines = [
        f"- date: {meta['date']}",
        f"- command: `{meta['command']}` ({meta['seconds']} s)",
        f"- Python {meta['python']} ({meta['implementation']}), {meta['platform']}",
        f"- machine: {meta.get('cpu', '?')}, {meta['cores']} cores, {meta.get('memory', '?')} RAM; "
        f"load average {meta.get('load_at_start')} at the start, {meta.get('load_at_end')} at the end",
        f"- micktrace: {meta.get('commit', '?')}, from `{meta.get('micktrace_source')}`",
        "",
        "| " + " | ".join(headers) + " |",
        "|" + "|".join("---" for _ in headers) + "|",
    ]
    for row in rows:
        ratio, met = row.get("ratio"), row.get("met")
        cells = [
            row["title"].replace("|", "\\|"),
            row["unit"],
            *[_cell(row["results"].get(lib)) for lib in libs],
            row["best_peer"] or "-",
            f"{ratio:.2f}x" if ratio is not None else "-",
            row["target"],
            ("-" if met is None else ("yes" if met else "**no**")) + _against(row),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    lines.append("")
    lines.append(
        "Times are the best of the runs with the final flush inside; ratio = micktrace / best peer "
        "(the floor is not a peer); `*` = the caller was blocked by the library's queue."
    )
    if notes:
        lines.append("")
        lines.extend(f"- {note}" for note in notes)
    return "\n".join(lines) + "\n"


def machine_info() -> Dict[str, Any]:
    info: Dict[str, Any] = {
        "python": sys.version.split()[0],
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "cores": os.cpu_count(),
    }
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    info["cpu"] = line.split(":", 1)[1].strip()
                    break
        with open("/proc/meminfo", encoding="utf-8") as meminfo:
            kib = int(meminfo.readline().split(":", 1)[1].split()[0])
            info["memory"] = f"{kib / 1024 / 1024:.1f} GiB"
    except (OSError, ValueError, IndexError):
        pass
    if hasattr(os, "getloadavg"):
        info["load_at_start"] = [round(x, 2) for x in os.getloadavg()]
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True)
        dirty = subprocess.run(["git", "status", "--porcelain", "src"], cwd=ROOT, capture_output=True, text=True)
        info["commit"] = commit.stdout.strip() + (" (src modified)" if dirty.stdout.strip() else "")
        info["micktrace_source"] = str(SOURCE)
    except OSError:
        pass
    return info


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="fewer records and repeats (under a minute)")
    parser.add_argument("--check-only", action="store_true", help="tiny runs: check every output, ignore times")
    parser.add_argument("--json", metavar="PATH", help="write all results as JSON to PATH")
    parser.add_argument("--markdown", metavar="PATH", help="write the table and the machine as Markdown to PATH")
    parser.add_argument("--scenarios", help="comma-separated scenario ids (default: all)")
    parser.add_argument("--libs", help="comma-separated libraries (default: all)")
    parser.add_argument("--jobs", type=int, default=0, help="parallel workers (default 1; 2 with --check-only)")
    parser.add_argument("--list", action="store_true", help="list the scenario ids and exit")
    parser.add_argument("--src", help="the directory holding the micktrace package to measure (default: src/)")
    args = parser.parse_args(argv)
    global SOURCE
    if args.src:
        SOURCE = Path(args.src).resolve()

    if args.list:
        for scenario in SCENARIOS:
            print(f"{scenario.id:16s} {scenario.title}")
        return 0
    profile_name = "check" if args.check_only else "quick" if args.quick else "full"
    profile = PROFILES[profile_name]
    wanted = set(args.scenarios.split(",")) if args.scenarios else None
    scenarios = [s for s in SCENARIOS if wanted is None or s.id in wanted]
    if wanted and len(scenarios) != len(wanted):
        parser.error(f"unknown scenario in {args.scenarios!r}; try --list")
    libs = tuple(args.libs.split(",")) if args.libs else LIBRARIES
    unknown = [lib for lib in libs if lib not in LIBRARIES]
    if unknown:
        parser.error(f"unknown library {unknown[0]!r}; choose from {', '.join(LIBRARIES)}")
    jobs_n = args.jobs or (2 if args.check_only else 1)

    meta = machine_info()
    meta.update(
        date=datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        profile=profile_name,
        command="python " + " ".join([os.path.relpath(__file__, ROOT), *(argv if argv is not None else sys.argv[1:])]),
    )
    print(
        f"micktrace benchmarks ({profile_name}): Python {meta['python']}, {meta.get('cpu', '?')}, "
        f"{meta['cores']} cores, load {meta.get('load_at_start')}",
        file=sys.stderr,
    )

    workdir = tempfile.mkdtemp(prefix="micktrace-bench-")
    started = time.perf_counter()
    try:
        jobs = [job for s in scenarios for lib in s.libs if lib in libs for job in _jobs_for(s, lib, profile, workdir)]
        # throughput with 4 threads: a deadlocked library is detected after this many seconds
        results: Dict[Tuple[str, str], Dict[str, Any]] = {}

        def run_one(index: int, job: Job) -> None:
            if job.scenario.id == "throughput_4t":
                # a library that hangs is declared deadlocked after 10x its 1-thread time
                single = results.get(("throughput_1t", job.lib), {})
                if single.get("status") == "ok":
                    limit = max(profile["min_thread_timeout"], 10.0 * single["seconds"])
                    job.spec["timeout"] = min(profile["thread_timeout"], limit)
                    job.timeout = job.spec["timeout"] + 3.0
            result = execute(job, workdir)
            results[(job.scenario.id, job.slot)] = result
            shown = (
                _cell(dict(result, value=_headline(job.scenario, result)))
                if result.get("status") == "ok"
                else (_cell(result))
            )
            print(
                f"[{index + 1:3d}/{len(jobs)}] {job.scenario.id:16s} {job.slot:12s} {shown:>10s} "
                f"{job.scenario.unit:8s} ({result['wall_s']:.1f} s)",
                file=sys.stderr,
                flush=True,
            )

        if jobs_n > 1:
            with concurrent.futures.ThreadPoolExecutor(jobs_n) as pool:
                list(pool.map(lambda pair: run_one(*pair), enumerate(jobs)))
        else:
            for index, job in enumerate(jobs):
                run_one(index, job)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    elapsed = time.perf_counter() - started
    if hasattr(os, "getloadavg"):
        meta["load_at_end"] = [round(x, 2) for x in os.getloadavg()]
    meta["seconds"] = round(elapsed, 1)

    rows: Dict[str, Dict[str, Any]] = {}
    for scenario in scenarios:
        cell_results = {slot: r for (sid, slot), r in results.items() if sid == scenario.id}
        if scenario.mode == "derived":
            cell_results = {
                slot: dict(r, value=_headline(scenario, r)) if r.get("status") == "ok" else r
                for (sid, slot), r in results.items()
                if sid == scenario.extra["from"]
            }
        rows[scenario.id] = _summarise(scenario, cell_results, rows)
        if profile_name == "check":  # tiny runs: a verdict on a target would mean nothing
            rows[scenario.id]["met"] = None
    ordered = [rows[s.id] for s in scenarios]
    print(render_table(ordered, libs))
    print(
        f"\n{elapsed:.0f} s; ratio = micktrace / best peer (floor excluded); "
        "times are the best of the runs, flush included; * = the caller was blocked"
    )
    if profile_name == "check":
        print("--check-only: outputs were checked; the numbers are not measurements")
    problems = _problems(ordered)
    for note in problems:
        print("note: " + note)
    if args.markdown:
        with open(args.markdown, "w", encoding="utf-8") as out:
            out.write(render_markdown(meta, ordered, libs, problems))
    if args.json:
        with open(args.json, "w", encoding="utf-8") as out:
            json.dump({"meta": meta, "rows": ordered}, out, indent=1, default=str)
    errors = [r for row in ordered for r in row["results"].values() if r.get("status") == "error"]
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
