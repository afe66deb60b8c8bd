"""Format templates (issue 15): a handler's "format" as a line with placeholders,
compiled at configure time, for the console and for files."""

from __future__ import annotations

import io
import sys
import time
from pathlib import Path

import pytest

import micktrace
from conftest import run_python
from micktrace import ConfigError, LogLevel, LogRecord
from micktrace.formatters.template import TemplateFormatter

TS = 1_700_000_000.25  # 2023-11-14T22:13:20.250000Z


def record(**kw: object) -> LogRecord:
    base: dict = dict(
        timestamp=TS, level=LogLevel.WARNING, logger_name="api", message="slow", data={"ms": 12, "tags": ["a", "b"]},
        context={"req": "r1"}, static={"service": "svc"}, exc_info=None, stack_info=None, thread_id=7, process_id=9,
        filename="/app/views.py", lineno=42, func_name="index",
    )  # fmt: skip
    base.update(kw)
    return LogRecord(**base)  # type: ignore[arg-type]


def test_the_documented_placeholders() -> None:
    fmt = TemplateFormatter(
        "{time:YYYY-MM-DD HH:mm:ss.SSS!UTC}|{time:HH:mm:ss.SSSSSS!UTC}|{level:<8}|{levelno}|{logger}: {message} "
        "{fields} [{extra[ms]}] [{fields[req]}] [{extra[missing]}] {caller} {file} {line} {function} {thread} {process}"
    )
    assert fmt.format(record()) == (
        "2023-11-14 22:13:20.250|22:13:20.250000|WARNING |30|api: slow "
        'service=svc req=r1 ms=12 tags=["a", "b"] [12] [r1] [] views.py:42 in index views.py 42 index 7 9'
    )
    assert fmt.needs_caller


def test_time_is_local_without_utc() -> None:
    fmt = TemplateFormatter("{time:YY/MM/DD HH:mm} {time}")
    expected_min = time.strftime("%y/%m/%d %H:%M", time.localtime(TS))
    expected_full = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(TS)) + ".250"
    assert fmt.format(record()) == f"{expected_min} {expected_full}"
    assert not fmt.needs_caller


def test_exception_on_indented_lines_and_nothing_without_one() -> None:
    fmt = TemplateFormatter("{level} {message}{exception}")
    try:
        raise ValueError("bad\nINFO forged")
    except ValueError:
        exc = sys.exc_info()
    lines = fmt.format(record(exc_info=exc)).split("\n")
    assert lines[0] == "WARNING slow"
    assert lines[1] == "  Traceback (most recent call last):"
    assert all(line.startswith("  ") for line in lines[1:])
    assert fmt.format(record()) == "WARNING slow"


def test_values_cannot_break_the_line() -> None:
    fmt = TemplateFormatter("{logger} {message} {fields} {extra[v]}")
    line = fmt.format(record(logger_name="a\nb", message="m\x1b[2J\r\nx", data={"v": "1\n2", "l": ["\n"]}))
    assert "\n" not in line and "\x1b" not in line and "\r" not in line and line.isprintable()


def test_literal_braces_and_specs() -> None:
    fmt = TemplateFormatter("{{{level:>9}}} {line:>5} {message:.3}")
    assert fmt.format(record()) == "{  WARNING}    42 slo"
    assert TemplateFormatter("{line:>5}|").format(record(filename=None, lineno=None)) == "     |"


@pytest.mark.parametrize(
    ("template", "shown"),
    [
        ("{time} {lvl}", "{lvl}"),
        ("{message!r}", "{message}"),
        ("{extra}", "{extra}"),
        ("{level:{width}}", "{level}"),
        ("{time", "{time"),
        ("oops }", "oops }"),
    ],
)
def test_bad_templates_are_config_errors_naming_the_placeholder(template: str, shown: str) -> None:
    with pytest.raises(ConfigError) as info:
        micktrace.configure(handlers=[{"type": "console", "format": template}])
    assert info.value.key == "handlers[0].format"
    assert shown in str(info.value)


def test_console_and_file_handlers_take_a_template(tmp_path: Path) -> None:
    stream = io.StringIO()
    path = tmp_path / "app.log"
    template = "{time:HH:mm:ss} {level:<8} {logger}: {message} {fields}"
    micktrace.configure(
        handlers=[
            {"type": "console", "stream": stream, "format": template},
            {"type": "file", "path": str(path), "format": "{level}|{message}|{extra[user]}|{caller}"},
        ]
    )
    micktrace.get_logger("api").info("User {user} logged in", user="ann")
    micktrace.flush()
    assert stream.getvalue().endswith(" INFO     api: User ann logged in user=ann\n")
    assert path.read_text().startswith("INFO|User ann logged in|ann|test_templates.py:")
    # the file's {caller} turned caller info on for the whole configuration
    assert micktrace.config.current_config().caller


def test_compiled_once_at_configure_time() -> None:
    micktrace.configure(handlers=[{"type": "memory", "format": "{level} {message}"}])
    (handler,) = micktrace.config.current_config().handlers
    assert isinstance(handler.formatter, TemplateFormatter)
    micktrace.get_logger("x").error("e1")
    micktrace.get_logger("x").error("e2")
    assert handler.lines == ["ERROR e1", "ERROR e2"]  # type: ignore[attr-defined]


def test_template_from_a_config_file(tmp_path: Path) -> None:
    conf = tmp_path / "logging.toml"
    out = tmp_path / "out.log"
    conf.write_text(
        "[[handlers]]\n"
        'type = "file"\n'
        f"path = {str(out)!r}\n"
        'format = "{level:<5}| {message}"\n'
    )
    micktrace.configure_from_file(str(conf))
    micktrace.get_logger("cfg").warning("from toml")
    micktrace.flush()
    assert out.read_text() == "WARNING| from toml\n"


def test_a_global_format_template_applies_to_every_handler_without_its_own(tmp_path: Path) -> None:
    path = tmp_path / "app.log"
    micktrace.configure(
        format="{level}|{message}|{fields}",
        handlers=[
            {"type": "file", "path": str(path)},
            {"type": "file", "path": str(tmp_path / "j.log"), "format": "json"},
        ],
    )
    micktrace.get_logger("g").info("hello {x}", x=1)
    micktrace.flush()
    assert path.read_text() == "INFO|hello 1|x=1\n"
    assert (tmp_path / "j.log").read_text().startswith("{")
    with pytest.raises(ConfigError) as info:
        micktrace.configure(format="{bogus}")
    assert info.value.key == "format" and "{bogus}" in str(info.value)


def test_micktrace_format_may_be_a_template() -> None:
    result = run_python(
        "import micktrace; micktrace.get_logger('env').warning('from the environment')",
        env={"MICKTRACE_FORMAT": "{level}>{logger}>{message}"},
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr == "WARNING>env>from the environment\n"
