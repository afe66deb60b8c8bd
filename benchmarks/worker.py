"""Runs one scenario for one library, in its own fresh interpreter.

``run.py`` starts ``python benchmarks/worker.py '<json spec>'`` once per table
cell and reads the last stdout line that starts with ``BENCH-RESULT``. The worker
checks, after every timed run, that every record it logged is in the file (so the
flush really was inside the timing); ``run.py`` then checks the file's contents.
"""

from __future__ import annotations

import gc
import itertools
import json
import os
import sys
import threading
import time
import traceback
from typing import Any, Callable, Dict, List, Optional, Tuple

from libs import MODULES, SETUPS, Bench, NotAvailable, rss_bytes

RESULT_PREFIX = "BENCH-RESULT "
perf_counter = time.perf_counter
thread_time = time.thread_time


class OutputMismatch(Exception):
    """The file does not hold the records that were logged."""


class LineCounter:
    """Counts the lines of a file as it grows, reading only what is new."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.offset = 0
        self.lines = 0

    def count(self) -> int:
        try:
            with open(self.path, "rb") as file:
                file.seek(self.offset)
                data = file.read()
        except FileNotFoundError:
            return 0
        self.offset += len(data)
        self.lines += data.count(b"\n")
        return self.lines


def make_loop(call: str, names: Dict[str, Any], unroll: int) -> Callable[[int, Callable[[], Any]], Tuple[float, float]]:
    """A function ``loop(n, flush) -> (seconds in the calls, seconds including flush,
    CPU seconds of the calling thread in the calls)`` that runs *call* n times
    (unrolled *unroll* times per iteration, with every name a local variable)
    and then *flush*."""
    params = "".join(f", {name}" for name in names)
    body = "\n".join("        " + call for _ in range(unroll))
    source = (
        f"def _loop(_iterations, _flush, _clock, _cpu{params}):\n"
        "    _c0 = _cpu()\n"
        "    _t0 = _clock()\n"
        "    for _ in _repeat(None, _iterations):\n"
        f"{body}\n"
        "    _t1 = _clock()\n"
        "    _c1 = _cpu()\n"
        "    _flush()\n"
        "    _t2 = _clock()\n"
        "    return _t1 - _t0, _t2 - _t0, _c1 - _c0\n"
    )
    namespace: Dict[str, Any] = {"_repeat": itertools.repeat, "__name__": "bench"}
    exec(compile(source, "<benchmark loop>", "exec"), namespace)
    loop = namespace["_loop"]
    values = list(names.values())

    def run(n: int, flush: Callable[[], Any]) -> Tuple[float, float, float]:
        return loop(n // unroll, flush, perf_counter, thread_time, *values)  # type: ignore[no-any-return]

    return run


def _nothing() -> None:
    return None


def call_with_timeout(fn: Callable[[], Any], timeout: float) -> bool:
    """Run *fn* in a daemon thread; False if it has not returned after *timeout* s."""
    errors: List[BaseException] = []

    def target() -> None:
        try:
            fn()
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(timeout)
    if thread.is_alive():
        return False
    if errors:
        raise errors[0]
    return True


class PeakSampler:
    """Samples RSS every few milliseconds in a thread; ``stop()`` returns the peak."""

    def __init__(self, interval: float = 0.005) -> None:
        self.interval = interval
        self.peak = rss_bytes()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.peak = max(self.peak, rss_bytes())

    def stop(self) -> int:
        self._stop.set()
        self._thread.join()
        return max(self.peak, rss_bytes())


def _version(lib: str) -> Optional[str]:
    from importlib import metadata

    dist = {"stdlib": None, "floor": "orjson"}.get(lib, lib)
    if dist is None:
        return sys.version.split()[0]
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


class Run:
    """Shared state of one worker: the library set up for one kind, and its file."""

    def __init__(self, spec: Dict[str, Any], kind: str, opts: Optional[Dict[str, Any]] = None) -> None:
        self.spec = spec
        self.path = os.path.join(spec["dir"], f"{spec['lib']}-{spec['id']}.log")
        if os.path.exists(self.path):
            os.remove(self.path)
        options = dict(spec.get("opts") or {})
        options.update(opts or {})
        self.bench: Bench = SETUPS[spec["lib"]](kind, self.path, options)
        self.counter = LineCounter(self.path)
        self.expected = 0

    def check(self, added: int) -> None:
        self.expected += added
        got = self.counter.count()
        if got != self.expected:
            raise OutputMismatch(f"{got} lines in the file after flush, expected {self.expected}")

    def result(self, **values: Any) -> Dict[str, Any]:
        out: Dict[str, Any] = {"status": "ok", "path": self.path, "expected_lines": self.expected}
        out.update(values)
        return out


def mode_percall(spec: Dict[str, Any]) -> Dict[str, Any]:
    """Time per call: best of *repeats* runs of n calls, each ending with the flush."""
    kind = spec["kind"]
    run = Run(spec, kind)
    bench = run.bench
    unroll = spec.get("unroll", 10)
    per_line = 0 if kind.startswith("disabled") else 1
    loop = make_loop(bench.call, bench.names, unroll)
    empty = make_loop("pass", {}, unroll)

    def timed(n: int) -> Tuple[float, float, float]:
        gc.collect()
        result = loop(n, bench.flush)
        run.check(n * per_line)
        return result

    timed(spec.get("warmup", 200))
    n = spec.get("n")
    if not n:  # calibrate: one run should take about target_time seconds
        n = unroll * 20
        while True:
            _calls, total, _cpu = timed(n)
            if total >= 0.01 or n >= spec.get("max_n", 5_000_000):
                break
            n *= 4
        per_call = max(total / n, 1e-9)
        n = int(spec["target_time"] / per_call)
    n = max(unroll, min(int(n), spec.get("max_n", 5_000_000)) // unroll * unroll)
    samples = [timed(n) for _ in range(spec.get("repeats", 5))]
    empties = [empty(n, _nothing) for _ in range(max(3, spec.get("repeats", 5)))]
    loop_seconds = min(e[1] for e in empties)
    loop_cpu = min(e[2] for e in empties)
    if bench.check_call and per_line == 0:  # the disabled logger still writes when enabled
        exec(bench.check_call, {}, dict(bench.names))
        bench.flush()
        run.check(1)
    calls = sorted(s[0] for s in samples)
    totals = sorted(s[1] for s in samples)
    cpus = sorted(s[2] for s in samples)
    overhead = loop_seconds / n
    return run.result(
        n=n,
        repeats=len(samples),
        loop_overhead_ns=overhead * 1e9,
        calls_ns=(calls[0] / n - overhead) * 1e9,
        # the calling thread's own CPU time in the calls: what the application
        # thread spends, without the time a background thread held the GIL
        calls_cpu_ns=(cpus[0] - loop_cpu) / n * 1e9,
        total_ns=(totals[0] / n - overhead) * 1e9,
        median_total_ns=(totals[len(totals) // 2] / n - overhead) * 1e9,
        samples_total_s=[s[1] for s in samples],
        samples_calls_s=[s[0] for s in samples],
        samples_calls_cpu_s=[s[2] for s in samples],
    )


def mode_threads(spec: Dict[str, Any]) -> Dict[str, Any]:
    """Records per second from T threads logging N records in all, flush included."""
    run = Run(spec, "json")
    bench = run.bench
    loop = make_loop(bench.call, bench.names, 10)
    loop(200, bench.flush)
    run.check(200)
    threads = spec["threads"]
    per_thread = spec["total"] // threads // 10 * 10
    barrier = threading.Barrier(threads + 1)
    errors: List[str] = []

    def work() -> None:
        try:
            barrier.wait()
            loop(per_thread, _nothing)
        except BaseException:
            errors.append(traceback.format_exc())

    workers = [threading.Thread(target=work, daemon=True) for _ in range(threads)]
    for thread in workers:
        thread.start()
    gc.collect()
    barrier.wait()
    start = perf_counter()
    deadline = start + spec["timeout"]
    for thread in workers:
        thread.join(max(0.0, deadline - perf_counter()))
    stuck = any(t.is_alive() for t in workers)
    if not stuck:
        stuck = not call_with_timeout(bench.flush, max(1.0, deadline - perf_counter()))
    if stuck:
        before = run.counter.count()
        time.sleep(1.0)
        progressing = run.counter.count() != before
        return {
            "status": "timeout" if progressing else "deadlock",
            "reason": f"not done after {spec['timeout']:.0f} s; {run.counter.lines} lines written, "
            + ("still writing" if progressing else "no progress for 1 s"),
        }
    elapsed = perf_counter() - start
    if errors:
        raise RuntimeError(errors[0])
    run.check(per_thread * threads)
    return run.result(records=per_thread * threads, seconds=elapsed, records_per_s=per_thread * threads / elapsed)


def mode_rss(spec: Dict[str, Any]) -> Dict[str, Any]:
    """RSS growth (peak and at the end) while N records are logged and flushed."""
    run = Run(spec, "json")
    bench = run.bench
    loop = make_loop(bench.call, bench.names, 10)
    loop(1000, bench.flush)
    run.check(1000)
    gc.collect()
    before = rss_bytes()
    sampler = PeakSampler()
    loop(spec["n"], bench.flush)
    after = rss_bytes()
    peak = sampler.stop()
    run.check(spec["n"])
    mib = 1024.0 * 1024.0
    return run.result(peak_growth_mib=(peak - before) / mib, end_growth_mib=(after - before) / mib, records=spec["n"])


def mode_stalled(spec: Dict[str, Any]) -> Dict[str, Any]:
    """RSS growth while N records are logged to a background handler that is stuck."""
    gate = threading.Event()
    gate.set()
    run = Run(spec, "stalled", {"gate": gate})
    bench = run.bench
    loop = make_loop(bench.call, bench.names, 10)
    loop(1000, bench.flush)
    run.check(1000)
    gate.clear()
    gc.collect()
    before = rss_bytes()
    sampler = PeakSampler()
    n = spec["n"]
    caller = threading.Thread(target=loop, args=(n, _nothing), daemon=True)
    start = perf_counter()
    caller.start()
    caller.join(spec["wait"])
    blocked = caller.is_alive()
    caller_seconds = perf_counter() - start
    peak = sampler.stop()
    gate.set()
    caller.join(60)
    if caller.is_alive() or not call_with_timeout(bench.flush, 60):
        return {"status": "deadlock", "reason": "did not recover within 60 s after the handler resumed"}
    written = run.counter.count() - 1000
    mib = 1024.0 * 1024.0
    return {
        "status": "ok",
        "path": run.path,
        # a dropping queue may add one summary record; nothing else may appear
        "min_lines": 1001,
        "max_lines": 1000 + n + 1,
        "check_lines": ["first"],
        "peak_growth_mib": (peak - before) / mib,
        "caller_blocked": blocked,
        "caller_seconds": caller_seconds,
        "records": n,
        "written": written,
        "dropped": max(0, n - written),
    }


MODES = {"percall": mode_percall, "threads": mode_threads, "rss": mode_rss, "stalled": mode_stalled}


def main() -> None:
    spec = json.loads(sys.argv[1])
    try:
        result = MODES[spec["mode"]](spec)
    except NotAvailable as exc:
        result = {"status": "n/a", "reason": str(exc)}
    except OutputMismatch as exc:
        result = {"status": "error", "reason": f"output check failed: {exc}"}
    except Exception:
        result = {"status": "error", "reason": traceback.format_exc()[-3000:]}
    result["version"] = _version(spec["lib"])
    module = sys.modules.get(MODULES.get(spec["lib"], ""))
    result["module_file"] = getattr(module, "__file__", None)
    sys.stdout.write(RESULT_PREFIX + json.dumps(result) + "\n")
    sys.stdout.flush()
    sys.stderr.flush()
    # leave at once: a deadlocked library's threads must not hold the exit, and
    # everything timed has been flushed and checked already
    os._exit(0)


if __name__ == "__main__":
    main()
