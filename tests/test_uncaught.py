"""configure(capture_uncaught=True) and micktrace.catch: real processes that die of
an exception, real threads, a real asyncio loop."""

from __future__ import annotations

import asyncio
import json
import sys
import textwrap
import threading
from pathlib import Path
from typing import Any, Dict, List

import pytest

import micktrace
from conftest import run_python
from micktrace.testing import capture_logs


def _records(path: Path) -> List[Dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _crash_script(log: Path, body: str, handlers: str = "") -> str:
    handlers = handlers or f'[{{"type": "file", "path": {str(log)!r}, "format": "json"}}]'
    return textwrap.dedent(
        f"""
        import micktrace, threading
        micktrace.configure(capture_uncaught=True, handlers={handlers})
        log = micktrace.get_logger("app")
        """
    ) + textwrap.dedent(body)


def test_import_installs_nothing() -> None:
    result = run_python(
        "import sys, threading\n"
        "before = threading.excepthook\n"  # threading.__excepthook__ is 3.10+
        "import micktrace\n"
        "micktrace.get_logger('x').info('hi')\n"
        "print(sys.excepthook is sys.__excepthook__, threading.excepthook is before)"
    )
    assert result.stdout.split() == ["True", "True"], result.stderr


def test_a_crash_in_the_main_thread_is_one_critical_record_masked_and_flushed(tmp_path: Path) -> None:
    log = tmp_path / "app.log"
    body = """
    for i in range(500):  # queued in the background worker when the process dies
        log.info("work", i=i)
    raise RuntimeError("db login failed: password=hunter2")
    """
    result = run_python(_crash_script(log, body))
    assert result.returncode == 1
    records = _records(log)
    assert [r["i"] for r in records[:-1]] == list(range(500))  # flushed before the process died
    crash = records[-1]
    assert crash["level"] == "CRITICAL" and crash["logger"] == "micktrace.uncaught"
    assert crash["message"] == "uncaught RuntimeError: the process is ending"
    assert crash["exception"]["type"] == "RuntimeError"
    assert crash["exception"]["frames"][-1]["function"] == "<module>"
    assert "hunter2" not in log.read_text()  # masked like any record
    # no console handler shows it, so Python's own printer still tells the terminal
    assert "RuntimeError" in result.stderr


def test_with_a_console_on_stderr_the_traceback_is_printed_once(tmp_path: Path) -> None:
    result = run_python(_crash_script(tmp_path / "unused", 'raise KeyError("k")\n', handlers='[{"type": "console"}]'))
    assert result.returncode == 1
    assert result.stderr.count("Traceback (most recent call last)") == 1
    assert "CRITICAL" in result.stderr and "uncaught KeyError" in result.stderr


def test_keyboard_interrupt_and_sys_exit_are_not_crashes(tmp_path: Path) -> None:
    log = tmp_path / "app.log"
    interrupted = run_python(_crash_script(log, "raise KeyboardInterrupt\n"))
    # Python ends the process by SIGINT, as without micktrace
    assert interrupted.returncode == -2 and "KeyboardInterrupt" in interrupted.stderr
    exited = run_python(_crash_script(log, "import sys; sys.exit(3)\n"))
    assert exited.returncode == 3
    assert not log.exists() or _records(log) == []


def test_an_exception_in_another_thread_is_logged_and_the_process_goes_on(tmp_path: Path) -> None:
    log = tmp_path / "app.log"
    body = """
    def work():
        raise ValueError("token=ghp_abcdefghijklmnopqrstuvwxyz0123456789")
    t = threading.Thread(target=work, name="worker-1")
    t.start(); t.join()
    def quiet():
        raise SystemExit(0)  # threading ignores it; so do we
    q = threading.Thread(target=quiet); q.start(); q.join()
    log.info("still running")
    """
    result = run_python(_crash_script(log, body))
    assert result.returncode == 0, result.stderr
    records = _records(log)
    assert [r["message"] for r in records] == ["uncaught ValueError in thread 'worker-1'", "still running"]
    assert records[0]["level"] == "CRITICAL" and records[0]["thread"] == "worker-1"
    assert records[0]["exception"]["frames"][-1]["function"] == "work"
    assert "ghp_abcdef" not in log.read_text()


def test_asyncio_loop_errors_are_logged(tmp_path: Path) -> None:
    log = tmp_path / "app.log"
    body = """
    import asyncio, gc

    def bad_callback():
        raise ZeroDivisionError("in a callback")

    async def orphan():
        raise LookupError("nobody awaited me")

    async def main():
        asyncio.get_running_loop().call_soon(bad_callback)
        task = asyncio.ensure_future(orphan())
        await asyncio.sleep(0.05)
        del task
        gc.collect()
        await asyncio.sleep(0)

    asyncio.run(main())
    log.info("done")
    """
    result = run_python(_crash_script(log, body))
    assert result.returncode == 0, result.stderr
    records = _records(log)
    by_type = {r["exception"]["type"]: r for r in records if "exception" in r}
    assert set(by_type) == {"ZeroDivisionError", "LookupError"}
    assert all(r["level"] == "CRITICAL" for r in by_type.values())
    assert "never retrieved" in by_type["LookupError"]["message"]
    assert records[-1]["message"] == "done"


def test_turning_it_off_puts_the_previous_hooks_back_and_chains_custom_ones() -> None:
    seen: List[str] = []

    def custom(exc_type: Any, exc: BaseException, tb: Any) -> None:
        seen.append(f"custom {exc_type.__name__}")

    old_sys, old_thread = sys.excepthook, threading.excepthook
    sys.excepthook = custom
    try:
        micktrace.configure(capture_uncaught=True)
        assert sys.excepthook is not custom and threading.excepthook is not old_thread
        with capture_logs() as logs:
            sys.excepthook(OSError, OSError("disk"), None)
        assert seen == ["custom OSError"]  # the application's own hook still runs
        assert [r.level_name for r in logs] == ["CRITICAL"]
        micktrace.configure(capture_uncaught=False)
        assert sys.excepthook is custom and threading.excepthook is old_thread
        micktrace.configure(capture_uncaught=True)
        micktrace.configure(reset=True)
        assert sys.excepthook is custom
    finally:
        sys.excepthook = old_sys
        threading.excepthook = old_thread


def test_capture_uncaught_must_be_a_bool() -> None:
    with pytest.raises(micktrace.ConfigError) as err:
        micktrace.configure(capture_uncaught="yes")
    assert err.value.key == "capture_uncaught" and "True or False" in str(err.value)


# -- catch ---------------------------------------------------------------------------
def test_catch_as_a_decorator_logs_once_and_returns_the_default() -> None:
    @micktrace.catch(default=-1)
    def divide(a: int, b: int) -> float:
        return a / b

    @micktrace.catch
    def bare() -> None:
        raise ValueError("api_key=sk_live_4eC39HqLyjWDarjtT1zdp7dc")

    with capture_logs() as logs:
        assert divide(6, 3) == 2
        assert divide(1, 0) == -1
        assert bare() is None
    assert [r.level_name for r in logs] == ["ERROR", "ERROR"]
    assert logs[0].logger_name == __name__
    assert "divide" in logs[0].message and logs[0].exc_info is not None
    assert logs[0].exc_info[0] is ZeroDivisionError
    assert "sk_live_4eC39" not in json.dumps(logs[1].to_dict(), default=str)


def test_catch_reraise_level_exclude_and_context_manager() -> None:
    @micktrace.catch(reraise=True, level="CRITICAL")
    def fails() -> None:
        raise KeyError("k")

    with capture_logs() as logs:
        with pytest.raises(KeyError):
            fails()
        with micktrace.catch(message="batch step failed"):
            raise RuntimeError("x")
        with pytest.raises(TypeError):
            with micktrace.catch(exclude=TypeError):
                raise TypeError("let through")
        with pytest.raises(KeyboardInterrupt):  # not an Exception: passes untouched
            with micktrace.catch():
                raise KeyboardInterrupt
        with pytest.raises(ValueError):
            with micktrace.catch(OSError):
                raise ValueError("not the type asked for")
    where = "test_catch_reraise_level_exclude_and_context_manager.<locals>.fails"
    assert [(r.level_name, r.message) for r in logs] == [
        ("CRITICAL", f"an error was caught in function {where!r}"),
        ("ERROR", "batch step failed"),
    ]
    assert logs[1].logger_name == __name__


def test_catch_on_coroutines_and_onerror() -> None:
    errors: List[BaseException] = []

    @micktrace.catch(onerror=errors.append, default="fallback")
    async def fetch() -> str:
        await asyncio.sleep(0)
        raise ConnectionError("refused")

    with capture_logs() as logs:
        assert asyncio.run(fetch()) == "fallback"
    assert len(logs) == 1 and logs[0].exc_info is not None and logs[0].exc_info[0] is ConnectionError
    assert [type(e) for e in errors] == [ConnectionError]


def test_catch_rejects_what_is_not_an_exception_type() -> None:
    with pytest.raises(micktrace.ConfigError):
        micktrace.catch((ValueError, "nope"))  # type: ignore[arg-type]
    with pytest.raises(micktrace.ConfigError):
        micktrace.catch(level="LOUD")
