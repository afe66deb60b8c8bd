"""``micktrace view -f`` in a real terminal: tmux runs it in a 200x50 pane, the test
appends to the followed file (and rotates it) and reads the screen back with
``tmux capture-pane -e``, checking the colours cell by cell and that new lines
appear. tmux is a test dependency (scripts/test-deps.d/31-tmux.sh); when it
cannot start, the tests fail."""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Callable, Dict, Iterator, List, Optional

import pytest

from support.viewer import SRC, clean_env

SGR = re.compile(r"\x1b\[([0-9;]*)m")


def cells(line: str) -> List[tuple[str, Dict[str, object]]]:
    """Each visible character of a captured line with its attributes (fg, bg, bold, dim)."""
    state: Dict[str, object] = {"fg": None, "bg": None, "bold": False, "dim": False}
    out = []
    pos = 0
    for match in SGR.finditer(line):
        out.extend((ch, dict(state)) for ch in line[pos : match.start()])
        pos = match.end()
        codes = [int(c) if c else 0 for c in match.group(1).split(";")]
        index = 0
        while index < len(codes):
            code = codes[index]
            if code == 0:
                state.update(fg=None, bg=None, bold=False, dim=False)
            elif code == 1:
                state["bold"] = True
            elif code == 2:
                state["dim"] = True
            elif code == 22:
                state.update(bold=False, dim=False)
            elif 30 <= code <= 37 or 90 <= code <= 97:
                state["fg"] = code
            elif code == 39:
                state["fg"] = None
            elif 40 <= code <= 47 or 100 <= code <= 107:
                state["bg"] = code
            elif code == 49:
                state["bg"] = None
            elif code in (38, 48):  # 256-colour / RGB forms: skip their arguments
                index += 2 if codes[index + 1 : index + 2] == [5] else 4
            index += 1
    out.extend((ch, dict(state)) for ch in line[pos:])
    return out


def text_of(line: str) -> str:
    return SGR.sub("", line)


def style_at(line: str, needle: str) -> Dict[str, object]:
    """The attributes of the first character of *needle* in *line*."""
    at = text_of(line).index(needle)
    return cells(line)[at][1]


class Tmux:
    """A tmux server of its own (``tmux -L``), one session running the viewer."""

    def __init__(self) -> None:
        self.socket = f"micktrace-view-{os.getpid()}-{uuid.uuid4().hex[:8]}"

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["tmux", "-L", self.socket, "-f", os.devnull, *args],
            capture_output=True,
            text=True,
            env=clean_env(),
            timeout=30,
        )

    def start(self, *view_args: str, env: Optional[Dict[str, str]] = None) -> None:
        assigns = {"PYTHONPATH": str(SRC), "MICKTRACE_DETECT": "0", **(env or {})}
        command = " ".join(
            ["env", "-u", "NO_COLOR", "-u", "FORCE_COLOR"]
            + [f"{k}={shlex.quote(v)}" for k, v in assigns.items()]
            + [shlex.quote(sys.executable), "-m", "micktrace", "view", "--interval", "0.05"]
            + [shlex.quote(a) for a in view_args]
        )
        # the pane stays after the viewer ends, showing how it ended
        started = self.run(
            "new-session", "-d", "-x", "200", "-y", "50", "-s", "view", f"{command}; echo EXITED $?; sleep 600"
        )
        assert started.returncode == 0, f"tmux could not start: {started.stderr}"

    def screen(self) -> List[str]:
        captured = self.run("capture-pane", "-p", "-e", "-t", "view")
        assert captured.returncode == 0, captured.stderr
        return captured.stdout.rstrip("\n").split("\n")

    def wait_for(self, ready: Callable[[List[str]], bool], what: str, deadline: float = 30) -> List[str]:
        end = time.monotonic() + deadline
        while True:
            lines = self.screen()
            if ready([text_of(ln) for ln in lines]):
                return lines
            if time.monotonic() > end:
                pytest.fail(f"the screen never showed {what}:\n" + "\n".join(text_of(ln) for ln in lines))
            time.sleep(0.05)

    def kill(self) -> None:
        self.run("kill-server")


@pytest.fixture
def tmux() -> Iterator[Tmux]:
    if shutil.which("tmux") is None:
        pytest.fail("tmux is not installed: bash scripts/test-deps.sh installs it")
    server = Tmux()
    yield server
    server.kill()


def record(level: str, message: str, logger: str = "app", **fields: object) -> str:
    return (
        json.dumps(
            {"timestamp": "2024-05-01T12:00:00.000Z", "level": level, "logger": logger, "message": message, **fields}
        )
        + "\n"
    )


def append(path: Path, text: str) -> None:
    with path.open("a") as f:
        f.write(text)


def showing(*needles: str) -> Callable[[List[str]], bool]:
    return lambda lines: all(any(n in ln for ln in lines) for n in needles)


