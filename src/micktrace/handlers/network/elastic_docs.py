"""The documents the ``elasticsearch`` handler writes, and its bulk-API helpers.

Holds :func:`ecs_document` (one record laid out with Elastic Common Schema
field names), :func:`plain_document` (micktrace's JSON layout with
``@timestamp``), :class:`IndexNamer` (a strftime index pattern evaluated per
record from its UTC timestamp, cached per second), :func:`host_url` (a host
as the user wrote it, as a base URL) and :func:`bulk_outcome` (a ``_bulk``
response as a :class:`~micktrace.handlers.network.batching.BatchResult`).

ECS layout (https://www.elastic.co/guide/en/ecs/current/): ``@timestamp``,
``log.level`` (the level name in lower case), ``log.logger``, ``message``,
``service.name``/``version``/``environment`` (from ``configure(service=...,
version=..., environment=...)``), ``trace.id``/``span.id`` (from the
``trace_id``/``span_id`` fields or context), ``error.type``/``message``/
``stack_trace``, ``process.pid``, ``process.thread.id``, ``host.hostname``,
``log.origin`` (when caller info is on) and ``ecs.version``. The record's
own fields and context go at the top level under their own names (as
``ecs-logging`` does), except a name that is one of the ECS objects written
here (``log``, ``service``, ``host``...): that one goes under ``labels`` so it
cannot clash with the ECS mapping.

May import: serialize, levels, record, handlers.network.batching, errors.
"""

from __future__ import annotations

import time
import urllib.parse
from typing import TYPE_CHECKING, Any, Dict, List, Optional, Tuple

from ...errors import ConfigError
from ...levels import LEVEL_NAMES, level_name
from ...serialize import iso_utc_ns
from .batching import BatchResult

if TYPE_CHECKING:
    from ...record import LogRecord

ECS_VERSION = "8.11.0"
#: top-level names the ECS layout writes itself: a user field with one of these names goes under ``labels``
ECS_OWN = frozenset(
    ("@timestamp", "log", "message", "service", "trace", "span", "error", "process", "host", "ecs", "labels")
)
_SERVICE_KEYS = (("service", "name"), ("version", "version"), ("environment", "environment"))
#: per-item statuses worth sending again: throttled (429) or a failure on the cluster's side
_RETRY_ITEM = frozenset({429})
_BAD_INDEX_CHARS = frozenset('\\/*?"<>| ,#:')


def _level(record: LogRecord) -> str:
    return LEVEL_NAMES.get(record.level) or level_name(record.level)


def ecs_document(record: LogRecord, hostname: str) -> Dict[str, Any]:
    """*record* with Elastic Common Schema field names (see the module docstring)."""
    log: Dict[str, Any] = {"level": _level(record).lower(), "logger": record.logger_name}
    doc: Dict[str, Any] = {
        "@timestamp": iso_utc_ns(record.time_ns),
        "log": log,
        "message": record.message,
    }
    static = record.static
    fields: Dict[str, Any] = {}
    if static:
        service: Dict[str, Any] = {}
        for key, ecs_key in _SERVICE_KEYS:
            if key in static and static[key] is not None:
                service[ecs_key] = static[key]
        if service:
            doc["service"] = service
        if len(service) != len(static):
            fields.update((k, v) for k, v in static.items() if k not in ("service", "version", "environment"))
    if record.context:
        fields.update(record.context)
    fields.update(record.data)
    trace_id = fields.pop("trace_id", None)
    span_id = fields.pop("span_id", None)
    if trace_id is not None:
        doc["trace"] = {"id": str(trace_id)}
    if span_id is not None:
        doc["span"] = {"id": str(span_id)}
    exc = record.exception
    if exc is not None:
        doc["error"] = {
            "type": exc.get("type"),
            "message": exc.get("message"),
            "stack_trace": exc.get("traceback"),
        }
    if record.filename is not None:
        log["origin"] = {"file": {"name": record.filename, "line": record.lineno}, "function": record.func_name}
    doc["process"] = {"pid": record.process_id, "thread": {"id": record.thread_id}}
    doc["host"] = {"hostname": hostname}
    doc["ecs"] = {"version": ECS_VERSION}
    labels: Optional[Dict[str, Any]] = None
    for key, value in fields.items():
        if key in ECS_OWN:
            if labels is None:
                labels = {}
            labels[key] = value
        else:
            doc[key] = value
    if record.stack_info:
        if labels is None:
            labels = {}
        labels["stack"] = record.stack_info
    if labels is not None:
        doc["labels"] = labels
    return doc


