"""The basic handlers (console, file, memory, null) and what happens when one fails."""

from __future__ import annotations

import io
import json
import os
import stat
import sys
import threading
from pathlib import Path
from typing import Any, List

import pytest

import micktrace
from micktrace import LogLevel, LogRecord, _report
from micktrace.formatters import Formatter, JSONFormatter
from micktrace.handlers import ConsoleHandler, FileHandler, MemoryHandler, NullHandler

# -- console ---------------------------------------------------------------------------


def test_zero_config_writes_info_and_above_to_stderr(capsys: pytest.CaptureFixture[str]) -> None:
    log = micktrace.get_logger("zero")
    log.debug("not shown")
    log.info("shown", n=1)
    log.error("also shown")
    out, err = capsys.readouterr()
    assert out == ""
    lines = err.splitlines()
    assert len(lines) == 2
    assert lines[0].endswith("INFO     [zero] shown n=1")
    assert lines[1].endswith("ERROR    [zero] also shown")


def test_console_stream_option(capsys: pytest.CaptureFixture[str]) -> None:
    micktrace.configure(
        handlers=[{"type": "console", "stream": "stdout"}, {"type": "console", "config": {"stream": "stderr"}}]
    )
    micktrace.get_logger("streams").warning("both")
    out, err = capsys.readouterr()
    assert out.count("both") == 1 and err.count("both") == 1


def test_console_follows_sys_stderr_replacement(monkeypatch: pytest.MonkeyPatch) -> None:
    micktrace.configure(handlers=[{"type": "console"}, {"type": "console", "stream": "stdout"}])
    log = micktrace.get_logger("follow")
    first_err, first_out = io.StringIO(), io.StringIO()
    monkeypatch.setattr(sys, "stderr", first_err)
    monkeypatch.setattr(sys, "stdout", first_out)
    log.info("one")
    second_err = io.StringIO()
    monkeypatch.setattr(sys, "stderr", second_err)
    log.info("two")
    assert "one" in first_err.getvalue() and "two" not in first_err.getvalue()
    assert "two" in second_err.getvalue()
    assert "one" in first_out.getvalue() and "two" in first_out.getvalue()


def test_console_with_a_stream_object() -> None:
    buffer = io.StringIO()
    handler = ConsoleHandler(stream=buffer, formatter=JSONFormatter())
    micktrace.configure(handlers=[handler])
    micktrace.get_logger("obj").info("to buffer", k=1)
    line = buffer.getvalue()
    assert line.endswith("\n") and line.count("\n") == 1
    assert json.loads(line)["k"] == 1


def test_console_write_is_flushed_so_prints_keep_their_order() -> None:
    from conftest import run_python

    result = run_python(
        "import micktrace\n"
        "micktrace.configure(handlers=[{'type': 'console', 'stream': 'stdout'}])\n"
        "log = micktrace.get_logger('order')\n"
        "for i in range(3):\n"
        "    print('print', i)\n"
        "    log.info('log', i=i)\n"
    )
    assert result.returncode == 0, result.stderr
    kinds = [line.split()[0] if line.startswith("print") else "log" for line in result.stdout.splitlines()]
    assert kinds == ["print", "log"] * 3


# -- file ------------------------------------------------------------------------------


def test_file_handler_appends_and_creates_private_files(tmp_path: Path) -> None:
    path = tmp_path / "app.log"
    path.write_text("kept\n")
    first = FileHandler(path)
    first.write("one")
    first.close()
    second = FileHandler(str(path))
    second.write_lines(["two", "three"])
    second.close()
    assert path.read_text() == "kept\none\ntwo\nthree\n"

    new = tmp_path / "new.log"
    FileHandler(new).close()
    assert stat.S_IMODE(os.stat(new).st_mode) & 0o007 == 0  # not world-readable


def test_file_handler_truncate_mode(tmp_path: Path) -> None:
    path = tmp_path / "app.log"
    path.write_text("old\n")
    handler = FileHandler(path, mode="w")
    handler.write("new")
    handler.close()
    assert path.read_text() == "new\n"


