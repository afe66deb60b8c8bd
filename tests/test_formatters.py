"""Formatters: text, JSON and logfmt layouts, colours, collisions, exceptions, escaping."""

from __future__ import annotations

import datetime
import io
import json
import os
import re
import sys
import time
from typing import Any, Dict, List

import pytest

import micktrace
from micktrace import LogLevel, LogRecord, serialize
from micktrace.formatters import Formatter, JSONFormatter, LogfmtFormatter, TextFormatter, escape_controls
from micktrace.formatters.text import stream_supports_color
from micktrace.handlers import ConsoleHandler, MemoryHandler

FIXED_TS = 1_700_000_000.25  # 2023-11-14T22:13:20.250000Z


def make_record(
    message: str = "User login",
    level: int = LogLevel.INFO,
    data: Dict[str, Any] | None = None,
    context: Dict[str, Any] | None = None,
    static: Dict[str, Any] | None = None,
    logger: str = "api",
    exc_info: Any = None,
    stack_info: str | None = None,
    caller: bool = False,
) -> LogRecord:
    return LogRecord(
        FIXED_TS,
        level,
        logger,
        message,
        data if data is not None else {},
        context if context is not None else {},
        static if static is not None else {},
        exc_info,
        stack_info,
        1,
        2,
        "/app/main.py" if caller else None,
        42 if caller else None,
        "handler" if caller else None,
    )


def local_stamp(ts: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(ts)) + f".{int((ts % 1) * 1000):03d}"


# -- layouts ----------------------------------------------------------------------


def test_text_layout() -> None:
    record = make_record(data={"user_id": 12345, "success": True, "email": "user@example.com", "note": "two words"})
    line = TextFormatter().format(record)
    assert line == (
        f"{local_stamp(FIXED_TS)} INFO     [api] User login "
        'user_id=12345 success=true email=user@example.com note="two words"'
    )


def test_text_layout_orders_static_context_then_fields_and_pads_levels() -> None:
    record = make_record(
        level=LogLevel.WARNING, data={"f": 1}, context={"c": 2}, static={"service": "svc"}, message="slow"
    )
    line = TextFormatter(show_time=False).format(record)
    assert line == "WARNING  [api] slow service=svc c=2 f=1"
    assert TextFormatter(show_time=False, show_level=False, show_logger=False).format(make_record()) == "User login"
    assert TextFormatter(show_time=False).format(make_record(level=25)) == "LEVEL25  [api] User login"


def test_custom_level_numbers_are_named_alike_in_every_format() -> None:
    record = make_record(level=25)
    assert record.level_name == "LEVEL25"
    assert json.loads(JSONFormatter().format(record))["level"] == "LEVEL25"
    assert " level=LEVEL25 " in LogfmtFormatter().format(record)
    assert " LEVEL25  [api] " in TextFormatter().format(record)


def test_text_utc_and_show_path() -> None:
    line = TextFormatter(utc=True, show_path=True).format(make_record(caller=True))
    assert line == "2023-11-14T22:13:20.250000Z INFO     [api main.py:42 in handler] User login"
    assert TextFormatter(show_path=True).needs_caller


def test_json_layout() -> None:
    record = make_record(data={"user_id": 12345, "success": True, "ratio": 0.5, "none": None})
    line = JSONFormatter().format(record)
    assert "\n" not in line
    assert list(json.loads(line).items()) == [
        ("timestamp", "2023-11-14T22:13:20.250000Z"),
        ("level", "INFO"),
        ("logger", "api"),
        ("message", "User login"),
        ("user_id", 12345),
        ("success", True),
        ("ratio", 0.5),
        ("none", None),
    ]
    assert line.startswith('{"timestamp":"2023-11-14T22:13:20.250000Z","level":"INFO","logger":"api"')


def test_json_timestamp_is_iso8601_utc_of_the_record_time() -> None:
    mem = MemoryHandler(formatter=JSONFormatter())
    micktrace.configure(handlers=[mem])
    micktrace.get_logger("ts").info("now")
    record, line = mem.records[0], mem.lines[0]
    stamp = json.loads(line)["timestamp"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z", stamp)
    parsed = datetime.datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=datetime.timezone.utc)
    assert abs(parsed.timestamp() - record.timestamp) < 1e-5


def test_logfmt_layout() -> None:
    record = make_record(data={"user_id": 12345, "success": True, "email": "user@example.com", "note": "two words"})
    assert LogfmtFormatter().format(record) == (
        'timestamp=2023-11-14T22:13:20.250000Z level=INFO logger=api message="User login" '
        'user_id=12345 success=true email=user@example.com note="two words"'
    )


