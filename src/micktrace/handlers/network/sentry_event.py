"""A micktrace record as a Sentry event, breadcrumbs, and Sentry's rate-limit header.

Holds :func:`sentry_level`, :class:`EventBuilder` (the event payload of a
record: ``logentry``, ``level``, ``logger``, ``timestamp``, ``server_name``,
``environment``/``release``, the context and static fields as ``tags``, the
record's own fields as ``extra``, the exception chain as ``exception.values``
with ``stacktrace.frames``, ``contexts.trace`` from the record's trace ids,
the caller in ``contexts.micktrace``, and the breadcrumbs given),
:class:`Breadcrumbs` (records kept per thread, bounded, until that thread's
next event takes them) and :func:`rate_limit_seconds` (the wait
``X-Sentry-Rate-Limits`` asks of error events).

The event follows Sentry's event payload documentation (develop.sentry.dev,
"Event Payloads"); the exception is built from ``record.exception``, the view
masking has already cleaned, never from the live exception.

May import: handlers.network.
"""

from __future__ import annotations

import collections
import linecache
import threading
import uuid
from typing import TYPE_CHECKING, Any, Deque, Dict, List, Optional, Tuple

from .datadog import status_of
from .intake import secret_from

if TYPE_CHECKING:
    from ...record import LogRecord

#: Sentry's tag limits (develop.sentry.dev, "Event Payloads: tags"): key 32, value 200 characters
TAG_KEY_MAX = 32
TAG_VALUE_MAX = 200
#: rate-limit categories that cover error events (develop.sentry.dev, "Rate Limiting"; empty = all)
EVENT_CATEGORIES = frozenset({"", "error", "default"})
_HEX = frozenset("0123456789abcdefABCDEF")


def sentry_level(level: int) -> str:
    """Sentry's level for a micktrace level: Datadog's status names, but CRITICAL is ``fatal``."""
    status = status_of(level)
    return "fatal" if status == "critical" else status


def _hex_id(value: Any, digits: int) -> Optional[str]:
    text = str(value) if value is not None else ""
    if len(text) != digits or not _HEX.issuperset(text) or not text.strip("0"):
        return None
    return text.lower()


def _tag(value: Any) -> str:
    text = value if isinstance(value, str) else str(value)
    return text.replace("\n", " ")[:TAG_VALUE_MAX]


def _frames(frames: Any) -> List[Dict[str, Any]]:
    out: List[Dict[str, Any]] = []
    for frame in frames if isinstance(frames, list) else ():
        filename, lineno = str(frame.get("file", "")), frame.get("line")
        in_app = "site-packages" not in filename and not filename.startswith("<frozen")
        entry: Dict[str, Any] = {"filename": filename, "abs_path": filename, "function": frame.get("function"),
                                 "lineno": lineno, "in_app": in_app}  # fmt: skip
        if isinstance(lineno, int):
            line = linecache.getline(filename, lineno).strip()
            if line:
                entry["context_line"] = line
        out.append(entry)
    return out


def exception_values(view: Dict[str, Any], handled: bool = True) -> List[Dict[str, Any]]:
    """Sentry's ``exception.values`` of a record's exception view: the chain
    oldest first (the cause, then what it caused), the raised one last."""
    chain: List[Dict[str, Any]] = []
    current: Optional[Dict[str, Any]] = view
    while isinstance(current, dict) and len(chain) < 10:
        chain.append(current)
        current = current.get("cause") or current.get("context")
    values = []
    for depth, exc in enumerate(reversed(chain)):
        type_name = str(exc.get("type") or "Exception")
        module, _, short = type_name.rpartition(".")
        value: Dict[str, Any] = {"type": short, "value": str(exc.get("message", ""))}
        if module:
            value["module"] = module
        frames = _frames(exc.get("frames"))
        if frames:
            value["stacktrace"] = {"frames": frames}
        value["mechanism"] = {"type": "micktrace", "handled": handled, "exception_id": len(chain) - 1 - depth}
        values.append(value)
    return values


def trace_ids(record: LogRecord) -> Optional[Dict[str, str]]:
    """Sentry's ``contexts.trace`` from the record's ``trace_id``/``span_id`` (W3C hex), else None."""
    data, context = record.data, record.context
    trace = data.get("trace_id") if data else None
    if trace is None and context:
        trace = context.get("trace_id")
    trace_id = _hex_id(trace, 32)
    if trace_id is None:
        return None
    span = data.get("span_id") if data else None
    if span is None and context:
        span = context.get("span_id")
    out = {"trace_id": trace_id, "type": "trace"}
    span_id = _hex_id(span, 16)
    if span_id is not None:
        out["span_id"] = span_id
    return out


