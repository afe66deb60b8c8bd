"""Reporting micktrace's own failures without ever raising into the application.

A failing handler, formatter or processor is reported on stderr at most once per
source per ``INTERVAL`` seconds (with a count of what was suppressed since), and
counted. The report itself can fail (stderr closed): that is swallowed.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from typing import Dict, Optional, Tuple

INTERVAL = 60.0

# reentrant: a signal handler may log (and fail) while this thread holds it
_lock = threading.RLock()
_last: Dict[str, Tuple[float, int]] = {}  # source -> (time of last report, suppressed since)
error_counts: Dict[str, int] = {}


def report(source: str, exc: Optional[BaseException], what: str = "failed") -> None:
    """Count a failure of *source*; print it unless one was printed within INTERVAL."""
    now = time.monotonic()
    with _lock:
        error_counts[source] = error_counts.get(source, 0) + 1
        last, suppressed = _last.get(source, (-INTERVAL * 2, 0))
        if now - last < INTERVAL:
            _last[source] = (last, suppressed + 1)
            return
        _last[source] = (now, 0)
    detail = f": {type(exc).__name__}: {exc}" if exc is not None else ""
    more = f" ({suppressed} similar errors suppressed)" if suppressed else ""
    message = f"micktrace: {source} {what}{detail}{more}\n"
    try:
        stream = sys.stderr or sys.__stderr__
        if stream is not None:
            stream.write(message)
            stream.flush()
    except Exception:
        pass


def _after_fork_in_child() -> None:
    # a parent thread may have held the lock at the fork
    global _lock
    _lock = threading.RLock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


def reset() -> None:
    """Forget past reports (for tests)."""
    with _lock:
        _last.clear()
        error_counts.clear()