@pytest.mark.parametrize(
    ("value", "written"),
    [
        ("plain", "plain"),
        ("two words", '"two words"'),
        ("", '""'),
        ('say "hi"', '"say \\"hi\\""'),
        ("a=b", '"a=b"'),
        ("back\\slash", '"back\\\\slash"'),
        ("tab\there", '"tab\\there"'),
        ("café", "café"),
        ("café au lait", '"café au lait"'),
        (None, "null"),
        (False, "false"),
        (1.25, "1.25"),
        (-3, "-3"),
        ([1, "a"], '"[1,\\"a\\"]"'),
        ({"k": 1}, '"{\\"k\\":1}"'),
    ],
)
def test_logfmt_values(value: Any, written: str) -> None:
    line = LogfmtFormatter().format(make_record(data={"v": value}))
    assert line.endswith(" v=" + written)


def test_logfmt_keys_are_sanitised() -> None:
    line = LogfmtFormatter().format(make_record(data={"a key": 1, "k=v": 2, "": 3, "ok.key-1/x@y": 4}))
    assert line.endswith(" a_key=1 k_v=2 _=3 ok.key-1/x@y=4")


def test_structured_is_json_and_record_shortcuts() -> None:
    cfg = micktrace.configure(format="structured")
    assert isinstance(cfg.handlers[0].formatter, JSONFormatter)
    record = make_record(data={"a": 1})
    assert record.to_json() == JSONFormatter().format(record)
    assert record.to_logfmt() == LogfmtFormatter().format(record)
    assert record.to_dict()["a"] == 1 and record.to_dict()["timestamp"] == "2023-11-14T22:13:20.250000Z"


def test_custom_formatter_subclass() -> None:
    class Custom(Formatter):
        def format(self, record: LogRecord) -> str:
            return f"[{record.level.name}] {record.message} | {record.data}"  # type: ignore[union-attr]

    mem = MemoryHandler(formatter=Custom())
    micktrace.configure(handlers=[mem])
    micktrace.get_logger("c").warning("hi", a=1)
    assert mem.lines == ["[WARNING] hi | {'a': 1}"]
    with pytest.raises(NotImplementedError):
        Formatter().format(make_record())


# -- colours ------------------------------------------------------------------------


def test_colour_decision(monkeypatch: pytest.MonkeyPatch) -> None:
    master, slave = os.openpty()
    tty = os.fdopen(slave, "w")
    try:
        plain = io.StringIO()
        assert stream_supports_color(tty)
        assert not stream_supports_color(plain)
        assert not stream_supports_color(None)
        monkeypatch.setenv("NO_COLOR", "1")
        assert not stream_supports_color(tty)
        monkeypatch.setenv("FORCE_COLOR", "1")
        assert not stream_supports_color(tty)  # NO_COLOR wins
        monkeypatch.delenv("NO_COLOR")
        assert stream_supports_color(plain)  # FORCE_COLOR colours even a pipe
        monkeypatch.delenv("FORCE_COLOR")
        monkeypatch.setenv("TERM", "dumb")
        assert not stream_supports_color(tty)
    finally:
        tty.close()
        os.close(master)