def test_file_handler_through_configure(tmp_path: Path) -> None:
    path = tmp_path / "app.log"
    micktrace.configure(format="json", handlers=[{"type": "file", "config": {"path": str(path)}}])
    log = micktrace.get_logger("file")
    for i in range(100):
        log.info("line", i=i, text="two\nlines")
    micktrace.flush()
    lines = path.read_text(encoding="utf-8").splitlines()
    assert [json.loads(line)["i"] for line in lines] == list(range(100))


def test_file_handler_writes_invalid_text_as_visible_escapes(tmp_path: Path) -> None:
    path = tmp_path / "app.log"
    handler = FileHandler(path)
    handler.write("lone \ud800 surrogate")
    handler.close()
    assert path.read_bytes() == b"lone \\ud800 surrogate\n"


def test_file_handler_closed_handler_refuses_writes(tmp_path: Path) -> None:
    handler = FileHandler(tmp_path / "x.log")
    handler.close()
    with pytest.raises(ValueError):
        handler.write("after close")


def test_file_lines_from_threads_never_interleave(tmp_path: Path) -> None:
    path = tmp_path / "threads.log"
    handler = FileHandler(path)
    barrier = threading.Barrier(6)

    def worker(n: int) -> None:
        barrier.wait()
        for i in range(300):
            handler.write(f"{n}:{i}:" + "x" * 500)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    handler.close()
    lines = path.read_text().splitlines()
    assert len(lines) == 6 * 300
    assert all(line.endswith(":" + "x" * 500) for line in lines)


def test_file_lines_from_processes_never_interleave(tmp_path: Path) -> None:
    import subprocess

    from conftest import SRC

    path = tmp_path / "shared.log"
    code = (
        "import sys, micktrace\n"
        "micktrace.configure(format='json', handlers=[{'type': 'file', 'path': sys.argv[1]}])\n"
        "log = micktrace.get_logger('proc')\n"
        "for i in range(200):\n"
        "    log.info('line', proc=sys.argv[2], i=i, pad='p' * 300)\n"
    )
    env = dict(os.environ, PYTHONPATH=str(SRC))
    procs = [
        subprocess.Popen([sys.executable, "-c", code, str(path), str(n)], env=env, stderr=subprocess.PIPE)
        for n in range(4)
    ]
    for proc in procs:
        _, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err
    records = [json.loads(line) for line in path.read_text().splitlines()]
    assert len(records) == 800
    for n in range(4):
        assert [r["i"] for r in records if r["proc"] == str(n)] == list(range(200))


# -- memory and null ---------------------------------------------------------------------


def test_memory_handler_keeps_the_last_capacity_records() -> None:
    mem = MemoryHandler(capacity=3, formatter=JSONFormatter())
    micktrace.configure(handlers=[mem])
    log = micktrace.get_logger("mem")
    for i in range(5):
        log.info("m", i=i)
    assert [r.data["i"] for r in mem.records] == [2, 3, 4]
    assert [json.loads(line)["i"] for line in mem.lines] == [2, 3, 4]
    assert mem.discarded == 2
    records = mem.records
    records.clear()  # a copy: the handler keeps its own
    assert len(mem.records) == 3
    mem.clear()
    assert mem.records == [] and mem.lines == []


def test_memory_handler_level_and_filters() -> None:
    mem = MemoryHandler(level=LogLevel.WARNING, filters=[lambda r: r.data.get("keep", True)])
    micktrace.configure(level="DEBUG", handlers=[mem])
    log = micktrace.get_logger("mem")
    log.info("below")
    log.warning("kept")
    log.error("filtered", keep=False)
    assert [r.message for r in mem.records] == ["kept"]


def test_memory_capacity_must_be_positive() -> None:
    for capacity in (0, -1, 1.5, True):
        with pytest.raises(micktrace.ConfigError):
            MemoryHandler(capacity=capacity)  # type: ignore[arg-type]


def test_null_handler_discards(capsys: pytest.CaptureFixture[str]) -> None:
    cfg = micktrace.configure(handlers=[{"type": "null"}])
    assert isinstance(cfg.handlers[0], NullHandler)
    micktrace.get_logger("null").critical("gone")
    assert capsys.readouterr() == ("", "")


# -- failures ----------------------------------------------------------------------------


class Exploding:
    """A handler object whose every write fails."""

    def __init__(self) -> None:
        self.calls = 0

    def handle(self, record: LogRecord) -> None:
        self.calls += 1
        raise OSError("disk on fire")


