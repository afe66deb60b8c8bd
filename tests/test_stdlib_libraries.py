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


def test_stdlib_only_application_decides_the_librarys_levels_and_gets_callers() -> None:
    # the application configures stdlib only; the library uses micktrace
    code = textwrap.dedent(
        """
        import logging, micktrace
        log = micktrace.get_logger("mylib")                  # the library, imported first

        def library_call():
            log.debug("detail", n=1)
            log.trace("finer than stdlib asked for")
            log.info("done", n=2)
            return log.is_enabled_for("DEBUG")

        library_call()                                       # stdlib not configured yet: stderr, INFO only
        logging.basicConfig(
            level=logging.DEBUG, format="STD %(levelname)s %(filename)s:%(lineno)d %(funcName)s %(message)s"
        )
        print(library_call())
        logging.getLogger().setLevel(logging.WARNING)        # the application raises the root level...
        logging.getLogger("mylib").setLevel(logging.DEBUG)   # ...but wants mylib's detail
        library_call()
        logging.getLogger("mylib").setLevel(logging.ERROR)
        print(library_call())
        log.log("DEBUG", "via log()")
        logging.getLogger("mylib").setLevel(logging.DEBUG)
        log.log("DEBUG", "via log() again")
        """
    )
    result = run_python(code)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "True\nFalse\n"
    lines = result.stderr.splitlines()
    assert "detail" not in lines[0] and "done n=2" in lines[0] and not lines[0].startswith("STD")
    at = "<string>"  # python -c
    assert lines[1:] == [
        f"STD DEBUG {at}:6 library_call detail n=1",
        f"STD INFO {at}:8 library_call done n=2",
        f"STD DEBUG {at}:6 library_call detail n=1",
        f"STD INFO {at}:8 library_call done n=2",
        f"STD DEBUG {at}:23 <module> via log() again",
    ], result.stderr


def test_an_explicit_micktrace_level_still_applies_first() -> None:
    code = textwrap.dedent(
        """
        import logging, micktrace
        log = micktrace.get_logger("mylib")
        logging.basicConfig(level=logging.DEBUG, format="STD %(levelname)s %(message)s")
        micktrace.configure(loggers={"mylib": "WARNING"})
        log.debug("hidden")
        log.info("hidden too")
        log.warning("shown")
        """
    )
    result = run_python(code)
    assert result.returncode == 0, result.stderr
    assert result.stderr.splitlines() == ["STD WARNING shown"]
