"""format="rich" in a real terminal (a pty) and through a pipe: rich tracebacks
with frames and highlighted source, masked throughout; values coloured by type;
plain text off a terminal."""

from __future__ import annotations

import os
import pty
import re
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Dict

from conftest import SRC

SCRIPT = textwrap.dedent(
    '''
    import micktrace
    micktrace.configure(level="DEBUG", format="rich")
    log = micktrace.get_logger("shop")
    log.info("order placed", order_id=42, user="ann", paid=True)

    def charge(card):
        api_key = "sk_live_4eC39HqLyjWDarjtT1zdp7dc"  # a secret written in the source
        raise ValueError(f"card {card} declined, password=hunter2")

    def checkout():
        try:
            charge("4111 1111 1111 1111")
        except ValueError as exc:
            raise RuntimeError("checkout failed") from exc

    try:
        checkout()
    except RuntimeError:
        log.exception("payment failed", customer="bob@example.com")
    '''
)
SECRETS = ("sk_live_4eC39", "hunter2", "4111 1111", "bob@example.com")
ANSI = re.compile(r"\x1b\[[0-9;]*m")


def _env() -> Dict[str, str]:
    dropped = ("NO_COLOR", "FORCE_COLOR")
    env = {k: v for k, v in os.environ.items() if not k.startswith("MICKTRACE_") and k not in dropped}
    env.update({"PYTHONPATH": str(SRC), "MICKTRACE_DETECT": "0", "COLUMNS": "120", "TERM": "xterm-256color"})
    return env


def _in_a_terminal(script_path: Path) -> str:
    pid, fd = pty.fork()
    if pid == 0:  # the child: its stdout and stderr are the pty
        os.execve(sys.executable, [sys.executable, str(script_path)], _env())
    out = b""
    while True:
        try:
            chunk = os.read(fd, 65536)
        except OSError:
            break
        if not chunk:
            break
        out += chunk
    os.waitpid(pid, 0)
    return out.decode(errors="replace")


def test_in_a_terminal_a_rich_traceback_with_source_masked_everywhere(tmp_path: Path) -> None:
    script = tmp_path / "shop.py"
    script.write_text(SCRIPT)
    raw = _in_a_terminal(script)
    plain = ANSI.sub("", raw)
    assert "Traceback" in plain and "most recent call last" in plain
    # each frame: file:line in function, then numbered source lines with the failing one marked
    assert re.search(r"shop\.py:\d+ in charge", plain) and re.search(r"shop\.py:\d+ in checkout", plain)
    assert re.search(r"❱\s+\d+\s+raise ValueError", plain)
    assert "The above exception was the direct cause of the following exception" in plain
    assert "RuntimeError: checkout failed" in plain
    assert "ValueError: card [REDACTED] declined, password=[REDACTED]" in plain
    assert 'api_key = "[REDACTED]"' in plain  # the source line itself went through masking
    for secret in SECRETS:
        assert secret not in raw
    assert "\x1b[" in raw  # coloured
    # values styled by type: the number and the string get different colours
    line = next(ln for ln in raw.splitlines() if "order placed" in ln)
    number = re.search(r"order_id=(?:\x1b\[[0-9;]*m)*(\x1b\[[0-9;]*m)42", line)
    string = re.search(r"user=(?:\x1b\[[0-9;]*m)*(\x1b\[[0-9;]*m)ann", line)
    assert number and string
    assert ANSI.findall(line[: number.end()])[-1] != ANSI.findall(line[: string.end()])[-1]


def test_off_a_terminal_it_degrades_to_plain_text(tmp_path: Path) -> None:
    script = tmp_path / "shop.py"
    script.write_text(SCRIPT)
    result = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, env=_env(), timeout=60)
    assert result.returncode == 0, result.stderr
    err = result.stderr
    assert "\x1b[" not in err and "╭" not in err and "❱" not in err
    lines = err.splitlines()
    assert re.search(r" INFO +\[shop\] order placed order_id=42 user=ann paid=true$", lines[0])
    assert re.search(r" ERROR +\[shop\] payment failed customer=\[REDACTED\]$", lines[1])
    assert lines[2].strip() == "Traceback (most recent call last):"
    for secret in SECRETS:
        assert secret not in err


def test_the_rich_path_escapes_what_could_forge_lines_or_drive_the_terminal(monkeypatch: object) -> None:
    import io

    import micktrace
    from micktrace.handlers.console import RichConsoleHandler

    monkeypatch.setenv("FORCE_COLOR", "1")  # type: ignore[attr-defined]
    stream = io.StringIO()
    micktrace.configure(handlers=[RichConsoleHandler(stream=stream)])
    try:
        raise ValueError("evil \x1b[2J\nFAKE LINE token=ghp_abcdefghijklmnopqrstuvwxyz0123456789")
    except ValueError:
        micktrace.get_logger("rich").exception("failed \x1b]0;title\x07", field="a\nFORGED")
    out = stream.getvalue()
    assert "╭" in out and "Traceback" in out  # the rich path ran
    assert "\x1b[2J" not in out and "\x1b]0;" not in out
    assert "\nFAKE LINE" not in ANSI.sub("", out) and "\nFORGED" not in ANSI.sub("", out)
    assert "ghp_abcdef" not in out
