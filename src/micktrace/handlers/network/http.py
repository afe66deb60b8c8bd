"""A small HTTP(S) client for the backends that speak plain HTTP.

Holds :class:`HttpSender`: one kept-alive ``http.client`` connection per
handler (re-opened after a failure or a fork), optional gzip of the body, TLS
with a CA bundle or verification switched off, and every non-2xx answer turned
into a :class:`~micktrace.handlers.network.retry.DeliveryError` carrying the
status, the backend's reason and ``Retry-After``. The standard library only:
the core has no dependencies.

May import: the modules of this package.
"""

from __future__ import annotations

import gzip
import http.client
import ssl
import threading
import urllib.parse
from typing import Collection, Dict, Mapping, Optional, Tuple

from .retry import RETRYABLE, DeliveryError, parse_retry_after

Response = Tuple[int, Dict[str, str], bytes]


class HttpSender:
    """POSTs bodies to one URL.

    Args:
        url: ``http://`` or ``https://`` URL, path and query included.
        headers: sent with every request (authentication goes here).
        timeout: seconds for connecting and for each read.
        gzip_body: compress bodies (``Content-Encoding: gzip``).
        verify: verify the server's certificate (HTTPS).
        ca_certs: a CA bundle file to verify against.
    """

    def __init__(
        self,
        url: str,
        headers: Optional[Mapping[str, str]] = None,
        timeout: float = 10.0,
        gzip_body: bool = False,
        verify: bool = True,
        ca_certs: Optional[str] = None,
    ) -> None:
        parts = urllib.parse.urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"not an http(s) URL: {url!r}")
        self.url = url
        self.scheme = parts.scheme
        self.host = parts.hostname
        self.port = parts.port or (443 if parts.scheme == "https" else 80)
        self.path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        self.headers = dict(headers or {})
        self.timeout = timeout
        self.gzip_body = gzip_body
        self.verify = verify
        self.ca_certs = ca_certs
        self._local = threading.local()

    def _connection(self) -> http.client.HTTPConnection:
        conn: Optional[http.client.HTTPConnection] = getattr(self._local, "conn", None)
        if conn is None:
            if self.scheme == "https":
                context = ssl.create_default_context(cafile=self.ca_certs)
                if not self.verify:
                    context.check_hostname = False
                    context.verify_mode = ssl.CERT_NONE
                conn = http.client.HTTPSConnection(self.host, self.port, timeout=self.timeout, context=context)
            else:
                conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
            self._local.conn = conn
        return conn

    def reset(self) -> None:
        """Drop the connection (after a failure, a fork or close)."""
        conn = getattr(self._local, "conn", None)
        self._local = threading.local()
        if conn is not None:
            try:
                conn.close()
            except Exception:
                pass

    def post(
        self,
        body: bytes,
        headers: Optional[Mapping[str, str]] = None,
        path: Optional[str] = None,
        answered: Collection[int] = (),
    ) -> Response:
        """POST *body*; the response for a 2xx status (or one in *answered*, which the
        caller reads itself), else a :class:`DeliveryError`."""
        all_headers = dict(self.headers)
        if headers:
            all_headers.update(headers)
        if self.gzip_body:
            body = gzip.compress(body, compresslevel=6)
            all_headers["Content-Encoding"] = "gzip"
        all_headers["Content-Length"] = str(len(body))
        conn = self._connection()
        try:
            conn.request("POST", path or self.path, body=body, headers=all_headers)
            response = conn.getresponse()
            data = response.read()
        except (OSError, http.client.HTTPException) as exc:
            self.reset()
            raise DeliveryError(f"{type(exc).__name__}: {exc}", RETRYABLE) from exc
        status = response.status
        response_headers = {k.lower(): v for k, v in response.getheaders()}
        if response_headers.get("connection", "").lower() == "close":
            self.reset()
        if 200 <= status < 300 or status in answered:
            return status, response_headers, data
        reason = data[:500].decode("utf-8", "replace").strip() or (response.reason or "")
        raise DeliveryError.from_status(
            status, f"HTTP {status}: {reason}", parse_retry_after(response_headers.get("retry-after"))
        )
