"""The ``datadog`` handler: records to the Datadog logs intake (HTTP API v2).

Holds :class:`DatadogHandler`. It POSTs JSON arrays of log entries to
``https://http-intake.logs.<site>/api/v2/logs`` with the ``DD-API-KEY`` header,
gzipped, through the stdlib :class:`~micktrace.handlers.network.http.HttpSender`:
no Datadog package is needed at run time (the ``datadog`` extra installs
nothing), so :class:`~micktrace.errors.MissingExtraError` never applies.

Datadog's published limits per request (docs.datadoghq.com, "Send logs", API
v2): at most 5 MB of uncompressed content, at most 1,000 entries, at most 1 MB
per log (a larger one Datadog truncates itself; we truncate first, with a
visible marker); entries older than 18 hours are refused. Answers: 202
accepted; 400 a bad payload; 403 a bad API key; 413 too large; 429 throttled;
5xx retry later. The engine does the rest (batching, retries, circuit,
backlog, exit).

May import: errors, handlers.network.
"""

from __future__ import annotations

import socket
from typing import TYPE_CHECKING, Any, Dict, List, Mapping, Optional, Sequence, Tuple, Union

from ...errors import ConfigError
from ...levels import LEVEL_NAMES, LogLevel, level_name
from .batching import BatchLimits, BatchResult, Item
from .engine import NetworkHandler
from .http import HttpSender
from .intake import attributes, json_bytes, low64_decimal, secret_from

if TYPE_CHECKING:
    from ...record import LogRecord

#: the Datadog sites (docs.datadoghq.com, "Getting started with Datadog sites")
SITES = (
    "datadoghq.com",
    "datadoghq.eu",
    "us3.datadoghq.com",
    "us5.datadoghq.com",
    "ap1.datadoghq.com",
    "ap2.datadoghq.com",
    "uk1.datadoghq.com",
    "ddog-gov.com",
    "us2.ddog-gov.com",
)
DEFAULT_SITE = "datadoghq.com"
#: the logs intake of a site
INTAKE_URL = "https://http-intake.logs.{site}/api/v2/logs"
#: top-level names of an entry that are ours; a record's field of that name is renamed (``fields.<name>``)
RESERVED = frozenset(
    {"message", "status", "service", "ddsource", "ddtags", "hostname", "timestamp", "level", "logger", "dd", "error",
     "caller", "stack"}
)  # fmt: skip
#: reserved names not among the first five of an entry (the head's, and those added after the fields)
_LATER = RESERVED - {"message", "status", "timestamp", "level", "logger"}
#: static fields that become the entry's service and env/version tags
_STATIC_USED = ("service", "environment", "version")


def status_of(level: int) -> str:
    """Datadog's status for a micktrace level (its status remapper's names; TRACE is ``debug``)."""
    if level >= 50:
        return "critical"
    if level >= 40:
        return "error"
    if level >= 30:
        return "warning"
    if level >= 20:
        return "info"
    return "debug"


_STATUSES = {int(level): status_of(int(level)) for level in LogLevel}


def _tag_list(tags: Union[Sequence[Any], Mapping[str, Any], None]) -> List[str]:
    if tags is None:
        return []
    if isinstance(tags, Mapping):
        items = [f"{key}:{value}" for key, value in tags.items()]
    elif isinstance(tags, (list, tuple)):
        items = [str(tag) for tag in tags]
    else:
        raise ConfigError("tags", tags, "a list of 'key:value' strings or a dict")
    for tag in items:
        if "," in tag or not tag.strip():
            raise ConfigError("tags", tags, "tags without commas (ddtags is a comma-separated list)")
    return items


