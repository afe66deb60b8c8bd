"""Fast loopback sinks for measuring what a *client* can deliver, not what an emulator can absorb.

The correctness tests and the main benchmark rows use moto's server (CloudWatch Logs) and the osmem
emulator (OpenSearch): faithful, but one Python process each, parsing and indexing every event, so
they cap delivery (about 33k events/s and 3k documents/s here) for every client alike. These sinks
speak the same documented wire protocols (CloudWatch Logs' JSON 1.1 ``PutLogEvents``; the ``_bulk``
NDJSON API) and only parse, count and acknowledge, so the client side is what the clock measures.
They are not emulators: no storage, no validation beyond the shape, and never used to show
correctness.

Run as ``python benchmarks/capacity_sinks.py cloudwatch|bulk``: prints its base URL, then serves until
stdin closes. ``GET /_count`` (and, for bulk, ``GET /<index>/_count``) answers how many events or
documents arrived. Only 127.0.0.1.
"""

from __future__ import annotations

import http.server
import json
import os
import subprocess
import sys
import threading
import urllib.request
from typing import Any, Dict, Optional, Tuple


class _Counts:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.total = 0
        self.by_key: Dict[str, int] = {}
        self.first: Dict[str, Any] = {}

    def add(self, key: str, count: int, first: Any = None) -> None:
        with self.lock:
            self.total += count
            self.by_key[key] = self.by_key.get(key, 0) + count
            if first is not None and key not in self.first:
                self.first[key] = first


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    counts: _Counts
    kind: str

    def log_message(self, *args: Any) -> None:  # quiet
        pass

    def _answer(self, status: int, body: Any, content_type: str = "application/json") -> None:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def do_HEAD(self) -> None:
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0]
        if path == "/_count":
            self._answer(200, {"count": self.counts.total})
        elif path.endswith("/_first"):  # the first document or event an index or group received
            self._answer(200, {"first": self.counts.first.get(path.strip("/").split("/")[0])})
        elif path.endswith("/_count"):
            self._answer(200, {"count": self.counts.by_key.get(path.strip("/").split("/")[0], 0)})
        else:  # the cluster info a client may ask for
            self._answer(200, {"name": "sink", "version": {"number": "2.11.0", "distribution": "opensearch"}})

    def do_PUT(self) -> None:
        self._body()
        self._answer(200, {"acknowledged": True})

    def do_POST(self) -> None:
        body = self._body()
        if self.kind == "cloudwatch":
            self._cloudwatch(body)
        else:
            self._bulk(body)

    def _cloudwatch(self, body: bytes) -> None:
        target = self.headers.get("X-Amz-Target", "")
        ctype = "application/x-amz-json-1.1"
        if target.endswith(".PutLogEvents"):
            request = json.loads(body)
            events = request.get("logEvents") or []
            self.counts.add(request.get("logGroupName", ""), len(events), events[0] if events else None)
            self._answer(200, {"nextSequenceToken": "1"}, ctype)
        elif target.endswith(".DescribeLogStreams"):
            self._answer(200, {"logStreams": []}, ctype)
        else:  # CreateLogGroup, CreateLogStream, PutRetentionPolicy
            self._answer(200, {}, ctype)

    def _bulk(self, body: bytes) -> None:
        path = self.path.split("?", 1)[0].strip("/")
        if not path.endswith("_bulk"):
            self._answer(200, {"acknowledged": True})
            return
        default_index = path.split("/")[0] if "/" in path else ""
        lines = [line for line in body.split(b"\n") if line.strip()]
        items = []
        by_index: Dict[str, Tuple[int, Any]] = {}
        for i in range(0, len(lines) - 1, 2):
            action = json.loads(lines[i])
            op, meta = next(iter(action.items()))
            index = meta.get("_index") or default_index
            count, first = by_index.get(index, (0, None))
            by_index[index] = (count + 1, first if first is not None else lines[i + 1])
            items.append({op: {"_index": index, "_id": str(self.counts.total + len(items)), "status": 201,
                               "result": "created"}})  # fmt: skip
        for index, (count, first) in by_index.items():
            self.counts.add(index, count, json.loads(first))
        self._answer(200, {"took": 1, "errors": False, "items": items})


def serve(kind: str) -> None:
    handler = type("Handler", (_Handler,), {"counts": _Counts(), "kind": kind})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    print(f"http://127.0.0.1:{server.server_address[1]}", flush=True)
    sys.stdin.read()  # until the benchmark closes our stdin
    server.shutdown()


class Sink:
    """A sink in a process of its own (so it takes no CPU from the measured process)."""

    def __init__(self, kind: str) -> None:
        self.proc = subprocess.Popen([sys.executable, os.path.abspath(__file__), kind], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True)  # fmt: skip
        assert self.proc.stdout is not None
        self.url = self.proc.stdout.readline().strip()
        if not self.url:
            raise RuntimeError("the sink did not start")
        self.port = int(self.url.rsplit(":", 1)[1])

    def count(self, key: Optional[str] = None) -> int:
        path = f"/{key}/_count" if key else "/_count"
        with urllib.request.urlopen(self.url + path, timeout=30) as answer:
            return int(json.loads(answer.read())["count"])

    def request(self, method: str, path: str, body: Any = None) -> Tuple[int, Any]:
        """The subset of support.osmem.Emulator.request the benchmarks use (_refresh, _count, _search)."""
        if path.endswith("/_count"):
            return 200, {"count": self.count(path.strip("/").split("/")[0])}
        if path.endswith("/_search"):
            index = path.strip("/").split("/")[0]
            with urllib.request.urlopen(f"{self.url}/{index}/_first", timeout=30) as answer:
                first = json.loads(answer.read())["first"]
            return 200, {"hits": {"hits": [{"_source": first}] if first is not None else []}}
        return 200, {}

    def stop(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        self.proc.wait(10)


if __name__ == "__main__":
    serve(sys.argv[1])