def line_with(lines: List[str], needle: str) -> str:
    return next(ln for ln in lines if needle in text_of(ln))


def test_colours_in_a_real_terminal(tmp_path: Path, tmux: Tmux) -> None:
    path = tmp_path / "app.log"
    path.write_text(
        record("TRACE", "tracing step")
        + record("DEBUG", "cache warmed", entries=3)
        + record("INFO", "user signed in", user_id=42)
        + record("WARNING", "slow query", logger="app.db", ms=812)
        + record(
            "ERROR",
            "lookup failed",
            exception={
                "type": "KeyError",
                "message": "'k'",
                "traceback": "Traceback (most recent call last):\n  File \"x.py\", line 1, in f\nKeyError: 'k'",
            },
        )
        + record("CRITICAL", "going down")
    )
    tmux.start("-f", str(path))
    lines = tmux.wait_for(showing("going down"), "the last record")
    expected_fg = {"tracing step": 34, "cache warmed": 34, "user signed in": 32, "slow query": 33, "lookup failed": 31}
    for message, fg in expected_fg.items():
        line = line_with(lines, message)
        level = text_of(line).split()[1]
        assert style_at(line, level)["fg"] == fg, (message, line)
        assert style_at(line, "2024-05-01")["dim"] is True
        assert style_at(line, "[app")["fg"] == 35
        assert style_at(line, message)["bold"] is True
    assert style_at(line_with(lines, "tracing step"), "TRACE")["dim"] is True
    critical = style_at(line_with(lines, "going down"), "CRITICAL")
    assert critical["bg"] == 41 and critical["bold"] is True
    fields = line_with(lines, "user signed in")
    assert style_at(fields, "user_id")["fg"] == 36
    assert style_at(fields, "42")["fg"] is None and style_at(fields, "42")["bold"] is False
    # the traceback sits under its record, indented, its last line in bold red
    plain = [text_of(ln) for ln in lines]
    at = next(i for i, ln in enumerate(plain) if "lookup failed" in ln)
    assert plain[at + 1 : at + 4] == [
        "    Traceback (most recent call last):",
        '      File "x.py", line 1, in f',
        "    KeyError: 'k'",
    ]
    last = style_at(lines[at + 3], "KeyError")
    assert last["fg"] == 31 and last["bold"] is True
    # aligned columns: every message starts in the same column
    assert len({plain_line.index(m) for m in expected_fg for plain_line in plain if m in plain_line}) == 1


def test_follow_in_a_real_terminal(tmp_path: Path, tmux: Tmux) -> None:
    path = tmp_path / "app.log"
    path.write_text(record("INFO", "first line"))
    tmux.start("-f", "-l", "INFO", str(path))
    tmux.wait_for(showing("first line"), "the existing line")
    append(path, record("DEBUG", "too quiet") + record("ERROR", "appended error") + "plain text passes\n")
    lines = tmux.wait_for(showing("appended error"), "the appended record")
    assert style_at(line_with(lines, "appended error"), "ERROR")["fg"] == 31
    assert not any("too quiet" in text_of(ln) for ln in lines)  # below -l INFO
    assert not any("plain text passes" in text_of(ln) for ln in lines)  # -l needs fields
    # rotated: renamed away, a new file at the path
    os.rename(path, tmp_path / "app.log.1")
    append(tmp_path / "app.log.1", record("WARNING", "late in the old file"))
    append(path, record("WARNING", "in the new file"))
    lines = tmux.wait_for(showing("late in the old file", "in the new file"), "both files' lines")
    assert style_at(line_with(lines, "in the new file"), "WARNING")["fg"] == 33
    # a record cannot drive the terminal: the escape is shown, the screen is not cleared
    append(path, record("INFO", "evil \x1b[2J\x1b[31mred?"))
    lines = tmux.wait_for(showing("evil"), "the record with an escape sequence")
    evil = line_with(lines, "evil")
    assert "evil \\x1b[2J\\x1b[31mred?" in text_of(evil)
    assert style_at(evil, "red?")["fg"] is None
    assert any("first line" in text_of(ln) for ln in lines)
    texts = [re.sub(r"^\S+ \S+ +\[app\] +", "", text_of(ln)) for ln in lines if text_of(ln).strip()]
    assert texts == [
        "first line",
        "appended error",
        "late in the old file",
        "in the new file",
        "evil \\x1b[2J\\x1b[31mred?",
    ]  # each line once, in order


@pytest.mark.parametrize(("args", "env"), [(["--no-color"], {}), ([], {"NO_COLOR": "1"})])
def test_no_colour_in_a_real_terminal(tmp_path: Path, tmux: Tmux, args: List[str], env: Dict[str, str]) -> None:
    path = tmp_path / "app.log"
    path.write_text(record("ERROR", "plain error"))
    tmux.start(*args, "-f", str(path), env=env)
    lines = tmux.wait_for(showing("plain error"), "the record")
    assert SGR.search(line_with(lines, "plain error")) is None
