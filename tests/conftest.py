"""Shared fixtures: every test starts from the zero-config state."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Iterator

import pytest

import micktrace
from micktrace import _report, _state

# The suite tests micktrace's plain defaults (text until configured). This
# machine is a container, where environment detection would pick JSON for a
# non-terminal stderr; tests/test_environment.py runs the detection itself,
# in subprocesses with each platform's variables. Subprocesses inherit this.
os.environ["MICKTRACE_DETECT"] = "0"

ROOT = Path(__file__).resolve().parent.parent
SRC = ROOT / "src"


@pytest.fixture(autouse=True)
def _fresh_micktrace(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in (
        "MICKTRACE_LEVEL",
        "MICKTRACE_FORMAT",
        "MICKTRACE_SERVICE",
        "MICKTRACE_ENVIRONMENT",
        "MICKTRACE_VERSION",
        "NO_COLOR",
        "FORCE_COLOR",
    ):
        monkeypatch.delenv(name, raising=False)
    micktrace.configure(reset=True)
    micktrace.clear_context()
    _report.reset()
    yield
    micktrace.clear_context()
    with _state.lock:
        _state.captures = ()
    micktrace.configure(reset=True)


def run_python(
    code: str, *args: str, env: dict[str, str] | None = None, timeout: float = 60, **kwargs: object
) -> subprocess.CompletedProcess[str]:
    """Run *code* in a fresh interpreter with micktrace importable."""
    full_env = dict(os.environ)
    full_env["PYTHONPATH"] = str(SRC) + os.pathsep + full_env.get("PYTHONPATH", "")
    for name in ("MICKTRACE_LEVEL", "MICKTRACE_FORMAT", "NO_COLOR", "FORCE_COLOR"):
        full_env.pop(name, None)
    if env:
        full_env.update(env)
    return subprocess.run(
        [sys.executable, "-c", code, *args], capture_output=True, text=True, env=full_env, timeout=timeout, **kwargs
    )  # type: ignore[call-overload,no-any-return]
