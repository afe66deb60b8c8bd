"""Background dispatch: lossless exit paths, ordering, overflow, fork, asyncio, failures."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import threading
from pathlib import Path
from typing import Any, List

import pytest

import micktrace
from conftest import run_python
from micktrace.handlers.base import Handler

N_EXIT = 100_000

EXIT_CHILD = r"""
import os, signal, sys, threading
import micktrace

path, how = sys.argv[1], sys.argv[2]
micktrace.configure(format="json", handlers=[{"type": "file", "path": path, "dispatch": "background"}])
if how == "sigterm":
    micktrace.flush_on_signals(signal.SIGTERM)
log = micktrace.get_logger("child")
N = int(sys.argv[3])

def produce():
    for i in range(N):
        log.info("record", i=i)

if how == "thread_exit":
    def in_thread():
        produce()
        sys.exit(0)  # ends only this thread
    t = threading.Thread(target=in_thread)
    t.start()
    t.join()
else:
    produce()
if how == "sys_exit":
    sys.exit(3)
if how == "exception":
    raise RuntimeError("unhandled")
if how == "keyboard":
    raise KeyboardInterrupt
if how == "sigterm":
    os.kill(os.getpid(), signal.SIGTERM)
    import time
    time.sleep(30)  # never reached: the default SIGTERM action ends the process
"""


def _read_lines(path: Path) -> List[dict[str, Any]]:
    raw = path.read_bytes()
    assert raw.endswith(b"\n")
    return [json.loads(line) for line in raw.decode("utf-8").splitlines()]


@pytest.mark.parametrize(
    ("how", "returncode"),
    [
        ("return", 0),
        ("sys_exit", 3),
        ("thread_exit", 0),
        ("exception", 1),
        ("keyboard", -signal.SIGINT),  # Python re-raises SIGINT for an unhandled KeyboardInterrupt
        ("sigterm", -signal.SIGTERM),
    ],
)
def test_every_record_reaches_the_file_on_exit(tmp_path: Path, how: str, returncode: int) -> None:
    path = tmp_path / "out.log"
    proc = run_python(EXIT_CHILD, str(path), how, str(N_EXIT), timeout=240)
    assert proc.returncode == returncode, proc.stderr[-2000:]
    lines = _read_lines(path)
    assert len(lines) == N_EXIT
    assert [line["i"] for line in lines] == list(range(N_EXIT))  # in order, none twice


def test_sigterm_without_opt_in_installs_nothing() -> None:
    # a library must not install signal handlers by itself
    micktrace.configure(handlers=[{"type": "memory", "dispatch": "background"}])
    micktrace.get_logger("x").info("hello")
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL


THREADS_CHILD = r"""
import sys, threading
import micktrace
micktrace.configure(format="json", handlers=[{"type": "file", "path": sys.argv[1]}])
log = micktrace.get_logger("threads")
def work(t):
    for i in range(50_000):
        log.info("msg", t=t, i=i, pad="x" * (i % 50))
