"""The ``gcp`` (alias ``stackdriver``) handler: records to Google Cloud Logging.

Holds :class:`GcpHandler` and :func:`severity_of`. Each record becomes one
``LogEntry`` (``jsonPayload`` with the message and the fields, ``severity``,
``timestamp``, ``insertId``, ``trace``/``spanId``/``traceSampled`` from the
record's trace ids, ``sourceLocation`` with caller info), encoded to JSON once
on the worker thread; a batch is one documented REST call,
``POST {endpoint}/v2/entries:write``, whose envelope carries the ``logName``,
the monitored ``resource``, the ``labels`` and ``partialSuccess: true``.

The request goes through google-auth's ``AuthorizedSession`` (the auth session
google-cloud-logging's own HTTP transport uses): it adds the bearer token of
the credentials (Application Default Credentials unless given) and refreshes
it. A per-entry rejection (``WriteLogEntriesPartialErrors`` in a 400/403
answer; the other entries are written) sends only those records to the
fallback; everything else is the engine's (batching, retries, circuit,
backlog, exit). google-auth is imported when the handler is made: without it,
:class:`~micktrace.errors.MissingExtraError` names the ``gcp`` extra.

Limits (cloud.google.com/logging/quotas): an ``entries.write`` request at
most 10 MB; a ``LogEntry`` at most 256 KB (approximate: Cloud Logging counts
its internal size, not the JSON's, so we keep each entry's JSON well under it).

May import: errors, levels, handlers.network.
"""

from __future__ import annotations

import itertools
import json
import os
import re
import time
import uuid
from typing import TYPE_CHECKING, Any, Dict, List, Mapping, Optional, Tuple

from ...errors import ConfigError, MissingExtraError
from . import gcp_resource
from .batching import BatchLimits, BatchResult, Item
from .engine import REDACTED, NetworkHandler
from .intake import attributes, json_bytes
from .retry import RETRYABLE, UNAUTHORIZED, DeliveryError, classify, parse_retry_after

if TYPE_CHECKING:
    from ...record import LogRecord

DEFAULT_ENDPOINT = "https://logging.googleapis.com"
WRITE_PATH = "/v2/entries:write"
SCOPES = ("https://www.googleapis.com/auth/logging.write",)
#: the log id: "less than 512 characters ... alphanumerics, forward-slash, underscore, hyphen, and period"
_LOG_ID = re.compile(r"^[A-Za-z0-9/_\-.]{1,511}$")
_HEX32 = re.compile(r"^[0-9a-f]{32}$")
_HEX16 = re.compile(r"^[0-9a-f]{16}$")
#: names of ``jsonPayload`` that are ours; a record's field of that name is kept as ``fields.<name>``
RESERVED = frozenset({"message", "logger", "stack_trace", "error", "stack", "serviceContext"})
_LATER = RESERVED - {"message", "logger"}
#: room kept in each request for its envelope (logName, resource, labels)
ENVELOPE_BYTES = 64 * 1024
MAX_LABELS_BYTES = 32 * 1024
_SEVERITIES = ((70, "EMERGENCY"), (60, "ALERT"), (50, "CRITICAL"), (40, "ERROR"), (30, "WARNING"), (21, "NOTICE"),
               (20, "INFO"), (1, "DEBUG"))  # fmt: skip


def severity_of(level: int) -> str:
    """Cloud Logging's ``LogSeverity`` name for a micktrace level (TRACE is DEBUG; 21-29 NOTICE)."""
    level = int(level)
    for floor, name in _SEVERITIES:
        if level >= floor:
            return name
    return "DEFAULT"


_SEVERITY_CACHE = {level: severity_of(level) for level in (5, 10, 20, 30, 40, 50)}


def _labels(labels: Any) -> Dict[str, str]:
    if labels is None:
        return {}
    if not isinstance(labels, Mapping) or len(labels) > 64:
        raise ConfigError("labels", labels, "a dict of at most 64 label names -> values")
    out = {str(key): str(value) for key, value in labels.items()}
    if len(json.dumps(out)) > MAX_LABELS_BYTES:
        raise ConfigError("labels", f"[{len(out)} labels]", f"labels of at most {MAX_LABELS_BYTES} bytes")
    return out


