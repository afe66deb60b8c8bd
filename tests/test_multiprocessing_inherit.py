"""spawn and forkserver children follow the parent's configuration with no extra code
(config/inherit.py, docs/multiprocessing.md): real Pools writing to a file handler."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any, Dict, List

import pytest

import micktrace
from conftest import SRC, run_python
from micktrace.config.inherit import ENV_INHERIT

SCRIPT = textwrap.dedent(
    """
    import multiprocessing, os, sys
    import micktrace

    log = micktrace.get_logger("worker")        # at import: also runs in each child's main-module import

    def work(i):
        log.debug("child debug", i=i)
        with micktrace.context(task=i):
            log.info("child info", i=i)
        return os.getpid()

    def keep(record):                           # a callable handler: not plain data
        pass

    if __name__ == "__main__":
        path, method, extra = sys.argv[1], sys.argv[2], sys.argv[3]
        handlers = [{"type": "file", "path": path, "format": "json"}]
        if extra == "callable":
            handlers.insert(0, keep)
        micktrace.configure(handlers=handlers, service="svc", level="DEBUG", loggers={"noisy": "ERROR"})
        pool = multiprocessing.get_context(method).Pool(2)
        pids = pool.map(work, range(6))
        pool.close()
        pool.join()
        log.info("parent done", children=len(set(pids)))
        micktrace.flush()
    """
)


def _run(tmp_path: Path, method: str, extra: str = "-") -> tuple[List[Dict[str, Any]], str]:
    script = tmp_path / "job.py"
    script.write_text(SCRIPT)
    path = tmp_path / "out.log"
    env = dict(os.environ)
    env["PYTHONPATH"] = str(SRC) + os.pathsep + env.get("PYTHONPATH", "")
    env.pop(ENV_INHERIT, None)
    result = subprocess.run(
        [sys.executable, str(script), str(path), method, extra], capture_output=True, text=True, env=env, timeout=120
    )
    assert result.returncode == 0, result.stderr
    return [json.loads(line) for line in path.read_text().splitlines()], result.stderr


@pytest.mark.parametrize("method", ["spawn", "forkserver"])
def test_pool_children_log_through_the_parents_handlers(tmp_path: Path, method: str) -> None:
    lines, stderr = _run(tmp_path, method)
    assert "child" not in stderr  # nothing fell back to text on stderr
    children = [line for line in lines if line["message"] == "child info"]
    assert sorted(line["i"] for line in children) == list(range(6))
    assert sorted(line["i"] for line in lines if line["message"] == "child debug") == list(range(6))  # level too
    assert all(line["service"] == "svc" and line["task"] == line["i"] for line in children)
    (parent,) = [line for line in lines if line["message"] == "parent done"]
    assert parent["service"] == "svc"


def test_what_cannot_cross_is_left_out_and_said(tmp_path: Path) -> None:
    lines, stderr = _run(tmp_path, "spawn", "callable")
    assert sorted(line["i"] for line in lines if line["message"] == "child info") == list(range(6))
    assert "left out, not plain data: handlers[0] (<function keep" in stderr
    assert "initializer=micktrace.import_settings" in stderr


def test_configure_publishes_and_reset_withdraws(tmp_path: Path) -> None:
    micktrace.configure(service="svc", handlers=[{"type": "file", "path": str(tmp_path / "x.log")}, print])
    payload = json.loads(os.environ[ENV_INHERIT])
    assert payload["pid"] == os.getpid()
    assert payload["settings"]["service"] == "svc"
    assert payload["settings"]["handlers"][0] == {"type": "file", "path": str(tmp_path / "x.log")}
    assert "__micktrace_left_out__" in payload["settings"]["handlers"][1]
    micktrace.configure(reset=True)
    assert ENV_INHERIT not in os.environ


def test_a_plain_subprocess_does_not_adopt_it(tmp_path: Path) -> None:
    micktrace.configure(service="svc", handlers=[{"type": "file", "path": str(tmp_path / "x.log")}])
    # the variable is inherited by any child; only a multiprocessing child of this process adopts it
    code = "import micktrace; micktrace.get_logger('x').info('plain'); print(micktrace.config_report()['handlers'])"
    result = run_python(code)
    assert result.returncode == 0, result.stderr
    assert "file" not in result.stdout and "plain" in result.stderr
