"""Code written for MickTrace 1.x keeps working: records built by hand with the
1.x arguments, handlers called directly with ``emit``, and a file read back
right after logging once the records are flushed."""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path

import pytest

import micktrace
from micktrace import LogLevel
from micktrace.handlers.console import ConsoleHandler
from micktrace.handlers.file import FileHandler
from micktrace.types import LogRecord


def test_a_record_built_with_the_1x_arguments() -> None:
    record = LogRecord(timestamp=1234567890.5, level="WARNING", logger_name="legacy", message="hello",
                       data={"user": "ann"})
    assert record.level == LogLevel.WARNING and record.level_name == "WARNING"
    assert record.timestamp == 1234567890.5
    assert record.data == {"user": "ann"} and record.context == {} and record.static == {}
    assert record.thread_id == threading.get_ident() and record.process_id == os.getpid()
    assert record.exc_info is None and record.stack_info is None
    bare = LogRecord(1.0, 20, "legacy", "no data")
    assert bare.data == {} and bare.level == LogLevel.INFO
    line = json.loads(record.to_json())
    assert line["level"] == "WARNING" and line["user"] == "ann" and line["message"] == "hello"


def test_an_unknown_level_name_in_a_record_is_a_config_error() -> None:
    with pytest.raises(micktrace.ConfigError) as err:
        LogRecord(1.0, "LOUD", "legacy", "x")
    assert err.value.key == "LogRecord(level)"


def test_emit_writes_now_and_tolerates_none_or_empty_data(capsys: pytest.CaptureFixture[str]) -> None:
    handler = ConsoleHandler()
    handler.emit(LogRecord(1234567890.0, "INFO", "legacy", "empty data", {}))
    record = LogRecord(1234567890.0, "INFO", "legacy", "none data")
    record.data = None  # type: ignore[assignment]  # what 1.x tests did to a record
    handler.emit(record)
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 2
    assert lines[0].endswith("INFO     [legacy] empty data") and "=" not in lines[0]
    assert lines[1].endswith("INFO     [legacy] none data")


def test_emit_never_raises_and_the_record_reaches_the_fallback(capsys: pytest.CaptureFixture[str]) -> None:
    class Broken(ConsoleHandler):
        def write(self, line: str) -> None:
            raise OSError("disk on fire")

    handler = Broken()
    handler.emit(LogRecord(1.0, "ERROR", "legacy", "must not vanish", {"k": 1}))
    err = capsys.readouterr().err
    assert "disk on fire" in err
    assert "micktrace fallback [Broken]" in err and "must not vanish" in err


def test_a_file_handler_is_readable_after_flush_or_with_sync_dispatch(tmp_path: Path) -> None:
    background, sync = tmp_path / "bg.log", tmp_path / "sync.log"
    micktrace.configure(handlers=[
        {"type": "file", "config": {"path": str(background)}},
        {"type": "file", "config": {"path": str(sync)}, "dispatch": "sync"},
    ])
    micktrace.get_logger("legacy").info("File handler test message")
    assert "File handler test message" in sync.read_text()  # written in the calling thread
    micktrace.flush()
    assert "File handler test message" in background.read_text()


def test_file_handler_emit_writes_immediately(tmp_path: Path) -> None:
    path = tmp_path / "direct.log"
    handler = FileHandler(path=str(path))
    handler.emit(LogRecord(1.0, "INFO", "legacy", "direct", {"n": 1}))
    handler.flush()
    assert "direct" in path.read_text() and "n=1" in path.read_text()
    handler.close()
