"""The ``azure`` handler: records to Azure Monitor, in one of two forms chosen by the keys given.

Holds :class:`AzureMonitorHandler`.

* **Application Insights** (``connection_string``, else the environment's
  ``APPLICATIONINSIGHTS_CONNECTION_STRING``): POSTs JSON arrays of telemetry
  envelopes, gzipped, to ``{IngestionEndpoint}/v2.1/track`` through the stdlib
  :class:`~micktrace.handlers.network.http.HttpSender` (no Azure package is
  needed for this form). Records land in the ``traces`` table, or
  ``exceptions`` for a record carrying an exception (see :mod:`.azure_track`).
  The track API answers 200 when every item was taken, 206 with per-item
  errors (408/429/439/5xx are sent again, the others go to the fallback with
  the reason), 400 when every item was refused (an unknown instrumentation
  key opens the circuit as "unauthorized").
* **Logs Ingestion API** (``endpoint``, ``rule_id``, ``stream_name``): rows of
  a Log Analytics custom table through azure-monitor-ingestion's
  ``LogsIngestionClient.upload`` with a bearer token from ``credential``
  (azure-identity's ``DefaultAzureCredential`` when none is given); see
  :mod:`.azure_ingestion`.

Limits: we send Application Insights at most 1,000 envelopes and 3 MB of JSON
per request; the data model allows 32,768 characters of message and 8,192 per
property value (longer values are cut here with a visible marker);
the Logs Ingestion API takes at most 1 MB per call. A 404 (a wrong endpoint,
rule or stream) refuses the whole batch at once rather than record by record.

The instrumentation key, the connection string and every bearer token the
credential hands out are scrubbed from errors and health; repr and health show
only the endpoint.

May import: errors, handlers.network.
"""

from __future__ import annotations

import gzip
import os
import socket
import urllib.parse
from typing import TYPE_CHECKING, Any, List, Optional, Union

from ...errors import ConfigError
from .azure_ingestion import IngestionSender, row_of
from .azure_track import TRACK_PATH, TrackEncoder, json_text, parse_connection_string, severity_of, track_result
from .batching import BatchLimits, BatchResult, Item
from .engine import NetworkHandler
from .http import HttpSender
from .intake import StaticView
from .retry import RETRYABLE, UNAUTHORIZED, DeliveryError, classify, parse_retry_after

if TYPE_CHECKING:
    from ...record import LogRecord

ENV_CONNECTION_STRING = "APPLICATIONINSIGHTS_CONNECTION_STRING"
#: the credential's scope for the Logs Ingestion API (public cloud); ``audience`` changes it
DEFAULT_AUDIENCE = "https://monitor.azure.com"
_SDK_VERSION = "micktrace:2.0.0"

TRACK_LIMITS = BatchLimits(max_records=1_000, max_bytes=3_000_000, max_record_bytes=1_000_000,
                           record_overhead=1, request_overhead=2)  # fmt: skip
INGESTION_LIMITS = BatchLimits(max_records=10_000, max_bytes=1_000_000, max_record_bytes=1_000_000 - 3,
                               record_overhead=1, request_overhead=2)  # fmt: skip


class _ScrubbingCredential:
    """Passes ``get_token`` through to the user's credential and scrubs each token it returns."""

    def __init__(self, inner: Any, handler: NetworkHandler) -> None:
        self._inner = inner
        self._handler = handler

    def get_token(self, *scopes: str, **kwargs: Any) -> Any:
        token = self._inner.get_token(*scopes, **kwargs)
        self._handler.add_secret(getattr(token, "token", None))
        return token

    def __repr__(self) -> str:
        return f"<credential {type(self._inner).__name__}>"


