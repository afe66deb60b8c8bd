"""The handler conformance kit: one table of behaviours every handler must show.

Holds :func:`check_handler` (re-exported as ``micktrace.testing.check_handler``)
and :class:`ConformanceReport`. In the spirit of Go's ``testing/slogtest``: a
handler author passes a factory and a way to read back what the handler
delivered, and the kit runs each case through the real public API
(``configure``, loggers, ``flush``, ``metrics``, ``health``, ``fork``):

=====================  ================================================================
case                   what must hold
=====================  ================================================================
arrive_once_in_order   N records arrive, each exactly once, in the order logged
levels_and_fields      every level's name and every field's value arrive intact
masked_stays_masked    a secret masked by micktrace never reaches the destination
flush_close_idempotent ``flush()`` and ``close()`` may be called twice, never raise
failure_not_raised     a failing destination or a hostile value never raises into the
                       caller; the failure is counted and ``health()`` says so
metrics_true           ``metrics()`` counts what was delivered: ``emitted``, at least one
                       and at most one batch per record, and (unless the handler's
                       ``counts_written`` is False) ``bytes_written`` covering the text
threads                records logged from several threads all arrive, each thread's
                       in order
fork                   a forked child's records arrive once; the parent's are not
                       written again by the child
=====================  ================================================================

May import: the public API (config, dispatch, logger, monitoring) and the layers below.
"""

from __future__ import annotations

import json
import os
import threading
import time
import uuid
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

from .config import configure
from .dispatch import flush, shutdown
from .logger import get_logger
from .monitoring import health, metrics

#: (name, what it checks) in the order the cases run
CASES: Tuple[Tuple[str, str], ...] = (
    ("arrive_once_in_order", "records arrive once, in order"),
    ("levels_and_fields", "levels and fields arrive intact"),
    ("masked_stays_masked", "masked values stay masked"),
    ("flush_close_idempotent", "flush() and close() are idempotent"),
    ("failure_not_raised", "a failure is counted and reported, never raised"),
    ("metrics_true", "metrics() counts what was delivered"),
    ("threads", "safe across threads"),
    ("fork", "safe after fork"),
)

ReadBack = Callable[[], Sequence[Dict[str, Any]]]
SECRET = "hunter2-conformance-secret"


class ConformanceReport:
    """What :func:`check_handler` found: ``passed``, ``failed`` (name -> why) and
    ``skipped`` (name -> why). ``ok`` is True when nothing failed."""

    def __init__(self) -> None:
        self.passed: List[str] = []
        self.failed: Dict[str, str] = {}
        self.skipped: Dict[str, str] = {}

    @property
    def ok(self) -> bool:
        return not self.failed

    def __str__(self) -> str:
        lines = [f"PASS {name}" for name in self.passed]
        lines += [f"FAIL {name}: {why}" for name, why in self.failed.items()]
        lines += [f"SKIP {name}: {why}" for name, why in self.skipped.items()]
        return "\n".join(lines)


class _CaseFailed(AssertionError):
    pass


def _expect(condition: bool, message: str) -> None:
    if not condition:
        raise _CaseFailed(message)


def _field(line: Dict[str, Any], key: str) -> Any:
    """A field of a read-back record, wherever the destination put it."""
    if key in line:
        return line[key]
    for nest in ("fields", "data", "attributes", "extra", "jsonPayload", "context", "labels"):
        inner = line.get(nest)
        if isinstance(inner, dict) and key in inner:
            return inner[key]
    return None


def _run_lines(read_back: ReadBack, run: str) -> List[Dict[str, Any]]:
    return [line for line in read_back() if str(_field(line, "conformance_run")) == run]


def _wait_lines(read_back: ReadBack, run: str, count: int, timeout: float) -> List[Dict[str, Any]]:
    deadline = time.monotonic() + timeout
    lines = _run_lines(read_back, run)
    while len(lines) < count and time.monotonic() < deadline:
        time.sleep(0.05)
        lines = _run_lines(read_back, run)
    return lines


def _seq(line: Dict[str, Any]) -> int:
    return int(_field(line, "seq"))


class _Hostile:
    def __str__(self) -> str:
        raise RuntimeError("__str__ refuses")

    def __repr__(self) -> str:
        raise RuntimeError("__repr__ refuses")


