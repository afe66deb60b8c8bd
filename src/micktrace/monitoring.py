"""``metrics()`` and ``health()``: cheap snapshots for dashboards and health endpoints."""

from __future__ import annotations

import time
from typing import Any, Dict, List, Optional, Tuple

from . import _report, _state
from .dispatch import BackgroundWorker, level_counts
from .handlers.stats import count_value as _count_value
from .handlers.stats import stats_of
from .levels import level_name

#: errors or drops within this many seconds make a handler "degraded"
HEALTH_WINDOW = 60.0
#: seconds a background worker may spend on one batch before health() calls it stuck
STUCK_AFTER = 5.0


def _handler_rows() -> List[Tuple[str, Any, Optional[BackgroundWorker]]]:
    cfg = _state.config
    if cfg is None:
        return []
    workers = {id(w.handler): w for w in cfg.dispatcher.workers}
    rows = []
    seen: Dict[str, int] = {}
    for handler in cfg.handlers:
        name = handler.name
        seen[name] = seen.get(name, 0) + 1
        if seen[name] > 1:
            name = f"{name}#{seen[name]}"
        rows.append((name, handler, workers.get(id(handler))))
    return rows


def _own(handler: Any, what: str) -> Dict[str, Any]:
    """A handler's own health() or metrics() (see Handler), never raising."""
    method = getattr(handler, what, None)
    if not callable(method):
        return {}
    try:
        result = method()
    except Exception as exc:
        _report.report(f"handler {getattr(handler, 'name', '?')!r}", exc, f"failed to report its {what}")
        return {}
    return dict(result) if isinstance(result, dict) else {}


def metrics() -> Dict[str, Any]:
    """Counters since the process started (per handler: since it was created).

    ``records``: total and by level. ``handlers``: per handler ``emitted``,
    ``failed``, ``dropped``, ``retried``, ``fallback``, ``bytes_written``,
    batch sizes, write latency p50/p99 (ms, last 1,024 batches), ``dispatch``
    and, for background handlers, ``queue_depth``, ``queue_high_water`` and
    ``queue_size``. ``queue``: totals over all workers. ``internal_errors``:
    failures reported on stderr, by source.
    """
    by_level = {}
    for level, counter in sorted(level_counts.items()):
        count = _count_value(counter)
        if count:
            by_level[level_name(level)] = count
    handlers: Dict[str, Any] = {}
    depth_total = 0
    high_water = 0
    for name, handler, worker in _handler_rows():
        row = stats_of(handler).snapshot()
        own = _own(handler, "metrics")
        if own:
            # a network handler counts what reached the backend: that is "emitted"
            row["emitted"] = own.get("delivered", row["emitted"])
            row["bytes_written"] = own.get("bytes_sent", row["bytes_written"])
            row["batches"] = own.get("batches_sent", row["batches"])
            row.update(own)
        row["dispatch"] = "background" if worker is not None else "sync"
        if worker is not None:
            depth = worker.depth
            row["queue_depth"] = depth
            row["queue_high_water"] = worker.high_water
            row["queue_size"] = worker.options.queue_size
            depth_total += depth
            high_water = max(high_water, worker.high_water)
        handlers[name] = row
    return {
        "records": {"total": sum(by_level.values()), "by_level": by_level},
        "handlers": handlers,
        "queue": {"depth": depth_total, "high_water": high_water},
        "internal_errors": dict(_report.error_counts),
    }


def health() -> Dict[str, Any]:
    """Per handler ``healthy`` / ``degraded`` / ``failing``, with the last error.

    * failing: its circuit breaker is open, or its last delivery failed and
      nothing succeeded since.
    * degraded: an error, a drop or a fallback within the last ``HEALTH_WINDOW``
      seconds, or its queue is more than 80% full, or its worker has been on
      one batch for more than ``STUCK_AFTER`` seconds (a hung handler, a value
      whose ``__repr__`` takes seconds): ``stuck_for_s`` says how long.
    * healthy: otherwise.

    The overall ``status`` is the worst of the handlers'.
    """
    now = time.time()
    rank = {"healthy": 0, "degraded": 1, "failing": 2}
    overall = "healthy"
    handlers: Dict[str, Any] = {}
    for name, handler, worker in _handler_rows():
        stats = stats_of(handler)
        circuit_open = bool(stats.circuit_open_until) and time.monotonic() < stats.circuit_open_until
        last_error_time = stats.last_error_time
        recovered = last_error_time is None or stats.emitted > stats.emitted_at_error
        if not recovered:  # a network handler that delivered after its last error has recovered too
            success = getattr(handler, "last_success_time", None)
            recovered = isinstance(success, float) and last_error_time is not None and success > last_error_time
        if circuit_open or not recovered:
            status = "failing"
        elif (
            (last_error_time is not None and now - last_error_time < HEALTH_WINDOW)
            or (worker is not None and worker.depth > 0.8 * worker.options.queue_size)
            or (worker is not None and worker._drops_since_summary)
        ):
            status = "degraded"
        else:
            status = "healthy"
        stuck_for = None
        busy_since = getattr(worker, "busy_since", None) if worker is not None else None
        if busy_since is not None and time.monotonic() - busy_since > STUCK_AFTER:
            stuck_for = round(time.monotonic() - busy_since, 1)
            if status == "healthy":
                status = "degraded"
        last_error = stats.last_error
        # errors a handler survived by itself (a failed rotation or compression
        # of the file handler) lose nothing, so they never fail a delivery
        own_time = getattr(handler, "last_error_time", None)
        if isinstance(own_time, (int, float)) and (last_error_time is None or own_time > last_error_time):
            last_error_time = float(own_time)
            last_error = str(getattr(handler, "last_error", None))
            if status == "healthy" and now - last_error_time < HEALTH_WINDOW:
                status = "degraded"
        own = _own(handler, "health")
        state = own.get("state")
        if isinstance(state, str) and state != "ok":
            status = "failing" if state.startswith(("unauthorized", "circuit_open")) else max(
                status, "degraded", key=rank.__getitem__
            )
            last_error = own.get("last_error", last_error)
            circuit_open = circuit_open or state.startswith(("unauthorized", "circuit_open"))
        handlers[name] = {
            **own,
            "status": status,
            "last_error": last_error,
            "last_error_time": last_error_time,
            "circuit_open": circuit_open,
            "queue_depth": worker.depth if worker is not None else 0,
        }
        if stuck_for is not None:
            handlers[name]["stuck_for_s"] = stuck_for
        if rank[status] > rank[overall]:
            overall = status
    out: Dict[str, Any] = {"status": overall, "handlers": handlers}
    config_file = _state.config_file
    if config_file is not None:
        out["config_file"] = dict(config_file)
        if config_file.get("status") == "error" and overall == "healthy":
            out["status"] = "degraded"  # the running configuration is not the file's
    return out
