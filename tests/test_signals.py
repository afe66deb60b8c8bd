"""Logging from a signal handler never deadlocks, loses or duplicates a record.

A real interval timer (SIGALRM every 0.5 ms) interrupts a process that logs in
a loop; its handler logs too, so signals land inside handler writes, inside the
worker's wake-up, inside a wait for queue space and inside micktrace's own
locks. Each case runs in a subprocess with a faulthandler watchdog: a deadlock
fails the test with the stacks instead of hanging the suite.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

SRC = str(Path(__file__).resolve().parents[1] / "src")

SCRIPT = textwrap.dedent(
    """
    import faulthandler, json, logging, signal, sys
    faulthandler.dump_traceback_later(60, exit=True)
    import micktrace

    mode, kind, path = sys.argv[1], sys.argv[2], sys.argv[3]
    out = open(path + ".callable", "a")
    if kind == "file":
        handler = {"type": "file", "path": path, "format": "json", "dispatch": mode}
    elif kind == "callable":
        def handler(record):
            out.write(json.dumps({"message": record.message, **record.data}) + "\\n")
    else:  # stdlib: the signal handler logs through logging, captured
        handler = {"type": "file", "path": path, "format": "json", "dispatch": mode}
    micktrace.configure(handlers=[handler], dispatch={"mode": mode, "queue_size": 50, "overflow": "block",
                                                  "block_timeout": 10},
                        capture_stdlib=(kind == "stdlib"))
    log = micktrace.get_logger("main")
    std = logging.getLogger("from.stdlib")
    fired = [0]

    def on_alarm(signum, frame):
        # no SIGALRM inside this handler itself: on a loaded machine a 0.5 ms timer outpaces
        # a handler, which would then nest without end (any Python program's RecursionError)
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGALRM})
        try:
            fired[0] += 1
            if kind == "stdlib":
                std.warning("from signal %d", fired[0])
            else:
                log.info("from signal", n=fired[0])
        finally:
            signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGALRM})

    signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, 0.0005, 0.0005)
    for i in range(100000):
        log.info("main", i=i)
        if i % 1000 == 0:
            log.bind(i=i).debug("bound")
            micktrace.get_logger(f"main.sub{i}")
    signal.setitimer(signal.ITIMER_REAL, 0)
    micktrace.flush()
    row = next(iter(micktrace.metrics()["handlers"].values()))
    micktrace.shutdown()
    out.close()
    print(json.dumps({"fired": fired[0], "feedback_skipped": row["feedback_skipped"], "dropped": row["dropped"]}))
    """
)


@pytest.mark.parametrize(
    "mode, kind",
    [("sync", "file"), ("background", "file"), ("sync", "callable"), ("sync", "stdlib"), ("background", "stdlib")],
)
def test_a_signal_handler_that_logs_never_deadlocks_or_loses(tmp_path: Path, mode: str, kind: str) -> None:
    path = tmp_path / "out.log"
    script = tmp_path / "script.py"
    script.write_text(SCRIPT)
    proc = subprocess.run([sys.executable, str(script), mode, kind, str(path)], capture_output=True, text=True,
                          timeout=120, env={**os.environ, "PYTHONPATH": SRC})  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    summary = json.loads(proc.stdout.strip().splitlines()[-1])
    target = Path(str(path) + ".callable") if kind == "callable" else path
    lines = [json.loads(line) for line in target.read_text().splitlines()]
    mains = [line["i"] for line in lines if line["message"] == "main"]
    signals = [line for line in lines if line["message"].startswith("from signal")]
    assert mains == list(range(100000))  # every record once, in order
    assert summary["fired"] > 20, summary  # the timer did interrupt the loop
    assert len(signals) == summary["fired"]  # every signal's record, once
    assert summary["feedback_skipped"] == 0 and summary["dropped"] == 0
    assert "micktrace:" not in proc.stderr, proc.stderr[-2000:]


def test_handler_codes_see_a_handler_installed_after_the_first_look() -> None:
    """Only the list of signal numbers is kept between calls: a handler installed,
    replaced or removed later is seen at the next call (defaults and SIG_IGN are not handlers)."""
    import signal

    from micktrace._signals import handler_codes

    def first(signum: int, frame: object) -> None:
        pass

    def second(signum: int, frame: object) -> None:
        pass

    previous = signal.getsignal(signal.SIGUSR2)
    try:
        signal.signal(signal.SIGUSR2, signal.SIG_IGN)
        before = handler_codes()
        assert first.__code__ not in before
        signal.signal(signal.SIGUSR2, first)
        assert first.__code__ in handler_codes()
        signal.signal(signal.SIGUSR2, second)
        now = handler_codes()
        assert second.__code__ in now and first.__code__ not in now
    finally:
        signal.signal(signal.SIGUSR2, previous)
    assert first.__code__ not in handler_codes() and second.__code__ not in handler_codes()
