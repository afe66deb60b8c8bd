"""The development console (issue 15): the caller on a terminal, readable lists
and dicts in the text format, still one line and injection-safe."""

from __future__ import annotations

import io
import json
import os
from typing import IO, Iterator, Tuple

import pytest

import micktrace
from micktrace.formatters import LogfmtFormatter, TextFormatter
from micktrace.formatters.text import text_value
from micktrace.handlers import ConsoleHandler, MemoryHandler
from micktrace.viewer.parse import parse_line


@pytest.fixture
def terminal() -> Iterator[Tuple[IO[str], int]]:
    """A real pseudo-terminal: (the stream a handler writes to, the reading end)."""
    master, slave = os.openpty()
    stream = os.fdopen(slave, "w")
    yield stream, master
    stream.close()
    os.close(master)


def read(master: int) -> str:
    return os.read(master, 65536).decode().replace("\r\n", "\n")


def login() -> None:
    micktrace.get_logger("api").info("User login", user="ann")


def test_a_terminal_console_shows_file_line_and_function(terminal: Tuple[IO[str], int]) -> None:
    stream, master = terminal
    micktrace.configure(handlers=[ConsoleHandler(stream=stream)])
    assert micktrace.config.current_config().caller
    login()
    stream.flush()
    out = read(master)
    assert "[api test_console_dev.py:" in out and " in login]" in out


def test_not_on_a_pipe_and_not_when_turned_off(terminal: Tuple[IO[str], int]) -> None:
    pipe = io.StringIO()
    micktrace.configure(handlers=[ConsoleHandler(stream=pipe)])
    assert not micktrace.config.current_config().caller
    login()
    assert "[api] User login" in pipe.getvalue()
    stream, master = terminal
    micktrace.configure(handlers=[ConsoleHandler(stream=stream)], caller=False)
    assert not micktrace.config.current_config().caller
    login()
    stream.flush()
    out = read(master)
    assert "[api]" in out and "test_console_dev.py" not in out


def test_json_on_a_terminal_has_no_caller_unless_asked(terminal: Tuple[IO[str], int]) -> None:
    stream, master = terminal
    micktrace.configure(handlers=[{"type": "console", "stream": stream, "format": "json"}])
    login()
    stream.flush()
    assert "caller" not in json.loads(read(master))
    micktrace.configure(handlers=[{"type": "console", "stream": stream, "format": "json"}], caller=True)
    login()
    stream.flush()
    caller = json.loads(read(master))["caller"]
    assert caller["function"] == "login" and caller["file"].endswith("test_console_dev.py")


def test_lists_and_dicts_are_readable_json() -> None:
    handler = MemoryHandler(formatter=TextFormatter(show_time=False))
    micktrace.configure(handlers=[handler], masking=False)
    micktrace.get_logger("api").info("tagged", tags=["a", "b"], meta={"k": 1, "l": [1, 2]}, t=(1,), empty=[])
    assert handler.lines == ['INFO     [api] tagged tags=["a", "b"] meta={"k": 1, "l": [1, 2]} t=[1] empty=[]']


@pytest.mark.parametrize(
    "hostile",
    [
        'x" admin=true',
        "a\n2024-01-01 00:00:00.000 INFO     [auth] forged",
        "a\r\x1b[2Jb",
        "\u2028\x85\u202e",
        '"], "k": ["',
        "\\",
    ],
)
def test_a_value_inside_a_list_cannot_end_it_or_the_line(hostile: str) -> None:
    handler = MemoryHandler(formatter=TextFormatter(show_time=False))
    micktrace.configure(handlers=[handler], masking=False)
    micktrace.get_logger("api").info("tagged", tags=[hostile, "b"], d={hostile: hostile})
    (line,) = handler.lines
    assert line.isprintable() and len(line.splitlines()) == 1
    # each value is one JSON text that reads back to what was logged
    tags_text = text_value([hostile, "b"])
    assert f" tags={tags_text} d=" in line
    assert json.loads(tags_text) == [hostile, "b"]
    assert json.loads(text_value({hostile: hostile})) == {hostile: hostile}


def test_text_lines_are_not_taken_for_logfmt_by_the_viewer_and_logfmt_is_unchanged() -> None:
    text = MemoryHandler(formatter=TextFormatter())
    logfmt = MemoryHandler(formatter=LogfmtFormatter())
    micktrace.configure(handlers=[text, logfmt], masking=False)
    micktrace.get_logger("api").info("tagged", tags=["a", "b c"])
    # the viewer shows a text line as it is (it parses JSON and logfmt lines)
    assert parse_line(text.lines[0].encode()) is None
    # logfmt keeps the value quoted, and the viewer reads it back exactly
    parsed = parse_line(logfmt.lines[0].encode())
    assert parsed is not None and json.loads(parsed["tags"]) == ["a", "b c"]
