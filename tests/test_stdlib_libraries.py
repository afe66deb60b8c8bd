"""Library-first: a library's get_logger changes nothing global; the application tunes any namespace."""

from __future__ import annotations

import textwrap

import micktrace
from conftest import run_python


def test_a_library_that_logs_changes_no_global_state() -> None:
    code = textwrap.dedent(
        """
        import sys, threading, signal, atexit
        hook, threads = sys.excepthook, threading.active_count()
        sigterm = signal.getsignal(signal.SIGTERM)
        modules_before = set(sys.modules)

        import micktrace
        log = micktrace.get_logger("my_library")      # what a library does at import time
        log.debug("not shown at the default level")
        log.info("Data processed", input_size=11)

        assert sys.excepthook is hook
        assert threading.active_count() == threads, threading.enumerate()
        assert signal.getsignal(signal.SIGTERM) is sigterm
        new = set(sys.modules) - modules_before
        # neither stdlib logging nor any integration was imported, let alone configured
        assert "logging" not in new and not any(m.startswith("opentelemetry") for m in new), sorted(new)
        assert "micktrace.integrations.stdlib" not in new
        import logging
        assert logging.getLogger().handlers == [] and logging.getLogger().level == logging.WARNING
        assert logging.getLogger("my_library").handlers == []
        print("ok")
        """
    )
    result = run_python(code)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "ok\n"
    assert "Data processed input_size=11" in result.stderr
    assert "not shown" not in result.stderr


def test_application_tunes_a_library_namespace_by_level() -> None:
    library = micktrace.get_logger("noisy_lib")  # created before the application configures
    child = micktrace.get_logger("noisy_lib.http")
    seen: list[str] = []
    micktrace.configure(loggers={"noisy_lib": "WARNING"}, handlers=[lambda r: seen.append(r.message)])
    library.info("chatter")
    child.info("more chatter")
    child.warning("worth seeing")
    micktrace.get_logger("app").info("app info")
    assert seen == ["worth seeing", "app info"]
    assert library.level == micktrace.LogLevel.WARNING and child.level == micktrace.LogLevel.WARNING


def test_application_silences_and_restores_a_library() -> None:
    seen: list[str] = []
    micktrace.configure(handlers=[lambda r: seen.append(r.message)])
    library = micktrace.get_logger("noisy_lib")
    micktrace.disable("noisy_lib")
    library.error("silenced")
    micktrace.get_logger("noisy_library_other").error("a different namespace")
    micktrace.enable("noisy_lib")
    library.error("back")
    assert seen == ["a different namespace", "back"]


def test_library_logging_follows_configuration_made_after_import() -> None:
    code = textwrap.dedent(
        """
        import json, micktrace
        log = micktrace.get_logger("my_library")            # library imported first
        micktrace.configure(level="INFO", format="json")     # then the application configures
        log.info("Data processed successfully", input_size=11, output_size=11)
        """
    )
    result = run_python(code)
    assert result.returncode == 0, result.stderr
    import json

    doc = json.loads(result.stderr)
    assert doc["logger"] == "my_library" and doc["input_size"] == 11
