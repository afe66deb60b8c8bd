"""The ``elasticsearch`` / ``opensearch`` handler against a real OpenSearch API
emulator (osmem-server, started on 127.0.0.1 for the session): records are read
back with ``_search``; faults are injected by a proxy in front of it.

elasticsearch-py cannot talk to the emulator (it is an OpenSearch server and
refuses the client's compatibility headers with 406), so the client path runs
through opensearch-py against the emulator, and elasticsearch-py's path against
the loopback recorder answering as Elasticsearch does.
"""

from __future__ import annotations

import base64
import http.client
import json
import os
import re
import subprocess
import time
import urllib.parse
import uuid
from pathlib import Path
from typing import Any, Dict, Iterator, List

import pytest

import micktrace
from micktrace.handlers.network.elastic_docs import IndexNamer, host_url
from micktrace.handlers.network.elasticsearch import ElasticsearchHandler, OpenSearchHandler
from micktrace.testing import check_handler
from support.http_faults import Recorder

ROOT = Path(__file__).resolve().parents[1]
SRC = str(ROOT / "src")
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


@pytest.fixture(scope="session")
def emulator() -> Iterator[Emulator]:
    emu = Emulator()
    yield emu
    emu.server.close()


@pytest.fixture
def index() -> str:
    return f"t-{uuid.uuid4().hex[:12]}"


@pytest.fixture(autouse=True)
def _reset() -> Iterator[None]:
    yield
    micktrace.shutdown(timeout=2)
    micktrace.configure(reset=True)


@pytest.fixture
def proxy(emulator: Emulator) -> Iterator[Recorder]:
    rec = Recorder(upstream=emulator.url)
    yield rec
    rec.close()


def _row(name: str = "ElasticsearchHandler") -> Dict[str, Any]:
    return dict(micktrace.metrics()["handlers"][name])


def _seqs(docs: List[Dict[str, Any]]) -> List[int]:
    return [int(d["seq"]) for d in docs if "seq" in d]


# -- the spec's example, options --------------------------------------------------------------


def _readme_block() -> str:
    text = (ROOT.parent.parent / "shared" / "seed" / "MICKTRACE_README.md").read_text()
    start = text.index("### **Elastic Stack Integration**")
    return text[start:].split("```python\n", 1)[1].split("```", 1)[0]


def test_spec_example_as_written(emulator: Emulator) -> None:
    # the block from the spec, with only the port changed to the emulator's
    block = _readme_block()
    assert '"hosts": ["localhost:9200"]' in block and '"type": "elasticsearch"' in block
    exec(compile(block.replace("localhost:9200", f"localhost:{emulator.port}"), "README", "exec"), {})
    micktrace.shutdown()
    (doc,) = emulator.wait_docs("application-logs", 1)
    assert doc["message"] == "Search query" and doc["log"]["level"] == "info"
    assert doc["query"] == "python logging" and doc["results"] == 1250 and doc["response_time_ms"] == 23