def plain_document(record: LogRecord) -> Dict[str, Any]:
    """*record* as micktrace's JSON formatter lays it out, ``timestamp`` written as ``@timestamp``."""
    from ...formatters.json import record_dict

    out = record_dict(record)
    doc: Dict[str, Any] = {"@timestamp": out.pop("timestamp")}
    doc.update(out)
    return doc


class IndexNamer:
    """The index of a record: *pattern* through ``time.strftime`` at the record's
    UTC time (``logs-%Y.%m.%d``), computed once per second of timestamps."""

    def __init__(self, pattern: str) -> None:
        if not isinstance(pattern, str) or not pattern:
            raise ConfigError("index", pattern, "an index name or a strftime pattern such as 'logs-%Y.%m.%d'")
        self.pattern = pattern
        self.constant = "%" not in pattern
        self._cache = (-1, pattern)  # (second, name): one tuple, so threads never see a torn pair
        try:
            sample = time.strftime(pattern, time.gmtime()) if not self.constant else pattern
        except ValueError:
            raise ConfigError("index", pattern, "a valid strftime pattern") from None
        if (
            not sample
            or sample != sample.lower()
            or sample[0] in "-_+"
            or sample in (".", "..")
            or any(c in _BAD_INDEX_CHARS for c in sample)
            or len(sample.encode()) > 255
        ):
            allowed = 'a lower-case index name without spaces or \\/*?"<>|,#:'
            raise ConfigError("index", pattern, f"{allowed} (it gave {sample!r})")

    def __call__(self, time_ns: int) -> str:
        if self.constant:
            return self.pattern
        second = time_ns // 1_000_000_000
        cached, name = self._cache
        if second != cached:
            name = time.strftime(self.pattern, time.gmtime(second))
            self._cache = (second, name)
        return name


def host_url(host: Any) -> Tuple[str, Optional[str], Optional[str]]:
    """``(base URL, username, password)`` of a host as written: ``"localhost:9200"``
    (http, port 9200 by default), ``"https://es.example:443"``, ``"http://u:p@h:9200/prefix"``."""
    text = str(host).strip() if isinstance(host, str) else ""
    if not text:
        raise ConfigError("hosts", host, "a URL such as 'http://127.0.0.1:9200' or a list of them")
    bare = "://" not in text
    if bare:
        text = "http://" + text
    parts = urllib.parse.urlsplit(text)
    try:
        port = parts.port
    except ValueError:
        raise ConfigError("hosts", host, "a URL with a numeric port") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError("hosts", host, "an http:// or https:// URL, or host:port")
    if port is None:
        port = 9200 if bare else (443 if parts.scheme == "https" else 80)
    hostname = parts.hostname if ":" not in parts.hostname else f"[{parts.hostname}]"
    url = f"{parts.scheme}://{hostname}:{port}{parts.path.rstrip('/')}"
    user = urllib.parse.unquote(parts.username) if parts.username else None
    password = urllib.parse.unquote(parts.password) if parts.password else None
    return url, user, password


def _item_reason(error: Any) -> str:
    if isinstance(error, dict):
        text = f"{error.get('type', 'error')}: {error.get('reason', '')}"
        cause = error.get("caused_by")
        if isinstance(cause, dict) and cause.get("reason"):
            text += f" (caused by {cause.get('type', '')}: {cause.get('reason')})"
        return text[:1000]
    return str(error)[:1000]


def bulk_outcome(response: Any, count: int) -> Optional[BatchResult]:
    """The :class:`BatchResult` of a ``_bulk`` response for *count* operations
    (None when every item succeeded). Items throttled (429) or failed on the
    cluster's side (5xx) are retried; any other failed item is rejected with
    the cluster's reason."""
    if not isinstance(response, dict):
        raise ValueError(f"not a bulk response: {str(response)[:200]!r}")
    if not response.get("errors"):
        return None
    items = response.get("items")
    if not isinstance(items, list):
        raise ValueError("a bulk response with errors but no items")
    retry: List[int] = []
    rejected: List[Tuple[int, str]] = []
    for i, entry in enumerate(items[:count]):
        result: Any = next(iter(entry.values()), {}) if isinstance(entry, dict) and entry else {}
        status = result.get("status", 200) if isinstance(result, dict) else 200
        if not isinstance(status, int) or 200 <= status < 300:
            continue
        if status in _RETRY_ITEM or status >= 500:
            retry.append(i)
        else:
            rejected.append((i, f"HTTP {status} {_item_reason(result.get('error'))}"))
    if len(items) < count:  # the cluster answered for fewer operations than it was sent: send the rest again
        retry.extend(range(len(items), count))
    if not retry and not rejected:
        return None
    return BatchResult(retry=retry, rejected=rejected)
