"""configure(): validation, precedence, merging, handler specs, thread safety."""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path
from typing import Any, Dict, List

import pytest

import micktrace
from micktrace import ConfigError, LogLevel, LogRecord, _state
from micktrace.formatters import Formatter, JSONFormatter, LogfmtFormatter, TextFormatter
from micktrace.handlers import (
    CallableHandler,
    ConsoleHandler,
    FileHandler,
    MemoryHandler,
    NullHandler,
    ObjectHandler,
)

# -- bad configuration -----------------------------------------------------------

BAD_CONFIGS = [
    # (keyword arguments, key named, value named, an allowed value named)
    ({"level": "loud"}, "level", "loud", "DEBUG"),
    ({"level": -5}, "level", -5, "level name"),
    ({"format": "xml"}, "format", "xml", "logfmt"),
    ({"colour": True}, "configure", "colour", "handlers"),
    ({"handlers": "console"}, "handlers", "console", "list"),
    ({"handlers": [{"type": "filee"}]}, "handlers[0].type", "filee", "file"),
    ({"handlers": [{"level": "INFO"}]}, "handlers[0].type", None, "console"),
    ({"handlers": [42]}, "handlers[0]", 42, "handle(record)"),
    ({"handlers": [{"type": "console"}, {"type": "console", "bogus": 1}]}, "handlers[1].bogus", 1, "stream"),
    ({"handlers": [{"type": "console", "config": {"colour": 1}}]}, "handlers[0].colour", 1, "stream"),
    ({"handlers": [{"type": "console", "config": "stream=stdout"}]}, "handlers[0].config", "stream=stdout", "dict"),
    ({"handlers": [{"type": "console", "stream": "stdlog"}]}, "handlers[0].stream", "stdlog", "stdout"),
    ({"handlers": [{"type": "console", "level": "loud"}]}, "handlers[0].level", "loud", "WARNING"),
    ({"handlers": [{"type": "console", "format": "yaml"}]}, "handlers[0].format", "yaml", "json"),
    ({"handlers": [{"type": "console", "formatter": 3}]}, "handlers[0].formatter", 3, "Formatter"),
    ({"handlers": [{"type": "console", "filters": {"type": "level"}}]}, "handlers[0].filters", None, "list"),
    (
        {"handlers": [{"type": "console", "filters": [{"type": "nope"}]}]},
        "handlers[0].filters[0].type",
        "nope",
        "sample",
    ),
    (
        {"handlers": [{"type": "console", "filters": [{"type": "sample", "rate": 2}]}]},
        "handlers[0].filters[0].rate",
        2,
        "at most 1",
    ),
    (
        {"handlers": [{"type": "console", "filters": [{"type": "sample", "rate": 0}]}]},
        "handlers[0].filters[0].rate",
        0,
        "greater than 0",
    ),
    (
        {"handlers": [{"type": "console", "filters": [{"type": "level", "level": "x"}]}]},
        "handlers[0].filters[0].level",
        "x",
        "INFO",
    ),
    (
        {"handlers": [{"type": "console", "filters": [{"type": "level", "lvl": "INFO"}]}]},
        "handlers[0].filters[0].lvl",
        "INFO",
        "level",
    ),
    (
        {"handlers": [{"type": "console", "filters": ["not callable"]}]},
        "handlers[0].filters[0]",
        "not callable",
        "callable",
    ),
    ({"handlers": [{"type": "memory", "capacity": 0}]}, "handlers[0].capacity", 0, "positive"),
    ({"handlers": [{"type": "file", "mode": "x", "path": "ok.log"}]}, "handlers[0].mode", "x", "append"),
    (
        {"handlers": [{"type": "stackdriver", "config": {"project_id": "p", "log_name": "my log!"}}]},
        "handlers[0].log_name",
        "my log!",
        "A-Z a-z 0-9",
    ),
    (
        {"handlers": [{"type": "cloudwatch", "config": {"log_group": "g", "retention_days": 2}}]},
        "handlers[0].retention_days",
        2,
        "3653",
    ),
    ({"loggers": {"db": "loud"}}, "loggers['db']", "loud", "WARNING"),
    ({"loggers": ["db"]}, "loggers", ["db"], "prefix"),
    ({"fields": ["a"]}, "fields", ["a"], "dict"),
    ({"processors": ["not callable"]}, "processors", ["not callable"], "callables"),
]


