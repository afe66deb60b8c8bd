"""micktrace into stdlib logging: the zero-config rule, the "stdlib" handler, StdlibFormatter."""

from __future__ import annotations

import io
import json
import logging
import sys
import textwrap
from typing import Iterator, List

import pytest

import micktrace
from conftest import run_python
from micktrace.config import current_config
from micktrace.integrations.stdlib import StdlibFormatter, StdlibHandler
from micktrace.integrations.stdlib_out import StdlibForwardHandler, stdlib_configured


class Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.records: List[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture
def app_handler() -> Iterator[Collect]:
    """The application configured stdlib: a handler on the root logger."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    collect = Collect()
    root.addHandler(collect)
    root.setLevel(logging.DEBUG)
    yield collect
    root.handlers[:] = handlers
    root.setLevel(level)


# -- the rule, in a fresh interpreter, as an application meets it ------------------


def test_basic_config_after_the_library_logger_exists_gets_the_records() -> None:
    code = textwrap.dedent(
        """
        import logging, micktrace
        log = micktrace.get_logger("some_library")   # created before logging is configured
        log.info("before basicConfig", n=1)          # stdlib not configured: micktrace writes
        logging.basicConfig(level=logging.INFO, format="STD %(levelname)s %(name)s %(message)s|%(n)s")
        log.info("after basicConfig", n=2)
        log.debug("dropped by micktrace's INFO level", n=3)
        """
    )
    result = run_python(code)
    assert result.returncode == 0, result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 2
    assert "before basicConfig n=1" in lines[0] and not lines[0].startswith("STD")
    assert lines[1] == "STD INFO some_library after basicConfig n=2|2"


def test_dictconfig_application_gets_fields_as_attributes_and_dict() -> None:
    code = textwrap.dedent(
        """
        import logging.config, micktrace
        logging.config.dictConfig({
            "version": 1,
            "formatters": {"f": {"format": "%(name)s|%(user_id)s|%(micktrace_message)s|%(micktrace_fields)s"}},
            "handlers": {"out": {"class": "logging.StreamHandler", "formatter": "f", "stream": "ext://sys.stdout"}},
            "root": {"handlers": ["out"], "level": "INFO"},
            "loggers": {"noisy_lib": {"level": "ERROR"}},
        })
        micktrace.get_logger("my_lib").info("User login", user_id=12345)
        micktrace.get_logger("noisy_lib").warning("silenced by the application's stdlib config")
        """
    )
    result = run_python(code)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "my_lib|12345|User login|{'user_id': 12345}\n"
    assert result.stderr == ""


def test_no_stdlib_configuration_means_micktrace_writes_to_stderr() -> None:
    code = "import logging, micktrace\nmicktrace.get_logger('lib').warning('plain', k='v')\n"
    result = run_python(code)
    assert result.returncode == 0
    assert "WARNING" in result.stderr and "[lib] plain k=v" in result.stderr


# -- the rule, in process ----------------------------------------------------------


def test_zero_config_forwards_with_fields_context_and_exception(
    app_handler: Collect, capsys: pytest.CaptureFixture[str]
) -> None:
    assert stdlib_configured()
    log = micktrace.get_logger("lib.db")
    with micktrace.context(request_id="r-9"):
        try:
            raise ValueError("bad")
        except ValueError:
            log.exception("query failed", table="users", ms=12.5)
    (record,) = app_handler.records
    assert record.name == "lib.db" and record.levelno == logging.ERROR and record.levelname == "ERROR"
    assert record.getMessage() == "query failed request_id=r-9 table=users ms=12.5"
    assert record.micktrace_message == "query failed"  # type: ignore[attr-defined]
    assert record.micktrace_fields == {"request_id": "r-9", "table": "users", "ms": 12.5}  # type: ignore[attr-defined]
    assert record.table == "users" and record.ms == 12.5 and record.request_id == "r-9"  # type: ignore[attr-defined]
    assert record.exc_info is not None and record.exc_info[0] is ValueError
    assert capsys.readouterr().err == ""  # micktrace did not write it itself


def test_field_named_like_a_logrecord_attribute_stays_in_the_dict_only(app_handler: Collect) -> None:
    micktrace.get_logger("lib").info("m", name="not the logger", lineno=3, message="x")
    line = sys._getframe().f_lineno - 1
    (record,) = app_handler.records
    assert record.name == "lib" and record.lineno == line  # the caller's, as stdlib fills it
    assert record.pathname == __file__
    assert record.funcName == "test_field_named_like_a_logrecord_attribute_stays_in_the_dict_only"
    assert record.micktrace_fields == {"name": "not the logger", "lineno": 3, "message": "x"}  # type: ignore[attr-defined]


def test_stdlib_levels_decide_and_an_explicit_micktrace_level_applies_first(app_handler: Collect) -> None:
    logging.getLogger().setLevel(1)
    logging.getLogger("noisy").setLevel(logging.WARNING)
    try:
        micktrace.get_logger("noisy").info("hidden by stdlib")
        micktrace.get_logger("noisy").warning("shown")
        micktrace.get_logger("other").debug("below micktrace's INFO default, shown: stdlib decides")
        micktrace.configure(level="WARNING")  # level only: still the default handler, still forwarding
        micktrace.get_logger("other").info("hidden by micktrace's own level")
        micktrace.configure(level="TRACE")
        micktrace.get_logger("other").trace("now shown")
    finally:
        logging.getLogger("noisy").setLevel(logging.NOTSET)
    assert [(r.name, r.levelname, r.getMessage()) for r in app_handler.records] == [
        ("noisy", "WARNING", "shown"),
        ("other", "DEBUG", "below micktrace's INFO default, shown: stdlib decides"),
        ("other", "TRACE", "now shown"),
    ]
    assert logging.getLevelName(5) == "Level 5"  # no global level name registered


def test_choosing_handlers_or_format_means_micktrace_writes_itself(
    app_handler: Collect, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    micktrace.configure(handlers=[{"type": "console"}])
    micktrace.get_logger("a").info("console")
    micktrace.configure(reset=True, format="json")
    micktrace.get_logger("a").info("json")
    micktrace.configure(reset=True)
    monkeypatch.setenv("MICKTRACE_FORMAT", "logfmt")
    micktrace.configure(reset=True)
    micktrace.get_logger("a").info("logfmt")
    assert app_handler.records == []
    err = capsys.readouterr().err
    assert "[a] console" in err and '"message":"json"' in err and "message=logfmt" in err
    monkeypatch.delenv("MICKTRACE_FORMAT")
    micktrace.configure(reset=True)
    micktrace.get_logger("a").info("forwarded again")
    assert [r.getMessage() for r in app_handler.records] == ["forwarded again"]


def test_pytest_capture_handlers_do_not_count_as_configuration(capsys: pytest.CaptureFixture[str]) -> None:
    # pytest puts its own handlers on the root logger during every test
    assert any(type(h).__module__.startswith("_pytest.") for h in logging.getLogger().handlers)
    assert not stdlib_configured()
    micktrace.get_logger("t").warning("to stderr")
    assert "[t] to stderr" in capsys.readouterr().err


def test_bridge_alone_on_root_is_not_a_configuration(capsys: pytest.CaptureFixture[str]) -> None:
    root = logging.getLogger()
    bridge = StdlibHandler()
    root.addHandler(bridge)
    try:
        assert not stdlib_configured()
        micktrace.get_logger("t").warning("written by micktrace")
    finally:
        root.removeHandler(bridge)
    assert "written by micktrace" in capsys.readouterr().err


def test_stdlib_handler_type_forwards_and_respects_filters(app_handler: Collect) -> None:
    micktrace.configure(
        handlers=[
            {"type": "stdlib", "fields_in_message": False, "level": "WARNING", "filters": [lambda r: "x" in r.message]}
        ]
    )
    log = micktrace.get_logger("svc")
    log.info("info x")
    log.warning("warning x", k=1)
    log.warning("warning without the letter")
    (record,) = app_handler.records
    assert record.getMessage() == "warning x" and record.k == 1  # type: ignore[attr-defined]
    assert isinstance(current_config().handlers[0], StdlibForwardHandler)


def test_forwarded_record_keeps_time_thread_and_caller(app_handler: Collect) -> None:
    import threading

    micktrace.configure(caller=True)
    micktrace.get_logger("c").info("where")
    (record,) = app_handler.records
    assert record.pathname == __file__ and record.funcName == "test_forwarded_record_keeps_time_thread_and_caller"
    assert record.thread == threading.get_ident()
    assert abs(record.created - record.micktrace_record.timestamp) < 1e-9  # type: ignore[attr-defined]


# -- StdlibFormatter ---------------------------------------------------------------


def _stream_handler(formatter: logging.Formatter) -> tuple[logging.Logger, io.StringIO, logging.Handler]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(formatter)
    logger = logging.getLogger("fmt_test")
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    return logger, stream, handler


def test_stdlib_formatter_json_for_native_stdlib_records() -> None:
    logger, stream, handler = _stream_handler(StdlibFormatter("json"))
    try:
        with micktrace.context(request_id="r-1"):
            logger.warning("disk at %d%%", 91, extra={"mount": "/var"})
    finally:
        logger.removeHandler(handler)
    doc = json.loads(stream.getvalue())
    assert doc["level"] == "WARNING" and doc["logger"] == "fmt_test" and doc["message"] == "disk at 91%"
    assert doc["mount"] == "/var" and doc["request_id"] == "r-1"


def test_stdlib_formatter_from_dictconfig_both_spellings() -> None:
    import logging.config

    root = logging.getLogger()
    saved = list(root.handlers), root.level
    stream_json, stream_logfmt = io.StringIO(), io.StringIO()
    try:
        logging.config.dictConfig(
            {
                "version": 1,
                "disable_existing_loggers": False,
                "formatters": {
                    "json": {"()": "micktrace.StdlibFormatter", "format": "json"},
                    "logfmt": {"class": "micktrace.StdlibFormatter", "format": "logfmt"},
                },
                "handlers": {
                    "a": {"class": "logging.StreamHandler", "formatter": "json", "stream": stream_json},
                    "b": {"class": "logging.StreamHandler", "formatter": "logfmt", "stream": stream_logfmt},
                },
                "root": {"handlers": ["a", "b"], "level": "INFO"},
            }
        )
        logging.getLogger("legacy").info("stdlib says %s", "hi", extra={"k": 1})
        # a micktrace record forwarded under the zero-config rule keeps its own fields
        micktrace.get_logger("modern").info("micktrace says hi", user_id=5)
    finally:
        root.handlers[:] = saved[0]
        root.setLevel(saved[1])
    first, second = (json.loads(line) for line in stream_json.getvalue().splitlines())
    assert (first["logger"], first["message"], first["k"]) == ("legacy", "stdlib says hi", 1)
    assert (second["logger"], second["message"], second["user_id"]) == ("modern", "micktrace says hi", 5)
    logfmt_lines = stream_logfmt.getvalue().splitlines()
    assert 'message="stdlib says hi" k=1' in logfmt_lines[0]
    assert 'message="micktrace says hi" user_id=5' in logfmt_lines[1]


def test_stdlib_formatter_rejects_unknown_format() -> None:
    with pytest.raises(micktrace.ConfigError, match=r"StdlibFormatter\.format"):
        StdlibFormatter("%(message)s")


def test_forwarding_also_works_from_the_background_dispatcher(app_handler: Collect) -> None:
    import threading

    micktrace.configure(dispatch="background")  # still the default handler, now on a worker thread
    with micktrace.context(job="nightly"):
        for i in range(5):
            micktrace.get_logger("batch").info("step", i=i)
    assert micktrace.flush(timeout=5)
    assert [r.i for r in app_handler.records] == list(range(5))  # type: ignore[attr-defined]
    assert all(r.job == "nightly" for r in app_handler.records)  # type: ignore[attr-defined]
    assert {r.thread for r in app_handler.records} == {threading.get_ident()}  # the caller's thread
