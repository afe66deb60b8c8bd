"""The background worker survives anything a record or a handler can raise.

``SystemExit``, ``KeyboardInterrupt`` and ``GeneratorExit`` raised by a value's
``__str__`` or by a handler in the worker thread are not the user stopping the
program (signals go to the main thread): the record is still written (with a
marked stand-in for the value) or goes to the fallback, the worker keeps
running, and an escape from its loop restarts it, counted and reported.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any, List

import pytest

import micktrace
from micktrace.handlers.base import Handler


class Exits:
    def __init__(self, exc: BaseException) -> None:
        self.exc = exc

    def __repr__(self) -> str:
        raise self.exc

    __str__ = __repr__


def _lines(path: Path) -> List[Any]:
    return [json.loads(line) for line in path.read_text().splitlines()]


@pytest.mark.parametrize("mode", ["sync", "background"])
@pytest.mark.parametrize("exc", [SystemExit(3), GeneratorExit()], ids=["SystemExit", "GeneratorExit"])
def test_a_value_raising_a_base_exception_still_gives_one_line(tmp_path: Path, mode: str, exc: BaseException) -> None:
    path = tmp_path / "out.log"
    micktrace.configure(handlers=[{"type": "file", "path": str(path), "format": "json", "dispatch": mode}])
    try:
        log = micktrace.get_logger("v")
        log.info("hostile", v=Exits(exc))
        log.info("hostile %s", Exits(exc))
        log.info("after")
        micktrace.flush()
    finally:
        micktrace.reset()
    lines = _lines(path)
    assert [line["message"] for line in lines][2] == "after"
    assert lines[0]["v"].startswith("<unrepresentable Exits")


def test_keyboard_interrupt_from_a_value_off_the_main_thread_is_swallowed(tmp_path: Path) -> None:
    path = tmp_path / "out.log"
    micktrace.configure(handlers=[{"type": "file", "path": str(path), "format": "json", "dispatch": "sync"}])
    escaped: List[BaseException] = []

    def other() -> None:
        try:
            micktrace.get_logger("t").info("hostile", v=Exits(KeyboardInterrupt()))
        except BaseException as exc:
            escaped.append(exc)

    try:
        thread = threading.Thread(target=other)
        thread.start()
        thread.join()
        micktrace.flush()
    finally:
        micktrace.reset()
    assert escaped == []
    assert _lines(path)[0]["v"].startswith("<unrepresentable Exits")


class Raising(Handler):
    """Raises *exc* from handle_batch for a batch holding a "poison" record, and
    from flush() once when told to; keeps what it handled."""

    def __init__(self, exc: BaseException) -> None:
        super().__init__()
        self.exc = exc
        self.got: List[str] = []
        self.fail_flush = False

    def handle(self, record: Any) -> None:
        self.handle_batch([record])

    def handle_batch(self, records: List[Any]) -> None:
        if any(r.message == "poison" for r in records):
            raise self.exc
        self.got.extend(r.message for r in records)

    def flush(self) -> None:
        if self.fail_flush:
            self.fail_flush = False
            raise self.exc


@pytest.mark.parametrize("exc", [SystemExit(1), KeyboardInterrupt()], ids=["SystemExit", "KeyboardInterrupt"])
def test_a_handler_raising_a_base_exception_does_not_kill_the_worker(tmp_path: Path, exc: BaseException) -> None:
    fallback = tmp_path / "fallback.log"
    handler = Raising(exc)
    micktrace.configure(
        handlers=[handler], dispatch={"mode": "background", "retries": 0},
        fallback={"type": "file", "path": str(fallback), "format": "json", "dispatch": "sync"},
    )  # fmt: skip
    try:
        log = micktrace.get_logger("w")
        log.info("poison")
        micktrace.flush()
        log.info("after the failure")
        micktrace.flush()
        handler.fail_flush = True  # an escape from the worker's loop itself
        log.info("before the bad flush")
        assert micktrace.flush(timeout=10)  # does not hang on the dead batch
        log.info("after the restart")
        micktrace.flush()
        row = next(iter(micktrace.metrics()["handlers"].values()))
        health = micktrace.health()
    finally:
        micktrace.reset()
    assert handler.got == ["after the failure", "before the bad flush", "after the restart"]
    assert [line["message"] for line in _lines(fallback)] == ["poison"]
    assert row["worker_restarts"] == 1
    assert row["failed"] >= 2
    assert health["handlers"] and "last_error" in str(health)


def test_health_reports_a_worker_stuck_on_one_record(monkeypatch: pytest.MonkeyPatch) -> None:
    import micktrace.monitoring as monitoring

    monkeypatch.setattr(monitoring, "STUCK_AFTER", 0.2)
    release = threading.Event()

    class Slow:
        def __repr__(self) -> str:
            release.wait(30)
            return "slow"

    got: List[Any] = []
    from micktrace.handlers import MemoryHandler

    handler = MemoryHandler()
    micktrace.configure(handlers=[handler], dispatch="background")
    try:
        micktrace.get_logger("s").info("slow value", v=Slow())
        stuck = {}
        for _ in range(100):
            stuck = micktrace.health()
            if stuck["status"] != "healthy":
                break
            threading.Event().wait(0.05)
        release.set()
        micktrace.flush()
        after = micktrace.health()
        got = list(getattr(handler, "records", []))
    finally:
        release.set()
        micktrace.reset()
    row = next(iter(stuck["handlers"].values()))
    assert stuck["status"] == "degraded" and row["stuck_for_s"] >= 0.2
    assert after["status"] == "healthy" and "stuck_for_s" not in next(iter(after["handlers"].values()))
    assert len(got) == 1