@pytest.mark.parametrize(("kwargs", "key", "value", "allowed"), BAD_CONFIGS)
def test_bad_configuration_names_key_value_and_allowed(
    kwargs: Dict[str, Any], key: str, value: Any, allowed: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError) as info:
        micktrace.configure(**kwargs)
    error = info.value
    assert isinstance(error, ValueError)
    assert error.key == key
    message = str(error)
    assert message.startswith(f"{key}: ")
    if value is not None:
        assert error.value == value
        assert repr(value) in message
    assert allowed in message
    assert "allowed:" in message


def test_unknown_keyword_lists_the_known_ones() -> None:
    with pytest.raises(ConfigError) as info:
        micktrace.configure(levle="DEBUG")
    for name in ("level", "format", "service", "version", "environment", "handlers", "loggers"):
        assert name in info.value.allowed


def test_file_handler_directory_must_exist(tmp_path: Path) -> None:
    missing = tmp_path / "no" / "such" / "dir" / "app.log"
    with pytest.raises(ConfigError) as info:
        micktrace.configure(handlers=[{"type": "file", "config": {"path": str(missing)}}])
    assert info.value.key == "handlers[0].path"
    assert str(missing) in str(info.value)
    assert "does not" in str(info.value)
    assert not missing.parent.exists()
    with pytest.raises(ConfigError) as info:
        micktrace.configure(handlers=[{"type": "file", "path": str(tmp_path)}])
    assert info.value.key == "handlers[0].path"
    assert "directory" in str(info.value)


def test_file_handler_without_path_is_a_config_error() -> None:
    with pytest.raises(ConfigError) as info:
        micktrace.configure(handlers=[{"type": "file"}])
    assert info.value.key == "handlers[0].path"


def test_failed_configure_closes_the_handlers_it_opened(tmp_path: Path) -> None:
    def open_fds() -> int:
        return len(os.listdir("/proc/self/fd"))

    before = open_fds()
    for _ in range(5):
        with pytest.raises(ConfigError):
            micktrace.configure(handlers=[{"type": "file", "path": str(tmp_path / "a.log")}, {"type": "bogus"}])
    assert open_fds() == before


def test_bad_configure_leaves_the_previous_configuration_in_place(tmp_path: Path) -> None:
    mem = MemoryHandler()
    good = micktrace.configure(level="WARNING", handlers=[mem], service="svc")
    log = micktrace.get_logger("stays")
    bad_calls: List[Dict[str, Any]] = [
        {"level": "DEBUG", "handlers": [{"type": "console"}, {"type": "nope"}]},
        {"level": "DEBUG", "format": "xml"},
        {"level": "nope"},
        {"level": "DEBUG", "handlers": [{"type": "file", "path": str(tmp_path / "missing" / "x.log")}]},
        {"service": "other", "loggers": {"x": "bad"}},
    ]
    for kwargs in bad_calls:
        with pytest.raises(ConfigError):
            micktrace.configure(**kwargs)
        assert _state.config is good
    assert not mem.closed
    log.info("still filtered at WARNING")
    log.warning("still reaches the memory handler")
    assert [r.message for r in mem.records] == ["still reaches the memory handler"]
    assert mem.records[0].static == {"service": "svc"}
    # and the settings kept are the good ones: a later partial call builds on them
    micktrace.configure(version="2")
    log.warning("merged")
    assert mem.records[-1].static == {"service": "svc", "version": "2"}


# -- precedence and environment -------------------------------------------------------


def test_defaults_with_nothing_set() -> None:
    cfg = micktrace.configure(reset=True)
    assert cfg.level == LogLevel.INFO
    assert cfg.format == "text"
    assert cfg.static == {}
    assert len(cfg.handlers) == 1 and isinstance(cfg.handlers[0], ConsoleHandler)


