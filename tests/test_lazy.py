"""Lazy values (issue 15): micktrace.lazy(fn) runs fn only when a handler writes
the record, once per record, and a fn that raises gives a marked stand-in."""

from __future__ import annotations

import io
import json
import threading
from pathlib import Path
from typing import Any, Callable, List, Tuple

import pytest

import micktrace
from micktrace import ConfigError
from micktrace.formatters import JSONFormatter, LogfmtFormatter, TextFormatter
from micktrace.handlers import ConsoleHandler, MemoryHandler
from support.http_faults import Recorder
from support.stdlib_records import stdlib_records


def counter(value: Any = "computed") -> Tuple[Callable[[], Any], List[int]]:
    calls: List[int] = []

    def fn() -> Any:
        calls.append(threading.get_ident())
        return value

    return fn, calls


def test_not_evaluated_for_a_disabled_level() -> None:
    fn, calls = counter()
    micktrace.configure(level="INFO", handlers=[MemoryHandler()])
    log = micktrace.get_logger("lazy")
    log.debug("disabled", state=micktrace.lazy(fn))
    log.log("DEBUG", "disabled", state=micktrace.lazy(fn))
    log.bind(state=micktrace.lazy(fn)).debug("bound, disabled")
    assert calls == []


def test_not_evaluated_for_a_record_filtered_out() -> None:
    fn, calls = counter()
    handler = MemoryHandler(filters=[lambda record: record.message != "skip"], level=30)
    micktrace.configure(handlers=[handler], processors=[lambda r: None if r.message == "drop" else r])
    log = micktrace.get_logger("lazy")
    log.warning("drop", state=micktrace.lazy(fn))  # a processor drops it
    log.warning("skip", state=micktrace.lazy(fn))  # the handler's filter drops it
    log.info("below the handler's level", state=micktrace.lazy(fn))
    assert calls == [] and handler.lines == []
    log.warning("kept", state=micktrace.lazy(fn))
    assert len(calls) == 1 and handler.records[0].data == {"state": "computed"}


def test_evaluated_once_per_record_however_many_handlers_write_it(tmp_path: Path) -> None:
    fn, calls = counter({"big": [1, 2]})
    stream = io.StringIO()
    path = tmp_path / "app.log"
    micktrace.configure(
        handlers=[
            ConsoleHandler(stream=stream, formatter=TextFormatter(show_time=False)),
            MemoryHandler(formatter=LogfmtFormatter()),
            {"type": "file", "path": str(path), "format": "json"},  # background, batched
        ],
        masking=False,
    )
    log = micktrace.get_logger("lazy").bind(state=micktrace.lazy(fn))
    log.info("one")
    log.info("two")
    micktrace.flush()
    assert len(calls) == 2  # once for each record, not once per handler
    assert stream.getvalue().splitlines() == [
        'INFO     [lazy] one state={"big": [1, 2]}',
        'INFO     [lazy] two state={"big": [1, 2]}',
    ]
    assert [json.loads(line)["state"] for line in path.read_text().splitlines()] == [{"big": [1, 2]}] * 2


def test_exception_in_fn_gives_a_marked_stand_in() -> None:
    def broken() -> Any:
        raise KeyError("gone")

    handler = MemoryHandler(formatter=JSONFormatter())
    micktrace.configure(handlers=[handler])
    micktrace.get_logger("lazy").error("still logged", state=micktrace.lazy(broken), n=1)
    record = json.loads(handler.lines[0])
    assert record["state"] == "<lazy value raised KeyError: 'gone'>"
    assert record["n"] == 1 and record["message"] == "still logged"


def test_lazy_in_context_and_static_fields() -> None:
    ctx_fn, ctx_calls = counter("ctx")
    static_fn, static_calls = counter("static")
    handler = MemoryHandler(formatter=JSONFormatter())
    micktrace.configure(handlers=[handler], fields={"host": micktrace.lazy(static_fn)})
    with micktrace.context(request=micktrace.lazy(ctx_fn)):
        micktrace.get_logger("lazy").info("a")
        micktrace.get_logger("lazy").info("b")
    lines = [json.loads(line) for line in handler.lines]
    assert [(d["host"], d["request"]) for d in lines] == [("static", "ctx")] * 2
    assert len(ctx_calls) == 2 and len(static_calls) == 2


def test_lazy_in_the_message_is_computed_at_the_call_once() -> None:
    fn, calls = counter(5)
    handler = MemoryHandler(formatter=JSONFormatter())
    micktrace.configure(handlers=[handler])
    log = micktrace.get_logger("lazy")
    log.info("n is {n}", n=micktrace.lazy(fn))
    log.info("n is {}", micktrace.lazy(fn))
    log.info("n is %s", micktrace.lazy(fn))
    log.info("n is {n}", extra={"n": micktrace.lazy(fn)})
    records = [json.loads(line) for line in handler.lines]
    assert [r["message"] for r in records] == ["n is 5"] * 4
    assert records[0]["n"] == 5 and records[3]["n"] == 5
    assert len(calls) == 4  # one per record: the field holds the message's value


def test_lazy_needs_a_callable() -> None:
    with pytest.raises(ConfigError):
        micktrace.lazy(42)  # type: ignore[arg-type]
    assert "micktrace.lazy(" in repr(micktrace.lazy(print))


def test_looking_at_a_lazy_value_does_not_compute_it() -> None:
    fn, calls = counter()
    value = micktrace.lazy(fn)
    assert str(value) == repr(value) and "micktrace.lazy(" in str(value)
    assert calls == []


def test_masking_sees_the_computed_value() -> None:
    handler = MemoryHandler(formatter=JSONFormatter())
    micktrace.configure(handlers=[handler])  # masking on: the default
    log = micktrace.get_logger("lazy")
    log.info("login", user=micktrace.lazy(lambda: {"name": "ann", "password": "hunter2"}))
    log.info("mail", note=micktrace.lazy(lambda: "write to ann@example.com"))
    lines = handler.lines
    assert "hunter2" not in lines[0] and json.loads(lines[0])["user"]["name"] == "ann"
    assert "ann@example.com" not in lines[1]


def test_stdlib_forwarding_and_rich_console_compute_it() -> None:
    stream = io.StringIO()
    with stdlib_records("lazy.std") as got:
        micktrace.configure(handlers=[{"type": "stdlib"}, {"type": "rich_console", "stream": stream}])
        micktrace.get_logger("lazy.std").info("hi", v=micktrace.lazy(lambda: "computed-value"))
    assert got[0].v == "computed-value"  # type: ignore[attr-defined]
    assert "computed-value" in stream.getvalue() and "micktrace.lazy" not in stream.getvalue()


def test_a_network_handler_sends_the_computed_value() -> None:
    fn, calls = counter({"depth": 3})
    recorder = Recorder()
    try:
        micktrace.configure(handlers=[{"type": "http", "url": recorder.url + "/ingest", "linger": 0.05}])
        micktrace.get_logger("net").info("queued", state=micktrace.lazy(fn))
        assert micktrace.flush(10)
        sent = [line for request in recorder.accepted() for line in request.ndjson()]
    finally:
        micktrace.shutdown(timeout=2)
        recorder.close()
    assert [line["state"] for line in sent] == [{"depth": 3}] and len(calls) == 1
