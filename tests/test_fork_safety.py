"""Forking while other threads are inside micktrace never hangs the child: every
lock micktrace owns is re-created in the child (os.register_at_fork)."""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path
from typing import Iterator

import pytest

import micktrace


@pytest.fixture(autouse=True)
def _reset() -> Iterator[None]:
    yield
    micktrace.shutdown(timeout=2)
    micktrace.configure(reset=True)


def _wait(pid: int, timeout: float) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.WEXITSTATUS(status) if os.WIFEXITED(status) else -1
        time.sleep(0.01)
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    return -2  # hung


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # fork() with threads running: the point of the test
def test_fork_while_threads_hammer_every_public_call(tmp_path: Path) -> None:
    log_path = tmp_path / "fork.log"
    micktrace.configure(handlers=[{"type": "file", "path": str(log_path), "format": "json"}])
    stop = threading.Event()

    def hammer(kind: int) -> None:
        n = 0
        while not stop.is_set():
            n += 1
            log = micktrace.get_logger(f"hammer.{kind}.{n % 500}")  # new names: the cache lock
            log.bind(n=n).info("tick")  # bind: the state lock
            if kind == 0 and n % 50 == 0:
                micktrace.configure(level="INFO")  # the state lock, workers, handlers
            if kind == 1 and n % 20 == 0:
                micktrace.metrics()
                micktrace.health()
            with micktrace.context(k=kind):
                log.warning("in context")

    threads = [threading.Thread(target=hammer, args=(k,), daemon=True) for k in range(3)]
    for thread in threads:
        thread.start()
    statuses = []
    try:
        for _ in range(25):
            time.sleep(0.01)
            pid = os.fork()
            if pid == 0:
                code = 0
                try:
                    log = micktrace.get_logger("child.new.name").bind(child=os.getpid())
                    log.info("from the child")
                    micktrace.configure(level="DEBUG")
                    micktrace.get_logger("child").debug("after configure")
                    code = 0 if micktrace.flush(5) else 3
                except BaseException:
                    code = 4
                os._exit(code)
            statuses.append(_wait(pid, 20))
    finally:
        stop.set()
        for thread in threads:
            thread.join(5)
    assert statuses == [0] * 25  # -2 would be a child that hung
    micktrace.flush()
    messages = [line for line in log_path.read_text().splitlines() if '"after configure"' in line]
    assert len(messages) == 25
