"""The benchmark suite runs end to end and checks every output (issue 4).

``benchmarks/run.py --check-only`` runs every scenario for every installed
library with tiny record counts and verifies each file (line counts, every
field and its type). Timings are not asserted: this test only proves the suite
works and that micktrace writes what it is timed writing. Peers that are not
installed are reported as missing; features micktrace does not have yet as n/a.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BENCHMARKS = ROOT / "benchmarks"
ALL_SCENARIOS = {
    "disabled",
    "disabled_fields",
    "text",
    "json",
    "json_sync",
    "json_rotation",
    "json_stdjson",
    "json_purepy",
    "json_stdjson_purepy",
    "json_ctx",
    "throughput_1t",
    "throughput_4t",
    "rss",
    "rss_stalled",
    "background",
    "background_wall",
    "import",
    "masking",
    "masking_distinct",
}
#: scenarios micktrace must always pass (not n/a): the core it already has
CORE = ("disabled", "disabled_fields", "text", "json", "json_stdjson", "json_ctx", "throughput_1t", "rss")


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> dict:
    out = tmp_path_factory.mktemp("bench") / "check.json"
    proc = subprocess.run(
        [sys.executable, str(BENCHMARKS / "run.py"), "--check-only", "--json", str(out)],
        capture_output=True,
        text=True,
        timeout=900,
        cwd=str(ROOT),
    )
    assert proc.returncode == 0, f"exit {proc.returncode}\n{proc.stdout}\n{proc.stderr[-5000:]}"
    data: dict = json.loads(out.read_text(encoding="utf-8"))
    data["stdout"] = proc.stdout
    return data


def test_every_scenario_ran(report: dict) -> None:
    assert {row["id"] for row in report["rows"]} == ALL_SCENARIOS
    assert "micktrace" in report["stdout"] and "ratio" in report["stdout"]


def test_no_library_failed_its_output_check(report: dict) -> None:
    failures = [
        f"{row['id']}/{lib}: {result.get('reason')}"
        for row in report["rows"]
        for lib, result in row["results"].items()
        if result.get("status") == "error"
    ]
    assert not failures, "\n".join(failures)


def test_micktrace_outputs_were_verified(report: dict) -> None:
    rows = {row["id"]: row for row in report["rows"]}
    for scenario in CORE:
        result = rows[scenario]["results"]["micktrace"]
        assert result["status"] == "ok", (scenario, result.get("reason"))
        assert result.get("verified") is True, scenario
        assert result["lines"] == result["expected_lines"], scenario
    # four threads: micktrace must finish (a peer may be reported as deadlocked)
    four = rows["throughput_4t"]["results"]["micktrace"]
    assert four["status"] == "ok" and four.get("verified") is True, four.get("reason")
    # the import scenario ran in a fresh interpreter and lists optional imports
    imported = rows["import"]["results"]["micktrace"]
    assert imported["status"] == "ok" and "optional_imported" in imported


def test_the_verifier_rejects_wrong_output() -> None:
    sys.path.insert(0, str(BENCHMARKS))
    try:
        from verify import check_json_line, check_text_line
    finally:
        sys.path.remove(str(BENCHMARKS))
    good = {
        "timestamp": "2026-01-01T00:00:00.000000Z",
        "level": "INFO",
        "logger": "bench",
        "message": "User login",
        "user_id": 123,
        "ip": "1.2.3.4",
        "success": True,
        "latency_ms": 12.5,
        "path": "/api/x",
    }
    check_json_line(json.dumps(good).encode())
    for key, bad in (("success", "true"), ("user_id", 123.0), ("latency_ms", "12.5"), ("level", "DEBUG")):
        with pytest.raises(AssertionError):
            check_json_line(json.dumps(dict(good, **{key: bad})).encode())
    with pytest.raises(AssertionError):
        check_json_line(json.dumps({k: v for k, v in good.items() if k != "path"}).encode())
    with pytest.raises(AssertionError):
        check_json_line(json.dumps(good).encode(), with_context=True)  # no bound/context fields
    check_text_line(b"2026-01-01 10:00:00.123 INFO     [bench] User login")
    with pytest.raises(AssertionError):
        check_text_line(b"INFO [bench] User login")  # no time


def test_caller_cost_is_read_two_ways_from_the_same_runs(report: dict) -> None:
    # row 6 is the calling thread's CPU time; its info row the wall clock of the
    # same runs (where a background thread holding the GIL shows up)
    rows = {row["id"]: row for row in report["rows"]}
    cpu = rows["background"]["results"]["micktrace"]
    wall = rows["background_wall"]["results"]["micktrace"]
    assert cpu["status"] == wall["status"] == "ok"
    assert cpu["value"] == pytest.approx(cpu["calls_cpu_ns"] / 1000)
    assert wall["value"] == pytest.approx(cpu["calls_ns"] / 1000)
    assert cpu["samples_calls_cpu_s"] and len(cpu["samples_calls_cpu_s"]) == len(cpu["samples_calls_s"])
