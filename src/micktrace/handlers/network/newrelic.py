"""The ``newrelic`` handler: records to the New Relic Log API.

Holds :class:`NewRelicHandler`. It POSTs the Log API's detailed format,
``[{"common": {"attributes": {...}}, "logs": [{"timestamp", "message",
"level", "attributes"}, ...]}]``, gzipped, to ``https://log-api.newrelic.com/log/v1``
(``region="eu"``: ``log-api.eu.newrelic.com``) with the license key in
``X-License-Key`` (or a user/ingest key in ``Api-Key``), through the stdlib
:class:`~micktrace.handlers.network.http.HttpSender`: no New Relic package is
needed at run time (the ``newrelic`` extra installs nothing), so
:class:`~micktrace.errors.MissingExtraError` never applies.

New Relic's published limits (docs.newrelic.com, "Introduction to the Log
API"): a payload of at most 1 MB (10^6 bytes) per POST; at most 255 attributes
per event; attribute values searchable up to 4,094 characters, longer ones
kept (up to 128 KB) as a blob. The byte limit holds for the gzipped body; we
count the uncompressed bytes against it, which can only overstate the size,
so no request is ever refused as too large (at the cost of smaller requests
than compression would allow). The Log API answers 202 when it accepts.

May import: errors, levels, handlers.network.
"""

from __future__ import annotations

import socket
from typing import TYPE_CHECKING, Any, Dict, List, Optional

from ...errors import ConfigError
from ...levels import LEVEL_NAMES, level_name
from .batching import BatchLimits, BatchResult, Item
from .engine import NetworkHandler
from .http import HttpSender
from .intake import StaticView, attributes, json_bytes, secret_from

if TYPE_CHECKING:
    from ...record import LogRecord

REGIONS = {"us": "https://log-api.newrelic.com/log/v1", "eu": "https://log-api.eu.newrelic.com/log/v1"}
#: names of a log's attributes that are ours; a record's field of that name is renamed (``fields.<name>``)
RESERVED = frozenset(
    {"logger.name", "trace.id", "span.id", "error.class", "error.message", "error.stack", "caller", "stack",
     "service.name", "entity.name", "hostname", "timestamp", "message", "level", "accountId", "eventType"}
)  # fmt: skip
#: reserved names besides the first attribute (a field named like it shows as a duplicate key)
_LATER = RESERVED - {"logger.name"}
#: room for the envelope around the logs of one request (the common block, for up to a few services)
ENVELOPE_BYTES = 4_096