@pytest.mark.parametrize(
    ("variable", "value", "attribute", "expected"),
    [
        ("MICKTRACE_LEVEL", "debug", "level", LogLevel.DEBUG),
        ("MICKTRACE_LEVEL", "35", "level", 35),
        ("MICKTRACE_FORMAT", "JSON", "format", "json"),
        ("MICKTRACE_FORMAT", "logfmt", "format", "logfmt"),
    ],
)
def test_environment_beats_default(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, attribute: str, expected: Any
) -> None:
    monkeypatch.setenv(variable, value)
    cfg = micktrace.configure(reset=True)
    assert getattr(cfg, attribute) == expected


def test_explicit_beats_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MICKTRACE_LEVEL", "DEBUG")
    monkeypatch.setenv("MICKTRACE_FORMAT", "json")
    monkeypatch.setenv("MICKTRACE_SERVICE", "env-svc")
    monkeypatch.setenv("MICKTRACE_ENVIRONMENT", "env-env")
    monkeypatch.setenv("MICKTRACE_VERSION", "env-ver")
    cfg = micktrace.configure(reset=True)
    assert (cfg.level, cfg.format) == (LogLevel.DEBUG, "json")
    assert cfg.static == {"service": "env-svc", "environment": "env-env", "version": "env-ver"}
    cfg = micktrace.configure(level="ERROR", format="logfmt", service="arg-svc", environment="arg-env", version="9")
    assert (cfg.level, cfg.format) == (LogLevel.ERROR, "logfmt")
    assert cfg.static == {"service": "arg-svc", "environment": "arg-env", "version": "9"}
    # an explicit value from an earlier call still beats the environment
    cfg = micktrace.configure(loggers={"x": "DEBUG"})
    assert (cfg.level, cfg.format, cfg.static["service"]) == (LogLevel.ERROR, "logfmt", "arg-svc")