def _handler_row(name: str) -> Dict[str, Any]:
    rows: Dict[str, Any] = metrics()["handlers"]
    return dict(rows.get(name) or next(iter(rows.values()), {}))


def check_handler(
    make_handler: Callable[[], Any],
    read_back: Optional[ReadBack] = None,
    *,
    break_handler: Optional[Callable[[Any], None]] = None,
    records: int = 200,
    threads: int = 4,
    fork: bool = True,
    timeout: float = 20.0,
    raise_on_failure: bool = True,
) -> ConformanceReport:
    """Run the conformance table against the handler made by *make_handler*.

    Args:
        make_handler: returns a fresh handler (a Handler, a spec dict, anything
            ``configure(handlers=[...])`` takes) for each case.
        read_back: returns every record the destination holds so far, as dicts
            (a parsed JSON line, a document read back from the server...). Fields
            may sit at the top level or under ``fields``/``attributes``/... Without
            it the delivery cases are skipped.
        break_handler: called with the configured handler to make its destination
            fail from then on (stop the server, make the file unwritable...).
            Without it ``failure_not_raised`` checks hostile values only.
        records, threads: sizes of the cases.
        fork: run the fork case (POSIX only).
        timeout: seconds to wait for records to arrive.
        raise_on_failure: raise AssertionError listing the failed cases.
    """
    report = ConformanceReport()
    cases: Dict[str, Callable[[], None]] = {}

    def start() -> Tuple[Any, str, Any]:
        run = uuid.uuid4().hex
        handler = make_handler()
        config = configure(reset=True, level="TRACE", handlers=[handler])
        built = config.handlers[0]
        return built, run, get_logger("conformance").bind(conformance_run=run)

    def arrive_once_in_order() -> None:
        assert read_back is not None
        _built, run, log = start()
        for i in range(records):
            log.info("conformance record", seq=i)
        flush(timeout)
        lines = _wait_lines(read_back, run, records, timeout)
        seqs = [_seq(line) for line in lines]
        _expect(sorted(seqs) == list(range(records)), f"expected seq 0..{records - 1} once each, got {len(seqs)}")
        _expect(seqs == list(range(records)), "records arrived out of order")

    def levels_and_fields() -> None:
        assert read_back is not None
        _built, run, log = start()
        values = {"an_int": 42, "a_float": 2.5, "a_bool": True, "a_str": "héllo \"q\"", "a_none": None}
        names = ("trace", "debug", "info", "warning", "error", "critical")
        for seq, name in enumerate(names):
            getattr(log, name)(f"level {name}", seq=seq, **values)
        flush(timeout)
        lines = _wait_lines(read_back, run, len(names), timeout)
        _expect(len(lines) == len(names), f"expected {len(names)} records, got {len(lines)}")
        for line in sorted(lines, key=_seq):
            name = names[_seq(line)]
            text = json.dumps(line, default=str).upper()
            _expect(name.upper() in text, f"level {name.upper()} missing from {line}")
            for key, value in values.items():
                got = _field(line, key)
                _expect(got == value or str(got) == str(value), f"field {key}: sent {value!r}, got {got!r}")

    def masked_stays_masked() -> None:
        assert read_back is not None
        _built, run, log = start()
        log.info(f"login password={SECRET}", seq=0, password=SECRET, nested={"api_key": SECRET})
        flush(timeout)
        lines = _wait_lines(read_back, run, 1, timeout)
        _expect(len(lines) == 1, f"expected 1 record, got {len(lines)}")
        _expect(SECRET not in json.dumps(lines, default=str), "a masked secret reached the destination")

    def flush_close_idempotent() -> None:
        built, _run, log = start()
        log.info("before flush", seq=0)
        flush(timeout)
        built.flush()
        built.flush()
        shutdown(timeout)
        built.close()
        built.close()

    def failure_not_raised() -> None:
        built, _run, log = start()
        try:
            log.info("hostile value", seq=0, value=_Hostile())
            log.info("hostile message %s", _Hostile(), seq=1)
        except Exception as exc:
            raise _CaseFailed(f"a hostile value raised into the caller: {exc!r}") from exc
        flush(timeout)
        if break_handler is None:
            return
        break_handler(built)
        try:
            for i in range(20):
                log.error("destination broken", seq=i)
        except Exception as exc:
            raise _CaseFailed(f"a failing destination raised into the caller: {exc!r}") from exc
        flush(timeout)
        deadline = time.monotonic() + timeout
        row = _handler_row(built.name)
        while time.monotonic() < deadline and not (row.get("failed") or row.get("fallback") or row.get("dropped")):
            time.sleep(0.05)
            row = _handler_row(built.name)
        _expect(bool(row.get("failed") or row.get("fallback") or row.get("dropped")), f"failure not counted: {row}")
        status = health()["status"]
        _expect(status != "healthy", f"health() says {status!r} while the destination fails")

    def metrics_true() -> None:
        assert read_back is not None
        built, run, log = start()
        for i in range(records):
            log.info("counted", seq=i)
        flush(timeout)
        _wait_lines(read_back, run, records, timeout)
        row = _handler_row(built.name)
        _expect(row.get("emitted") == records, f"metrics() says emitted={row.get('emitted')}, delivered {records}")
        _expect(not row.get("dropped") and not row.get("fallback"), f"nothing failed, but metrics() says {row}")
        batches = row.get("batches") or 0
        _expect(1 <= batches <= records, f"{records} records delivered, but metrics() says batches={batches}")
        if getattr(built, "counts_written", True):
            # every record is at least its message and a line end
            least = records * (len("counted") + 1)
            written = row.get("bytes_written") or 0
            _expect(written >= least, f"{records} records delivered, but metrics() says bytes_written={written}")

    def in_threads() -> None:
        assert read_back is not None
        _built, run, log = start()
        per_thread = max(1, records // threads)

        def work(t: int) -> None:
            for i in range(per_thread):
                log.info("threaded", seq=t * per_thread + i, thread_no=t)

        workers = [threading.Thread(target=work, args=(t,)) for t in range(threads)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
        flush(timeout)
        total = per_thread * threads
        lines = _wait_lines(read_back, run, total, timeout)
        seqs = [_seq(line) for line in lines]
        _expect(sorted(seqs) == list(range(total)), f"expected {total} records once each, got {len(seqs)}")
        for t in range(threads):
            mine = [s for s in seqs if t * per_thread <= s < (t + 1) * per_thread]
            _expect(mine == sorted(mine), f"thread {t}'s records arrived out of order")

    def after_fork() -> None:
        assert read_back is not None
        _built, run, log = start()
        log.info("parent before fork", seq=0)
        flush(timeout)
        pid = os.fork()
        if pid == 0:  # the child: log, deliver, leave without running the parent's cleanup
            status = 0
            try:
                for i in range(1, 11):
                    log.info("child", seq=i)
                status = 0 if flush(timeout) else 3
            except BaseException:
                status = 4
            finally:
                os._exit(status)
        _, status = os.waitpid(pid, 0)
        _expect(os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0, f"the child failed (status {status})")
        log.info("parent after fork", seq=11)
        flush(timeout)
        lines = _wait_lines(read_back, run, 12, timeout)
        seqs = sorted(_seq(line) for line in lines)
        _expect(seqs == list(range(12)), f"expected seq 0..11 once each after the fork, got {seqs}")

    cases = {
        "arrive_once_in_order": arrive_once_in_order,
        "levels_and_fields": levels_and_fields,
        "masked_stays_masked": masked_stays_masked,
        "flush_close_idempotent": flush_close_idempotent,
        "failure_not_raised": failure_not_raised,
        "metrics_true": metrics_true,
        "threads": in_threads,
        "fork": after_fork,
    }
    needs_read_back = {"arrive_once_in_order", "levels_and_fields", "masked_stays_masked", "metrics_true"}
    needs_read_back |= {"threads", "fork"}
    for name, _what in CASES:
        if name in needs_read_back and read_back is None:
            report.skipped[name] = "no read_back given"
            continue
        if name == "fork" and (not fork or not hasattr(os, "fork")):
            report.skipped[name] = "fork not available or not asked for"
            continue
        try:
            cases[name]()
        except _CaseFailed as exc:
            report.failed[name] = str(exc)
        except Exception as exc:
            report.failed[name] = f"{type(exc).__name__}: {exc}"
        else:
            report.passed.append(name)
        finally:
            try:
                shutdown(timeout)
            except Exception:
                pass
    configure(reset=True)
    if raise_on_failure and report.failed:
        raise AssertionError("handler conformance failed:\n" + str(report))
    return report
