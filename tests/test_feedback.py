"""A handler that itself logs through stdlib (as every HTTP client does) with
capture_stdlib=True never sees its own records again: no loop, no recursion,
counted."""

from __future__ import annotations

import logging
import time
from typing import Any, Iterator, List

import pytest

import micktrace


@pytest.fixture(autouse=True)
def _reset() -> Iterator[None]:
    yield
    micktrace.shutdown(timeout=2)
    micktrace.configure(reset=True, capture_stdlib=False)


class Chatty:
    """Logs through stdlib on every call, like urllib3 inside a network handler."""

    def __init__(self) -> None:
        self.seen: List[str] = []

    def handle(self, record: Any) -> None:
        logging.getLogger("urllib3.connectionpool").warning("Starting new HTTPS connection (1)")
        self.seen.append(record.message)


@pytest.mark.parametrize("mode", ["sync", "background"])
def test_a_handler_logging_through_stdlib_does_not_loop(mode: str) -> None:
    chatty = Chatty()
    micktrace.configure(handlers=[chatty], capture_stdlib=True, dispatch=mode)
    log = micktrace.get_logger("app")
    for i in range(50):
        log.info(f"app {i}")
    micktrace.flush(5)
    time.sleep(0.3)  # a loop would keep the handler busy now
    micktrace.flush(5)
    before = len(chatty.seen)
    time.sleep(0.3)
    assert len(chatty.seen) == before  # quiet: nothing feeds itself
    app = [m for m in chatty.seen if m.startswith("app ")]
    assert app == [f"app {i}" for i in range(50)]
    assert "Starting new HTTPS connection (1)" not in chatty.seen
    (row,) = micktrace.metrics()["handlers"].values()
    assert row["feedback_skipped"] == 50
    assert row["fallback"] == 0 and row["failed"] == 0


def test_other_handlers_still_get_the_inner_records() -> None:
    chatty = Chatty()
    micktrace.configure(handlers=[chatty, {"type": "memory", "name": "mem"}], capture_stdlib=True, dispatch="sync")
    micktrace.get_logger("app").info("one")
    micktrace.flush()
    memory = micktrace.config.current_config().handlers[1]
    messages = [r.message for r in memory.records]
    assert messages.count("one") == 1 and messages.count("Starting new HTTPS connection (1)") == 1
