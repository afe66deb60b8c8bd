"""Log injection (issue 5): no user-supplied part of a record can forge a line,
drive a terminal or break a JSON line, in any format, through real handlers."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any, Dict, List

import pytest

import micktrace
from micktrace.formatters import JSONFormatter, LogfmtFormatter, TextFormatter
from micktrace.handlers import ConsoleHandler, MemoryHandler

FORGED = "ok\n2024-01-01 00:00:00.000 INFO     [auth] admin logged in"
CONTROLS = [
    "\n",
    "\r",
    "\r\n",
    "\x0b",
    "\x0c",
    "\x1c",
    "\x1d",
    "\x1e",
    "\x85",
    "\u2028",
    "\u2029",
    "\x00",
    "\x07",
    "\x08",
    "\x1b[2J",
    "\x1b]0;pwned\x07",
    "\x9b31m",
    "\x7f",
    "\u202e",
    "\u2066",
]


def emit_everywhere(text: str, exc: bool = False) -> Dict[str, List[str]]:
    """Log *text* as every user-supplied part of a record; the lines per format."""
    handlers = {
        "json": MemoryHandler(formatter=JSONFormatter()),
        "logfmt": MemoryHandler(formatter=LogfmtFormatter()),
        "text": MemoryHandler(formatter=TextFormatter()),
    }
    micktrace.configure(handlers=list(handlers.values()), masking=False, fields={"st" + text: "static" + text})
    log = micktrace.get_logger("name" + text).bind(**{"bound" + text: "b" + text})
    with micktrace.context(**{"ctx" + text: "c" + text}):
        fields: Dict[str, Any] = {"k" + text: "v" + text, "nested": {"n" + text: ["l" + text]}}
        if exc:
            try:
                raise ValueError("exc" + text)
            except ValueError:
                log.exception("msg" + text, **fields)
        else:
            log.warning("msg %s" + text, "arg" + text, **fields)
    return {name: handler.lines for name, handler in handlers.items()}


@pytest.mark.parametrize("control", CONTROLS)
def test_no_part_of_a_record_can_break_a_line(control: str) -> None:
    lines = emit_everywhere(control)
    for fmt in ("text", "logfmt"):
        (line,) = lines[fmt]
        assert line.isprintable(), (fmt, line)  # no control character survives
        assert len(line.splitlines()) == 1
    (line,) = lines["json"]
    assert len(line.splitlines()) == 1
    assert line.isascii() or not any(ch in line for ch in "\x85\u2028\u2029\x9b\x7f")
    record = json.loads(line)
    assert record["message"] == f"msg arg{control}{control}"
    assert record["k" + control] == "v" + control
    assert record["nested"] == {"n" + control: ["l" + control]}


@pytest.mark.parametrize("control", ["\n", "\r\n", "\x1b[31m", "\u2028"])
def test_exception_text_cannot_forge_lines(control: str) -> None:
    lines = emit_everywhere(control + FORGED, exc=True)
    (logfmt,) = lines["logfmt"]
    assert len(logfmt.splitlines()) == 1 and logfmt.isprintable()
    (text,) = lines["text"]
    first, *rest = text.split("\n")
    assert first.isprintable()
    assert rest and all(line.startswith("  ") and line.isprintable() for line in rest)
    assert not any(line.startswith("2024-01-01") for line in text.split("\n"))
    (js,) = lines["json"]
    assert len(js.splitlines()) == 1
    assert json.loads(js)["exception"]["message"] == "exc" + control + FORGED


def test_forged_lines_in_a_real_file(tmp_path: Path) -> None:
    path = tmp_path / "app.log"
    micktrace.configure(handlers=[{"type": "file", "config": {"path": str(path)}, "format": "text"}])
    log = micktrace.get_logger("auth")
    for text in (FORGED, "a\rb", "x\u2028y", "\x1b[1A\x1b[2Kcleared"):
        log.info(text, user=text)
    micktrace.configure(reset=True)  # flush and close
    content = path.read_text(encoding="utf-8")
    assert len(content.splitlines()) == 4
    assert "\x1b" not in content and "\r" not in content.replace("\r\n", "")


def test_ansi_from_values_is_neutralised_on_the_console() -> None:
    stream = io.StringIO()
    micktrace.configure(handlers=[ConsoleHandler(stream=stream)], masking=False)
    micktrace.get_logger("ui").info("\x1b[2J\x1b[Hcleared", title="\x1b]0;pwned\x07", csi="\x9b2J")
    out = stream.getvalue()
    assert "\x1b" not in out and "\x9b" not in out and "\x07" not in out
    assert "\\x1b[2J" in out


def test_coloured_console_keeps_its_own_colours_only() -> None:
    stream = io.StringIO()
    micktrace.configure(handlers=[ConsoleHandler(stream=stream, formatter=TextFormatter(colors=True))], masking=False)
    micktrace.get_logger("ui").info("\x1b[31mred", v="\x1b[0m")
    out = stream.getvalue()
    assert "\\x1b[31mred" in out and '"\\x1b[0m"' in out
    # every ESC written is one of the formatter's own sequences
    assert all(part.split("m", 1)[0] in ("[0", "[2", "[32", "[36") for part in out.split("\x1b")[1:])


@pytest.mark.parametrize("orjson", [True, False])
def test_json_is_one_valid_line_for_invalid_utf8_and_lone_surrogates(
    orjson: bool, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from micktrace import serialize

    if not orjson:
        monkeypatch.setenv("MICKTRACE_NO_ORJSON", "1")
    monkeypatch.setattr(serialize, "_dumps", None)
    path = tmp_path / "app.jsonl"
    micktrace.configure(handlers=[{"type": "file", "config": {"path": str(path)}, "format": "json"}], masking=False)
    log = micktrace.get_logger("bytes\udc80")
    invalid = b"\xff\xfe\xc3(" + "é".encode() + b"\x80"
    log.info("lone \ud800 high", raw=invalid, **{"key\udfff": "val\udc00", "mixed": ["\ud83d", "ok\u2028"]})
    log.info(invalid.decode("utf-8", "surrogateescape"), bad=invalid.decode("latin-1"))
    micktrace.configure(reset=True)
    data = path.read_bytes()
    data.decode("utf-8")  # valid UTF-8 on disk
    lines = data.decode("utf-8").splitlines()
    assert len(lines) == 2
    first, second = (json.loads(line) for line in lines)
    assert first["message"].startswith("lone ") and first["message"].endswith(" high")
    assert first["mixed"][1] == "ok\u2028"
    assert second["bad"] == invalid.decode("latin-1")
