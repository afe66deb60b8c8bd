"""``python -m micktrace``: the demo and the version command, in real subprocesses."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from typing import Dict, List, Optional

import micktrace
from conftest import SRC


def run_cli(*args: str, env: Optional[Dict[str, str]] = None) -> subprocess.CompletedProcess[str]:
    """``python -m micktrace ARGS`` in a fresh interpreter."""
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("MICKTRACE_")}
    full_env["PYTHONPATH"] = str(SRC)
    full_env.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "micktrace", *args], capture_output=True, text=True, env=full_env, timeout=60
    )


def sections(stdout: str) -> Dict[str, List[str]]:
    """The demo's output split by its ``--- format=NAME ---`` headers."""
    found: Dict[str, List[str]] = {}
    current = None
    for line in stdout.splitlines():
        header = re.fullmatch(r"--- format=(\w+) ---", line)
        if header:
            current = header.group(1)
            found[current] = []
        elif current is not None and line:
            found[current].append(line)
    return found


def test_demo_shows_text_json_and_logfmt() -> None:
    # a level in the environment must not hide the demo's DEBUG line: explicit beats environment
    result = run_cli("demo", env={"MICKTRACE_LEVEL": "ERROR", "NO_COLOR": "1"})
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    parts = sections(result.stdout)
    assert list(parts) == ["text", "json", "logfmt"]

    text = parts["text"]
    assert any(re.search(r" INFO +\[demo\] Application started service=demo-app version=1\.0\.0", ln) for ln in text)
    assert any(" DEBUG " in ln and "Cache warmed" in ln for ln in text)
    order = next(ln for ln in text if "Order placed" in ln)
    assert "request_id=req-42" in order and "endpoint=/api/orders" in order and "amount=99.5" in order
    assert any(ln.startswith("  Traceback (most recent call last):") for ln in text)
    assert any(ln.strip() == "KeyError: 'missing'" for ln in text)

    records = [json.loads(line) for line in parts["json"]]  # every line is one JSON object
    assert [r["message"] for r in records] == [
        "Application started",
        "Cache warmed",
        "User signed in",
        "Order placed",
        "Slow query",
        "Lookup failed",
    ]
    assert all(r["service"] == "demo-app" and r["version"] == "1.0.0" for r in records)
    assert records[2]["user"] == "ann" and records[2]["password"] == "[REDACTED]"  # masked by default
    assert records[3]["request_id"] == "req-42" and records[3]["user_id"] == 456 and records[3]["amount"] == 99.5
    assert records[4]["level"] == "WARNING" and records[4]["ms"] == 812
    assert records[5]["level"] == "ERROR"
    assert records[5]["exception"]["type"] == "KeyError"
    assert records[5]["exception"]["frames"][-1]["function"] == "demo"

    logfmt = parts["logfmt"]
    assert len(logfmt) == 6
    assert "hunter2" not in "\n".join(logfmt + parts["json"])
    assert all(line.startswith("timestamp=") for line in logfmt)
    assert 'message="Order placed"' in logfmt[3] and "request_id=req-42" in logfmt[3]
    assert "exc_type=KeyError" in logfmt[5]


def test_version_flag_and_help() -> None:
    flag = run_cli("--version")
    assert flag.returncode == 0, flag.stderr
    assert flag.stdout.strip() == micktrace.__version__
    helped = run_cli()
    assert helped.returncode == 0
    assert "demo" in helped.stdout and "version" in helped.stdout and "--version" in helped.stdout
    assert "`" not in helped.stdout  # no stray reStructuredText quoting in help
    viewer_help = run_cli("view", "--help")
    assert viewer_help.returncode == 0 and "`" not in viewer_help.stdout


def test_version_command_says_what_is_in_use() -> None:
    from micktrace import _native
    from micktrace.serialize import _orjson_module

    report = run_cli("version", env={"MICKTRACE_NO_SPEEDUPS": os.environ.get("MICKTRACE_NO_SPEEDUPS", "")})
    assert report.returncode == 0, report.stderr
    lines = report.stdout.splitlines()
    assert lines[0] == f"micktrace {micktrace.__version__}"
    assert lines[1].startswith(f"python {sys.version_info.major}.{sys.version_info.minor}.")
    speedup = next(line for line in lines if line.startswith("C speedup: "))
    encoder = next(line for line in lines if line.startswith("JSON encoder: "))
    # the child runs with this process's speedup switch: it agrees with this process
    assert (speedup == "C speedup: in use") == _native.available()
    assert encoder.startswith("JSON encoder: orjson") == (_orjson_module() is not None)
    turned_off = run_cli("version", env={"MICKTRACE_NO_SPEEDUPS": "1"})
    assert "C speedup: in use" not in turned_off.stdout
    assert ("turned off" in turned_off.stdout) or ("not built" in turned_off.stdout)


def test_usage_names_the_program_as_invoked(tmp_path: os.PathLike[str]) -> None:
    from micktrace.cli import program_name

    assert program_name("/usr/lib/python3/site-packages/micktrace/__main__.py") == "python -m micktrace"
    assert program_name("/venv/bin/micktrace") == "micktrace"
    # python -m micktrace
    as_module = run_cli("bogus")
    assert as_module.stderr.startswith("usage: python -m micktrace ")
    # a console script named micktrace, as pip writes it
    script = os.path.join(str(tmp_path), "micktrace")
    with open(script, "w") as out:
        out.write("import sys\nfrom micktrace.cli import main\nsys.exit(main())\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("MICKTRACE_")}
    env["PYTHONPATH"] = str(SRC)
    as_script = subprocess.run([sys.executable, script, "bogus"], capture_output=True, text=True, env=env, timeout=60)
    assert as_script.returncode == 2
    assert as_script.stderr.startswith("usage: micktrace ")


def test_unknown_command_fails_with_usage() -> None:
    result = run_cli("bogus")
    assert result.returncode == 2
    assert "usage:" in result.stderr