def test_service_environment_version_reach_every_record(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MICKTRACE_ENVIRONMENT", "staging")
    mem = MemoryHandler(formatter=JSONFormatter())
    micktrace.configure(reset=True, service="api", version="1.2.3", handlers=[mem], fields={"region": "eu"})
    micktrace.get_logger("a").info("one")
    micktrace.get_logger("b").bind(x=1).error("two")
    for record, line in zip(mem.records, mem.lines):
        assert record.static == {"service": "api", "version": "1.2.3", "environment": "staging", "region": "eu"}
        parsed = json.loads(line)
        assert parsed["service"] == "api" and parsed["environment"] == "staging" and parsed["version"] == "1.2.3"


def test_environment_is_read_by_the_zero_config_default(capsys: pytest.CaptureFixture[str]) -> None:
    from conftest import run_python

    result = run_python(
        "import micktrace\n"
        "log = micktrace.get_logger('env')\n"
        "log.debug('visible at debug', n=1)\n"
        "log.trace('not visible')\n",
        env={"MICKTRACE_LEVEL": "DEBUG", "MICKTRACE_FORMAT": "json", "MICKTRACE_SERVICE": "from-env"},
    )
    assert result.returncode == 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    record = json.loads(lines[0])
    assert record["level"] == "DEBUG" and record["message"] == "visible at debug" and record["n"] == 1
    assert record["service"] == "from-env"


def test_bad_environment_value_warns_once_and_falls_back(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # values unique to this test: the warning is given once per variable and value
    monkeypatch.setenv("MICKTRACE_LEVEL", "chatty-test-value")
    monkeypatch.setenv("MICKTRACE_FORMAT", "yaml-test-value")
    first = micktrace.configure(reset=True)
    second = micktrace.configure(reset=True)
    micktrace.configure(service="again")
    assert (first.level, first.format) == (LogLevel.INFO, "text")
    assert (second.level, second.format) == (LogLevel.INFO, "text")
    err = capsys.readouterr().err
    assert err.count("MICKTRACE_LEVEL='chatty-test-value'") == 1
    assert err.count("MICKTRACE_FORMAT='yaml-test-value'") == 1
    assert "DEBUG" in err and "logfmt" in err  # the allowed values are named
    # an explicit argument is still validated strictly
    with pytest.raises(ConfigError):
        micktrace.configure(level="chatty-test-value")


def test_empty_environment_value_counts_as_unset(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("MICKTRACE_LEVEL", "  ")
    monkeypatch.setenv("MICKTRACE_FORMAT", "")
    cfg = micktrace.configure(reset=True)
    assert (cfg.level, cfg.format) == (LogLevel.INFO, "text")
    assert capsys.readouterr().err == ""


def test_spec_environment_block_in_a_fresh_interpreter() -> None:
    from conftest import run_python

    result = run_python(
        "import os, micktrace\n"
        "os.environ['MICKTRACE_LEVEL'] = 'DEBUG'\n"
        "os.environ['MICKTRACE_FORMAT'] = 'json'\n"
        "micktrace.configure(service='svc', environment='development')\n"
        "micktrace.get_logger('x').debug('hello')\n"
    )
    assert result.returncode == 0
    record = json.loads(result.stderr.strip())
    assert record["level"] == "DEBUG" and record["service"] == "svc" and record["environment"] == "development"


# -- merging ------------------------------------------------------------------------


def test_configure_merges_with_earlier_calls() -> None:
    mem = MemoryHandler()
    micktrace.configure(level="DEBUG", handlers=[mem], service="svc", loggers={"noisy": "ERROR"})
    cfg = micktrace.configure(version="1.0")
    assert cfg.handlers == (mem,)
    assert cfg.level == LogLevel.DEBUG
    assert cfg.static == {"service": "svc", "version": "1.0"}
    assert cfg.logger_levels == {"noisy": LogLevel.ERROR}
    cfg = micktrace.configure(level="INFO")
    assert cfg.handlers == (mem,) and cfg.static == {"service": "svc", "version": "1.0"}
    micktrace.get_logger("noisy.x").warning("hidden")
    micktrace.get_logger("app").info("shown")
    assert [r.message for r in mem.records] == ["shown"]
    assert not mem.closed


def test_none_means_keep_and_reset_forgets() -> None:
    mem = MemoryHandler()
    micktrace.configure(level="DEBUG", handlers=[mem], service="svc")
    cfg = micktrace.configure(level=None, service=None)
    assert cfg.level == LogLevel.DEBUG and cfg.static == {"service": "svc"}
    cfg = micktrace.configure(reset=True, version="2")
    assert cfg.level == LogLevel.INFO
    assert cfg.static == {"version": "2"}
    assert isinstance(cfg.handlers[0], ConsoleHandler)
    assert mem.closed  # the replaced handler was closed
    cfg = micktrace.reset()  # type: ignore[func-returns-value]
    assert micktrace.configure().static == {}


def test_changing_the_format_rebuilds_default_handlers() -> None:
    cfg = micktrace.configure(format="json")
    assert isinstance(cfg.handlers[0].formatter, JSONFormatter)
    cfg = micktrace.configure(format="logfmt")
    assert isinstance(cfg.handlers[0].formatter, LogfmtFormatter)
    cfg = micktrace.configure(format="structured")
    assert isinstance(cfg.handlers[0].formatter, JSONFormatter)
    before = cfg.handlers[0]
    cfg = micktrace.configure(level="DEBUG")  # no format change: the same handler objects
    assert cfg.handlers[0] is before and not before.closed


def test_basic_config_is_an_alias() -> None:
    cfg = micktrace.basic_config(level="ERROR")
    assert cfg.level == LogLevel.ERROR
    assert micktrace.get_logger("bc").level == LogLevel.ERROR


def test_configure_returns_the_config_in_force() -> None:
    cfg = micktrace.configure(level="WARNING")
    assert _state.config is cfg
    assert isinstance(cfg, micktrace.Config)


# -- handler specs ----------------------------------------------------------------


def test_nested_config_and_flat_keys_build_the_same_handler(tmp_path: Path) -> None:
    nested = tmp_path / "nested.log"
    flat = tmp_path / "flat.log"
    cfg = micktrace.configure(
        handlers=[
            {"type": "file", "config": {"path": str(nested)}},
            {"type": "file", "path": str(flat)},
            {"type": "console", "config": {"stream": "stdout"}},
            {"type": "console", "stream": "stdout"},
            {"type": "memory", "config": {"capacity": 5}, "name": "mem"},
        ]
    )
    first, second, out1, out2, mem = cfg.handlers
    assert isinstance(first, FileHandler) and first.path == str(nested)
    assert isinstance(second, FileHandler) and second.path == str(flat)
    assert isinstance(out1, ConsoleHandler) and out1.stream_spec == "stdout"
    assert isinstance(out2, ConsoleHandler) and out2.stream_spec == "stdout"
    assert isinstance(mem, MemoryHandler) and mem.capacity == 5 and mem.name == "mem"
    micktrace.get_logger("both").info("to both files")
    micktrace.flush()
    assert "to both files" in nested.read_text()
    assert "to both files" in flat.read_text()


def test_flat_keys_win_over_nested_ones(tmp_path: Path) -> None:
    cfg = micktrace.configure(handlers=[{"type": "memory", "config": {"capacity": 5}, "capacity": 7}])
    handler = cfg.handlers[0]
    assert isinstance(handler, MemoryHandler) and handler.capacity == 7


def test_objects_with_handle_and_callables_are_handlers() -> None:
    received: List[str] = []
    events: List[str] = []

    class Sink:
        level = LogLevel.WARNING

        def handle(self, record: LogRecord) -> None:
            received.append(f"object:{record.message}")

        def flush(self) -> None:
            events.append("flush")

        def close(self) -> None:
            events.append("close")

    def callable_sink(record: LogRecord) -> None:
        received.append(f"callable:{record.message}")

    cfg = micktrace.configure(level="DEBUG", handlers=[Sink(), callable_sink, lambda r: received.append("lambda")])
    assert isinstance(cfg.handlers[0], ObjectHandler)
    assert isinstance(cfg.handlers[1], CallableHandler)
    assert cfg.handlers[0].level == LogLevel.WARNING  # the object's own level is honoured
    log = micktrace.get_logger("objs")
    log.info("info")
    log.error("error")
    assert received == ["callable:info", "lambda", "object:error", "callable:error", "lambda"]
    micktrace.configure(handlers=[{"type": "null"}])
    assert events == ["flush", "close"]  # replaced handlers are flushed and closed


def test_handler_instances_are_used_as_given() -> None:
    mem = MemoryHandler(level=LogLevel.ERROR)
    null = NullHandler()
    cfg = micktrace.configure(handlers=[mem, null])
    assert cfg.handlers == (mem, null)
    micktrace.get_logger("inst").warning("below the handler level")
    micktrace.get_logger("inst").error("at the handler level")
    assert [r.message for r in mem.records] == ["at the handler level"]


def test_per_handler_level_format_formatter_and_filters() -> None:
    class Upper(Formatter):
        def format(self, record: LogRecord) -> str:
            return record.message.upper()

    cfg = micktrace.configure(
        level="DEBUG",
        format="json",
        handlers=[
            {"type": "memory", "name": "all"},
            {"type": "memory", "name": "warn+", "level": "WARNING", "format": "logfmt"},
            {"type": "memory", "name": "custom", "formatter": Upper()},
            {"type": "memory", "name": "fn", "formatter": lambda r: f"<{r.message}>"},
            {
                "type": "memory",
                "name": "filtered",
                "filters": [{"type": "level", "level": "INFO"}, lambda r: "skip" not in r.message],
            },
            {"type": "memory", "name": "text", "format": "text"},
        ],
    )
    all_, warn, custom, fn, filtered, text = cfg.handlers
    log = micktrace.get_logger("per")
    log.debug("debug")
    log.info("info skip")
    log.warning("warning")
    assert isinstance(all_, MemoryHandler)
    assert [json.loads(line)["message"] for line in all_.lines] == ["debug", "info skip", "warning"]
    assert isinstance(warn, MemoryHandler) and len(warn.lines) == 1
    assert warn.lines[0].startswith("timestamp=") and "level=WARNING" in warn.lines[0]
    assert isinstance(custom, MemoryHandler) and custom.lines == ["DEBUG", "INFO SKIP", "WARNING"]
    assert isinstance(fn, MemoryHandler) and fn.lines == ["<debug>", "<info skip>", "<warning>"]
    assert isinstance(filtered, MemoryHandler) and [r.message for r in filtered.records] == ["warning"]
    assert isinstance(text, MemoryHandler) and isinstance(text.formatter, TextFormatter)
    assert "WARNING" in text.lines[2] and "[per] warning" in text.lines[2]


def test_sample_filter_rate_and_always_above() -> None:
    cfg = micktrace.configure(
        level="DEBUG",
        handlers=[
            {"type": "memory", "filters": [{"type": "sample", "rate": 0.25, "seed": 7}]},
            {"type": "memory", "filters": [{"type": "sample", "rate": 0.01, "seed": 1, "always_above": "ERROR"}]},
        ],
    )
    sampled, errors_kept = cfg.handlers
    log = micktrace.get_logger("sample")
    for i in range(2000):
        log.debug("d", i=i)
    for i in range(50):
        log.error("e", i=i)
    assert isinstance(sampled, MemoryHandler) and isinstance(errors_kept, MemoryHandler)
    kept = len(sampled.records)
    assert 350 < kept < 700  # about a quarter of 2050
    assert sum(1 for r in errors_kept.records if r.level == LogLevel.ERROR) == 50


def test_logger_filter_selects_by_name() -> None:
    cfg = micktrace.configure(
        handlers=[
            {"type": "memory", "filters": [{"type": "logger", "names": ["db"]}]},
            {"type": "memory", "filters": [{"type": "logger", "name": "db", "exclude": True}]},
        ]
    )
    only_db, not_db = cfg.handlers
    for name in ("db", "db.pool", "dbx", "app"):
        micktrace.get_logger(name).info(name)
    assert isinstance(only_db, MemoryHandler) and isinstance(not_db, MemoryHandler)
    assert [r.message for r in only_db.records] == ["db", "db.pool"]
    assert [r.message for r in not_db.records] == ["dbx", "app"]


def test_file_handler_appends(tmp_path: Path) -> None:
    path = tmp_path / "app.log"
    path.write_text("existing line\n")
    micktrace.configure(format="json", handlers=[{"type": "file", "path": str(path)}])
    micktrace.get_logger("file").info("first", n=1)
    micktrace.configure(reset=True)  # closes the file handler
    micktrace.configure(format="json", handlers=[{"type": "file", "config": {"path": str(path)}}])
    micktrace.get_logger("file").info("second", n=2)
    micktrace.flush()
    lines = path.read_text().splitlines()
    assert lines[0] == "existing line"
    assert [json.loads(line)["message"] for line in lines[1:]] == ["first", "second"]


# -- concurrency ----------------------------------------------------------------------


def test_configure_from_many_threads_while_others_log() -> None:
    mem = MemoryHandler(capacity=100_000)
    micktrace.configure(level="INFO", handlers=[mem])
    errors: List[BaseException] = []
    stop = threading.Event()
    per_thread = 400

    def logger_thread(n: int) -> None:
        try:
            log = micktrace.get_logger(f"busy.{n}")
            for i in range(per_thread):
                log.bind(n=n).warning("tick", i=i)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    def configure_thread(n: int) -> None:
        try:
            i = 0
            while not stop.is_set() and i < 200:
                level = "DEBUG" if i % 2 else "WARNING"
                if i % 3 == 0:
                    micktrace.configure(level=level, handlers=[mem], service=f"s{n}")
                else:
                    micktrace.configure(level=level, format="json" if i % 2 else "text", loggers={"other": "ERROR"})
                i += 1
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    configurers = [threading.Thread(target=configure_thread, args=(n,)) for n in range(3)]
    loggers = [threading.Thread(target=logger_thread, args=(n,)) for n in range(4)]
    for t in configurers + loggers:
        t.start()
    for t in loggers:
        t.join()
    stop.set()
    for t in configurers:
        t.join()
    assert errors == []
    assert not mem.closed
    records = mem.records
    assert len(records) == 4 * per_thread
    for n in range(4):
        assert [r.data["i"] for r in records if r.data["n"] == n] == list(range(per_thread))
