"""Importing micktrace changes nothing global; zero-config logging goes to stderr at INFO.

Each test runs in a fresh interpreter, so nothing imported by the test run itself
(pytest, orjson, rich, ...) can hide what the import does.
"""

from __future__ import annotations

import json
from pathlib import Path

from conftest import run_python

PROBE = r"""
import atexit, json, logging, os, signal, sys, threading

OPTIONAL = ["orjson", "rich", "boto3", "botocore", "aioboto3", "azure", "google", "datadog", "newrelic",
            "elasticsearch", "prometheus_client", "sentry_sdk", "opentelemetry", "msgpack", "lz4", "pydantic"]
before = {
    "threads": threading.active_count(),
    "root_handlers": list(logging.getLogger().handlers),
    "root_level": logging.getLogger().level,
    "logger_names": sorted(logging.root.manager.loggerDict),
    "excepthook": sys.excepthook,
    "threading_excepthook": threading.excepthook,
    "unraisablehook": sys.unraisablehook,
    "sigterm": signal.getsignal(signal.SIGTERM),
    "sigint": signal.getsignal(signal.SIGINT),
    "files": sorted(os.listdir(".")),
    "fds": sorted(os.listdir("/proc/self/fd")),
    "modules": set(sys.modules),
}

import micktrace

after_import = {
    "threads": threading.active_count(),
    "thread_names": [t.name for t in threading.enumerate()],
    "root_handlers_unchanged": logging.getLogger().handlers == before["root_handlers"],
    "root_level_unchanged": logging.getLogger().level == before["root_level"],
    "stdlib_loggers_added": sorted(set(logging.root.manager.loggerDict) - set(before["logger_names"])),
    "excepthook_unchanged": sys.excepthook is before["excepthook"],
    "threading_excepthook_unchanged": threading.excepthook is before["threading_excepthook"],
    "unraisablehook_unchanged": sys.unraisablehook is before["unraisablehook"],
    "signals_unchanged": signal.getsignal(signal.SIGTERM) == before["sigterm"]
    and signal.getsignal(signal.SIGINT) == before["sigint"],
    "files_unchanged": sorted(os.listdir(".")) == before["files"],
    "optional_imported": sorted(m for m in sys.modules if m.split(".")[0] in OPTIONAL),
}

log = micktrace.get_logger("zero")
log.debug("hidden debug")
log.info("visible info", user_id=1)
log.warning("visible warning")
print("between", file=sys.stderr, flush=True)

after_logging = {
    "threads": threading.active_count(),
    "root_handlers_unchanged": logging.getLogger().handlers == before["root_handlers"],
    "excepthook_unchanged": sys.excepthook is before["excepthook"],
    "files_unchanged": sorted(os.listdir(".")) == before["files"],
    "optional_imported": sorted(m for m in sys.modules if m.split(".")[0] in OPTIONAL),
}
print(json.dumps({"before": before["threads"], "after_import": after_import, "after_logging": after_logging}))
"""


def test_import_changes_nothing_global_and_zero_config_logs_to_stderr(tmp_path: Path) -> None:
    result = run_python(PROBE, cwd=str(tmp_path))
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    imported, logged = report["after_import"], report["after_logging"]

    assert imported["threads"] == report["before"] == 1, imported["thread_names"]
    assert imported["root_handlers_unchanged"] and imported["root_level_unchanged"]
    assert imported["stdlib_loggers_added"] == []
    assert imported["excepthook_unchanged"]
    assert imported["threading_excepthook_unchanged"]
    assert imported["unraisablehook_unchanged"]
    assert imported["signals_unchanged"]
    assert imported["files_unchanged"]
    assert imported["optional_imported"] == []

    # zero-config logging: still no thread, no file, no optional import
    assert logged["threads"] == 1
    assert logged["root_handlers_unchanged"] and logged["excepthook_unchanged"]
    assert logged["files_unchanged"]
    assert logged["optional_imported"] == []
    assert list(tmp_path.iterdir()) == []

    err = result.stderr.splitlines()
    assert len(err) == 3, result.stderr
    assert err[0].endswith("INFO     [zero] visible info user_id=1")
    assert err[1].endswith("WARNING  [zero] visible warning")
    assert err[2] == "between"  # each record is flushed as it is written
    assert "hidden debug" not in result.stderr


def test_stdout_is_left_to_the_application() -> None:
    result = run_python("import micktrace; micktrace.get_logger('x').error('to stderr')")
    assert result.returncode == 0
    assert result.stdout == ""
    assert "to stderr" in result.stderr


def test_import_is_cheap_on_modules() -> None:
    # the core must not pull in the heavy parts of the stdlib it only needs lazily
    result = run_python(
        "import sys; before = set(sys.modules); import micktrace; print(' '.join(sorted(set(sys.modules) - before)))"
    )
    assert result.returncode == 0, result.stderr
    loaded = set(result.stdout.split())
    for heavy in ("asyncio", "json", "uuid", "decimal", "dataclasses", "inspect", "traceback", "orjson", "rich"):
        assert heavy not in loaded, heavy


def test_library_logging_without_configuration_is_harmless() -> None:
    # a library logs at import time; the application configures later: the
    # library's existing logger follows the later configuration
    result = run_python(
        "import micktrace, sys\n"
        "lib = micktrace.get_logger('some_library')\n"
        "lib.debug('before configure: hidden')\n"
        "micktrace.configure(level='DEBUG', format='json', handlers=[{'type': 'console', 'stream': 'stdout'}])\n"
        "lib.debug('after configure: shown')\n"
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [r["message"] for r in lines] == ["after configure: shown"]