threads = [threading.Thread(target=work, args=(t,)) for t in range(8)]
for th in threads: th.start()
for th in threads: th.join()
print(micktrace.metrics()["handlers"][next(iter(micktrace.metrics()["handlers"]))]["dispatch"])
"""


def test_eight_threads_exact_count_in_order(tmp_path: Path) -> None:
    path = tmp_path / "threads.log"
    proc = run_python(THREADS_CHILD, str(path), timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip() == "background"  # the file handler's default
    lines = _read_lines(path)
    assert len(lines) == 8 * 50_000
    last = {t: -1 for t in range(8)}
    for line in lines:
        assert line["i"] == last[line["t"]] + 1  # per-thread order kept, nothing torn or lost
        assert line["pad"] == "x" * (line["i"] % 50)
        last[line["t"]] = line["i"]


class GatedHandler(Handler):
    """Blocks every write until the test opens the gate."""

    def __init__(self) -> None:
        super().__init__()
        self.gate = threading.Event()
        self.lines: List[str] = []

    def write_lines(self, lines: List[str]) -> None:
        self.gate.wait()
        self.lines.extend(lines)


def _messages(handler: GatedHandler) -> List[str]:
    return [line.split("] ", 1)[1].split(" ")[0] for line in handler.lines]


def test_asyncio_log_call_does_not_wait_for_io() -> None:
    handler = GatedHandler()
    micktrace.configure(handlers=[handler], dispatch="background")
    log = micktrace.get_logger("aio")

    async def task(i: int) -> int:
        log.info("task", i=i)
        await asyncio.sleep(0)
        return i

    async def main() -> List[int]:
        return list(await asyncio.gather(*(task(i) for i in range(1000))))

    assert asyncio.run(main()) == list(range(1000))
    assert handler.lines == []  # every task finished while the handler was still blocked
    handler.gate.set()
    assert micktrace.flush(10)
    assert len(handler.lines) == 1000


def test_asyncio_under_uvloop() -> None:
    import uvloop

    handler = GatedHandler()
    micktrace.configure(handlers=[handler], dispatch="background")
    log = micktrace.get_logger("uv")

    async def main() -> None:
        await asyncio.gather(*(asyncio.sleep(0, log.info("t", i=i)) for i in range(200)))
        assert await micktrace.aflush(0.2) is False  # still gated: aflush gives up, loop not blocked
        handler.gate.set()
        assert await micktrace.aflush(10)

    uvloop.install()
    try:
        asyncio.run(main())
    finally:
        asyncio.set_event_loop_policy(None)
    assert len(handler.lines) == 200


def test_overflow_drop_newest_counts_and_summarises() -> None:
    handler = GatedHandler()
    micktrace.configure(
        handlers=[handler], dispatch={"mode": "background", "queue_size": 50, "overflow": "drop_newest"}
    )
    log = micktrace.get_logger("ovf")
    for i in range(300):
        log.info(f"m{i}")
    handler.gate.set()
    assert micktrace.flush(10)
    stats = micktrace.metrics()["handlers"]["GatedHandler"]
    kept = [m for m in _messages(handler) if m.startswith("m")]
    assert stats["dropped"] == 300 - len(kept)
    assert stats["dropped"] >= 300 - 50 - 1000  # at most one batch was taken before the gate
    assert kept == sorted(kept, key=lambda m: int(m[1:]))  # the oldest survive, in order
    summary = [line for line in handler.lines if "records dropped since" in line]
    assert len(summary) == 1 and f"dropped={stats['dropped']}" in summary[0]


def test_overflow_drop_oldest_keeps_the_newest() -> None:
    handler = GatedHandler()
    micktrace.configure(
        handlers=[handler], dispatch={"mode": "background", "queue_size": 50, "overflow": "drop_oldest"}
    )
    log = micktrace.get_logger("ovf")
    for i in range(300):
        log.info(f"m{i}")
    handler.gate.set()
    assert micktrace.flush(10)
    kept = [m for m in _messages(handler) if m.startswith("m")]
    assert kept[-50:] == [f"m{i}" for i in range(250, 300)]
    assert micktrace.metrics()["handlers"]["GatedHandler"]["dropped"] == 300 - len(kept)


def test_overflow_drop_below_keeps_warnings() -> None:
    handler = GatedHandler()
    micktrace.configure(
        handlers=[handler],
        dispatch={
            "mode": "background",
            "queue_size": 20,
            "overflow": "drop_below",
            "drop_below": "WARNING",
            "block_timeout": 5,
        },
    )
    log = micktrace.get_logger("ovf")
    for i in range(100):
        log.info(f"i{i}")
    releaser = threading.Timer(0.3, handler.gate.set)
    releaser.start()
    for i in range(30):
        log.warning(f"w{i}")  # blocks for space instead of being dropped
    releaser.join()
    assert micktrace.flush(10)
    kept = _messages(handler)
    assert [m for m in kept if m.startswith("w")] == [f"w{i}" for i in range(30)]
    assert micktrace.metrics()["handlers"]["GatedHandler"]["dropped"] == 100 - len([m for m in kept if m[0] == "i"])


STALLED_CHILD = r"""
import os, sys, threading
import micktrace
from micktrace.handlers.base import Handler

