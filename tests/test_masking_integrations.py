"""Masking holds on every path out: rich console, forwarding to stdlib, StdlibFormatter."""

from __future__ import annotations

import io
import logging
from typing import Iterator

import pytest

import micktrace
from micktrace.handlers.console import RichConsoleHandler
from micktrace.integrations.stdlib import StdlibFormatter

TOKEN = "ghp_" + "a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8"


@pytest.fixture
def stdlib_root() -> Iterator[logging.Logger]:
    root = logging.getLogger()
    saved = (root.handlers[:], root.level)
    yield root
    root.handlers[:], root.level = saved


def test_rich_console_prints_the_masked_traceback() -> None:
    stream = io.StringIO()
    micktrace.configure(handlers=[RichConsoleHandler(stream=stream)])
    try:
        raise ValueError(f"evil \x1b[2J\nFAKE LINE token={TOKEN}")
    except ValueError:
        micktrace.get_logger("rich").exception("failed")
    out = stream.getvalue()
    assert "failed" in out and "ValueError" in out
    assert TOKEN not in out
    assert "\x1b[2J" not in out
    assert "\nFAKE LINE" not in out  # the forged line stays inside an indented, escaped block


def test_forwarded_exception_is_masked_in_stdlib_output(stdlib_root: logging.Logger) -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s %(message)s"))
    stdlib_root.handlers[:] = [handler]
    stdlib_root.setLevel(logging.INFO)
    try:
        raise RuntimeError(f"auth failed with {TOKEN}")
    except RuntimeError:
        micktrace.get_logger("lib").exception("call failed", api_key=TOKEN)
    out = stream.getvalue()
    assert "ERROR lib call failed" in out and "RuntimeError" in out  # forwarded, with the traceback
    assert TOKEN not in out


def test_stdlib_formatter_masks_native_stdlib_records() -> None:
    record = logging.LogRecord("app", logging.WARNING, __file__, 1, "login password=%s", ("hunter2-secret",), None)
    record.token = TOKEN
    line = StdlibFormatter(format="json").format(record)
    assert "hunter2-secret" not in line and TOKEN not in line
    assert '"logger":"app"' in line

