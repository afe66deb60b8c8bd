"""micktrace.testing.capture_logs: every record inside the block, whatever the configuration."""

from __future__ import annotations

import asyncio
import threading

import pytest

import micktrace
from micktrace import LogLevel
from micktrace.handlers import MemoryHandler
from micktrace.testing import CapturedLogs, capture_logs


def test_captures_every_level_regardless_of_the_configured_level() -> None:
    mem = MemoryHandler()
    micktrace.configure(level="ERROR", handlers=[mem])
    log = micktrace.get_logger("cap")
    with capture_logs() as captured:
        log.trace("t")
        log.debug("d")
        log.info("i", n=1)
        log.warning("w")
        log.error("e")
        log.log(7, "custom")
    assert isinstance(captured, CapturedLogs)
    assert captured.messages == ["t", "d", "i", "w", "e", "custom"]
    assert [r.level for r in captured.records] == [5, 10, 20, 30, 40, 7]
    assert captured.records[2].level == micktrace.LogLevel.INFO
    assert captured.records[2].data == {"n": 1}
    # the handlers still only get what the configuration lets through
    assert [r.message for r in mem.records] == ["e"]


def test_captures_regardless_of_handlers_and_disabled_loggers(capsys: pytest.CaptureFixture[str]) -> None:
    micktrace.configure(handlers=[{"type": "null"}])
    micktrace.disable("muted")
    with capture_logs() as captured:
        micktrace.get_logger("app").info("to null")
        micktrace.get_logger("muted.child").info("from a disabled logger")
    assert captured.messages == ["to null", "from a disabled logger"]
    assert capsys.readouterr().err == ""


def test_disabled_methods_come_back_after_the_block() -> None:
    mem = MemoryHandler()
    micktrace.configure(level="INFO", handlers=[mem])
    log = micktrace.get_logger("restore")
    bound = log.bind(k=1)
    with capture_logs() as captured:
        log.debug("inside")
        bound.debug("inside bound")
    log.debug("after")
    bound.debug("after bound")
    assert captured.messages == ["inside", "inside bound"]
    assert log.debug.__func__.__name__ == "_disabled_method" and bound.debug.__func__.__name__ == "_disabled_method"
    assert mem.records == []


def test_state_is_restored_when_the_block_raises() -> None:
    log = micktrace.get_logger("raises")
    with pytest.raises(RuntimeError):
        with capture_logs() as captured:
            log.debug("before the error")
            raise RuntimeError("test failure")
    log.debug("outside")
    assert captured.messages == ["before the error"]
    # back on the class a logger made now gets (the zero-config default: the
    # disabled methods ask stdlib, docs/stdlib.md)
    assert type(log) is type(micktrace.get_logger("raises, fresh"))
    assert log.debug.__func__ is not micktrace.Logger.debug


def test_spec_example() -> None:
    def my_function_that_logs() -> None:
        logger = micktrace.get_logger("my_module")
        logger.info("Function started")
        logger.info("Function finished", result=42)

    with micktrace.testing.capture_logs() as captured:
        my_function_that_logs()
        assert len(captured.records) == 2
        assert captured.records[0].message == "Function started"
        assert captured.records[1].level == micktrace.LogLevel.INFO
        assert captured.records[1].data == {"result": 42}


def test_captures_from_threads() -> None:
    barrier = threading.Barrier(4)

    def worker(n: int) -> None:
        log = micktrace.get_logger(f"thread.{n}")
        barrier.wait()
        for i in range(250):
            log.debug("tick", n=n, i=i)

    with capture_logs() as captured:
        threads = [threading.Thread(target=worker, args=(n,)) for n in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert len(captured) == 1000
    for n in range(4):
        assert [r.data["i"] for r in captured.filter(n=n)] == list(range(250))


def test_captures_from_asyncio_tasks_with_their_context() -> None:
    async def task(n: int) -> None:
        async with micktrace.acontext(task=n):
            await asyncio.sleep(0)
            micktrace.get_logger("tasks").debug("in task")

    async def main() -> None:
        await asyncio.gather(*(task(n) for n in range(5)))

    with capture_logs() as captured:
        asyncio.run(main())
    assert sorted(r.context["task"] for r in captured) == [0, 1, 2, 3, 4]


def test_nested_captures() -> None:
    log = micktrace.get_logger("nested")
    with capture_logs() as outer:
        log.debug("outer only")
        with capture_logs() as inner:
            log.debug("both")
        log.debug("outer again")
    log.info("neither")
    assert outer.messages == ["outer only", "both", "outer again"]
    assert inner.messages == ["both"]
    assert outer.records[1] is inner.records[0]


def test_filter_helpers() -> None:
    with capture_logs() as captured:
        micktrace.get_logger("db").debug("connect", host="a")
        micktrace.get_logger("db.pool").warning("slow query", ms=900)
        micktrace.get_logger("dbx").error("other", ms=900)
        with micktrace.context(request_id="r-1"):
            micktrace.get_logger("api").info("request done", status=200)
    assert len(captured) == 4
    assert [r.message for r in captured.filter(level="WARNING")] == ["slow query"]
    assert [r.message for r in captured.filter(level=LogLevel.DEBUG)] == ["connect"]
    assert [r.message for r in captured.filter(min_level="WARNING")] == ["slow query", "other"]
    assert [r.message for r in captured.filter(logger="db")] == ["connect", "slow query"]
    assert [r.message for r in captured.filter(message="query")] == ["slow query"]
    assert [r.message for r in captured.filter(ms=900)] == ["slow query", "other"]
    assert [r.message for r in captured.filter(ms=900, logger="dbx")] == ["other"]
    assert [r.message for r in captured.filter(request_id="r-1")] == ["request done"]  # context fields too
    assert captured.filter(host="missing") == []
    assert captured[0].message == "connect"
    assert [r.message for r in captured][-1] == "request done"
    captured.clear()
    assert len(captured) == 0 and captured.messages == []


def test_filter_sees_static_fields() -> None:
    micktrace.configure(service="svc")
    with capture_logs() as captured:
        micktrace.get_logger("s").info("x")
    assert captured.filter(service="svc") == captured.records
    assert captured.records[0].static == {"service": "svc"}


def test_capture_sees_processed_records_only() -> None:
    def drop_secrets(record: micktrace.LogRecord) -> micktrace.LogRecord | None:
        return None if record.data.get("secret") else record

    micktrace.configure(processors=[drop_secrets])
    with capture_logs() as captured:
        micktrace.get_logger("p").info("kept")
        micktrace.get_logger("p").info("dropped", secret=True)
    assert captured.messages == ["kept"]


def test_capture_logs_is_reusable_as_a_fresh_object_each_call() -> None:
    first = capture_logs()
    second = capture_logs()
    assert first is not second
    with first:
        micktrace.get_logger("r").info("a")
    with second:
        micktrace.get_logger("r").info("b")
    assert first.messages == ["a"] and second.messages == ["b"]
