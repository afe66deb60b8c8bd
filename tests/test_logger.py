"""The Logger API: methods, fields, stdlib-style arguments, binding, caching, levels."""

from __future__ import annotations

import sys
import threading
from typing import Any, List

import pytest

import micktrace
from micktrace import LogLevel, LogRecord
from micktrace.handlers import MemoryHandler
from micktrace.logger import Logger


def memory(level: str = "TRACE", **kwargs: Any) -> MemoryHandler:
    """Configure a memory handler as the only handler and return it."""
    handler = MemoryHandler()
    micktrace.configure(level=level, handlers=[handler], **kwargs)
    return handler


class CallRecorder:
    """An object that notes every time it is turned into text."""

    def __init__(self) -> None:
        self.calls: List[str] = []

    def __str__(self) -> str:
        self.calls.append("str")
        return "recorder"

    def __repr__(self) -> str:
        self.calls.append("repr")
        return "Recorder()"

    def __format__(self, spec: str) -> str:
        self.calls.append("format")
        return "recorder"


# -- methods -----------------------------------------------------------------


def test_every_method_logs_at_its_level() -> None:
    mem = memory()
    log = micktrace.get_logger("methods")
    log.trace("t")
    log.debug("d")
    log.info("i")
    log.warning("w")
    log.warn("w2")
    log.error("e")
    log.critical("c")
    log.fatal("f")
    log.log("INFO", "by name")
    log.log(LogLevel.ERROR, "by member")
    log.log(35, "by number")
    assert [(r.message, r.level) for r in mem.records] == [
        ("t", LogLevel.TRACE),
        ("d", LogLevel.DEBUG),
        ("i", LogLevel.INFO),
        ("w", LogLevel.WARNING),
        ("w2", LogLevel.WARNING),
        ("e", LogLevel.ERROR),
        ("c", LogLevel.CRITICAL),
        ("f", LogLevel.CRITICAL),
        ("by name", LogLevel.INFO),
        ("by member", LogLevel.ERROR),
        ("by number", 35),
    ]
    assert all(isinstance(r, LogRecord) for r in mem.records)
    assert {r.logger_name for r in mem.records} == {"methods"}


def test_record_carries_time_thread_and_process() -> None:
    import os
    import time

    mem = memory()
    before = time.time()
    micktrace.get_logger("ids").info("hello")
    after = time.time()
    record = mem.records[0]
    assert isinstance(record.timestamp, float)
    assert before <= record.timestamp <= after
    assert record.thread_id == threading.get_ident()
    assert record.process_id == os.getpid()
    assert record.name == record.logger_name == "ids"


def test_message_is_positional_only_so_message_keyword_is_a_field() -> None:
    mem = memory()
    log = micktrace.get_logger("fields")
    log.info("x", message="y", msg="m", level="not a level", args="a", name="n")
    record = mem.records[0]
    assert record.message == "x"
    assert record.level is LogLevel.INFO
    assert record.data == {"message": "y", "msg": "m", "level": "not a level", "args": "a", "name": "n"}
    log.log("WARNING", "z", level="field")
    assert mem.records[1].level is LogLevel.WARNING
    assert mem.records[1].data == {"level": "field"}


def test_keyword_fields_keep_their_python_values() -> None:
    mem = memory()
    value = {"nested": [1, 2]}
    micktrace.get_logger("fields").info("User login", user_id=12345, success=True, payload=value)
    data = mem.records[0].data
    assert data["user_id"] == 12345
    assert data["success"] is True
    assert data["payload"] is value
    assert mem.records[0].fields is data


def test_non_string_messages_are_converted_safely() -> None:
    mem = memory()

    class BrokenStr:
        def __str__(self) -> str:
            raise RuntimeError("no str")

        def __repr__(self) -> str:
            return "BrokenStr()"

    log = micktrace.get_logger("msg")
    log.info(42)
    log.info(BrokenStr())
    log.info(None)
    assert [r.message for r in mem.records] == ["42", "BrokenStr()", "None"]