def _resource(resource: Any) -> Optional[Dict[str, Any]]:
    if resource is None:
        return None
    if not isinstance(resource, Mapping) and hasattr(resource, "type"):  # google.cloud.logging.Resource
        resource = {"type": resource.type, "labels": getattr(resource, "labels", None) or {}}
    allowed = "a monitored resource: {'type': 'gce_instance', 'labels': {'instance_id': ..., 'zone': ...}}"
    if not isinstance(resource, Mapping) or not isinstance(resource.get("type"), str) or not resource["type"]:
        raise ConfigError("resource", resource, allowed)
    labels = resource.get("labels") or {}
    if not isinstance(labels, Mapping):
        raise ConfigError("resource", resource, allowed)
    return {"type": resource["type"], "labels": {str(k): str(v) for k, v in labels.items()}}


def _endpoint(endpoint: Optional[str]) -> str:
    if endpoint is None:
        return DEFAULT_ENDPOINT
    if not isinstance(endpoint, str) or not endpoint.strip():
        raise ConfigError("endpoint", endpoint, "an https:// URL (or a host name) of the Cloud Logging API")
    endpoint = endpoint.strip().rstrip("/")
    if "://" not in endpoint:
        endpoint = "https://" + endpoint  # the gapic form: "logging.googleapis.com"
    if not endpoint.startswith(("http://", "https://")):
        raise ConfigError("endpoint", endpoint, "an https:// URL (or a host name) of the Cloud Logging API")
    return endpoint[: -len(WRITE_PATH)] if endpoint.endswith(WRITE_PATH) else endpoint