class NewRelicHandler(NetworkHandler):
    """Send records to the New Relic Log API.

    Args:
        license_key: a New Relic license key (else ``NEW_RELIC_LICENSE_KEY``), sent as ``X-License-Key``.
        api_key: a user or ingest key instead, sent as ``Api-Key``.
        app_name: ``service.name`` and ``entity.name`` of the common attributes
            (default: ``configure(service=...)``).
        region: ``"us"`` or ``"eu"`` (default: ``"eu"`` for a license key that
            starts with ``eu``, else ``"us"``).
        endpoint: a full Log API URL (a proxy, FedRAMP); overrides ``region``.
        hostname: ``hostname`` of the common attributes (default :func:`socket.gethostname`).
        gzip: compress requests (default True).
        verify_certs, ca_certs: TLS verification, and a CA bundle to verify against.
    """

    limits = BatchLimits(
        max_records=10_000,  # New Relic publishes no count limit: the 1 MB binds first
        max_bytes=1_000_000,
        max_record_bytes=1_000_000 - ENVELOPE_BYTES,
        record_overhead=1,  # the comma between logs
        request_overhead=ENVELOPE_BYTES,
    )

    def __init__(
        self,
        license_key: Optional[str] = None,
        api_key: Optional[str] = None,
        app_name: Optional[str] = None,
        region: Optional[str] = None,
        endpoint: Optional[str] = None,
        hostname: Optional[str] = None,
        gzip: bool = True,
        verify_certs: bool = True,
        ca_certs: Optional[str] = None,
        **kwargs: Any,
    ) -> None:
        self._formatted = kwargs.get("formatter") is not None
        super().__init__(**kwargs)
        if api_key is not None and license_key is not None:
            raise ConfigError("api_key", "[REDACTED]", "either license_key or api_key, not both")
        api = secret_from("api_key", api_key)
        license_ = secret_from("license_key", license_key, "NEW_RELIC_LICENSE_KEY") if api is None else None
        if api is None and license_ is None:
            raise ConfigError("license_key", None, "a New Relic license key (or set NEW_RELIC_LICENSE_KEY), or api_key")
        headers = {"Content-Type": "application/json"}
        if api is not None:
            headers["Api-Key"] = api
            self.add_secret(api)
        else:
            assert license_ is not None
            headers["X-License-Key"] = license_
            self.add_secret(license_)
        if region is None:
            region = "eu" if license_ is not None and license_.lower().startswith("eu") else "us"
        if region not in REGIONS:
            raise ConfigError("region", region, ", ".join(REGIONS))
        self.region = region
        if app_name is not None and not isinstance(app_name, str):
            raise ConfigError("app_name", app_name, "a string")
        self.app_name = app_name
        self.hostname = hostname if hostname is not None else socket.gethostname()
        url = endpoint if endpoint is not None else REGIONS[region]
        try:
            self.sender = HttpSender(
                url, headers, timeout=self.timeout, gzip_body=bool(gzip), verify=verify_certs, ca_certs=ca_certs
            )
        except ValueError:
            raise ConfigError("endpoint", endpoint, "an http:// or https:// URL") from None
        self._common: Dict[Any, bytes] = {}
        self._static = StaticView(("service",) if app_name is None else ())

    def service_of(self, record: LogRecord) -> Any:
        return self.app_name if self.app_name is not None else record.static.get("service")

    def common(self, service: Any) -> bytes:
        """The JSON of the common block for records of *service*."""
        cached = self._common.get(service)
        if cached is None:
            attrs: Dict[str, Any] = {"hostname": self.hostname, "instrumentation.provider": "micktrace"}
            if service is not None:
                attrs["service.name"] = attrs["entity.name"] = str(service)
            cached = json_bytes({"attributes": attrs})
            if len(self._common) < 64:
                self._common[service] = cached
        return cached

    def log(self, record: LogRecord) -> Dict[str, Any]:
        """One entry of ``logs`` for *record* (before JSON)."""
        level = record.level
        context, data = record.context, record.data
        rest = self._static.of(record.static)
        attrs: Dict[str, Any] = {"logger.name": record.logger_name, **rest, **context, **data}
        if len(attrs) != 1 + len(rest) + len(context) + len(data) or not _LATER.isdisjoint(attrs):
            # a field took a name of ours (or another field's): rebuild, renaming it
            attrs = {"logger.name": record.logger_name, **attributes(record, RESERVED, rest)}
        trace_id = data.get("trace_id") if data else None
        if trace_id is None and context:
            trace_id = context.get("trace_id")
        if trace_id is not None:
            attrs["trace.id"] = str(trace_id)
        span_id = data.get("span_id") if data else None
        if span_id is None and context:
            span_id = context.get("span_id")
        if span_id is not None:
            attrs["span.id"] = str(span_id)
        if record.exc_info is not None:
            exception = record.exception or {}
            attrs["error.class"] = exception.get("type")
            attrs["error.message"] = exception.get("message")
            attrs["error.stack"] = exception.get("traceback")
        if record.filename is not None:
            attrs["caller"] = {"file": record.filename, "line": record.lineno, "function": record.func_name}
        if record.stack_info:
            attrs["stack"] = record.stack_info
        return {
            "timestamp": record.time_ns // 1_000_000,
            "message": self.format(record) if self._formatted else record.message,
            "level": LEVEL_NAMES.get(level) or level_name(level),
            "attributes": attrs,
        }

    def encode(self, record: LogRecord) -> bytes:
        return json_bytes(self.log(record))

    def send(self, batch: List[Item]) -> Optional[BatchResult]:
        blocks: List[bytes] = []
        start = 0
        while start < len(batch):  # one block per run of records of the same service
            service = self.service_of(batch[start].record)
            end = start + 1
            while end < len(batch) and self.service_of(batch[end].record) == service:
                end += 1
            logs = b",".join(item.payload for item in batch[start:end])
            blocks.append(b'{"common":' + self.common(service) + b',"logs":[' + logs + b"]}")
            start = end
        self.sender.post(b"[" + b",".join(blocks) + b"]")
        return None

    def reset_connection(self) -> None:
        self.sender.reset()

    def describe(self) -> str:
        return self.sender.url.split("?", 1)[0]