# -- stdlib call sites ---------------------------------------------------------


def test_percent_args_are_formatted() -> None:
    mem = memory()
    log = micktrace.get_logger("pct")
    log.info("user %s logged in %d times", "bob", 3)
    log.info("dict form %(name)s", {"name": "alice"})
    log.info("literal %s stays when there are no args")
    log.info("100%% done", user="x")  # no args: the message is taken as is
    assert [r.message for r in mem.records] == [
        "user bob logged in 3 times",
        "dict form alice",
        "literal %s stays when there are no args",
        "100%% done",
    ]


def test_bad_percent_args_never_raise() -> None:
    mem = memory()
    log = micktrace.get_logger("pct")
    log.info("needs a number %d", "not a number")
    log.info("two %s %s", "only one")
    log.info("no placeholder", "extra")
    messages = [r.message for r in mem.records]
    assert len(messages) == 3
    assert messages[0].startswith("needs a number %d") and "not a number" in messages[0]
    assert messages[1].startswith("two %s %s") and "only one" in messages[1]
    assert messages[2].startswith("no placeholder") and "extra" in messages[2]


def test_percent_args_are_formatted_only_when_emitted() -> None:
    memory(level="INFO")
    log = micktrace.get_logger("lazy")
    recorder = CallRecorder()
    log.debug("value %s", recorder)
    log.debug("value %r", recorder)
    log.trace("value %s", recorder)
    log.log("DEBUG", "value %s", recorder)
    log.log(5, "value %s", recorder)
    log.debug(recorder)
    log.debug("field", obj=recorder)
    assert recorder.calls == []
    log.info("value %s", recorder)
    assert recorder.calls == ["str"]


def test_exc_info_forms() -> None:
    mem = memory()
    log = micktrace.get_logger("exc")
    error = ValueError("bad value")
    try:
        raise error
    except ValueError:
        log.error("with True", exc_info=True)
        log.exception("with exception()")
        saved = sys.exc_info()
    log.error("with instance", exc_info=error)
    log.error("with tuple", exc_info=saved)
    log.error("with False", exc_info=False)
    log.exception("outside except")  # nothing is being handled: no exception attached
    records = mem.records
    for record in records[:4]:
        assert record.exc_info is not None
        assert record.exc_info[1] is error
        assert record.exception is not None
        assert record.exception["type"] == "ValueError"
        assert record.exception["message"] == "bad value"
        assert record.exception_text is not None and "ValueError: bad value" in record.exception_text
    assert records[1].level is LogLevel.ERROR
    assert records[4].exc_info is None and records[4].exception is None
    assert records[5].exc_info is None


def test_stack_info_includes_the_call_site() -> None:
    mem = memory()
    micktrace.get_logger("stack").info("where am I", stack_info=True)
    stack = mem.records[0].stack_info
    assert stack is not None
    assert stack.startswith("Stack (most recent call last):")
    assert "test_stack_info_includes_the_call_site" in stack
    assert 'info("where am I", stack_info=True)' in stack
    micktrace.get_logger("stack").info("no stack")
    assert mem.records[1].stack_info is None


def _log_from_helper(log: Logger, stacklevel: int) -> None:
    log.info("helper", stacklevel=stacklevel)


def test_stacklevel_points_caller_info_at_the_callers_frame() -> None:
    mem = memory(caller=True)
    log = micktrace.get_logger("caller")
    _log_from_helper(log, 1)
    line = sys._getframe().f_lineno + 1
    _log_from_helper(log, 2)
    first, second = mem.records
    assert first.func_name == "_log_from_helper"
    assert first.filename == __file__
    assert second.func_name == "test_stacklevel_points_caller_info_at_the_callers_frame"
    assert second.lineno == line


def test_caller_info_is_off_unless_asked_for() -> None:
    mem = memory()
    micktrace.get_logger("caller").info("x")
    assert mem.records[0].filename is None and mem.records[0].lineno is None


