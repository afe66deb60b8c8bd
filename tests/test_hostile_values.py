"""Values that break str(), and keys that pose as the record's own.

* An int with more digits than ``sys.get_int_max_str_digits()`` (4,300 by
  default) cannot be turned into text: the record is still written, once, with
  the value marked (``<int of about N digits, too long to print: 0x...>``),
  masking on or off, in every format, wherever the value sits.
* A key that is not a str (passed through ``extra=`` or ``set_context()``)
  whose text is a reserved name never overwrites the record's level, message
  or time: it is kept under ``fields.<name>`` / ``context.<name>``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, List

import pytest

import micktrace

HUGE = 10**5000


class Key:
    def __init__(self, text: str) -> None:
        self.text = text

    def __str__(self) -> str:
        return self.text

    def __hash__(self) -> int:
        return hash(self.text)


def _run(tmp_path: Path, fmt: str, masking: bool, body: Any) -> List[str]:
    path = tmp_path / f"out.{fmt}"
    micktrace.configure(handlers=[{"type": "file", "path": str(path), "format": fmt, "dispatch": "sync"}],
                        masking=masking)  # fmt: skip
    try:
        body(micktrace.get_logger("h"))
        micktrace.flush()
    finally:
        micktrace.clear_context()
        micktrace.reset()
    return path.read_text().splitlines()


@pytest.mark.parametrize("masking", [True, False], ids=["masking", "no-masking"])
@pytest.mark.parametrize("fmt", ["json", "logfmt", "text"])
def test_an_int_too_long_for_str_is_written_marked(tmp_path: Path, fmt: str, masking: bool) -> None:
    def body(log: Any) -> None:
        log.info("field", n=HUGE)
        log.info("nested", d={"a": [1, HUGE]})
        log.info("message %d", HUGE)
        with micktrace.context(big=-HUGE):
            log.info("context")
        log.info("after")

    lines = _run(tmp_path, fmt, masking, body)
    assert len(lines) == 5
    for line in lines[:4]:
        assert "<int of about 5001 digits, too long to print: " in line, line[:300]
        assert "withheld" not in line and "unrepresentable" not in line
    assert "after" in lines[4]
    if fmt == "json":
        records = [json.loads(line) for line in lines]
        assert [r["message"].split()[0] for r in records] == ["field", "nested", "message", "context", "after"]
        assert records[1]["d"]["a"][0] == 1
        assert records[3]["big"].startswith("<int of about 5001 digits, too long to print: -0x")


@pytest.mark.parametrize("fmt", ["json", "logfmt"])
def test_keys_that_are_not_str_never_overwrite_reserved_fields(tmp_path: Path, fmt: str) -> None:
    def body(log: Any) -> None:
        log.info("real", extra={Key("level"): "HACK", Key("message"): "HACK", Key("timestamp"): "HACK", 1: "one"})
        micktrace.set_context({Key("level"): "CTX", Key("logger"): "CTX"})
        log.warning("second")

    lines = _run(tmp_path, fmt, True, body)
    if fmt == "json":
        first, second = (json.loads(line) for line in lines)
        assert (first["level"], first["message"]) == ("INFO", "real")
        assert first["fields.level"] == first["fields.message"] == first["fields.timestamp"] == "HACK"
        assert first["1"] == "one" and first["timestamp"] != "HACK"
        assert (second["level"], second["logger"]) == ("WARNING", "h")
        assert second["context.level"] == second["context.logger"] == "CTX"
    else:
        assert lines[0].startswith("timestamp=") and " level=INFO " in lines[0] and "message=real" in lines[0]
        assert "fields.level=HACK" in lines[0] and "HACK" not in lines[0].split("fields.")[0]
        assert " level=WARNING " in lines[1] and "context.level=CTX" in lines[1]


def test_the_text_format_cannot_be_mistaken(tmp_path: Path) -> None:
    def body(log: Any) -> None:
        log.info("x admin=true")
        log.info('"quoted" start')
        log.info("plain message", level="HACK", message="HACK", user="ann")

    lines = _run(tmp_path, "text", True, body)
    assert lines[0].endswith('[h] "x admin=true"')
    assert lines[1].endswith('[h] "\\"quoted\\" start"')
    assert lines[2].endswith("[h] plain message fields.level=HACK fields.message=HACK user=ann")
    assert " level=" not in lines[2] and " message=" not in lines[2]
