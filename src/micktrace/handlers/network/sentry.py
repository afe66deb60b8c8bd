"""The ``sentry`` handler: error records as Sentry events, the records before them as breadcrumbs.

Holds :class:`SentryHandler` and :func:`reported_by_micktrace` (the global
event processor that keeps sentry-sdk's own logging integration from
reporting a record this handler reports too).

Records at or above ``level`` (default ERROR) become events; records at or
above ``breadcrumb_level`` (default INFO) but below ``level`` are kept, per
thread, as breadcrumbs and go with that thread's next event. Each event goes
in its own envelope (Sentry: an envelope carries at most one event) POSTed to
the DSN's ``/api/<project>/envelope/`` endpoint with the ``X-Sentry-Auth``
header; the engine batches them (the POSTs of a batch share one kept-alive
connection), retries, honours ``Retry-After`` and ``X-Sentry-Rate-Limits``,
isolates a rejected event, and settles every record exactly once.

sentry-sdk (the ``sentry`` extra) provides the DSN parsing
(:class:`sentry_sdk.utils.Dsn`), the auth header and the envelope format
(:class:`sentry_sdk.envelope.Envelope`); it is imported when a handler is
made, and :class:`~micktrace.errors.MissingExtraError` names the extra when
it is missing. The SDK's client is never used: ``sentry_sdk.init()`` is not
needed, and an application's own ``init()`` is left alone.

May import: errors, levels, handlers.stdlib_forward, handlers.network.
"""

from __future__ import annotations

import copy
import socket
import time
import weakref
from typing import TYPE_CHECKING, Any, Dict, List, Mapping, Optional, Sequence

from ...errors import ConfigError, MissingExtraError
from ...levels import LevelLike, to_level
from ..stdlib_forward import CAPTURED_ATTR, RECORD_ATTR
from .batching import BatchLimits, BatchResult, Item
from .engine import NetworkHandler
from .http import HttpSender
from .intake import json_bytes
from .retry import PERMANENT, RETRYABLE, TOO_LARGE, DeliveryError, parse_retry_after
from .sentry_event import Breadcrumbs, EventBuilder, breadcrumb, dsn_from, rate_limit_seconds

if TYPE_CHECKING:
    from ...record import LogRecord

#: the handlers in use (a weak set: a handler dropped or closed stops counting)
_LIVE: weakref.WeakSet[SentryHandler] = weakref.WeakSet()
_processor_installed = False


def reported_by_micktrace(event: Any, hint: Any) -> Any:
    """A sentry-sdk event processor: None (drop) for an event the SDK's logging
    integration made of a stdlib record that a live sentry handler reports
    too, that is a record micktrace forwarded to stdlib or captured from it, at
    or above that handler's ``level``; otherwise the event unchanged."""
    record = hint.get("log_record") if isinstance(hint, dict) else None
    attrs = getattr(record, "__dict__", None)
    if not attrs:
        return event
    ours = attrs.get(RECORD_ATTR)
    if ours is not None:
        level = getattr(ours, "level", 0)
    elif attrs.get(CAPTURED_ATTR):
        level = getattr(record, "levelno", 0)
    else:
        return event
    for handler in list(_LIVE):
        if not handler._closing and level >= handler.event_level:
            return None
    return event


def _install_processor() -> None:
    global _processor_installed
    if not _processor_installed:
        from sentry_sdk.scope import add_global_event_processor

        add_global_event_processor(reported_by_micktrace)
        _processor_installed = True


def _version() -> str:
    try:
        from importlib.metadata import version

        return version("micktrace")
    except Exception:
        return "unknown"


class _SentrySender(HttpSender):
    def retry_after(self, headers: Mapping[str, str]) -> Optional[float]:
        limited = rate_limit_seconds(headers.get("x-sentry-rate-limits"))
        return limited if limited is not None else parse_retry_after(headers.get("retry-after"))