def test_extra_is_merged_into_fields_and_keywords_win() -> None:
    mem = memory()
    log = micktrace.get_logger("extra").bind(source="bound", shared="bound")
    log.info("x", extra={"request": 1, "shared": "extra"}, own=2)
    log.info("y", extra={"shared": "extra"}, shared="keyword")
    assert mem.records[0].data == {"source": "bound", "shared": "extra", "request": 1, "own": 2}
    assert mem.records[1].data == {"source": "bound", "shared": "keyword"}


def test_getlogger_alias() -> None:
    assert micktrace.getLogger is micktrace.get_logger
    assert micktrace.getLogger("alias") is micktrace.get_logger("alias")


# -- bind ------------------------------------------------------------------------


def test_bind_chains_and_leaves_the_original_unchanged() -> None:
    mem = memory()
    base = micktrace.get_logger("bind")
    first = base.bind(a=1)
    second = first.bind(b=2, a=10)
    third = second.unbind("a")
    fresh = second.new(only=True)
    for logger in (base, first, second, third, fresh):
        logger.info("m")
    assert [r.data for r in mem.records] == [{}, {"a": 1}, {"a": 10, "b": 2}, {"b": 2}, {"only": True}]
    assert base.bound == {} and first.bound == {"a": 1}
    assert second.name == first.name == base.name == "bind"
    assert base.bind() is base
    assert micktrace.get_logger("bind") is base  # the cached logger never gets bound fields


def test_bound_property_is_a_copy() -> None:
    log = micktrace.get_logger("bind").bind(a=1)
    copy = log.bound
    copy["a"] = 2
    copy["b"] = 3
    assert log.bound == {"a": 1}


def test_call_fields_do_not_leak_into_the_bound_logger() -> None:
    mem = memory()
    log = micktrace.get_logger("bind").bind(a=1)
    log.info("one", b=2)
    log.info("two", extra={"c": 3})
    log.info("three")
    assert [r.data for r in mem.records] == [{"a": 1, "b": 2}, {"a": 1, "c": 3}, {"a": 1}]
    assert log.bound == {"a": 1}


# -- get_logger ------------------------------------------------------------------


def test_get_logger_is_cached_by_name() -> None:
    assert micktrace.get_logger("cache.me") is micktrace.get_logger("cache.me")
    assert micktrace.get_logger("cache.me") is not micktrace.get_logger("cache.other")
    assert micktrace.get_logger("cache.me").name == "cache.me"


def test_get_logger_defaults_to_the_callers_module() -> None:
    assert micktrace.get_logger().name == __name__
    assert micktrace.get_logger() is micktrace.get_logger(__name__)


def test_get_logger_default_name_in_a_script(tmp_path: Any) -> None:
    from conftest import run_python

    result = run_python("import micktrace; print(micktrace.get_logger().name)")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "__main__"


def test_get_logger_from_many_threads_returns_one_object() -> None:
    got: List[Logger] = []
    barrier = threading.Barrier(8)

    def worker() -> None:
        barrier.wait()
        got.append(micktrace.get_logger("race.for.me"))

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(got) == 8 and all(g is got[0] for g in got)


# -- levels and the disabled path ------------------------------------------------------


def test_zero_config_level_is_info() -> None:
    log = micktrace.get_logger("zero")
    assert log.level == LogLevel.INFO
    assert not log.is_enabled_for("DEBUG")
    assert log.is_enabled_for(LogLevel.INFO)
    assert log.isEnabledFor(40)


