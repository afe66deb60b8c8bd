"""The ``http`` handler: records as JSON lines POSTed to any HTTP(S) endpoint.

Holds :class:`HttpJsonHandler`, for collectors with an HTTP input (Vector,
Fluent Bit, Logstash, an in-house service): each request carries up to
``batch_size`` records as newline-delimited JSON (the handler's formatter,
JSON by default), optionally gzipped. Everything else (batching, retries,
circuit, backlog, exit) is the delivery engine's.

May import: formatters, handlers.network.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Dict, List, Mapping, Optional

from ...errors import ConfigError
from ...formatters.json import JSONFormatter
from .batching import BatchLimits, BatchResult, Item
from .engine import NetworkHandler
from .http import HttpSender

if TYPE_CHECKING:
    from ...record import LogRecord


class HttpJsonHandler(NetworkHandler):
    """POST records as NDJSON to ``url``.

    Args:
        url: the endpoint, ``http://`` or ``https://``.
        headers: extra request headers (for example ``{"Authorization": "Bearer ..."}``;
            their values are scrubbed from errors and health output).
        gzip: compress each request body (default True).
        verify_certs: verify the server's TLS certificate (default True).
        ca_certs: a CA bundle to verify it against.
    """

    limits = BatchLimits(max_records=1_000, max_bytes=5 * 1024 * 1024, max_record_bytes=1024 * 1024)

    def __init__(
        self,
        url: str,
        headers: Optional[Mapping[str, str]] = None,
        gzip: bool = True,
        verify_certs: bool = True,
        ca_certs: Optional[str] = None,
        **kwargs: Any,
    ) -> None:
        kwargs.setdefault("formatter", JSONFormatter())
        super().__init__(**kwargs)
        if headers is not None and not isinstance(headers, Mapping):
            raise ConfigError("headers", headers, "a dict of header name -> value")
        request_headers: Dict[str, str] = {"Content-Type": "application/x-ndjson"}
        for key, value in (headers or {}).items():
            request_headers[str(key)] = str(value)
            self.add_secret(str(value))
        try:
            self.sender = HttpSender(
                url, request_headers, timeout=self.timeout, gzip_body=bool(gzip), verify=verify_certs, ca_certs=ca_certs
            )
        except ValueError:
            raise ConfigError("url", url, "an http:// or https:// URL") from None

    def encode(self, record: LogRecord) -> bytes:
        return self.format(record).encode("utf-8", "replace")

    def send(self, batch: List[Item]) -> Optional[BatchResult]:
        self.sender.post(b"\n".join(item.payload for item in batch) + b"\n")
        return None

    def reset_connection(self) -> None:
        self.sender.reset()

    def describe(self) -> str:
        return self.sender.url.split("?", 1)[0]