class DatadogHandler(NetworkHandler):
    """Send records to Datadog's logs intake.

    Args:
        api_key: the Datadog API key (else ``DD_API_KEY``).
        site: the Datadog site (else ``DD_SITE``; default ``datadoghq.com``).
        endpoint: a full intake URL (a proxy, a private link); overrides ``site``.
        service, env, version: the entry's ``service`` and its ``env:``/``version:``
            tags (default: ``configure(service=..., environment=..., version=...)``).
        source: ``ddsource`` (default ``"python"``).
        tags: more ``ddtags``: a list of ``"key:value"`` or a dict.
        hostname: the entry's ``hostname`` (default :func:`socket.gethostname`).
        gzip: compress requests (default True).
        verify_certs, ca_certs: TLS verification, and a CA bundle to verify against.
    """

    limits = BatchLimits(
        max_records=1_000,
        max_bytes=5_000_000,
        max_record_bytes=1_000_000,
        record_overhead=1,  # the comma between entries
        request_overhead=2,  # the brackets of the array
    )

    def __init__(
        self,
        api_key: Optional[str] = None,
        site: Optional[str] = None,
        endpoint: Optional[str] = None,
        service: Optional[str] = None,
        env: Optional[str] = None,
        version: Optional[str] = None,
        source: str = "python",
        tags: Union[Sequence[Any], Mapping[str, Any], None] = None,
        hostname: Optional[str] = None,
        gzip: bool = True,
        verify_certs: bool = True,
        ca_certs: Optional[str] = None,
        **kwargs: Any,
    ) -> None:
        self._formatted = kwargs.get("formatter") is not None
        super().__init__(**kwargs)
        key = secret_from("api_key", api_key, "DD_API_KEY")
        if key is None:
            raise ConfigError("api_key", None, "a Datadog API key (or set DD_API_KEY)")
        self.add_secret(key)
        if site is None:
            site = secret_from("site", None, "DD_SITE") or DEFAULT_SITE
        if site not in SITES:
            raise ConfigError("site", site, ", ".join(SITES))
        self.site = site
        url = endpoint if endpoint is not None else INTAKE_URL.format(site=site)
        for name, value in (("service", service), ("env", env), ("version", version), ("source", source)):
            if value is not None and not isinstance(value, str):
                raise ConfigError(name, value, "a string")
        self.service, self.env, self.version, self.source = service, env, version, source
        self.tags = _tag_list(tags)
        self.hostname = hostname if hostname is not None else socket.gethostname()
        headers = {"DD-API-KEY": key, "Content-Type": "application/json"}
        try:
            self.sender = HttpSender(
                url, headers, timeout=self.timeout, gzip_body=bool(gzip), verify=verify_certs, ca_certs=ca_certs
            )
        except ValueError:
            raise ConfigError("endpoint", endpoint, "an http:// or https:// URL") from None
        self._head_cache: Tuple[Optional[Dict[str, Any]], Dict[str, Any], Dict[str, Any]] = (None, {}, {})
        self._head_bytes: Tuple[Optional[Dict[str, Any]], bytes] = (None, b"")

    def ddtags(self, env: Any, version: Any) -> str:
        """The ``ddtags`` of an entry: the handler's tags, then ``env:`` and ``version:``."""
        tags = list(self.tags)
        for name, value in (("env", env), ("version", version)):
            if value is not None and not any(tag.startswith(name + ":") for tag in self.tags):
                tags.append(f"{name}:{str(value).replace(',', '_')}")
        return ",".join(tags)

    def _head(self, static: Dict[str, Any]) -> Tuple[Dict[str, Any], Dict[str, Any]]:
        """The entry's fields that depend only on the options and the static fields
        (``ddsource``, ``hostname``, ``service``, ``ddtags``), and the static fields
        left as attributes; computed once per static dict (records share it)."""
        source, head, rest = self._head_cache  # one tuple: threads calling at once see a matching set
        if static is source:
            return head, rest
        head = {"ddsource": self.source, "hostname": self.hostname}
        service = self.service if self.service is not None else static.get("service")
        if service is not None:
            head["service"] = str(service)
        env = self.env if self.env is not None else static.get("environment")
        version = self.version if self.version is not None else static.get("version")
        tags = self.ddtags(env, version)
        if tags:
            head["ddtags"] = tags
        rest = {k: v for k, v in static.items() if k not in _STATIC_USED}
        self._head_cache = (static, head, rest)
        return head, rest

    def _own(self, record: LogRecord, rest: Dict[str, Any]) -> Dict[str, Any]:
        """The entry's fields of this record (all but the head)."""
        level = record.level
        context, data = record.context, record.data
        out: Dict[str, Any] = {
            "message": self.format(record) if self._formatted else record.message,
            "status": _STATUSES.get(level) or status_of(level),
            "timestamp": record.time_ns // 1_000_000,
            "level": LEVEL_NAMES.get(level) or level_name(level),
            "logger": {"name": record.logger_name},
            **rest,
            **context,
            **data,
        }
        if len(out) != 5 + len(rest) + len(context) + len(data) or not _LATER.isdisjoint(out):
            # a field took a name of ours (or another field's): rebuild, renaming it
            out = {
                "message": self.format(record) if self._formatted else record.message,
                "status": _STATUSES.get(level) or status_of(level),
                "timestamp": record.time_ns // 1_000_000,
                "level": LEVEL_NAMES.get(level) or level_name(level),
                "logger": {"name": record.logger_name},
                **attributes(record, RESERVED, rest),
            }
        trace_id = data.get("trace_id") if data else None
        if trace_id is None and context:
            trace_id = context.get("trace_id")
        if trace_id is not None:
            span_id = data.get("span_id") if data else None
            if span_id is None and context:
                span_id = context.get("span_id")
            dd: Dict[str, Any] = {}
            trace = low64_decimal(str(trace_id))
            if trace is not None:
                dd["trace_id"] = trace
            span = low64_decimal(None if span_id is None else str(span_id))
            if span is not None:
                dd["span_id"] = span
            if dd:
                out["dd"] = dd
        if record.exc_info is not None:
            exception = record.exception or {}
            out["error"] = {
                "kind": exception.get("type"),
                "message": exception.get("message"),
                "stack": exception.get("traceback"),
            }
        if record.filename is not None:
            out["logger"]["method_name"] = record.func_name
            out["caller"] = {"file": record.filename, "line": record.lineno, "function": record.func_name}
        if record.stack_info:
            out["stack"] = record.stack_info
        return out

    def entry(self, record: LogRecord) -> Dict[str, Any]:
        """The intake entry for *record* (before JSON)."""
        head, rest = self._head(record.static)
        return {**head, **self._own(record, rest)}

    def encode(self, record: LogRecord) -> bytes:
        head, rest = self._head(record.static)
        own = json_bytes(self._own(record, rest))  # b'{"message":...}'
        return self._head_json(head) + own[1:]

    def _head_json(self, head: Dict[str, Any]) -> bytes:
        cached = self._head_bytes
        if cached[0] is not head:
            cached = (head, json_bytes(head)[:-1] + b",")  # b'{"ddsource":...,'
            self._head_bytes = cached
        return cached[1]

    def send(self, batch: List[Item]) -> Optional[BatchResult]:
        self.sender.post(b"[" + b",".join(item.payload for item in batch) + b"]")
        return None

    def reset_connection(self) -> None:
        self.sender.reset()

    def describe(self) -> str:
        return self.sender.url.split("?", 1)[0]
