"""Records logged after micktrace's own exit flush are still written.

``atexit`` runs hooks last-registered-first, so a hook the application
registered before its first log call runs after micktrace's flush; ``__del__``
methods run later still, while the interpreter shuts down. Both used to lose
every record (1,000 of 1,000 and 101 of 101). Now, once the exit flush is
done, a record is delivered by the thread that logs it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

SRC = str(Path(__file__).resolve().parents[1] / "src")

SCRIPT = textwrap.dedent(
    """
    import atexit, sys
    import micktrace

    mode, path = sys.argv[1], sys.argv[2]

    def late():
        log = micktrace.get_logger("late")
        for i in range(1000):
            log.info("late", i=i, password="hunter2")

    atexit.register(late)  # before the first log call: runs after micktrace's flush
    micktrace.configure(handlers=[{"type": "file", "path": path, "format": "json", "dispatch": mode}])

    class Finalized:
        def __init__(self, n):
            self.n = n

        def __del__(self):
            micktrace.get_logger("del").info("from __del__", n=self.n)

    keep = [Finalized(n) for n in range(101)]  # collected at interpreter shutdown
    micktrace.get_logger("app").info("first")
    """
)


@pytest.mark.parametrize("mode", ["background", "sync"])
def test_records_from_late_atexit_hooks_and_del_are_written(tmp_path: Path, mode: str) -> None:
    path = tmp_path / "out.log"
    proc = subprocess.run([sys.executable, "-c", SCRIPT, mode, str(path)], capture_output=True, text=True,
                          timeout=60, env={**os.environ, "PYTHONPATH": SRC})  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert lines[0]["message"] == "first"
    late = [line for line in lines if line["message"] == "late"]
    assert [line["i"] for line in late] == list(range(1000))
    assert all(line["password"] != "hunter2" for line in late)  # still masked
    assert sorted(line["n"] for line in lines if line["message"] == "from __del__") == list(range(101))
    assert "Exception ignored" not in proc.stderr, proc.stderr