def test_failing_handler_is_reported_once_counted_and_others_still_get_the_record(
    capsys: pytest.CaptureFixture[str],
) -> None:
    exploding = Exploding()
    before = MemoryHandler(name="before")
    after = MemoryHandler(name="after")
    micktrace.configure(handlers=[before, exploding, after])
    log = micktrace.get_logger("fail")
    for i in range(5):
        log.info("record", i=i)  # never raises into the caller
    assert exploding.calls == 5
    assert [r.data["i"] for r in before.records] == list(range(5))
    assert [r.data["i"] for r in after.records] == list(range(5))
    err = capsys.readouterr().err
    reports = [line for line in err.splitlines() if line.startswith("micktrace: handler 'Exploding' failed")]
    assert len(reports) == 1
    assert "OSError: disk on fire" in reports[0]
    # every record reached the fallback on stderr, in the text format
    fallback = [line for line in err.splitlines() if line.startswith("micktrace fallback [Exploding]: ")]
    assert len(fallback) == 5
    assert all("INFO     [fail] record i=" in line for line in fallback)
    assert _report.error_counts["handler 'Exploding'"] == 5
    stats = micktrace.metrics()["handlers"]["Exploding"]
    assert stats["failed"] == 5 and stats["fallback"] == 5


def test_failing_callable_handler(capsys: pytest.CaptureFixture[str]) -> None:
    mem = MemoryHandler()

    def broken(record: LogRecord) -> None:
        raise ZeroDivisionError("oops")

    micktrace.configure(handlers=[broken, mem])
    micktrace.get_logger("cb").warning("still delivered")
    assert [r.message for r in mem.records] == ["still delivered"]
    err = capsys.readouterr().err
    assert "micktrace: handler 'broken' failed: ZeroDivisionError: oops" in err
    assert "micktrace fallback [broken]:" in err and "still delivered" in err


def test_failing_formatter_falls_back_to_text(capsys: pytest.CaptureFixture[str]) -> None:
    class BrokenFormatter(Formatter):
        def format(self, record: LogRecord) -> str:
            raise KeyError("missing")

    mem = MemoryHandler(formatter=BrokenFormatter(), name="fmt")
    micktrace.configure(handlers=[mem])
    log = micktrace.get_logger("fmt")
    log.info("first", n=1)
    log.info("second", n=2)
    assert [line.split("[fmt] ")[1] for line in mem.lines] == ["first n=1", "second n=2"]
    err = capsys.readouterr().err
    assert err.count("micktrace: formatter of handler 'fmt' failed: KeyError") == 1


def test_failing_filter_is_a_failing_handler(capsys: pytest.CaptureFixture[str]) -> None:
    def bad_filter(record: LogRecord) -> bool:
        raise RuntimeError("filter bug")

    other = MemoryHandler()
    micktrace.configure(handlers=[{"type": "memory", "name": "filtered", "filters": [bad_filter]}, other])
    micktrace.get_logger("flt").info("x")
    assert len(other.records) == 1
    assert "handler 'filtered' failed: RuntimeError: filter bug" in capsys.readouterr().err


def test_broken_stderr_never_raises(monkeypatch: pytest.MonkeyPatch) -> None:
    class ClosedStream(io.StringIO):
        def write(self, text: str) -> int:
            raise ValueError("I/O operation on closed file")

    monkeypatch.setattr(sys, "stderr", ClosedStream())
    mem = MemoryHandler()
    micktrace.configure(handlers=[{"type": "console"}, mem])
    micktrace.get_logger("closed").error("nowhere to report")  # console, report and fallback all fail
    assert [r.message for r in mem.records] == ["nowhere to report"]


def test_handler_objects_may_carry_more_protocol(tmp_path: Path) -> None:
    seen: List[Any] = []

    class Full:
        level = LogLevel.ERROR

        def handle(self, record: LogRecord) -> None:
            seen.append(("handle", record.message))

        def flush(self) -> None:
            seen.append(("flush", None))

        def close(self) -> None:
            seen.append(("close", None))

    micktrace.configure(handlers=[Full()])
    log = micktrace.get_logger("full")
    log.warning("below")
    log.error("at level")
    micktrace.flush()
    micktrace.configure(reset=True)
    assert seen[0] == ("handle", "at level")
    assert ("flush", None) in seen and seen[-1] == ("close", None)
