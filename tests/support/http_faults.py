"""A loopback HTTP recorder and fault-injecting proxy for the network handler tests.

``Recorder()`` answers every request itself (200 with ``{}`` unless a test says
otherwise) and keeps what it received, gzip bodies decoded. ``Recorder(upstream=
"http://127.0.0.1:PORT")`` forwards each request to a real server (moto, the
OpenSearch emulator, an OTLP receiver) and relays the answer, so a test can put
faults in front of the real thing. Faults are queued per request:

    rec.fail(3, 503)                            # the next 3 requests get 503
    rec.fail(1, 429, headers={"Retry-After": "1"})
    rec.reset(2)                                # close 2 connections without answering
    rec.hang(1, 3.0)                            # hold one request 3 s, then close it
    rec.respond_with(lambda req: (400, {}, b"bad") if b"poison" in req.body else None)

Only 127.0.0.1. Every server is a daemon thread; ``close()`` stops it.
"""

from __future__ import annotations

import collections
import gzip
import http.client
import http.server
import json
import socket
import threading
import time
import urllib.parse
import zlib
from typing import Any, Callable, Deque, Dict, List, Optional, Tuple

Answer = Tuple[int, Dict[str, str], bytes]


class Request:
    def __init__(self, method: str, path: str, headers: Dict[str, str], raw: bytes) -> None:
        self.method = method
        self.path = path
        self.headers = headers
        self.raw = raw
        encoding = headers.get("content-encoding", "").lower()
        if encoding == "gzip":
            self.body = gzip.decompress(raw)
        elif encoding == "deflate":
            self.body = zlib.decompress(raw)
        else:
            self.body = raw

    def json(self) -> Any:
        return json.loads(self.body)

    def ndjson(self) -> List[Any]:
        return [json.loads(line) for line in self.body.splitlines() if line.strip()]


class Recorder:
    def __init__(self, upstream: Optional[str] = None, tls_context: Any = None) -> None:
        self.upstream = urllib.parse.urlsplit(upstream) if upstream else None
        self.requests: List[Request] = []
        self.answered: List[Tuple[Request, int]] = []
        self._faults: Deque[Tuple[str, Any]] = collections.deque()
        self._responder: Optional[Callable[[Request], Optional[Answer]]] = None
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        recorder = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # the headers and the body go out in two writes: without TCP_NODELAY, Nagle and the
            # client's delayed ACK add some 40 ms to every answer on a kept-alive connection
            disable_nagle_algorithm = True

            def log_message(self, *args: Any) -> None:
                pass

            def _serve(self) -> None:
                recorder._handle(self)

            do_POST = do_PUT = do_GET = do_DELETE = do_HEAD = _serve

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        if tls_context is not None:
            self.server.socket = tls_context.wrap_socket(self.server.socket, server_side=True)
        self.port = self.server.server_address[1]
        scheme = "https" if tls_context is not None else "http"
        self.url = f"{scheme}://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()

    # -- faults ----------------------------------------------------------------------
    def fail(self, count: int, status: int, headers: Optional[Dict[str, str]] = None, body: bytes = b"") -> None:
        with self._lock:
            for _ in range(count):
                self._faults.append(("status", (status, headers or {}, body or f"injected {status}".encode())))

    def fail_for(self, seconds: float, status: int = 503) -> None:
        """Answer every request with *status* for *seconds* from now."""
        with self._lock:
            self._faults.append(("until", (time.monotonic() + seconds, status)))

    def reset(self, count: int) -> None:
        with self._lock:
            for _ in range(count):
                self._faults.append(("reset", None))

    def hang(self, count: int, seconds: float) -> None:
        with self._lock:
            for _ in range(count):
                self._faults.append(("hang", seconds))

    def respond_with(self, responder: Optional[Callable[[Request], Optional[Answer]]]) -> None:
        """*responder(request)* answers a request (None: the normal answer)."""
        self._responder = responder

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()
        self._responder = None

    # -- serving ---------------------------------------------------------------------
    def _next_fault(self) -> Optional[Tuple[str, Any]]:
        with self._lock:
            while self._faults:
                kind, arg = self._faults[0]
                if kind == "until":
                    if time.monotonic() < arg[0]:
                        return ("status", (arg[1], {}, b"injected outage"))
                    self._faults.popleft()
                    continue
                return self._faults.popleft()
        return None

    def _handle(self, h: http.server.BaseHTTPRequestHandler) -> None:
        length = int(h.headers.get("Content-Length") or 0)
        raw = h.rfile.read(length) if length else b""
        headers = {k.lower(): v for k, v in h.headers.items()}
        request = Request(h.command, h.path, headers, raw)
        fault = self._next_fault()
        if fault is not None and fault[0] == "reset":
            self._abort(h)
            return
        if fault is not None and fault[0] == "hang":
            self._stopping.wait(fault[1])
            self._abort(h)
            return
        answer: Optional[Answer] = None
        if fault is not None and fault[0] == "status":
            answer = fault[1]
        if answer is None and self._responder is not None:
            answer = self._responder(request)
        if answer is None:
            answer = self._forward(request) if self.upstream is not None else (200, {}, b"{}")
        status, out_headers, body = answer
        with self._lock:
            self.requests.append(request)
            self.answered.append((request, status))
        h.send_response(status)
        sent = {k.lower() for k in out_headers}
        for key, value in out_headers.items():
            if key.lower() not in ("content-length", "transfer-encoding", "connection"):
                h.send_header(key, value)
        if "content-type" not in sent:
            h.send_header("Content-Type", "application/json")
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        if h.command != "HEAD":
            h.wfile.write(body)

    def _abort(self, h: http.server.BaseHTTPRequestHandler) -> None:
        try:
            h.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        except OSError:
            pass
        h.close_connection = True
        try:
            h.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def _forward(self, request: Request) -> Answer:
        assert self.upstream is not None
        conn = http.client.HTTPConnection(self.upstream.hostname, self.upstream.port, timeout=30)
        try:
            headers = {k: v for k, v in request.headers.items() if k not in ("host", "connection")}
            headers["Host"] = f"{self.upstream.hostname}:{self.upstream.port}"
            conn.request(request.method, request.path, body=request.raw, headers=headers)
            response = conn.getresponse()
            body = response.read()
            return response.status, {k: v for k, v in response.getheaders()}, body
        finally:
            conn.close()

    # -- reading back -------------------------------------------------------------------
    def statuses(self) -> List[int]:
        with self._lock:
            return [status for _, status in self.answered]

    def accepted(self) -> List[Request]:
        """The requests answered with a 2xx status."""
        with self._lock:
            return [req for req, status in self.answered if 200 <= status < 300]

    def wait_for(self, predicate: Callable[[], bool], timeout: float = 20.0) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate():
                return True
            time.sleep(0.02)
        return predicate()

    def close(self) -> None:
        self._stopping.set()
        self.server.shutdown()
        self.server.server_close()