class EventBuilder:
    """Builds the event payload of records for one handler's options."""

    def __init__(
        self, server_name: str, environment: Optional[str], release: Optional[str], sdk: Dict[str, str]
    ) -> None:
        self.server_name = server_name
        self.sdk = sdk
        self.environment = environment
        self.release = release
        self._static: Tuple[Optional[Dict[str, Any]], Dict[str, Any], Dict[str, str]] = (None, {}, {})

    def _head(self, static: Dict[str, Any]) -> Tuple[Dict[str, Any], Dict[str, str]]:
        """What depends only on the options and the static fields, once per static dict."""
        source, head, tags = self._static  # one tuple: threads calling at once see a matching set
        if static is source:
            return head, tags
        head = {"platform": "python", "server_name": self.server_name, "sdk": self.sdk}
        environment = self.environment if self.environment is not None else static.get("environment")
        release = self.release if self.release is not None else static.get("version")
        if environment is not None:
            head["environment"] = str(environment)
        if release is not None:
            head["release"] = str(release)
        tags = {str(k)[:TAG_KEY_MAX]: _tag(v) for k, v in static.items() if k not in ("environment", "version")}
        self._static = (static, head, tags)
        return head, tags

    def event(self, record: LogRecord, message: str, breadcrumbs: Optional[List[Dict[str, Any]]]) -> Dict[str, Any]:
        """The event payload of *record* (before JSON)."""
        head, static_tags = self._head(record.static)
        event: Dict[str, Any] = {
            "event_id": uuid.uuid4().hex,
            "timestamp": record.time_ns / 1e9,
            "level": sentry_level(record.level),
            "logger": record.logger_name,
            "logentry": {"message": message, "formatted": message},
            **head,
        }
        context = record.context
        if context or static_tags:
            tags = dict(static_tags)
            for key, value in context.items():
                tags[str(key)[:TAG_KEY_MAX]] = _tag(value)
            event["tags"] = tags
        if record.data:
            event["extra"] = {str(k): v for k, v in record.data.items()}
        contexts: Dict[str, Any] = {}
        trace = trace_ids(record)
        if trace is not None:
            contexts["trace"] = trace
        if record.filename is not None:
            contexts["micktrace"] = {"file": record.filename, "line": record.lineno, "function": record.func_name,
                                     "thread_id": abs(record.thread_id), "process_id": record.process_id}  # fmt: skip
            event["culprit"] = f"{record.func_name} in {record.filename}"
        if contexts:
            event["contexts"] = contexts
        if record.exc_info is not None:
            view = record.exception
            if view:
                event["exception"] = {"values": exception_values(view)}
        if record.stack_info:
            event.setdefault("extra", {})["stack"] = record.stack_info
        if breadcrumbs:
            event["breadcrumbs"] = {"values": breadcrumbs}
        return event


def breadcrumb(record: LogRecord, message: str) -> Dict[str, Any]:
    """A breadcrumb of *record* (Sentry's ``log`` breadcrumb: category = the logger name)."""
    crumb: Dict[str, Any] = {"type": "log", "category": record.logger_name, "level": sentry_level(record.level),
                             "message": message, "timestamp": record.time_ns / 1e9}  # fmt: skip
    if record.data:
        crumb["data"] = {str(k): v for k, v in record.data.items()}
    return crumb


class Breadcrumbs:
    """Breadcrumbs per thread (of the call that logged them), each thread's
    newest ``per_thread`` kept, for at most ``threads`` threads (the thread
    heard from longest ago is forgotten first). :meth:`take` hands a thread's
    breadcrumbs to its next event and forgets them."""

    def __init__(self, per_thread: int = 100, threads: int = 256) -> None:
        self.per_thread = per_thread
        self.threads = threads
        self._lock = threading.Lock()
        self._by_thread: collections.OrderedDict[int, Deque[Dict[str, Any]]] = collections.OrderedDict()

    def add(self, thread_id: int, crumb: Dict[str, Any]) -> None:
        if self.per_thread <= 0:
            return
        with self._lock:
            crumbs = self._by_thread.get(thread_id)
            if crumbs is None:
                crumbs = self._by_thread[thread_id] = collections.deque(maxlen=self.per_thread)
                while len(self._by_thread) > self.threads:
                    self._by_thread.popitem(last=False)
            else:
                self._by_thread.move_to_end(thread_id)
            crumbs.append(crumb)

    def take(self, thread_id: int) -> List[Dict[str, Any]]:
        with self._lock:
            crumbs = self._by_thread.pop(thread_id, None)
        return list(crumbs) if crumbs else []

    def __len__(self) -> int:
        with self._lock:
            return sum(len(crumbs) for crumbs in self._by_thread.values())


def rate_limit_seconds(header: Optional[str]) -> Optional[float]:
    """The longest wait ``X-Sentry-Rate-Limits`` (``seconds:categories:scope:...``,
    comma-separated) asks for error events (categories ``error``, ``default``
    or none, meaning all), or None when it limits none of them."""
    if not header:
        return None
    wait: Optional[float] = None
    for limit in header.split(","):
        parts = limit.strip().split(":")
        if len(parts) < 2:
            continue
        try:
            seconds = float(parts[0])
        except ValueError:
            continue
        categories = set(parts[1].split(";")) if parts[1] else {""}
        if categories & EVENT_CATEGORIES and (wait is None or seconds > wait):
            wait = max(0.0, seconds)
    return wait


def dsn_from(dsn: Optional[str]) -> Optional[str]:
    """The ``dsn`` option, or else ``SENTRY_DSN``."""
    return secret_from("dsn", dsn, "SENTRY_DSN")
