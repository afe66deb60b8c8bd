"""stdlib logging into micktrace: intercept_stdlib(), configure(capture_stdlib=...), StdlibHandler."""

from __future__ import annotations

import io
import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Iterator, List

import pytest

import micktrace
from micktrace.integrations.stdlib import StdlibHandler, active_interception, intercept_stdlib
from micktrace.record import LogRecord
from micktrace.testing import capture_logs


@pytest.fixture(autouse=True)
def _restore_stdlib() -> Iterator[None]:
    """Whatever a test does to stdlib logging is put back."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    active = active_interception()
    if active is not None:
        active.undo()
    root.handlers[:] = handlers
    root.setLevel(level)


@pytest.fixture
def sink() -> List[LogRecord]:
    records: List[LogRecord] = []
    micktrace.configure(handlers=[records.append])
    return records


def test_configure_capture_routes_stdlib_records_with_everything_kept(sink: List[LogRecord]) -> None:
    micktrace.configure(capture_stdlib=True, caller=True)
    std = logging.getLogger("urllib3.connectionpool")
    with micktrace.context(request_id="r-1"):
        std.info("Starting new HTTPS connection (%d): %s", 1, "example.com", extra={"port": 443})
        line = _line() - 1
        try:
            raise KeyError("k")
        except KeyError:
            std.error("lookup failed", exc_info=True, stack_info=True)
    info, error = sink
    assert info.logger_name == "urllib3.connectionpool"
    assert info.level == micktrace.LogLevel.INFO
    assert info.message == "Starting new HTTPS connection (1): example.com"
    assert info.data == {"port": 443}
    assert info.context == {"request_id": "r-1"}
    assert info.filename == __file__ and info.lineno == line
    assert info.func_name == "test_configure_capture_routes_stdlib_records_with_everything_kept"
    assert info.thread_id == threading.get_ident()
    assert error.level == micktrace.LogLevel.ERROR
    assert error.exc_info is not None and error.exc_info[0] is KeyError
    assert error.stack_info is not None and error.stack_info.startswith("Stack (most recent call last):")
    assert "test_configure_capture_routes" in error.stack_info


def _line() -> int:
    import sys

    return sys._getframe(1).f_lineno


def test_caller_left_out_when_the_configuration_does_not_record_callers(sink: List[LogRecord]) -> None:
    micktrace.configure(capture_stdlib=True)
    logging.getLogger("x").warning("w")
    assert sink[0].filename is None and sink[0].lineno is None


def test_processors_such_as_masking_apply_to_stdlib_records(sink: List[LogRecord]) -> None:
    def mask(record: LogRecord) -> LogRecord:
        record.data = {k: ("***" if k == "password" else v) for k, v in record.data.items()}
        return record

    micktrace.configure(capture_stdlib=True, processors=[mask])
    logging.getLogger("auth").warning("login", extra={"password": "hunter2", "user": "ann"})
    assert sink[0].data == {"password": "***", "user": "ann"}


def test_each_record_written_once_even_with_handlers_already_on_root_and_children(sink: List[LogRecord]) -> None:
    old_stream = io.StringIO()
    old_root_handler = logging.StreamHandler(old_stream)
    logging.getLogger().addHandler(old_root_handler)
    # like uvicorn's access logger: its own handler and no propagation
    access = logging.getLogger("uvicorn.access")
    access_stream = io.StringIO()
    access_handler = logging.StreamHandler(access_stream)
    access.addHandler(access_handler)
    access.propagate = False
    try:
        with intercept_stdlib(level="INFO"):
            logging.getLogger("app").info("one")
            access.info("GET / 200")
            assert [r.message for r in sink] == ["one", "GET / 200"]
            assert old_stream.getvalue() == "" and access_stream.getvalue() == ""
        # undone: the previous stdlib state, exactly
        assert access.handlers == [access_handler] and access.propagate is False
        assert old_root_handler in logging.getLogger().handlers
        access.warning("after")
        assert access_stream.getvalue() == "after\n"
    finally:
        access.removeHandler(access_handler)
        access.propagate = True


def test_undo_restores_root_handlers_and_level_exactly() -> None:
    root = logging.getLogger()
    extra = logging.NullHandler()
    root.addHandler(extra)
    root.setLevel(logging.ERROR)
    before = list(root.handlers)
    interception = intercept_stdlib()
    assert root.handlers == [interception.handler]
    interception.undo()
    assert root.handlers == before and root.level == logging.ERROR
    interception.undo()  # a second undo changes nothing
    assert root.handlers == before


def test_root_level_follows_the_configuration_unless_given() -> None:
    root = logging.getLogger()
    micktrace.configure(capture_stdlib=True, level="WARNING")
    assert root.level == logging.WARNING
    micktrace.configure(level="DEBUG")
    assert root.level == logging.DEBUG
    # a per-logger level below the global one must still reach micktrace
    micktrace.configure(level="WARNING", loggers={"sqlalchemy.engine": "INFO"})
    assert root.level == logging.INFO
    with intercept_stdlib(level="ERROR"):
        micktrace.configure(level="DEBUG")
        assert root.level == logging.ERROR


def test_levels_and_disable_of_micktrace_apply_to_stdlib_loggers(sink: List[LogRecord]) -> None:
    micktrace.configure(capture_stdlib=True, level="DEBUG", loggers={"noisy_lib": "WARNING"})
    noisy = logging.getLogger("noisy_lib.sub")
    noisy.info("hidden")
    noisy.warning("shown")
    logging.getLogger("app").debug("debug shown")
    micktrace.disable("app")
    logging.getLogger("app").error("disabled")
    assert [r.message for r in sink] == ["shown", "debug shown"]


def test_capture_false_and_reset_undo_a_configure_capture() -> None:
    root = logging.getLogger()
    before = list(root.handlers)
    micktrace.configure(capture_stdlib=True)
    assert active_interception() is not None
    micktrace.configure(capture_stdlib=False)
    assert active_interception() is None and root.handlers == before
    micktrace.configure(capture_stdlib=True)
    micktrace.configure(reset=True)
    assert active_interception() is None and root.handlers == before


def test_reset_leaves_an_explicit_interception_alone() -> None:
    interception = intercept_stdlib()
    micktrace.configure(reset=True)
    assert active_interception() is interception and interception.active
    interception.undo()
    assert active_interception() is None


def test_capture_stdlib_must_be_a_bool() -> None:
    with pytest.raises(micktrace.ConfigError, match="capture_stdlib"):
        micktrace.configure(capture_stdlib="yes")  # type: ignore[arg-type]


def test_capture_logs_sees_stdlib_records_and_default_level_applies() -> None:
    micktrace.configure(capture_stdlib=True)
    with capture_logs() as captured:
        logging.getLogger("lib").info("seen")
        logging.getLogger("lib").debug("below the root level: never built")
    assert captured.messages == ["seen"]


def test_broken_message_formatting_still_delivers_the_record(sink: List[LogRecord]) -> None:
    micktrace.configure(capture_stdlib=True)
    logging.getLogger("bad").warning("%d items", "not a number")
    assert len(sink) == 1
    assert sink[0].message.startswith("%d items")
    assert "not a number" in sink[0].message


def test_a_failing_micktrace_handler_does_not_raise_into_stdlib_callers(capsys: pytest.CaptureFixture[str]) -> None:
    def broken(record: Any) -> None:
        raise RuntimeError("disk full")

    micktrace.configure(capture_stdlib=True, handlers=[broken])
    logging.getLogger("x").warning("still fine")  # must not raise
    assert "disk full" in capsys.readouterr().err


def test_many_threads_each_record_once(sink: List[LogRecord]) -> None:
    micktrace.configure(capture_stdlib=True)

    def work(n: int) -> None:
        with micktrace.context(worker=n):
            for i in range(50):
                logging.getLogger(f"w{n}").info("item %d", i)

    with ThreadPoolExecutor(max_workers=4) as pool:
        list(pool.map(work, range(8)))
    assert len(sink) == 400
    for record in sink:
        assert record.logger_name == f"w{record.context['worker']}"


def test_stdlib_handler_from_dictconfig_and_background_dispatch() -> None:
    import logging.config

    memory = micktrace.handlers.MemoryHandler()
    micktrace.configure(handlers=[memory], dispatch="background")
    logging.config.dictConfig(
        {
            "version": 1,
            "disable_existing_loggers": False,
            "handlers": {"micktrace": {"class": "micktrace.StdlibHandler", "level": "INFO"}},
            "root": {"handlers": ["micktrace"], "level": "DEBUG"},
        }
    )
    assert isinstance(logging.getLogger().handlers[0], StdlibHandler)
    logging.getLogger("legacy").info("from dictConfig", extra={"order": 7})
    logging.getLogger("legacy").debug("below the handler level")
    assert micktrace.flush(timeout=5)
    assert [(r.message, r.data) for r in memory.records] == [("from dictConfig", {"order": 7})]


def test_records_micktrace_forwarded_are_not_taken_back(sink: List[LogRecord]) -> None:
    # a stdlib handler that sees both directions: micktrace forwards to stdlib,
    # stdlib has both a plain handler and micktrace's bridge
    seen: List[logging.LogRecord] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            seen.append(record)

    root = logging.getLogger()
    root.addHandler(Collect())
    root.addHandler(StdlibHandler())
    root.setLevel(logging.INFO)
    micktrace.configure(handlers=[{"type": "stdlib"}, sink.append])
    micktrace.get_logger("native").info("from micktrace")
    logging.getLogger("legacy").info("from stdlib")
    # micktrace's record: once in micktrace, once in stdlib; stdlib's record: once each
    assert [r.getMessage() for r in seen] == ["from micktrace", "from stdlib"]
    assert [r.message for r in sink] == ["from micktrace", "from stdlib"]


def test_presentation_only_attributes_are_not_fields(sink: List[LogRecord]) -> None:
    # uvicorn logs every line with extra={"color_message": <the message with ANSI codes>}
    micktrace.configure(capture_stdlib=True)
    coloured = "Uvicorn running on \x1b[1mhttp://127.0.0.1:8000\x1b[0m"
    logging.getLogger("uvicorn.error").info(
        "Uvicorn running on %s", "http://127.0.0.1:8000", extra={"color_message": coloured, "port": 8000}
    )
    logging.getLogger("django.server").info('"GET / HTTP/1.1" 200 2', extra={"server_time": "08/Dec/2026 01:20:00"})
    uvicorn, django = sink
    assert uvicorn.data == {"port": 8000}
    assert uvicorn.message == "Uvicorn running on http://127.0.0.1:8000"
    assert django.data == {}