def test_disabled_levels_do_no_work() -> None:
    calls: List[LogRecord] = []

    def processor(record: LogRecord) -> LogRecord:
        calls.append(record)
        return record

    mem = memory(level="WARNING", processors=[processor])
    log = micktrace.get_logger("quiet")
    recorder = CallRecorder()
    log.trace("%s", recorder, exc_info=True, stack_info=True)
    log.debug("%s", recorder, field=recorder)
    log.info("%r", recorder, extra={"x": recorder})
    log.log("INFO", "%s", recorder)
    log.bind(b=recorder).info("%s", recorder)
    assert recorder.calls == []
    assert calls == []  # no record was built
    assert mem.records == []
    log.warning("%s", recorder)
    assert recorder.calls == ["str"]
    assert len(calls) == 1 and len(mem.records) == 1


def test_disabled_method_is_a_plain_no_op() -> None:
    memory(level="ERROR")
    log = micktrace.get_logger("noop")
    # the method itself is swapped, so a disabled call does not reach Logger._log
    assert log.debug.__func__.__name__ == "_disabled_method"
    assert log.info("anything", 1, 2, x=3) is None
    assert isinstance(log, micktrace.Logger)
    micktrace.configure(level="DEBUG")
    assert log.debug.__name__ == "debug"


def test_reconfiguring_levels_affects_existing_and_bound_loggers_at_once() -> None:
    mem = memory(level="INFO")
    log = micktrace.get_logger("live")
    bound = log.bind(k=1)
    deeper = bound.bind(j=2)
    for logger in (log, bound, deeper):
        logger.debug("hidden")
    assert mem.records == []
    micktrace.configure(level="DEBUG")
    for logger in (log, bound, deeper):
        logger.debug("shown")
    assert [r.data for r in mem.records] == [{}, {"k": 1}, {"k": 1, "j": 2}]
    micktrace.configure(level="ERROR")
    for logger in (log, bound, deeper):
        logger.warning("hidden again")
        logger.error("error")
    assert [r.message for r in mem.records[3:]] == ["error"] * 3


def test_per_logger_prefix_levels() -> None:
    mem = memory(level="INFO", loggers={"db": "ERROR", "db.pool": "DEBUG", "http": LogLevel.WARNING})
    names = ["db", "db.query", "db.pool", "db.pool.conn", "dbx", "http", "http.client", "app"]
    for name in names:
        micktrace.get_logger(name).debug("debug")
        micktrace.get_logger(name).info("info")
        micktrace.get_logger(name).warning("warning")
    got = [(r.logger_name, r.message) for r in mem.records]
    assert got == [
        ("db.pool", "debug"),
        ("db.pool", "info"),
        ("db.pool", "warning"),
        ("db.pool.conn", "debug"),
        ("db.pool.conn", "info"),
        ("db.pool.conn", "warning"),
        ("dbx", "info"),  # a prefix matches whole dotted parts only
        ("dbx", "warning"),
        ("http", "warning"),
        ("http.client", "warning"),
        ("app", "info"),
        ("app", "warning"),
    ]
    assert micktrace.get_logger("db.query").level == LogLevel.ERROR
    assert micktrace.get_logger("db.pool.conn").level == LogLevel.DEBUG


def test_per_logger_levels_follow_reconfiguration() -> None:
    mem = memory(level="INFO", loggers={"noisy": "ERROR"})
    log = micktrace.get_logger("noisy.lib")
    log.info("hidden")
    micktrace.configure(loggers={"noisy": "DEBUG"})
    log.debug("shown")
    assert [r.message for r in mem.records] == ["shown"]


def test_disable_and_enable_a_prefix() -> None:
    mem = memory(level="DEBUG")
    lib = micktrace.get_logger("thirdparty.sub")
    bound = lib.bind(x=1)
    app = micktrace.get_logger("app")
    micktrace.disable("thirdparty")
    lib.critical("hidden")
    bound.critical("hidden")
    micktrace.get_logger("thirdparty").error("hidden")
    app.debug("app still logs")
    micktrace.configure(level="TRACE")  # a later configure keeps the disabled prefix
    lib.critical("still hidden")
    micktrace.enable("thirdparty")
    lib.debug("back")
    bound.debug("back too")
    assert [(r.logger_name, r.message) for r in mem.records] == [
        ("app", "app still logs"),
        ("thirdparty.sub", "back"),
        ("thirdparty.sub", "back too"),
    ]