@pytest.mark.parametrize("transport", ["http", "sdk"])
def test_records_arrive_once_in_order_with_ecs_fields(emulator: Emulator, index: str, transport: str) -> None:
    micktrace.configure(service="shop", version="2.1.0", environment="prod", handlers=[
        OpenSearchHandler(hosts=emulator.url, index=index + "-%Y.%m.%d", transport=transport, batch_size=37, **FAST)
    ])  # fmt: skip
    log = micktrace.get_logger("app.orders")
    with micktrace.context(trace_id="4bf92f3577b34da6a3ce929d0e0e4736", span_id="00f067aa0ba902b7", request="r1"):
        for i in range(200):
            log.info("order placed", seq=i, amount=i * 1.5, host="web-1")
    try:
        raise KeyError("missing")
    except KeyError:
        log.exception("lookup failed", seq=200)
    assert micktrace.flush(10)
    docs = emulator.wait_docs(index + "-*", 201)
    assert _seqs(docs) == list(range(201))
    first, last = docs[0], docs[-1]
    assert first["_index"] == index + "-" + time.strftime("%Y.%m.%d", time.gmtime(time.time()))
    assert re.match(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$", first["@timestamp"])
    assert first["log"] == {"level": "info", "logger": "app.orders"} and first["message"] == "order placed"
    assert first["service"] == {"name": "shop", "version": "2.1.0", "environment": "prod"}
    assert first["trace"] == {"id": "4bf92f3577b34da6a3ce929d0e0e4736"} and first["span"] == {"id": "00f067aa0ba902b7"}
    assert first["amount"] == 0.0 and first["request"] == "r1" and first["labels"] == {"host": "web-1"}
    assert first["process"]["pid"] == os.getpid() and first["host"]["hostname"] and first["ecs"]["version"]
    assert last["log"]["level"] == "error" and last["error"]["type"] == "KeyError"
    assert "missing" in last["error"]["message"] and "Traceback" in last["error"]["stack_trace"]
    via = "opensearchpy" if transport == "sdk" else "http"
    assert micktrace.health()["handlers"]["OpenSearchHandler"]["destination"].endswith("via " + via)


def test_ecs_off_writes_the_json_layout(emulator: Emulator, index: str) -> None:
    micktrace.configure(handlers=[{"type": "elasticsearch", "hosts": [emulator.url], "index": index, "ecs": False,
                                   "transport": "http", **FAST}])  # fmt: skip
    micktrace.get_logger("plain").warning("as json", seq=0, user="ann")
    assert micktrace.flush(10)
    (doc,) = emulator.wait_docs(index, 1)
    assert doc["level"] == "WARNING" and doc["logger"] == "plain" and doc["user"] == "ann" and "@timestamp" in doc
    assert "log" not in doc and "ecs" not in doc


def test_data_stream_auth_and_round_robin(emulator: Emulator, index: str) -> None:
    first, second = Recorder(upstream=emulator.url), Recorder(upstream=emulator.url)
    try:
        micktrace.configure(handlers=[ElasticsearchHandler(
            hosts=[first.url, second.url.replace("http://", "")], index=index, data_stream=True,
            api_key=("key-id", "key-secret-value"), transport="http", batch_size=10, **FAST)])  # fmt: skip
        log = micktrace.get_logger("ds")
        for i in range(40):
            log.info("to a stream", seq=i)
        assert micktrace.flush(10)
        assert _seqs(emulator.wait_docs(index, 40)) == list(range(40))
        requests = first.accepted() + second.accepted()
        assert first.accepted() and second.accepted()  # both hosts took requests
        expected = "ApiKey " + base64.b64encode(b"key-id:key-secret-value").decode()
        assert all(r.headers["authorization"] == expected for r in requests)
        actions = [line for r in requests for line in r.ndjson() if "create" in line or "index" in line]
        assert len(actions) == 40 and all(a == {"create": {"_index": index}} for a in actions)
        text = json.dumps(micktrace.health(), default=str) + repr(micktrace.metrics())
        assert "key-secret-value" not in text and expected[7:] not in text
    finally:
        first.close()
        second.close()


def test_basic_auth_from_options_and_from_the_url(proxy: Recorder, emulator: Emulator, index: str) -> None:
    handler = ElasticsearchHandler(hosts=proxy.url, index=index, username="elastic", password="s3cret-pass",
                                   transport="http", **FAST)  # fmt: skip
    in_url = proxy.url.replace("http://", "http://bob:pw%40x1@")
    handler2 = ElasticsearchHandler(hosts=in_url, index=index, transport="http", name="second", **FAST)
    assert "s3cret" not in repr(handler) and "pw@x1" not in repr(handler2)
    micktrace.configure(handlers=[handler, handler2])
    micktrace.get_logger("auth").info("hello", seq=0)
    assert micktrace.flush(10)
    assert len(emulator.wait_docs(index, 2)) == 2
    got = sorted(r.headers["authorization"] for r in proxy.accepted())
    assert got == sorted("Basic " + base64.b64encode(c).decode() for c in (b"elastic:s3cret-pass", b"bob:pw@x1"))


@pytest.mark.filterwarnings("ignore:.*verif:Warning")
def test_tls_with_ca_certs_and_verify_off(tmp_path: Path, emulator: Emulator, index: str) -> None:
    import ssl

    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(cert),
                    "-days", "1", "-subj", "/CN=localhost", "-addext", "subjectAltName=IP:127.0.0.1"],
                   check=True, capture_output=True)  # fmt: skip
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(str(cert), str(key))
    rec = Recorder(upstream=emulator.url, tls_context=context)
    try:
        verified = ElasticsearchHandler(hosts=rec.url, index=index, ca_certs=str(cert), transport="http", **FAST)
        unverified = OpenSearchHandler(hosts=rec.url, index=index, verify_certs=False, transport="sdk", name="u",
                                       **FAST)  # fmt: skip
        micktrace.configure(handlers=[verified, unverified])
        micktrace.get_logger("tls").info("over tls", seq=0)
        assert micktrace.flush(10)
        assert len(emulator.wait_docs(index, 2)) == 2
    finally:
        rec.close()


