"""What micktrace's zero-config stdlib forwarding costs per call (ns).

Each case runs in a fresh interpreter, since whether ``logging`` is imported and
configured is part of the case. Run against any checkout to compare:

    PYTHONPATH=src python benchmarks/stdlib_zero_config.py
    PYTHONPATH=/path/to/other/src python benchmarks/stdlib_zero_config.py

Cases (a library logging with micktrace, the application never calls configure()):

* ``disabled_no_logging``: ``debug()`` below the INFO default, ``logging`` never imported.
* ``disabled_logging_unconfigured``: the same with ``logging`` imported, no handler on the root.
* ``debug_stdlib_at_info``: stdlib configured at INFO, so ``debug()`` is dropped (by stdlib's level).
* ``info_forwarded``: ``info()`` forwarded to a stdlib handler that formats the record
  (with ``%(filename)s:%(lineno)d %(funcName)s``) and writes nothing.
* ``debug_forwarded``: ``debug()`` forwarded, stdlib configured at DEBUG.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

CASE = r"""
import sys, time
setup, call, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
if setup != "none":
    import logging
    if setup != "import":
        class Format(logging.Handler):  # formats, writes nothing: the forwarding is what is timed
            def emit(self, record):
                self.format(record)
        handler = Format()
        handler.setFormatter(logging.Formatter("%(levelname)s %(filename)s:%(lineno)d %(funcName)s %(message)s"))
        logging.basicConfig(level=getattr(logging, setup), handlers=[handler])
import micktrace
log = micktrace.get_logger("bench")
method = getattr(log, call)
best = float("inf")
for _ in range(200):  # the minimum of many short runs: a loaded machine deschedules, it never speeds up
    start = time.perf_counter_ns()
    for _ in range(n):
        method("User login", user_id=1)
    best = min(best, (time.perf_counter_ns() - start) / n)
print(best)
"""

CASES = (
    ("disabled_no_logging", "none", "debug", 2000),
    ("disabled_logging_unconfigured", "import", "debug", 2000),
    ("debug_stdlib_at_info", "INFO", "debug", 2000),
    ("info_forwarded", "INFO", "info", 200),
    ("debug_forwarded", "DEBUG", "debug", 200),
)


def main() -> None:
    env = dict(os.environ)
    for name in ("MICKTRACE_LEVEL", "MICKTRACE_FORMAT", "MICKTRACE_ENV"):
        env.pop(name, None)
    results = {}
    for name, setup, call, n in CASES:
        out = subprocess.run(
            [sys.executable, "-c", CASE, setup, call, str(n)], capture_output=True, text=True, env=env, check=True
        )
        results[name] = round(float(out.stdout), 1)
        print(f"{name:32} {results[name]:>10.1f} ns/call", flush=True)
    if "--json" in sys.argv:
        print(json.dumps(results))


if __name__ == "__main__":
    main()