def test_disable_and_enable_globally() -> None:
    mem = memory(level="DEBUG")
    log = micktrace.get_logger("global")
    micktrace.disable()
    log.critical("hidden")
    micktrace.get_logger("created.while.disabled").critical("hidden")
    micktrace.enable()
    log.debug("back")
    micktrace.get_logger("created.while.disabled").info("back")
    assert [r.message for r in mem.records] == ["back", "back"]


def test_enable_without_names_also_clears_prefixes() -> None:
    mem = memory(level="DEBUG")
    micktrace.disable("a", "b")
    micktrace.enable()
    micktrace.get_logger("a").info("a")
    micktrace.get_logger("b.c").info("b")
    assert [r.message for r in mem.records] == ["a", "b"]


def test_a_log_call_never_raises() -> None:
    def broken_processor(record: LogRecord) -> LogRecord:
        raise RuntimeError("processor bug")

    mem = memory(processors=[broken_processor])
    log = micktrace.get_logger("safe")
    log.info("processor fails")
    log.log("NOT_A_LEVEL", "bad level")
    log.log(None, "bad level")  # type: ignore[arg-type]
    assert mem.records == []


def test_processor_can_change_or_drop_records() -> None:
    def processor(record: LogRecord) -> LogRecord | None:
        if record.data.get("drop"):
            return None
        record.data = {**record.data, "seen": True}
        return record

    mem = memory(processors=[processor])
    log = micktrace.get_logger("proc")
    log.info("kept")
    log.info("dropped", drop=True)
    assert [(r.message, r.data) for r in mem.records] == [("kept", {"seen": True})]


@pytest.mark.parametrize(
    "call",
    [
        "plain",
        "percent_args",
        "exc_info",
        "stack_info",
    ],
)
def test_a_processor_mutating_record_data_does_not_change_the_logger(call: str) -> None:
    def tag(record: LogRecord) -> LogRecord:
        record.data["tagged"] = True  # in place: a processor may do this
        return record

    mem = memory(processors=[tag])
    log = micktrace.get_logger("alias").bind(a=1)
    if call == "plain":
        log.info("m")
    elif call == "percent_args":
        log.info("m %s", 1)
    elif call == "exc_info":
        log.info("m", exc_info=ValueError("x"))
    else:
        log.info("m", stack_info=True)
    assert mem.records[0].data == {"a": 1, "tagged": True}
    assert log.bound == {"a": 1}


# -- threads ---------------------------------------------------------------------


def test_eight_threads_logging_concurrently_lose_nothing() -> None:
    mem = memory(level="DEBUG")
    per_thread = 500
    barrier = threading.Barrier(8)

    def worker(n: int) -> None:
        log = micktrace.get_logger(f"thread.{n}").bind(thread=n)
        barrier.wait()
        for i in range(per_thread):
            log.info("tick", i=i)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    records = mem.records
    assert len(records) == 8 * per_thread
    assert mem.discarded == 0
    for n in range(8):
        mine = [r for r in records if r.data["thread"] == n]
        # each thread's records arrive complete and in the order they were logged
        assert [r.data["i"] for r in mine] == list(range(per_thread))
        assert {r.logger_name for r in mine} == {f"thread.{n}"}
        assert len({r.thread_id for r in mine}) == 1
    assert len(mem.lines) == 8 * per_thread


def test_repr_names_the_logger_level_and_bound_fields() -> None:
    memory(level="WARNING")
    text = repr(micktrace.get_logger("shown").bind(k=1))
    assert "'shown'" in text and "WARNING" in text and "k" in text


@pytest.mark.parametrize("name", [123, None])
def test_get_logger_accepts_non_string_names(name: Any) -> None:
    log = micktrace.get_logger(name)
    assert isinstance(log.name, str)
