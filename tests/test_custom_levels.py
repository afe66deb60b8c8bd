"""Custom levels (issue 15): add_level() names a number in every format, in
configure(level=...), in MICKTRACE_LEVEL and in stdlib forwarding."""

from __future__ import annotations

import io
import json
import logging
import textwrap
from typing import Iterator

import pytest

import micktrace
from conftest import run_python
from micktrace import ConfigError
from micktrace.formatters import JSONFormatter, LogfmtFormatter, TextFormatter
from micktrace.handlers import ConsoleHandler, MemoryHandler
from micktrace.levels import LEVEL_NAMES, level_name, remove_level, to_level
from support.stdlib_records import stdlib_records


@pytest.fixture
def notice() -> Iterator[None]:
    micktrace.add_level("NOTICE", 25, color="bold magenta")
    yield
    remove_level("NOTICE")


def test_log_by_name_and_by_number(notice: None) -> None:
    handler = MemoryHandler()
    micktrace.configure(handlers=[handler])
    log = micktrace.get_logger("app")
    log.log("NOTICE", "by name")
    log.log("notice", "lower case")
    log.log(25, "by number")
    assert [(r.level, r.level_name, r.message) for r in handler.records] == [
        (25, "NOTICE", "by name"),
        (25, "NOTICE", "lower case"),
        (25, "NOTICE", "by number"),
    ]


def test_every_format_names_the_level(notice: None) -> None:
    stream = io.StringIO()
    json_h = MemoryHandler(formatter=JSONFormatter())
    micktrace.configure(
        handlers=[
            json_h,
            MemoryHandler(formatter=LogfmtFormatter()),
            MemoryHandler(formatter=TextFormatter(show_time=False)),
            ConsoleHandler(stream=stream, formatter=TextFormatter(colors=True, show_time=False)),
        ]
    )
    micktrace.get_logger("app").log("NOTICE", "hello", n=1)
    handlers = micktrace.config.current_config().handlers
    assert json.loads(handlers[0].lines[0])["level"] == "NOTICE"
    assert " level=NOTICE " in handlers[1].lines[0]
    assert handlers[2].lines[0] == "NOTICE   [app] hello n=1"
    assert "\x1b[1;35mNOTICE  \x1b[0m" in stream.getvalue()  # its colour
    # the JSON batch path (the file handler's, in C when built) names it too
    record = json_h.records[0]
    assert json.loads(JSONFormatter().format_batch([record]).decode())["level"] == "NOTICE"
    assert "LEVEL25" not in repr(record)


def test_a_name_registered_after_a_record_was_written_is_used_from_then_on() -> None:
    formatter = TextFormatter(show_time=False)
    handler = MemoryHandler(formatter=formatter)
    micktrace.configure(handlers=[handler])
    log = micktrace.get_logger("late")
    log.log(26, "before")
    micktrace.add_level("LATE", 26)
    try:
        log.log(26, "after")
    finally:
        remove_level("LATE")
    assert [line.split()[0] for line in handler.lines] == ["LEVEL26", "LATE"]


def test_rich_console_names_the_level_in_its_colour(notice: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FORCE_COLOR", "1")  # rich colours a non-terminal stream too
    stream = io.StringIO()
    micktrace.configure(handlers=[{"type": "rich_console", "stream": stream}])
    micktrace.get_logger("app").log(25, "rich")
    assert "\x1b[1;35mNOTICE" in stream.getvalue() and "LEVEL25" not in stream.getvalue()


def test_configure_level_and_loggers_accept_the_name(notice: None) -> None:
    handler = MemoryHandler()
    micktrace.configure(level="NOTICE", handlers=[handler], loggers={"quiet": "notice"})
    log = micktrace.get_logger("app")
    log.info("dropped: below NOTICE")
    log.log("NOTICE", "kept")
    log.warning("kept too")
    assert [r.message for r in handler.records] == ["kept", "kept too"]
    assert micktrace.get_logger("quiet").level == 25
    assert to_level("NOTICE") == 25


def test_env_level_accepts_the_name() -> None:
    code = textwrap.dedent(
        """
        import micktrace
        micktrace.add_level("NOTICE", 25)
        log = micktrace.get_logger("envapp")
        log.info("dropped")
        log.log("NOTICE", "kept")
        """
    )
    result = run_python(code, env={"MICKTRACE_LEVEL": "NOTICE"})
    assert result.returncode == 0, result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and " NOTICE   [envapp] kept" in lines[0]


def test_stdlib_forwarding_gets_the_name(notice: None) -> None:
    with stdlib_records("custom.levels.target") as records:
        micktrace.configure(handlers=[{"type": "stdlib"}])
        micktrace.get_logger("custom.levels.target").log("NOTICE", "forwarded")
    (record,) = records
    assert (record.levelno, record.levelname) == (25, "NOTICE")
    assert logging.getLevelName(25) == "Level 25"  # nothing registered globally in stdlib


@pytest.mark.parametrize(
    ("name", "number", "key"),
    [
        ("INFO", 25, "name"),
        ("warn", 26, "name"),
        ("OFF", 27, "name"),
        ("LOUD", 20, "number"),
        ("LOUD", 100, "number"),
        ("LOUD", 0, "number"),
        ("LOUD", True, "number"),
        ("LOUD", "25", "number"),
        ("two words", 25, "name"),
        ("", 25, "name"),
    ],
)
def test_clashes_and_bad_values_are_config_errors(name: str, number: int, key: str) -> None:
    with pytest.raises(ConfigError) as info:
        micktrace.add_level(name, number)
    assert info.value.key == key
    assert number not in LEVEL_NAMES or number in (20, 100)


def test_a_second_custom_level_cannot_take_a_name_or_number(notice: None) -> None:
    micktrace.add_level("notice", 25)  # the same again: allowed
    with pytest.raises(ConfigError, match="NOTICE is level 25"):
        micktrace.add_level("NOTICE", 26)
    with pytest.raises(ConfigError, match="25 is NOTICE"):
        micktrace.add_level("OTHER", 25)
    with pytest.raises(ConfigError) as info:
        micktrace.add_level("SHOUT", 35, color="sparkly")
    assert info.value.key == "color" and 35 not in LEVEL_NAMES
    assert level_name(25) == "NOTICE"


def test_remove_level() -> None:
    micktrace.add_level("GONE", 27)
    remove_level("gone")
    assert level_name(27) == "LEVEL27"
    with pytest.raises(ConfigError):
        to_level("GONE")
    with pytest.raises(ConfigError):
        remove_level("INFO")
