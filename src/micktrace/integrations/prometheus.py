"""micktrace's own counters as Prometheus metrics (the ``prometheus`` extra).

:func:`register` adds a collector to a ``prometheus_client`` registry; the
collector reads :func:`micktrace.metrics` and :func:`micktrace.health` when
Prometheus scrapes, so it starts no thread and adds nothing to a log call.
:func:`start_http_server` also serves the registry (127.0.0.1 by default).

Records by logger are the one thing micktrace does not count by itself: while
a collector with ``by_logger=True`` is registered, the configuration's pipeline
is wrapped in a function that counts each record under its logger's name
(see docs/prometheus.md for what that costs and which records it misses).

Imports: the standard library, micktrace's state, handlers.stats and monitoring modules, and
``prometheus_client`` lazily (:class:`micktrace.errors.MissingExtraError` when
it is missing). docs/prometheus.md lists every metric.
"""

from __future__ import annotations

import itertools
import threading
from typing import TYPE_CHECKING, Any, Callable, Dict, Iterator, List, Optional, Tuple

from .. import _state
from ..errors import MissingExtraError
from ..handlers.stats import count_value as _count_value

if TYPE_CHECKING:
    from prometheus_client.metrics_core import Metric
    from prometheus_client.registry import CollectorRegistry

    from ..record import LogRecord

__all__ = ["MicktraceCollector", "register", "start_http_server", "unregister"]

_lock = threading.Lock()
#: id(registry) -> (registry, collector): register() is idempotent per registry
_registered: Dict[int, Tuple[Any, MicktraceCollector]] = {}

#: records by logger name, counted while a by-logger collector is registered
logger_counts: Dict[str, Any] = {}
_by_logger_users = 0


def _client() -> Any:
    try:
        import prometheus_client
    except ImportError as exc:
        raise MissingExtraError("micktrace.integrations.prometheus", "prometheus", "prometheus-client") from exc
    return prometheus_client


# ---------------------------------------------------------------------------
# records by logger: a wrapper around the configuration's pipeline


def _counting(pipeline: Callable[[LogRecord], None]) -> Callable[[LogRecord], None]:
    counts = logger_counts
    get = counts.get

    def counted(record: LogRecord) -> None:
        name = record.logger_name
        counter = get(name)
        if counter is None:
            with _lock:
                counter = counts.setdefault(name, itertools.count())
        next(counter)
        pipeline(record)

    counted.__wrapped__ = pipeline  # type: ignore[attr-defined]
    return counted


def _ensure_counting() -> None:
    """Wrap the pipeline of the configuration in force, once per configuration."""
    cfg = _state.config
    if cfg is None or _by_logger_users == 0:
        return
    with _state.lock:
        if getattr(cfg.pipeline, "__wrapped__", None) is None:
            cfg.pipeline = _counting(cfg.pipeline)


def _stop_counting() -> None:
    cfg = _state.config
    if cfg is None:
        return
    with _state.lock:
        original = getattr(cfg.pipeline, "__wrapped__", None)
        if original is not None:
            cfg.pipeline = original


# ---------------------------------------------------------------------------
# the collector

#: metrics() handler row key -> (metric name, help), all counters by handler
_HANDLER_COUNTERS = (
    ("emitted", "micktrace_records_emitted", "Records a handler delivered."),
    ("dropped", "micktrace_records_dropped", "Records a handler's queue dropped (overflow policy)."),
    ("fallback", "micktrace_records_fallback", "Records sent to the fallback because the handler could not take them."),
    ("failed", "micktrace_handler_errors", "Deliveries that failed (each batch or record once, after its retries)."),
    ("retried", "micktrace_handler_retries", "Retries of a failed delivery."),
    ("bytes_written", "micktrace_handler_written_bytes", "Characters (bytes for ASCII) a handler wrote."),
    ("batches", "micktrace_handler_batches", "Writes a handler made (a sync handler writes each record on its own)."),
)

_STATUSES = ("healthy", "degraded", "failing")