def rss():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")

class Stalled(Handler):
    def write_lines(self, lines):
        threading.Event().wait()  # hangs forever

micktrace.configure(handlers=[Stalled(), {"type": "memory", "capacity": 10}],
                    dispatch={"mode": "background", "queue_size": 1000, "block_timeout": 0.2, "exit_timeout": 0.5})
log = micktrace.get_logger("stall")
for i in range(2000):
    log.info("warm", i=i, payload="y" * 100)
before = rss()
for i in range(100_000):
    log.info("record", i=i, payload="y" * 100)
after = rss()
m = micktrace.metrics()["handlers"]
print(m["Stalled"]["dropped"], m["Stalled"]["queue_depth"], m["MemoryHandler"]["emitted"] > 0, after - before)
os._exit(0)
"""


def test_stalled_handler_bounds_caller_and_memory() -> None:
    proc = run_python(STALLED_CHILD, timeout=240)
    assert proc.returncode == 0, proc.stderr[-2000:]
    dropped, depth, other_ok, growth = proc.stdout.split()
    assert int(depth) <= 1000  # the queue never exceeds its limit
    assert int(dropped) >= 100_000  # the caller stopped waiting after one block_timeout
    assert other_ok == "True"  # the other handler kept working
    assert int(growth) < 10 * 1024 * 1024


class FlakyHandler(Handler):
    """Raises on every third batch."""

    def __init__(self) -> None:
        super().__init__()
        self.calls = 0
        self.lines: List[str] = []

    def write_lines(self, lines: List[str]) -> None:
        self.calls += 1
        if self.calls % 3 == 0:
            raise ConnectionError(f"flaky batch {self.calls}")
        self.lines.extend(lines)


def test_handler_failing_every_third_batch_loses_nothing(capsys: pytest.CaptureFixture[str]) -> None:
    handler = FlakyHandler()
    micktrace.configure(handlers=[handler], dispatch={"mode": "background", "batch_size": 50, "backoff": 0.001})
    log = micktrace.get_logger("flaky")
    for i in range(5000):
        log.info(f"n{i}")
    assert micktrace.flush(30)
    assert [line.split("] ")[1] for line in handler.lines] == [f"n{i}" for i in range(5000)]
    stats = micktrace.metrics()["handlers"]["FlakyHandler"]
    assert stats["failed"] >= 1 and stats["retried"] == stats["failed"] and stats["emitted"] == 5000
    assert stats["fallback"] == 0
    err = capsys.readouterr().err
    assert err.count("handler 'FlakyHandler' failed") == 1  # reported once per interval
    assert micktrace.health()["handlers"]["FlakyHandler"]["status"] == "degraded"


class DeadHandler(Handler):
    def __init__(self) -> None:
        super().__init__(name="dead")
        self.attempts = 0

    def write_lines(self, lines: List[str]) -> None:
        self.attempts += 1
        raise ConnectionRefusedError("endpoint down")


def test_dead_handler_opens_circuit_and_falls_back(capsys: pytest.CaptureFixture[str]) -> None:
    dead = DeadHandler()
    memory = micktrace.handlers.MemoryHandler()
    micktrace.configure(
        handlers=[dead, memory],
        dispatch={
            "mode": "background",
            "retries": 1,
            "backoff": 0.001,
            "breaker_threshold": 2,
            "breaker_cooldown": 60,
            "batch_size": 1,
        },
    )
    log = micktrace.get_logger("svc")
    for i in range(10):
        log.error(f"e{i}")
        micktrace.flush(5)
    assert dead.attempts == 4  # 2 batches x (1 try + 1 retry), then the circuit is open
    assert len(memory.records) == 10  # the other handler is unaffected
    err = capsys.readouterr().err
    assert sum("fallback [dead]: " in line and f" e{i}" in line for line in err.splitlines() for i in range(10)) == 10
    health = micktrace.health()
    assert health["status"] == "failing"
    assert health["handlers"]["dead"]["circuit_open"] is True
    assert "endpoint down" in health["handlers"]["dead"]["last_error"]
    assert health["handlers"]["MemoryHandler"]["status"] == "healthy"
    stats = micktrace.metrics()["handlers"]["dead"]
    assert stats["fallback"] == 10 and stats["emitted"] == 0


def test_sync_handler_failure_goes_to_fallback_handler() -> None:
    class Broken(Handler):
        def write_lines(self, lines: List[str]) -> None:
            raise OSError("disk full")

    fallback = micktrace.handlers.MemoryHandler()
    micktrace.configure(handlers=[Broken()], fallback=fallback)
    micktrace.get_logger("x").warning("keep me")
    assert [r.message for r in fallback.records] == ["keep me"]
    assert micktrace.health()["handlers"]["Broken"]["status"] == "failing"


FORK_CHILD = r"""
import multiprocessing as mp, sys, os
import micktrace
micktrace.configure(format="json", handlers=[{"type": "file", "path": sys.argv[1]}])
log = micktrace.get_logger("pool")
for i in range(2000):
    log.info("parent", i=i)          # some still queued when the pool forks

