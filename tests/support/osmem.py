"""The OpenSearch API emulator (osmem-server) for the elasticsearch handler's tests and benchmark.

Holds :class:`Emulator` (starts ``osmem-server`` on 127.0.0.1 on a free port; reads
documents back with ``_refresh`` + ``_search``) and small helpers the test modules share.
A missing emulator fails the tests that use it: it is in the ``test`` extra, and
scripts/test-deps.d/45-osmem.sh makes its bundled binary executable.
"""

from __future__ import annotations

import http.client
import json
import time
import urllib.parse
from typing import Any, Dict, List

import micktrace

#: engine options that keep the tests quick
FAST = {"linger": 0.02, "backoff": 0.02, "max_backoff": 0.3}


class Emulator:
    def __init__(self) -> None:
        from osmem_server import OsmemServer  # a missing emulator fails the tests, never skips them

        self.server = OsmemServer.start(japanese=False, addr="127.0.0.1:0")
        self.url = self.server.url
        parts = urllib.parse.urlsplit(self.url)
        assert parts.hostname == "127.0.0.1"
        self.port = int(parts.port or 0)

    def request(self, method: str, path: str, body: Any = None) -> Any:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            data = None if body is None else json.dumps(body).encode()
            conn.request(method, path, body=data, headers={"Content-Type": "application/json"})
            response = conn.getresponse()
            return response.status, json.loads(response.read() or b"{}")
        finally:
            conn.close()

    def docs(self, index: str) -> List[Dict[str, Any]]:
        """Every document of *index* (a pattern), in the order the cluster indexed them."""
        self.request("POST", f"/{index}/_refresh")
        status, found = self.request("POST", f"/{index}/_search", {"size": 10000, "sort": ["_doc"]})
        if status == 404:
            return []
        assert status == 200, found
        return [dict(hit["_source"], _index=hit["_index"]) for hit in found["hits"]["hits"]]

    def wait_docs(self, index: str, count: int, timeout: float = 20.0) -> List[Dict[str, Any]]:
        deadline = time.monotonic() + timeout
        docs = self.docs(index)
        while len(docs) < count and time.monotonic() < deadline:
            time.sleep(0.05)
            docs = self.docs(index)
        return docs


def row(name: str = "ElasticsearchHandler") -> Dict[str, Any]:
    return dict(micktrace.metrics()["handlers"][name])


def seqs(docs: List[Dict[str, Any]]) -> List[int]:
    return [int(d["seq"]) for d in docs if "seq" in d]


def log_events(count: int, pause: float = 0.0, **fields: Any) -> None:
    """*count* records ``seq=0..count-1`` from the logger ``faults``."""
    log = micktrace.get_logger("faults")
    for i in range(count):
        log.info("event", seq=i, **fields)
        if pause:
            time.sleep(pause)