class MicktraceCollector:
    """A ``prometheus_client`` collector over :func:`micktrace.metrics` and
    :func:`micktrace.health`, read at scrape time."""

    def __init__(self, by_logger: bool = True) -> None:
        self.by_logger = by_logger

    def describe(self) -> List[Metric]:
        # nothing to declare ahead: the handler labels are known only at scrape
        # time, and an empty description keeps the registry from collecting at
        # register() time
        return []

    def collect(self) -> Iterator[Metric]:
        from prometheus_client.metrics_core import CounterMetricFamily, GaugeMetricFamily

        from ..monitoring import metrics

        if self.by_logger:
            _ensure_counting()  # a configure() since the last scrape built a new pipeline
        snap = metrics()
        records = CounterMetricFamily("micktrace_records", "Records logged, by level.", labels=["level"])
        for level, count in snap["records"]["by_level"].items():
            records.add_metric([level], count)
        yield records
        if self.by_logger:
            by_logger = CounterMetricFamily(
                "micktrace_logger_records", "Records logged, by logger (counted since register()).", labels=["logger"]
            )
            for name, counter in sorted(logger_counts.items()):
                by_logger.add_metric([name], _count_value(counter))
            yield by_logger
        handlers: Dict[str, Any] = snap["handlers"]
        for key, name, doc in _HANDLER_COUNTERS:
            family = CounterMetricFamily(name, doc, labels=["handler"])
            for handler, row in handlers.items():
                family.add_metric([handler], row.get(key, 0))
            yield family
        gauges = (
            ("queue_depth", "micktrace_queue_depth", "Records waiting in a background handler's queue."),
            ("queue_high_water", "micktrace_queue_high_water", "The most records a handler's queue has held."),
            ("queue_size", "micktrace_queue_capacity", "How many records a handler's queue holds."),
        )
        for key, name, doc in gauges:
            gauge = GaugeMetricFamily(name, doc, labels=["handler"])
            for handler, row in handlers.items():
                if key in row:
                    gauge.add_metric([handler], row[key])
            yield gauge
        latency = GaugeMetricFamily(
            "micktrace_batch_latency_seconds",
            "Write latency of a handler's batches (last 1,024), at quantile 0.5 and 0.99.",
            labels=["handler", "quantile"],
        )
        for handler, row in handlers.items():
            for quantile, key in (("0.5", "write_latency_ms_p50"), ("0.99", "write_latency_ms_p99")):
                value = row.get(key)
                if value is not None:
                    latency.add_metric([handler, quantile], value / 1000.0)
        yield latency
        yield from self._health()
        internal = CounterMetricFamily(
            "micktrace_internal_errors", "Failures micktrace reported on stderr, by source.", labels=["source"]
        )
        for source, count in sorted(snap["internal_errors"].items()):
            internal.add_metric([str(source)], count)
        yield internal

    def _health(self) -> Iterator[Metric]:
        from prometheus_client.metrics_core import GaugeMetricFamily

        from ..monitoring import health

        report = health()
        healthy = GaugeMetricFamily(
            "micktrace_handler_healthy", "1 when a handler is healthy, else 0.", labels=["handler"]
        )
        status = GaugeMetricFamily(
            "micktrace_handler_status", "1 for a handler's current status (healthy, degraded, failing).",
            labels=["handler", "status"],
        )
        circuit = GaugeMetricFamily(
            "micktrace_handler_circuit_open", "1 while a handler's circuit breaker is open.", labels=["handler"]
        )
        for handler, row in report["handlers"].items():
            healthy.add_metric([handler], 1 if row["status"] == "healthy" else 0)
            for name in _STATUSES:
                status.add_metric([handler, name], 1 if row["status"] == name else 0)
            circuit.add_metric([handler], 1 if row["circuit_open"] else 0)
        yield healthy
        yield status
        yield circuit


# ---------------------------------------------------------------------------
# public functions


def register(registry: Optional[CollectorRegistry] = None, by_logger: bool = True) -> MicktraceCollector:
    """Add micktrace's collector to *registry* (``prometheus_client.REGISTRY``
    by default) and return it. A second call for the same registry returns the
    collector already there.

    *by_logger*: also count records by logger (``micktrace_logger_records_total``),
    from now on, with a small cost per record (docs/prometheus.md).
    """
    global _by_logger_users
    client = _client()
    target = client.REGISTRY if registry is None else registry
    with _lock:
        existing = _registered.get(id(target))
        if existing is not None and existing[0] is target:
            return existing[1]
        collector = MicktraceCollector(by_logger=by_logger)
        target.register(collector)
        _registered[id(target)] = (target, collector)
        if by_logger:
            _by_logger_users += 1
    _ensure_counting()
    return collector


def unregister(registry: Optional[CollectorRegistry] = None) -> None:
    """Take micktrace's collector out of *registry* again (no-op when absent);
    counting by logger stops with the last by-logger collector."""
    global _by_logger_users
    client = _client()
    target = client.REGISTRY if registry is None else registry
    with _lock:
        entry = _registered.get(id(target))
        if entry is None or entry[0] is not target:
            return
        del _registered[id(target)]
        target.unregister(entry[1])
        if entry[1].by_logger:
            _by_logger_users -= 1
        stop = _by_logger_users == 0
    if stop:
        _stop_counting()


def start_http_server(port: int, addr: str = "127.0.0.1", registry: Optional[CollectorRegistry] = None) -> Any:
    """:func:`register` on *registry*, then serve it on http://addr:port/metrics
    with ``prometheus_client.start_http_server`` (a daemon thread of its own).

    Returns what ``prometheus_client`` returns: ``(server, thread)`` from 0.17
    on, where ``server.server_port`` is the port when *port* is 0.
    """
    client = _client()
    register(registry)
    target = client.REGISTRY if registry is None else registry
    return client.start_http_server(port, addr=addr, registry=target)