def test_bad_options_raise_config_errors() -> None:
    bad: List[Dict[str, Any]] = [
        {"hosts": "ftp://x"}, {"hosts": []}, {"hosts": 9200}, {"hosts": "h:notaport"}, {"index": "Logs-%Y"},
        {"index": "a b"}, {"index": ""}, {"index": "_x"}, {"transport": "grpc"}, {"api_key": ("only-one",)},
        {"password": "p"}, {"index": "logs-%b"},
    ]  # fmt: skip
    for kwargs in bad:
        with pytest.raises(micktrace.ConfigError):
            ElasticsearchHandler(**{"transport": "http", **kwargs})
    with pytest.raises(micktrace.ConfigError, match="api_key"):
        micktrace.configure(handlers=[{"type": "opensearch", "api_key": 12345}])
    assert host_url("localhost:9200") == ("http://localhost:9200", None, None)
    assert host_url("es.example") == ("http://es.example:9200", None, None)
    assert host_url("https://u:p@es.example/prefix/") == ("https://es.example:443/prefix", "u", "p")
    namer = IndexNamer("logs-%Y.%m.%d-%H")
    assert namer(1_700_000_000 * 10**9) == "logs-2023.11.14-22" and IndexNamer("fixed")(0) == "fixed"


def test_planned_types_are_now_built() -> None:
    from micktrace.config.handlers import PLANNED_HANDLER_TYPES
    from micktrace.handlers.network import NETWORK_HANDLER_TYPES, network_handler_class

    assert "elasticsearch" not in PLANNED_HANDLER_TYPES and "opensearch" not in PLANNED_HANDLER_TYPES
    assert network_handler_class("elasticsearch") is ElasticsearchHandler
    assert network_handler_class("opensearch") is OpenSearchHandler
    assert NETWORK_HANDLER_TYPES["opensearch"][2] == "elastic"


# -- conformance ---------------------------------------------------------------------------------


@pytest.mark.parametrize("transport", ["http", "sdk"])
def test_conformance(emulator: Emulator, transport: str) -> None:
    index = f"conf-{transport}-{uuid.uuid4().hex[:8]}"

    def make() -> OpenSearchHandler:
        return OpenSearchHandler(hosts=emulator.url, index=index, transport=transport, retries=1, exit_timeout=3,
                                 **FAST)  # fmt: skip

    def break_handler(handler: Any) -> None:
        handler.hosts = ["http://127.0.0.1:1"]
        handler.reset_connection()

    report = check_handler(make, lambda: emulator.docs(index), break_handler=break_handler, fork=True)
    assert report.passed and not report.skipped and not report.failed
