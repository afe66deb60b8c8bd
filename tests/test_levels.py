"""LogLevel: stdlib's numbers plus TRACE, parsing, comparisons and conversions."""

from __future__ import annotations

import logging

import pytest

import micktrace
from micktrace import ConfigError, LogLevel
from micktrace.levels import OFF, level_name, to_level, to_loglevel


def test_numbers_match_stdlib_plus_trace() -> None:
    assert LogLevel.TRACE == 5
    assert LogLevel.DEBUG == logging.DEBUG
    assert LogLevel.INFO == logging.INFO
    assert LogLevel.WARNING == logging.WARNING
    assert LogLevel.ERROR == logging.ERROR
    assert LogLevel.CRITICAL == logging.CRITICAL
    assert [m.name for m in LogLevel] == ["TRACE", "DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("debug", LogLevel.DEBUG),
        ("DEBUG", LogLevel.DEBUG),
        ("  Info ", LogLevel.INFO),
        ("trace", LogLevel.TRACE),
        ("warn", LogLevel.WARNING),
        ("warning", LogLevel.WARNING),
        ("err", LogLevel.ERROR),
        ("fatal", LogLevel.CRITICAL),
        ("critical", LogLevel.CRITICAL),
    ],
)
def test_from_string(text: str, expected: LogLevel) -> None:
    assert LogLevel.from_string(text) is expected


def test_from_string_rejects_unknown_names_listing_the_allowed_ones() -> None:
    with pytest.raises(ConfigError) as info:
        LogLevel.from_string("verbose")
    assert isinstance(info.value, ValueError)
    message = str(info.value)
    assert "'verbose'" in message
    for name in ("TRACE", "DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"):
        assert name in message


def test_comparisons_and_int_behaviour() -> None:
    assert LogLevel.TRACE < LogLevel.DEBUG < LogLevel.INFO < LogLevel.WARNING < LogLevel.ERROR < LogLevel.CRITICAL
    assert LogLevel.INFO >= 20
    assert LogLevel.INFO > logging.DEBUG
    assert max(LogLevel.DEBUG, LogLevel.ERROR) is LogLevel.ERROR
    assert LogLevel.ERROR.name == "ERROR"
    assert int(LogLevel.WARNING) == 30
    assert LogLevel(40) is LogLevel.ERROR
    assert sorted([LogLevel.ERROR, LogLevel.TRACE, LogLevel.INFO]) == [LogLevel.TRACE, LogLevel.INFO, LogLevel.ERROR]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("debug", 10),
        ("WARN", 30),
        (LogLevel.ERROR, 40),
        (25, 25),
        ("25", 25),
        (" 7 ", 7),
        (0, 0),
        ("off", OFF),
        ("NONE", OFF),
        ("disabled", OFF),
    ],
)
def test_to_level_accepts_names_numbers_and_off(value: object, expected: int) -> None:
    assert to_level(value, "level") == expected  # type: ignore[arg-type]


@pytest.mark.parametrize("value", ["loud", "", -1, True, 2.5, None, ["INFO"]])
def test_to_level_rejects_and_names_the_key(value: object) -> None:
    with pytest.raises(ConfigError) as info:
        to_level(value, "handlers[2].level")  # type: ignore[arg-type]
    assert info.value.key == "handlers[2].level"
    assert str(info.value).startswith("handlers[2].level: ")
    assert repr(value) in str(info.value)


def test_level_name_and_to_loglevel_for_custom_numbers() -> None:
    assert level_name(20) == "INFO"
    assert level_name(5) == "TRACE"
    assert level_name(25) == "LEVEL25"
    assert to_loglevel(30) is LogLevel.WARNING
    assert to_loglevel(25) == 25
    assert not isinstance(to_loglevel(25), LogLevel)


def test_records_carry_loglevel_members_and_custom_ints() -> None:
    with micktrace.testing.capture_logs() as captured:
        log = micktrace.get_logger("levels")
        log.info("named")
        log.log("warning", "by name")
        log.log(25, "custom number")
        log.log(LogLevel.ERROR, "member")
    levels = [r.level for r in captured.records]
    assert levels[0] is LogLevel.INFO
    assert levels[1] is LogLevel.WARNING
    assert levels[2] == 25
    assert levels[3] is LogLevel.ERROR
    assert captured.records[0].level.name == "INFO"  # the spec's CustomFormatter uses record.level.name
    assert [r.level_name for r in captured.records] == ["INFO", "WARNING", "LEVEL25", "ERROR"]


def test_types_module_exports_the_same_classes() -> None:
    from micktrace import types

    assert types.LogLevel is LogLevel
    assert types.LogRecord is micktrace.LogRecord