def _text_option(key: str, value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(key, value, "a non-empty string")
    return value.strip()


class AzureMonitorHandler(NetworkHandler):
    """Send records to Azure Monitor: Application Insights, or a Log Analytics table.

    Args:
        connection_string: an Application Insights connection string
            (``InstrumentationKey=...;IngestionEndpoint=...``; else ``APPLICATIONINSIGHTS_CONNECTION_STRING``).
        endpoint, rule_id, stream_name: the Logs Ingestion API form instead: the data
            collection endpoint, the DCR's immutable id and the stream (``Custom-<Table>_CL``).
        credential: for the Logs Ingestion form, an azure-core ``TokenCredential``
            (default: azure-identity's ``DefaultAzureCredential()``).
        audience: the Logs Ingestion API's audience (sovereign clouds; default ``https://monitor.azure.com``).
        flatten_fields: Logs Ingestion rows carry the fields as columns of their own
            (default False: one dynamic ``Properties`` column).
        cloud_role: ``ai.cloud.role`` (default: ``configure(service=...)``).
        cloud_role_instance: ``ai.cloud.roleInstance`` / the row's ``Host`` (default :func:`socket.gethostname`).
        gzip: compress track requests (default True).
        connection_verify: True (default), False, or the path of a CA bundle to verify TLS against.
    """

    def __init__(
        self,
        connection_string: Optional[str] = None,
        endpoint: Optional[str] = None,
        rule_id: Optional[str] = None,
        stream_name: Optional[str] = None,
        credential: Any = None,
        audience: Optional[str] = None,
        flatten_fields: bool = False,
        cloud_role: Optional[str] = None,
        cloud_role_instance: Optional[str] = None,
        gzip: bool = True,
        connection_verify: Union[bool, str] = True,
        **kwargs: Any,
    ) -> None:
        self._formatted = kwargs.get("formatter") is not None
        ingestion = endpoint is not None or rule_id is not None or stream_name is not None
        if ingestion and connection_string is not None:
            raise ConfigError("connection_string", "[REDACTED]",
                              "either connection_string (Application Insights) or endpoint, rule_id and "
                              "stream_name (Logs Ingestion API), not both")  # fmt: skip
        if not isinstance(connection_verify, (bool, str)):
            raise ConfigError("connection_verify", connection_verify, "True, False or the path of a CA bundle")
        for name, value in (("cloud_role", cloud_role), ("cloud_role_instance", cloud_role_instance)):
            if value is not None and not isinstance(value, str):
                raise ConfigError(name, value, "a string")
        self.limits = INGESTION_LIMITS if ingestion else TRACK_LIMITS
        super().__init__(**kwargs)
        self.form = "logs_ingestion" if ingestion else "application_insights"
        self.cloud_role = cloud_role
        self.host = cloud_role_instance if cloud_role_instance is not None else socket.gethostname()
        self.connection_verify = connection_verify
        self.sender: Optional[HttpSender] = None
        self.ingestion: Optional[IngestionSender] = None
        if ingestion:
            self._init_ingestion(endpoint, rule_id, stream_name, credential, audience, bool(flatten_fields))
        else:
            self._init_track(connection_string, bool(gzip))

    # -- set-up of each form -------------------------------------------------------------
    def _init_track(self, connection_string: Optional[str], use_gzip: bool) -> None:
        text = connection_string if connection_string is not None else os.environ.get(ENV_CONNECTION_STRING)
        if text is None or not text.strip():
            raise ConfigError("connection_string", None,
                              f"an Application Insights connection string (or set {ENV_CONNECTION_STRING}), "
                              "or endpoint, rule_id and stream_name for the Logs Ingestion API")  # fmt: skip
        if not isinstance(text, str):
            raise ConfigError("connection_string", "[REDACTED]", "a string")
        self.add_secret(text.strip())
        parts = parse_connection_string(text)
        ikey = parts["instrumentationkey"]
        self.add_secret(ikey)
        self.ingestion_endpoint = parts["ingestionendpoint"].rstrip("/")
        url = self.ingestion_endpoint + TRACK_PATH
        verify = self.connection_verify
        try:
            self.sender = HttpSender(url, {"Content-Type": "application/json"}, timeout=self.timeout,
                                     gzip_body=use_gzip, verify=verify is not False,
                                     ca_certs=verify if isinstance(verify, str) else None)  # fmt: skip
        except ValueError:
            raise ConfigError("connection_string", "[REDACTED]", "an IngestionEndpoint that is a URL") from None
        self.encoder = TrackEncoder(ikey, self.cloud_role, self.host, _SDK_VERSION, self._message)

    def _init_ingestion(
        self, endpoint: Any, rule_id: Any, stream_name: Any, credential: Any, audience: Any, flatten: bool
    ) -> None:
        endpoint = _text_option("endpoint", endpoint)
        parts = urllib.parse.urlsplit(endpoint)
        if parts.scheme != "https" or not parts.hostname:
            raise ConfigError("endpoint", endpoint, "an https:// URL (bearer tokens are only sent over TLS)")
        self.rule_id = _text_option("rule_id", rule_id)
        self.stream_name = _text_option("stream_name", stream_name)
        if credential is not None and not callable(getattr(credential, "get_token", None)):
            raise ConfigError("credential", "[REDACTED]", "an azure-core TokenCredential (with get_token)")
        scope = (_text_option("audience", audience) if audience is not None else DEFAULT_AUDIENCE).rstrip("/")
        options = {"retry_total": 0, "connection_timeout": self.timeout, "read_timeout": self.timeout,
                   "connection_verify": self.connection_verify, "credential_scopes": [scope + "/.default"]}  # fmt: skip
        self.ingestion = IngestionSender(endpoint, self.rule_id, self.stream_name, credential, options)
        self.ingestion.credential = _ScrubbingCredential(self.ingestion.credential, self)
        self.endpoint = endpoint.rstrip("/")
        self.flatten_fields = flatten
        self.encoder = TrackEncoder("", None, self.host, _SDK_VERSION, self._message)  # for its time stamps
        self._static = StaticView(("service",))

    def _message(self, record: LogRecord) -> str:
        return self.format(record) if self._formatted else record.message

    # -- the engine's hooks ---------------------------------------------------------------
    def encode(self, record: LogRecord) -> bytes:
        if self.ingestion is None:
            return self.encoder.encode(record)
        row = row_of(record, self._message(record), self.encoder.time_of(record.time_ns), severity_of(record.level),
                     self.host, self.flatten_fields, self._static.of(record.static))  # fmt: skip
        return json_text(row).encode("utf-8")

    def send(self, batch: List[Item]) -> Optional[BatchResult]:
        body = b"[" + b",".join(item.payload for item in batch) + b"]"
        if self.ingestion is not None:
            try:
                self.ingestion.upload(gzip.compress(body, compresslevel=6))
            except Exception as exc:
                if getattr(exc, "status_code", None) == 404:  # no such rule or stream: not one record's fault
                    return self._refuse_all(len(batch), " ".join(f"{type(exc).__name__}: {exc}".split()))
                raise
            return None
        assert self.sender is not None
        status, headers, data = self.sender.post(body, answered=(400, 404))
        retry_after = parse_retry_after(headers.get("retry-after"))
        if status == 404:
            return self._refuse_all(len(batch), f"HTTP 404 from {self.describe()}: {data[:200]!r}")
        result = track_result(data, len(batch), retry_after)
        if status == 400:
            if result is None or result.retry or len(result.rejected) < len(batch):
                raise DeliveryError.from_status(400, f"HTTP 400: {data[:500].decode('utf-8', 'replace')}")
            if all("instrumentation key" in reason.lower() for _, reason in result.rejected):
                raise DeliveryError(f"HTTP 400: {result.rejected[0][1]}", UNAUTHORIZED, 400)
        return result

    def _refuse_all(self, count: int, reason: str) -> BatchResult:
        """A misconfigured destination (404): the whole batch refused at once, and health says why."""
        reason = self.scrub(reason)
        self._note_error(reason)
        return BatchResult(rejected=[(i, reason) for i in range(count)])

    def classify(self, exc: BaseException) -> DeliveryError:
        error = classify(exc)
        if error.status in (402, 439):  # over the daily cap: try later (then the fallback), never split
            error = DeliveryError(error.reason, RETRYABLE, error.status, error.retry_after)
        return error

    def reset_connection(self) -> None:
        if self.sender is not None:
            self.sender.reset()
        if self.ingestion is not None:
            self.ingestion.reset()

    def describe(self) -> str:
        if self.ingestion is not None:
            return f"{self.endpoint}/dataCollectionRules/{self.rule_id}/streams/{self.stream_name}"
        return self.ingestion_endpoint + TRACK_PATH