class GcpHandler(NetworkHandler):
    """Send records to Google Cloud Logging (``entries.write``).

    Args:
        project_id: the project the entries go to (default: ``GOOGLE_CLOUD_PROJECT``,
            the credentials' project, or the metadata server's).
        log_name: the log id (default ``"python"``, as google-cloud-logging's handler).
        credentials: a ``google.auth.credentials.Credentials`` (default: Application
            Default Credentials); never shown in repr, errors or health.
        endpoint: another API endpoint (a private endpoint, a regional one, an emulator).
        resource: the monitored resource, ``{"type": ..., "labels": {...}}`` or a
            ``google.cloud.logging.Resource`` (default: detected, see :mod:`.gcp_resource`).
        labels: labels added to every entry.
    """

    limits = BatchLimits(
        max_records=1_000,
        max_bytes=10_000_000,  # 10 MB per entries.write request
        max_record_bytes=240_000,  # 256 KB per LogEntry, counted in Cloud Logging's own size: a margin
        record_overhead=1,  # the comma between entries
        request_overhead=ENVELOPE_BYTES,
    )

    def __init__(
        self,
        project_id: Optional[str] = None,
        log_name: str = "python",
        credentials: Any = None,
        endpoint: Optional[str] = None,
        resource: Any = None,
        labels: Optional[Mapping[str, Any]] = None,
        **kwargs: Any,
    ) -> None:
        self._formatted = kwargs.get("formatter") is not None
        if not isinstance(log_name, str) or not _LOG_ID.match(log_name):
            raise ConfigError("log_name", log_name, "1-511 of A-Z a-z 0-9 / _ - .")
        self.log_name = log_name
        self.labels = _labels(labels)
        self.endpoint = _endpoint(endpoint)
        given_resource = _resource(resource)
        super().__init__(**kwargs)
        try:
            import google.auth
            import google.auth.credentials
            import google.auth.exceptions
            from google.auth.transport.requests import AuthorizedSession
        except ImportError:
            raise MissingExtraError("the gcp handler", "gcp", "google-cloud-logging") from None
        self._session_class: Any = AuthorizedSession
        self._auth_errors: Any = google.auth.exceptions
        auth_credentials: Any = google.auth.credentials
        found_project: Optional[str] = None
        if credentials is None:
            try:
                credentials, found_project = google.auth.default(scopes=SCOPES)
            except google.auth.exceptions.DefaultCredentialsError as exc:
                allowed = (
                    "google-auth credentials, or Application Default Credentials "
                    "(GOOGLE_APPLICATION_CREDENTIALS, "
                    f"gcloud auth application-default login, the metadata server): {exc}"
                )
                raise ConfigError("credentials", None, allowed) from None
        elif isinstance(credentials, auth_credentials.Credentials):
            credentials = auth_credentials.with_scopes_if_required(credentials, SCOPES)
        else:
            raise ConfigError("credentials", type(credentials).__name__, "a google.auth.credentials.Credentials object")
        self.credentials = credentials
        for name in ("refresh_token", "client_secret", "token"):
            self.add_secret(getattr(credentials, name, None))
        self._platform = gcp_resource.detect_platform() if given_resource is None else given_resource["type"]
        project = project_id or os.environ.get("GOOGLE_CLOUD_PROJECT") or os.environ.get("GCLOUD_PROJECT")
        project = project or found_project or getattr(credentials, "project_id", None)
        if not project and self._platform != "global":
            project = gcp_resource.metadata("project/project-id")
        if not isinstance(project, str) or not project.strip():
            raise ConfigError("project_id", project_id, "a Google Cloud project id (or set GOOGLE_CLOUD_PROJECT)")
        self.project_id = project.strip()
        self.log_path = f"projects/{self.project_id}/logs/{self.log_name.replace('/', '%2F')}"
        self._given_resource = given_resource
        self.resource: Optional[Dict[str, Any]] = given_resource
        self._envelope: Optional[bytes] = None
        self._session: Any = None
        self._trace_prefix = f"projects/{self.project_id}/traces/"
        self._time_cache: Tuple[str, str] = ("", "")
        self._new_ids()

    # -- encoding (the worker thread) -------------------------------------------------
    def _new_ids(self) -> None:
        self._id_prefix = f"{uuid.uuid4().hex[:10]}-{os.getpid():x}-"
        self._ids = itertools.count()

    def _timestamp(self, time_ns: int) -> str:
        if time_ns < 1_000_000_000:  # the first second of 1970 (or before): not worth a fast path
            seconds, nanos = divmod(time_ns, 1_000_000_000)
            return time.strftime("%Y-%m-%dT%H:%M:%S.", time.gmtime(seconds)) + f"{nanos:09d}Z"
        digits = str(time_ns)  # the seconds, then 9 digits of nanoseconds
        cached = self._time_cache
        if cached[0] != digits[:-9]:
            cached = (digits[:-9], time.strftime("%Y-%m-%dT%H:%M:%S.", time.gmtime(time_ns // 1_000_000_000)))
            self._time_cache = cached
        return cached[1] + digits[-9:] + "Z"

    def entry(self, record: LogRecord) -> Dict[str, Any]:
        """The ``LogEntry`` for *record* (before JSON; logName, resource and labels are the request's)."""
        context, data, static = record.context, record.data, record.static
        message = self.format(record) if self._formatted else record.message
        payload: Dict[str, Any] = {"message": message, "logger": record.logger_name, **static, **context, **data}
        if len(payload) != 2 + len(static) + len(context) + len(data) or not _LATER.isdisjoint(payload):
            payload = {"message": message, "logger": record.logger_name, **attributes(record, RESERVED, static)}
        level = record.level
        out: Dict[str, Any] = {
            "timestamp": self._timestamp(record.time_ns),
            "severity": _SEVERITY_CACHE.get(level) or severity_of(level),
            "insertId": f"{self._id_prefix}{next(self._ids)}",
            "jsonPayload": payload,
        }
        trace_id = data.get("trace_id") if data else None
        if trace_id is None and context:
            trace_id = context.get("trace_id")
        if isinstance(trace_id, str) and _HEX32.match(trace_id):
            out["trace"] = self._trace_prefix + trace_id
            span_id = data.get("span_id") or context.get("span_id")
            if isinstance(span_id, str) and _HEX16.match(span_id):
                out["spanId"] = span_id
            flags = data.get("trace_flags") or context.get("trace_flags")
            if isinstance(flags, str) and len(flags) == 2:
                try:
                    out["traceSampled"] = bool(int(flags, 16) & 1)
                except ValueError:
                    pass
        if record.exc_info is not None:
            exception = record.exception or {}
            payload["stack_trace"] = exception.get("traceback")  # where Error Reporting looks first
            payload["error"] = {"type": exception.get("type"), "message": exception.get("message")}
            service = static.get("service")
            if service is not None:
                context_ = {"service": str(service)}
                if static.get("version") is not None:
                    context_["version"] = str(static["version"])
                payload["serviceContext"] = context_
        if record.stack_info:
            payload["stack"] = record.stack_info
        if record.filename is not None:
            out["sourceLocation"] = {"file": record.filename, "line": str(record.lineno or 0),
                                     "function": record.func_name or ""}  # fmt: skip
        return out

    def encode(self, record: LogRecord) -> bytes:
        return json_bytes(self.entry(record))

    # -- sending (the sender thread) ------------------------------------------------------
    def envelope(self) -> bytes:
        """The request's opening up to its entries: logName, resource, labels, partialSuccess."""
        if self._envelope is None:
            if self.resource is None:  # asks the metadata server (on Google Cloud): here, not in the caller
                self.resource = gcp_resource.resource_for(self._platform, self.project_id)
            labels = {**gcp_resource.job_labels(self._platform), **self.labels}
            head: Dict[str, Any] = {"logName": self.log_path, "resource": self.resource}
            if labels:
                head["labels"] = labels
            head["partialSuccess"] = True
            self._envelope = json_bytes(head)[:-1] + b',"entries":['
        return self._envelope

    def send(self, batch: List[Item]) -> Optional[BatchResult]:
        body = self.envelope() + b",".join(item.payload for item in batch) + b"]}"
        if self._session is None:
            self._session = self._session_class(self.credentials, refresh_timeout=self.timeout)
        response = self._session.post(self.endpoint + WRITE_PATH, data=body, timeout=self.timeout,
                                      headers={"Content-Type": "application/json"})  # fmt: skip
        status = response.status_code
        if 200 <= status < 300:
            return None
        error = _error_of(response.content)
        partial = _partial_errors(error)
        if partial:  # the other entries were written
            return BatchResult(rejected=[(i, why) for i, why in partial if 0 <= i < len(batch)])
        reason = f"HTTP {status} {error.get('status', '')}: {error.get('message') or response.reason or ''}".strip()
        raise DeliveryError.from_status(status, reason, parse_retry_after(response.headers.get("Retry-After")))

    def classify(self, exc: BaseException) -> DeliveryError:
        errors = self._auth_errors
        if isinstance(exc, errors.RefreshError):  # the token could not be had: unauthorized unless transient
            kind = RETRYABLE if getattr(exc, "retryable", False) else UNAUTHORIZED
            return DeliveryError(f"could not get an access token: {exc}", kind)
        if isinstance(exc, errors.TransportError):
            return DeliveryError(f"could not get an access token: {exc}", RETRYABLE)
        return classify(exc)

    def scrub(self, text: str) -> str:
        text = super().scrub(text)
        token = getattr(self.credentials, "token", None)  # the current access token (it changes on refresh)
        if isinstance(token, str) and len(token) >= 4 and token in text:
            text = text.replace(token, REDACTED)
        return text

    def reset_connection(self) -> None:
        session, self._session = self._session, None
        self._new_ids()  # a forked child writes ids of its own
        if session is not None:
            try:
                session.close()
            except Exception:
                pass

    def describe(self) -> str:
        where = f"cloud-logging://{self.log_path}"
        if self.endpoint != DEFAULT_ENDPOINT:
            where += f" via {self.endpoint.split('@')[-1]}"
        return where


def _error_of(content: bytes) -> Dict[str, Any]:
    """The ``error`` object of a Google API error answer (``{}`` when there is none)."""
    try:
        body = json.loads(content)
    except (ValueError, UnicodeDecodeError):
        return {"message": content[:300].decode("utf-8", "replace")}
    error = body.get("error") if isinstance(body, dict) else None
    return error if isinstance(error, dict) else {}


def _partial_errors(error: Dict[str, Any]) -> List[Tuple[int, str]]:
    """The per-entry errors (index, reason) of a partly successful ``entries.write``."""
    out: List[Tuple[int, str]] = []
    for detail in error.get("details") or ():
        if not isinstance(detail, dict) or not str(detail.get("@type", "")).endswith("WriteLogEntriesPartialErrors"):
            continue
        for index, status in (detail.get("logEntryErrors") or {}).items():
            try:
                position = int(index)
            except (TypeError, ValueError):
                continue
            status = status if isinstance(status, dict) else {}
            out.append((position, f"Cloud Logging refused the entry (code {status.get('code')}): "
                                  f"{status.get('message', '')}"))  # fmt: skip
    return sorted(out)