def test_console_handler_colours_a_tty_only(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TERM", "xterm")
    master, slave = os.openpty()
    tty = os.fdopen(slave, "w")
    try:
        on_tty = ConsoleHandler(stream=tty)
        on_pipe = ConsoleHandler(stream=io.StringIO())
        assert isinstance(on_tty.formatter, TextFormatter) and on_tty.formatter.colors
        assert isinstance(on_pipe.formatter, TextFormatter) and not on_pipe.formatter.colors
        line = on_tty.format(make_record(level=LogLevel.ERROR, data={"k": "v"}))
        assert "\x1b[31mERROR   \x1b[0m" in line
        assert "\x1b[" not in on_pipe.format(make_record(level=LogLevel.ERROR))
        monkeypatch.setenv("NO_COLOR", "1")
        assert "\x1b[" not in ConsoleHandler(stream=tty).format(make_record())
    finally:
        tty.close()
        os.close(master)


def _read_all(fd: int) -> bytes:
    chunks = []
    while True:
        try:
            chunk = os.read(fd, 65536)
        except OSError:  # EIO: the other end is closed
            break
        if not chunk:
            break
        chunks.append(chunk)
    return b"".join(chunks)


@pytest.mark.parametrize(("env", "coloured"), [({}, True), ({"NO_COLOR": "1"}, False)])
def test_zero_config_output_on_a_real_terminal(env: Dict[str, str], coloured: bool) -> None:
    import subprocess

    from conftest import SRC

    master, slave = os.openpty()
    full_env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "FORCE_COLOR", "MICKTRACE_FORMAT")}
    full_env.update(env, PYTHONPATH=str(SRC), TERM="xterm")
    proc = subprocess.Popen(
        [sys.executable, "-c", "import micktrace; micktrace.get_logger('tty').warning('on a terminal', n=1)"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=slave,
        env=full_env,
    )
    os.close(slave)
    try:
        output = _read_all(master).decode()
        assert proc.wait(timeout=60) == 0
    finally:
        os.close(master)
    assert "on a terminal" in output
    assert ("\x1b[33m" in output) is coloured
    assert ("\x1b[" in output) is coloured


def test_zero_config_output_on_a_pipe_and_force_color() -> None:
    from conftest import run_python

    code = "import micktrace; micktrace.get_logger('pipe').warning('piped')"
    plain = run_python(code)
    forced = run_python(code, env={"FORCE_COLOR": "1"})
    assert "piped" in plain.stderr and "\x1b[" not in plain.stderr
    assert "piped" in forced.stderr and "\x1b[33m" in forced.stderr


# -- reserved keys --------------------------------------------------------------------

RESERVED = ("timestamp", "level", "logger", "message", "exception", "stack", "caller")


def _all_values(obj: Dict[str, Any]) -> List[Any]:
    return list(obj.values())


def test_json_fields_never_overwrite_reserved_keys() -> None:
    data = {key: f"field-{key}" for key in RESERVED}
    line = JSONFormatter().format(make_record(data=data))
    parsed = json.loads(line)
    assert parsed["timestamp"] == "2023-11-14T22:13:20.250000Z"
    assert parsed["level"] == "INFO" and parsed["logger"] == "api" and parsed["message"] == "User login"
    for key in RESERVED:
        assert parsed[f"fields.{key}"] == f"field-{key}"
    assert "exception" not in parsed and "stack" not in parsed and "caller" not in parsed


def test_json_collisions_between_static_context_and_fields_keep_every_value() -> None:
    record = make_record(
        static={"service": "static", "level": "static-level"},
        context={"service": "context", "request_id": "r", "message": "ctx-msg"},
        data={"service": "field", "request_id": "f", "fields.service": "literal", "context.request_id": "literal2"},
    )
    parsed = json.loads(JSONFormatter().format(record))
    assert parsed["level"] == "INFO" and parsed["message"] == "User login"
    values = _all_values(parsed)
    for expected in ("static", "static-level", "context", "r", "ctx-msg", "field", "f", "literal", "literal2"):
        assert expected in values, expected
    assert parsed["service"] == "static"
    assert parsed["static.level"] == "static-level"
    assert parsed["context.service"] == "context"
    assert parsed["context.message"] == "ctx-msg"
    assert {parsed["fields.service"], parsed["fields.fields.service"]} == {"field", "literal"}
    assert len(parsed) == 4 + 9


def test_json_collisions_with_exception_stack_and_caller() -> None:
    try:
        raise KeyError("k")
    except KeyError:
        exc_info = sys.exc_info()
    record = make_record(
        data={"exception": "mine", "stack": "mine too", "caller": "me"},
        exc_info=exc_info,
        stack_info="Stack (most recent call last):\n  here",
        caller=True,
    )
    parsed = json.loads(JSONFormatter().format(record))
    assert parsed["exception"]["type"] == "KeyError"
    assert parsed["stack"].startswith("Stack (most recent call last):")
    assert parsed["caller"] == {"file": "/app/main.py", "line": 42, "function": "handler"}
    assert (parsed["fields.exception"], parsed["fields.stack"], parsed["fields.caller"]) == ("mine", "mine too", "me")


def test_json_collision_through_a_real_log_call() -> None:
    mem = MemoryHandler(formatter=JSONFormatter())
    micktrace.configure(handlers=[mem], service="svc")
    with micktrace.context(level="ctx"):
        micktrace.get_logger("real").bind(logger="bound").info("x", message="y", timestamp=0, service="mine")
    parsed = json.loads(mem.lines[0])
    assert (parsed["level"], parsed["logger"], parsed["message"]) == ("INFO", "real", "x")
    assert parsed["timestamp"].endswith("Z")
    assert parsed["context.level"] == "ctx"
    assert parsed["fields.logger"] == "bound" and parsed["fields.message"] == "y" and parsed["fields.timestamp"] == 0
    assert parsed["service"] == "svc" and parsed["fields.service"] == "mine"


def test_logfmt_collisions_keep_every_value() -> None:
    record = make_record(
        static={"service": "s"},
        context={"service": "c", "level": "cl"},
        data={"service": "f", "message": "m", "exc_type": "mine", "fields.service": "lit"},
    )
    line = LogfmtFormatter().format(record)
    pairs = dict(re.findall(r'(\S+?)=("(?:[^"\\]|\\.)*"|\S*)', line))
    assert pairs["level"] == "INFO" and pairs["message"] == '"User login"'
    assert pairs["service"] == "s"
    assert pairs["context.service"] == "c" and pairs["context.level"] == "cl"
    assert pairs["fields.message"] == "m" and pairs["fields.exc_type"] == "mine"
    assert {pairs["fields.service"], pairs["fields.fields.service"]} == {"lit", "f"}
    keys = re.findall(r'(?:^| )(\S+?)=(?:"(?:[^"\\]|\\.)*"|\S*)', line)
    assert len(keys) == len(set(keys))  # no key written twice


def test_json_nested_option() -> None:
    record = make_record(
        static={"service": "svc", "context": "static-context", "level": "static-level"},
        context={"request_id": "r"},
        data={"user": 1, "level": "field-level"},
    )
    parsed = json.loads(JSONFormatter(nested=True).format(record))
    assert parsed == {
        "timestamp": "2023-11-14T22:13:20.250000Z",
        "level": "INFO",
        "logger": "api",
        "message": "User login",
        "service": "svc",
        "static.context": "static-context",
        "static.level": "static-level",
        "context": {"request_id": "r"},
        "fields": {"user": 1, "level": "field-level"},
    }
    bare = json.loads(JSONFormatter(nested=True).format(make_record()))
    assert "context" not in bare and "fields" not in bare


# -- exceptions -------------------------------------------------------------------------


def _raise_chain() -> None:
    try:
        try:
            {}["missing"]
        except KeyError as exc:
            raise ValueError("lookup failed") from exc
    except ValueError:
        raise RuntimeError("handler failed")  # implicit context, not a cause


def test_exceptions_are_structured_in_json_with_chained_causes() -> None:
    mem = MemoryHandler(formatter=JSONFormatter())
    micktrace.configure(handlers=[mem])
    try:
        _raise_chain()
    except RuntimeError:
        micktrace.get_logger("exc").exception("request failed", path="/x")
    parsed = json.loads(mem.lines[0])
    exc = parsed["exception"]
    assert exc["type"] == "RuntimeError" and exc["message"] == "handler failed"
    assert exc["traceback"].startswith("Traceback (most recent call last):")
    assert "KeyError: 'missing'" in exc["traceback"]
    assert "The above exception was the direct cause" in exc["traceback"]
    assert [f["function"] for f in exc["frames"]] == [
        "test_exceptions_are_structured_in_json_with_chained_causes",
        "_raise_chain",
    ]
    assert all(set(f) == {"file", "line", "function"} and isinstance(f["line"], int) for f in exc["frames"])
    assert exc["frames"][-1]["file"] == __file__
    context = exc["context"]  # raised while handling: the implicit context
    assert context["type"] == "ValueError" and context["message"] == "lookup failed"
    assert "traceback" not in context  # the full text is only at the top
    cause = context["cause"]  # raise ... from: the explicit cause
    assert cause["type"] == "KeyError" and cause["message"] == "'missing'"
    assert cause["frames"][-1]["function"] == "_raise_chain"
    assert parsed["path"] == "/x"


def test_custom_exception_types_are_qualified() -> None:
    class AppError(Exception):
        pass

    try:
        raise AppError("x")
    except AppError:
        record = make_record(exc_info=sys.exc_info())
    exc = json.loads(JSONFormatter().format(record))["exception"]
    assert exc["type"].endswith("AppError")
    assert exc["type"].startswith(AppError.__module__ + ".")


def test_exceptions_are_readable_in_text() -> None:
    try:
        _raise_chain()
    except RuntimeError:
        record = make_record(level=LogLevel.ERROR, exc_info=sys.exc_info())
    text = TextFormatter(show_time=False).format(record)
    first, *rest = text.split("\n")
    assert first == "ERROR    [api] User login"
    assert rest[0] == "  Traceback (most recent call last):"
    assert "  RuntimeError: handler failed" in rest
    assert "  KeyError: 'missing'" in rest
    assert all(line.startswith("  ") for line in rest)


def test_exceptions_in_logfmt_stay_on_one_line() -> None:
    try:
        raise ValueError("two\nlines")
    except ValueError:
        record = make_record(exc_info=sys.exc_info())
    line = LogfmtFormatter().format(record)
    assert "\n" not in line
    assert ' exc_type=ValueError exc_message="two\\nlines" exc_traceback="Traceback' in line


def test_exception_with_broken_str() -> None:
    class Broken(Exception):
        def __str__(self) -> str:
            raise RuntimeError("no str")

    try:
        raise Broken()
    except Broken:
        record = make_record(exc_info=sys.exc_info())
    for formatter in (JSONFormatter(), TextFormatter(), LogfmtFormatter()):
        assert "Broken" in formatter.format(record)


# -- escaping ---------------------------------------------------------------------------

FORGERY = "ok\n2024-01-01 00:00:00.000 CRITICAL [auth] forged\r\x1b[2J\x00\x7f\u2028\u2029\x85"


def test_text_escapes_control_characters_everywhere() -> None:
    record = make_record(
        message=FORGERY, data={"value": FORGERY, "key\nwith newline": 1}, logger="name\nforged", context={"c": "\t"}
    )
    line = TextFormatter().format(record)
    assert "\n" not in line and "\r" not in line and "\x1b" not in line and "\x00" not in line
    assert "\u2028" not in line and "\u2029" not in line and "\x85" not in line and "\x7f" not in line
    assert "ok\\n2024-01-01" in line
    assert "\\r\\x1b[2J\\x00\\x7f\\u2028\\u2029\\x85" in line
    assert "[name\\nforged]" in line
    assert "key_with_newline=1" in line
    assert 'c="\\t"' in line


def test_logfmt_escapes_control_characters() -> None:
    line = LogfmtFormatter().format(make_record(message=FORGERY, data={"v": FORGERY}, logger="a b"))
    assert "\n" not in line and "\r" not in line and "\x1b" not in line and "\u2028" not in line
    assert (
        'message="ok\\n2024-01-01 00:00:00.000 CRITICAL [auth] forged\\r\\x1b[2J\\x00\\x7f\\u2028\\u2029\\x85"' in line
    )
    assert 'logger="a b"' in line


def test_json_lines_stay_single_lines() -> None:
    line = JSONFormatter().format(make_record(message=FORGERY, data={FORGERY: FORGERY}))
    assert "\n" not in line and "\r" not in line
    parsed = json.loads(line)
    assert parsed["message"] == FORGERY and parsed[FORGERY] == FORGERY


def test_text_and_logfmt_escape_lone_surrogates() -> None:
    record = make_record(message="a\ud800b", data={"v": "x\udfffy"}, logger="l\udc00")
    for formatter in (TextFormatter(), LogfmtFormatter()):
        line = formatter.format(record)
        line.encode("utf-8")  # writable to any UTF-8 stream
        assert "a\\ud800b" in line and "x\\udfffy" in line and "l\\udc00" in line


def test_escape_controls_helper() -> None:
    assert escape_controls("plain text é ✓") == "plain text é ✓"
    assert escape_controls("a\nb\tc\x01") == "a\\nb\\tc\\x01"


# -- orjson and the stdlib json module agree ----------------------------------------------


def test_orjson_and_stdlib_write_the_same_record_lines() -> None:
    """The same records, formatted in two fresh interpreters, one without orjson."""
    from conftest import run_python

    code = """
import collections, dataclasses, datetime, decimal, enum, pathlib, sys, uuid
import micktrace
from micktrace import LogRecord
from micktrace.formatters import JSONFormatter
from micktrace.serialize import using_orjson

class Color(enum.Enum):
    RED = "red"

@dataclasses.dataclass
class Point:
    x: int
    y: float

Pair = collections.namedtuple("Pair", "a b")
loop = []
loop.append(loop)
values = {
    "str": "plain é ✓ \\n \\x00 \\u2028", "int": 12345, "neg": -7, "float": 0.1, "whole": 2.0, "small": 0.00012,
    "bool": True, "none": None, "list": [1, "a", None], "tuple": (1, 2), "nested": {"a": {"b": [1, {"c": 2}]}},
    "dt": datetime.datetime(2024, 1, 2, 3, 4, 5, 6),
    "aware": datetime.datetime(2024, 1, 2, tzinfo=datetime.timezone.utc),
    "date": datetime.date(2024, 5, 6), "time": datetime.time(7, 8, 9), "delta": datetime.timedelta(seconds=90),
    "uuid": uuid.UUID(int=1), "decimal": decimal.Decimal("1.10"), "enum": Color.RED, "bytes": b"\\xff\\x00ab",
    "set": {3, 1, 2}, "frozenset": frozenset({"b", "a"}), "path": pathlib.PurePosixPath("/a/b"),
    "dataclass": Point(1, 2.5), "namedtuple": Pair(1, "x"), "exc": ValueError("bad"), "complex": 1 + 2j,
    "int_keys": {1: "a", 2.5: "b", False: "c", None: "d"}, "big": 2**70, "neg_big": -(2**65), "u64": 2**64 - 1,
    "nan": float("nan"), "inf": float("-inf"), "surrogate": "x\\ud800y", "cycle": loop,
    "object": object.__new__(type("Opaque", (), {"__repr__": lambda self: "<Opaque>"})),
}
for i, (key, value) in enumerate(sorted(values.items())):
    record = LogRecord(1_700_000_000.5 + i, 20, "cmp", "m", {key: value}, {"ctx": i}, {"service": "s"},
                       None, None, 1, 2)
    print(JSONFormatter().format(record))
record = LogRecord(1_700_000_000.5, 20, "cmp", "all", dict(values), {}, {}, None, None, 1, 2)
print(JSONFormatter().format(record))
print("orjson" if using_orjson() else "stdlib", file=sys.stderr)
"""
    with_orjson = run_python(code)
    without = run_python(code, env={"MICKTRACE_NO_ORJSON": "1"})
    assert with_orjson.returncode == 0, with_orjson.stderr
    assert without.returncode == 0, without.stderr
    assert with_orjson.stderr.strip() == "orjson"
    assert without.stderr.strip() == "stdlib"
    assert with_orjson.stdout == without.stdout
    lines = with_orjson.stdout.rstrip("\n").split("\n")  # not splitlines(): U+2028 stays raw in JSON
    assert len(lines) == 37  # one line per value, then one with them all
    everything = json.loads(lines[-1])
    assert everything["big"] == 2**70 and everything["u64"] == 2**64 - 1
    assert everything["nan"] is None and everything["inf"] is None
    assert everything["cycle"] == ["[cycle]"]
    assert everything["int_keys"] == {"1": "a", "2.5": "b", "false": "c", "null": "d"}
    assert everything["surrogate"] == "x\\ud800y"
    assert everything["namedtuple"] == [1, "x"]
    assert everything["object"] == "<Opaque>"


VALUES: List[Any] = [
    0,
    -1,
    2**53 + 1,
    2**63,
    2**64 + 1,
    -(2**63) - 1,
    10**30,
    0.5,
    -0.0,
    123.456,
    1e15,
    3.0e-3,
    "",
    "ascii",
    "ünïcödé ✓ 日本",
    'quote " backslash \\ slash /',
    "\x00\x01\x1f\x7f\x85\u2028",
    "\ud83d",
    "emoji 🎉",
    [],
    {},
    [[[]]],
    {"a": [1, 2, {"b": None}]},
    {1: 1},
    {(1, 2): "tuple key"},
    [float("nan"), float("inf")],
    {"x" * 50: "long key"},
    "y" * 20_000,
    list(range(2_000)),
]


@pytest.mark.parametrize("value", VALUES, ids=[f"v{i}" for i in range(len(VALUES))])
def test_orjson_and_stdlib_serialisers_agree(value: Any) -> None:
    import orjson

    fast = serialize.orjson_dumps_factory(orjson)
    plain = serialize.stdlib_dumps_factory()
    for candidate in (value, {"k": value}, [value, value]):
        assert fast(candidate) == plain(candidate)
        json.loads(fast(candidate))


def test_floats_with_exponents_parse_to_the_same_number() -> None:
    # the one documented difference: 1e+16 (stdlib) may be spelled 1e16 by orjson
    import orjson

    fast = serialize.orjson_dumps_factory(orjson)
    plain = serialize.stdlib_dumps_factory()
    for value in (1e16, 1.5e-5, 1e-7, 1e300, -2.5e-300, 5e-324):
        assert json.loads(fast([value])) == json.loads(plain([value])) == [value]
