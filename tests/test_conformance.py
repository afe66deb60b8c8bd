"""Every built-in handler passes the handler conformance kit (micktrace.testing.check_handler)."""

from __future__ import annotations

import io
import json
import logging
import os
from pathlib import Path
from typing import Any, Dict, Iterator, List

import pytest

import micktrace
from micktrace.formatters import JSONFormatter
from micktrace.handlers import ConsoleHandler, Handler, MemoryHandler, NullHandler
from micktrace.testing import check_handler
from support.http_faults import Recorder


def _json_lines(text: str) -> List[Dict[str, Any]]:
    out = []
    for line in text.splitlines():
        try:
            out.append(json.loads(line))
        except ValueError:
            pass
    return out


@pytest.fixture(autouse=True)
def _reset() -> Iterator[None]:
    yield
    micktrace.configure(reset=True)


def test_console_handler_conforms() -> None:
    # a pipe, not a StringIO: the fork case's child writes into it too
    read_fd, write_fd = os.pipe()
    os.set_blocking(read_fd, False)
    stream = os.fdopen(write_fd, "w", buffering=1)
    seen: List[str] = []

    def read_back() -> List[Dict[str, Any]]:
        while True:
            try:
                chunk = os.read(read_fd, 1 << 20)
            except BlockingIOError:
                break
            if not chunk:
                break
            seen.append(chunk.decode())
        return _json_lines("".join(seen))

    report = check_handler(lambda: ConsoleHandler(stream=stream, formatter=JSONFormatter()), read_back)
    assert report.passed and not report.skipped


def test_file_handler_conforms(tmp_path: Path) -> None:
    path = tmp_path / "conformance.log"
    report = check_handler(
        lambda: {"type": "file", "path": str(path), "format": "json"},
        lambda: _json_lines(path.read_text()) if path.exists() else [],
        break_handler=lambda handler: setattr(handler, "handle_batch", _raise),
    )
    assert not report.skipped


def _raise(*args: Any) -> None:
    raise OSError(28, "No space left on device")


def test_memory_handler_conforms() -> None:
    holder: List[MemoryHandler] = []

    def make() -> MemoryHandler:
        handler = MemoryHandler(formatter=JSONFormatter())
        holder.append(handler)
        return handler

    def read_back() -> List[Dict[str, Any]]:
        return [json.loads(JSONFormatter().format(r)) for h in holder for r in h.records]

    report = check_handler(make, read_back, fork=False)  # memory is per process by nature
    assert report.skipped == {"fork": "fork not available or not asked for"}


def test_callable_handler_conforms() -> None:
    got: List[Dict[str, Any]] = []
    fmt = JSONFormatter()
    report = check_handler(lambda: (lambda record: got.append(json.loads(fmt.format(record)))), lambda: got, fork=False)
    assert "threads" in report.passed


def test_null_handler_conforms_where_it_can() -> None:
    report = check_handler(NullHandler)
    assert set(report.passed) == {"flush_close_idempotent", "failure_not_raised"}


def test_stdlib_forward_handler_conforms() -> None:
    got: List[Dict[str, Any]] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            fields = dict(getattr(record, "micktrace_fields", {}))
            fields["message"] = record.getMessage()
            fields["level"] = record.levelname
            got.append(fields)

    root = logging.getLogger("conformance")
    keep = Keep()
    root.addHandler(keep)
    root.setLevel(1)
    try:
        report = check_handler(lambda: {"type": "stdlib"}, lambda: got, fork=False)
    finally:
        root.removeHandler(keep)
    assert "arrive_once_in_order" in report.passed


def test_http_handler_conforms() -> None:
    recorder = Recorder()
    try:
        def read_back() -> List[Dict[str, Any]]:
            return [line for request in recorder.accepted() for line in request.ndjson()]

        def break_it(handler: Any) -> None:
            # this handler only: its requests now go to a closed port (connection refused)
            from micktrace.handlers.network.http import HttpSender

            handler.sender = HttpSender("http://127.0.0.1:9/logs", timeout=1)
            handler.retries = 1

        report = check_handler(
            lambda: {"type": "http", "url": recorder.url + "/logs", "linger": 0.05, "backoff": 0.01},
            read_back,
            break_handler=break_it,
        )
        assert not report.skipped
    finally:
        recorder.close()


def test_the_kit_catches_a_handler_that_loses_records() -> None:
    got: List[Dict[str, Any]] = []
    fmt = JSONFormatter()

    def lossy(record: Any) -> None:
        if record.data.get("seq") != 7:
            got.append(json.loads(fmt.format(record)))

    report = check_handler(lambda: lossy, lambda: got, fork=False, raise_on_failure=False, timeout=1)
    assert "arrive_once_in_order" in report.failed


@pytest.mark.parametrize("dispatch", ["sync", "background"])
def test_console_and_memory_metrics_count_what_was_written(dispatch: str) -> None:
    # the issue: a console handler reported bytes_written 0 and batches 0 after writing
    stream = io.StringIO()
    memory = MemoryHandler(name="mem")
    micktrace.configure(reset=True, handlers=[ConsoleHandler(stream=stream, name="con"), memory], dispatch=dispatch)
    log = micktrace.get_logger("metrics")
    for i in range(5):
        log.info("written", i=i)
    micktrace.flush()
    rows = micktrace.metrics()["handlers"]
    for name, written in (("con", len(stream.getvalue())), ("mem", sum(len(line) + 1 for line in memory.lines))):
        row = rows[name]
        assert row["dispatch"] == dispatch and row["emitted"] == 5
        assert row["bytes_written"] == written > 0
        assert 1 <= row["batches"] <= 5
        if dispatch == "sync":
            assert row["batches"] == 5 and row["avg_batch_size"] == 1.0


class _LyingHandler(Handler):
    """Writes lines but tells the dispatcher nothing about them (what ConsoleHandler did)."""

    def __init__(self, out: List[str]) -> None:
        super().__init__(formatter=JSONFormatter())
        self.out = out

    def handle(self, record: Any) -> None:  # type: ignore[override]
        self.out.append(self.format(record))


def test_the_kit_catches_metrics_that_count_nothing() -> None:
    out: List[str] = []
    report = check_handler(
        lambda: _LyingHandler(out), lambda: _json_lines("\n".join(out)), fork=False, raise_on_failure=False, timeout=1
    )
    assert "bytes_written" in report.failed.get("metrics_true", "")
    assert "arrive_once_in_order" in report.passed