def job(n):
    for i in range(1000):
        log.info("child", job=n, i=i)
    return os.getpid()

if __name__ == "__main__":
    ctx = mp.get_context("fork")
    with ctx.Pool(4) as pool:
        pids = pool.map(job, range(8))
        pool.close()
        pool.join()
    for i in range(100):
        log.info("after", i=i)
    print(len(set(pids)))
"""


def test_fork_pool_no_deadlock_no_duplicates(tmp_path: Path) -> None:
    path = tmp_path / "pool.log"
    proc = run_python(FORK_CHILD, str(path), timeout=240)
    assert proc.returncode == 0, proc.stderr[-3000:]
    lines = _read_lines(path)
    parent = [x["i"] for x in lines if x["message"] == "parent"]
    child = sorted((x["job"], x["i"]) for x in lines if x["message"] == "child")
    after = [x["i"] for x in lines if x["message"] == "after"]
    assert parent == list(range(2000))
    assert child == [(j, i) for j in range(8) for i in range(1000)]
    assert after == list(range(100))


def _spawned_job(n: int) -> str:
    micktrace.get_logger("spawned").info("from child", n=n)
    micktrace.flush()
    return micktrace.export_settings()["service"]  # type: ignore[no-any-return]


def test_spawn_children_get_the_parent_configuration(tmp_path: Path) -> None:
    import concurrent.futures
    import multiprocessing

    path = tmp_path / "spawn.log"
    micktrace.configure(format="json", service="spawny", handlers=[{"type": "file", "path": str(path)}])
    with concurrent.futures.ProcessPoolExecutor(
        max_workers=2,
        mp_context=multiprocessing.get_context("spawn"),
        initializer=micktrace.import_settings,
        initargs=(micktrace.export_settings(),),
    ) as pool:
        assert list(pool.map(_spawned_job, range(4))) == ["spawny"] * 4
    micktrace.flush()
    lines = _read_lines(path)
    assert sorted(x["n"] for x in lines) == [0, 1, 2, 3]
    assert all(x["service"] == "spawny" and x["logger"] == "spawned" for x in lines)


def test_flush_timeout_and_shutdown_then_logging_resumes(tmp_path: Path) -> None:
    handler = GatedHandler()
    micktrace.configure(handlers=[handler], dispatch="background")
    micktrace.get_logger("s").info("one")
    assert micktrace.flush(0.1) is False  # gated: the timeout is honoured
    handler.gate.set()
    assert micktrace.flush(5) is True
    path = tmp_path / "after.log"
    micktrace.configure(handlers=[{"type": "file", "path": str(path)}])
    micktrace.get_logger("s").info("two")
    assert micktrace.shutdown() is True
    assert "two" in path.read_text()
    micktrace.get_logger("s").info("three")  # handlers are rebuilt from the same settings
    micktrace.flush()
    assert "three" in path.read_text()


def test_reconfigure_delivers_what_the_old_worker_held(tmp_path: Path) -> None:
    first, second = tmp_path / "1.log", tmp_path / "2.log"
    micktrace.configure(handlers=[{"type": "file", "path": str(first)}])
    log = micktrace.get_logger("r")
    for i in range(5000):
        log.info(f"a{i}")
    micktrace.configure(handlers=[{"type": "file", "path": str(second)}])
    log.info("b")
    micktrace.flush()
    assert len(first.read_text().splitlines()) == 5000
    assert second.read_text().count("\n") == 1


def test_dispatch_config_errors() -> None:
    with pytest.raises(micktrace.ConfigError, match="dispatch: 'later'"):
        micktrace.configure(dispatch="later")
    with pytest.raises(micktrace.ConfigError, match=r"dispatch.overflow: 'explode'.*drop_oldest"):
        micktrace.configure(dispatch={"overflow": "explode"})
    with pytest.raises(micktrace.ConfigError, match=r"dispatch.queue_size: 0"):
        micktrace.configure(dispatch={"mode": "background", "queue_size": 0})
    with pytest.raises(micktrace.ConfigError, match=r"handlers\[0\].dispatch.colour"):
        micktrace.configure(handlers=[{"type": "console", "dispatch": {"colour": 1}}])


def test_default_modes_and_per_handler_override(tmp_path: Path) -> None:
    micktrace.configure(
        handlers=[
            {"type": "console"},
            {"type": "file", "path": str(tmp_path / "f.log")},
            {"type": "memory", "dispatch": "background"},
        ]
    )
    modes = {name: row["dispatch"] for name, row in micktrace.metrics()["handlers"].items()}
    assert list(modes.values()) == ["sync", "background", "background"]
    micktrace.configure(dispatch="sync")
    modes = {name: row["dispatch"] for name, row in micktrace.metrics()["handlers"].items()}
    assert list(modes.values()) == ["sync", "sync", "background"]  # the handler's own setting wins


def test_metrics_counts_levels_bytes_and_latency(tmp_path: Path) -> None:
    before = micktrace.metrics()["records"]["by_level"].get("ERROR", 0)
    path = tmp_path / "m.log"
    micktrace.configure(handlers=[{"type": "file", "path": str(path), "name": "main"}])
    log = micktrace.get_logger("m")
    for _ in range(10):
        log.error("e")
    micktrace.flush()
    m = micktrace.metrics()
    assert m["records"]["by_level"]["ERROR"] - before == 10
    row = m["handlers"]["main"]
    assert row["emitted"] == 10 and row["bytes_written"] == os.path.getsize(path)
    assert row["batches"] >= 1 and row["write_latency_ms_p50"] is not None
    assert row["queue_depth"] == 0 and row["queue_high_water"] >= 1


def test_public_functions_are_not_shadowed_by_submodules() -> None:
    import importlib
    import pkgutil

    for info in pkgutil.walk_packages(micktrace.__path__, "micktrace."):
        if ".integrations." in info.name or info.name.endswith("__main__"):
            continue
        importlib.import_module(info.name)
    for name in ("metrics", "health", "configure", "flush", "shutdown", "reset"):
        assert callable(getattr(micktrace, name)), name