class SentryHandler(NetworkHandler):
    """Send error records to Sentry as events, with the records before them as breadcrumbs.

    Args:
        dsn: the project's DSN (else ``SENTRY_DSN``); its key never shows in
            repr, errors or health output.
        level: records at or above it become events (default ERROR).
        breadcrumb_level: records at or above it and below ``level`` become
            breadcrumbs of the same thread's next event (default INFO).
        max_breadcrumbs: the most kept per thread, newest first (default 100, as sentry-sdk).
        environment, release: the event's (default: ``configure(environment=..., version=...)``).
        server_name: the event's (default :func:`socket.gethostname`).
        gzip: compress each envelope (default True).
        verify_certs, ca_certs: TLS verification, and a CA bundle to verify against.
    """

    limits = BatchLimits(max_records=100, max_bytes=20_000_000, max_record_bytes=1_000_000)

    def __init__(
        self,
        dsn: Optional[str] = None,
        level: LevelLike = "ERROR",
        breadcrumb_level: LevelLike = "INFO",
        max_breadcrumbs: int = 100,
        environment: Optional[str] = None,
        release: Optional[str] = None,
        server_name: Optional[str] = None,
        gzip: bool = True,
        verify_certs: bool = True,
        ca_certs: Optional[str] = None,
        **kwargs: Any,
    ) -> None:
        try:
            from sentry_sdk.envelope import Envelope
            from sentry_sdk.envelope import Item as EnvelopeItem
            from sentry_sdk.utils import Dsn
        except ImportError:
            raise MissingExtraError("the sentry handler", "sentry", "sentry_sdk") from None
        event_level = to_level(level, "level")
        crumb_level = to_level(breadcrumb_level, "breadcrumb_level")
        if isinstance(max_breadcrumbs, bool) or not isinstance(max_breadcrumbs, int) or max_breadcrumbs < 0:
            raise ConfigError("max_breadcrumbs", max_breadcrumbs, "an integer of at least 0")
        self._formatted = kwargs.get("formatter") is not None
        super().__init__(level=min(event_level, crumb_level), **kwargs)
        self.event_level, self.breadcrumb_level = event_level, crumb_level
        # the filters are applied here, once per record, before a record becomes an event or a breadcrumb
        self._record_filters, self.filters = self.filters, []
        value = dsn_from(dsn)
        if value is None:
            raise ConfigError("dsn", None, "a Sentry DSN such as https://<key>@o0.ingest.sentry.io/<project> "
                                           "(or set SENTRY_DSN)")  # fmt: skip
        self.add_secret(value)
        try:
            parsed = Dsn(value)
        except Exception:
            raise ConfigError("dsn", "[REDACTED]", "a Sentry DSN: http(s)://<key>@<host>/<project id>") from None
        for secret in (parsed.public_key, parsed.secret_key):
            self.add_secret(secret)
        for name, option in (("environment", environment), ("release", release), ("server_name", server_name)):
            if option is not None and not isinstance(option, str):
                raise ConfigError(name, option, "a string")
        self.url = f"{parsed.scheme}://{parsed.netloc}{parsed.path}api/{parsed.project_id}/envelope/"
        auth = parsed.to_auth(client=f"micktrace/{_version()}").to_header()
        self._sdk = {"name": "micktrace", "version": _version()}
        self.builder = EventBuilder(server_name or socket.gethostname(), environment, release, self._sdk)
        self.breadcrumbs = Breadcrumbs(max_breadcrumbs)
        self._pending: Dict[int, List[Dict[str, Any]]] = {}
        self._envelope, self._envelope_item = Envelope, EnvelopeItem
        self._limited_until = 0.0  # time.monotonic() until which Sentry asked for no more events
        self._sender_started_ns = 0  # time.time_ns() just before the sender thread started
        headers = {"X-Sentry-Auth": auth, "Content-Type": "application/x-sentry-envelope"}
        self.sender = _SentrySender(self.url, headers, timeout=self.timeout, gzip_body=bool(gzip),
                                    verify=verify_certs, ca_certs=ca_certs)  # fmt: skip
        _install_processor()
        _LIVE.add(self)

    def _message(self, record: LogRecord) -> str:
        return self.format(record) if self._formatted else record.message

    # -- records: events and breadcrumbs ------------------------------------------------------
    def handle_batch(self, records: Sequence[LogRecord]) -> Optional[int]:
        sender = self._thread
        own = sender.ident if sender is not None else None
        filters = self._record_filters
        crumbs = self.breadcrumbs
        events: List[LogRecord] = []
        for record in records:
            if filters and not all(f(record) for f in filters):
                continue
            if record.level >= self.event_level:
                events.append(record)
            elif record.level >= self.breadcrumb_level and (
                record.thread_id != own or record.time_ns < self._sender_started_ns
            ):  # not logged by an SDK on our sender thread (see _not_feedback)
                try:
                    crumbs.add(record.thread_id, breadcrumb(record, self._message(record)))
                except Exception as exc:  # a breadcrumb is never worth an error in the application
                    self._note_error(f"breadcrumb failed: {type(exc).__name__}: {exc}")
        if not events:
            return 0
        pending = self._pending
        for index, record in enumerate(events):
            taken = crumbs.take(record.thread_id)
            if record.thread_id == own:
                record = events[index] = self._not_feedback(record)
            if taken:
                pending[id(record)] = taken
        try:
            return super().handle_batch(events)
        finally:
            for record in events:
                pending.pop(id(record), None)

    def _not_feedback(self, record: LogRecord) -> LogRecord:
        """*record*, or a copy the engine will not take for its sender thread's own.

        The engine skips records whose ``thread_id`` is its sender thread's, but
        ``threading.get_ident()`` values are reused: a thread that logged and
        exited before the sender started may have left it its id. A record made
        before the sender started is not the sender's; its copy carries the id
        negated (events show the real one)."""
        if record.time_ns >= self._sender_started_ns:
            return record
        twin = copy.copy(record)
        twin.thread_id = -record.thread_id
        return twin

    def _start(self) -> None:
        if self._thread is None:
            self._sender_started_ns = time.time_ns()
        super()._start()

    def event(self, record: LogRecord) -> Dict[str, Any]:
        """The event payload of *record* (before JSON), with its breadcrumbs when it has some."""
        return self.builder.event(record, self._message(record), self._pending.get(id(record)))

    def encode(self, record: LogRecord) -> bytes:
        event = self.event(record)
        headers = {"event_id": event["event_id"], "sdk": self._sdk}
        item = self._envelope_item(json_bytes(event), type="event", content_type="application/json")
        data: bytes = self._envelope(headers=headers, items=[item]).serialize()
        return data

    # -- sending: one envelope (one event) per POST ---------------------------------------------
    def send(self, batch: List[Item]) -> Optional[BatchResult]:
        wait = self._limited_until - time.monotonic()
        if wait > 0:
            raise DeliveryError(f"rate limited by Sentry for {wait:.1f} s more", RETRYABLE, 429, wait)
        rejected = []
        for index, item in enumerate(batch):
            try:
                _status, headers, _body = self.sender.post(item.payload)
            except DeliveryError as exc:
                if exc.status == 429 and exc.retry_after:
                    self._limited_until = time.monotonic() + exc.retry_after
                if exc.kind in (PERMANENT, TOO_LARGE):
                    rejected.append((index, self.scrub(exc.reason)))  # this event only: the others go on
                    continue
                if index == 0:
                    raise  # nothing went yet: the engine classifies (retry, circuit, unauthorized)
                return BatchResult(retry=range(index, len(batch)), rejected=rejected, retry_after=exc.retry_after)
            limited = rate_limit_seconds(headers.get("x-sentry-rate-limits"))
            if limited:  # accepted, but no more events for a while (this batch's rest, nor the next batches)
                self._limited_until = time.monotonic() + limited
                if index + 1 < len(batch):
                    return BatchResult(retry=range(index + 1, len(batch)), rejected=rejected, retry_after=limited)
        return BatchResult(rejected=rejected) if rejected else None

    def reset_connection(self) -> None:
        self.sender.reset()

    def close(self) -> None:
        _LIVE.discard(self)
        super().close()

    def describe(self) -> str:
        return self.url
