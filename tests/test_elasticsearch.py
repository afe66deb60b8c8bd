"""The ``elasticsearch`` / ``opensearch`` handler against a real OpenSearch API
emulator (osmem-server, started on 127.0.0.1 for the session): the spec's example,
every option, conformance, the client libraries, exit and missing extras. Records are
read back with ``_search``. The fault tests are in test_elasticsearch_faults.py.

elasticsearch-py cannot talk to the emulator (it is an OpenSearch server and
refuses the client's compatibility headers with 406), so the client path runs
through opensearch-py against the emulator, and elasticsearch-py's path against
the loopback recorder answering as Elasticsearch does.
"""

from __future__ import annotations

import base64
import json
import os
import re
import subprocess
import sys
import textwrap
import time
import uuid
from pathlib import Path
from typing import Any, Dict, Iterator, List

import pytest

import micktrace
from micktrace.handlers.network.elastic_docs import IndexNamer, host_url
from micktrace.handlers.network.elasticsearch import ElasticsearchHandler, OpenSearchHandler
from micktrace.testing import check_handler
from support.http_faults import Recorder, Request
from support.osmem import FAST, Emulator
from support.osmem import log_events as _log
from support.osmem import row as _row
from support.osmem import seqs as _seqs

ROOT = Path(__file__).resolve().parents[1]
SRC = str(ROOT / "src")

# pasted verbatim from the spec (MICKTRACE_README.md, "Elastic Stack Integration")
SPEC_EXAMPLE = '''\
import micktrace

micktrace.configure(
    level="INFO",
    handlers=[{
        "type": "elasticsearch",
        "hosts": ["localhost:9200"],
        "index": "application-logs"
    }]
)

logger = micktrace.get_logger(__name__)
logger.info("Search query", query="python logging", results=1250, response_time_ms=23)
'''


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


# -- the spec's example, options --------------------------------------------------------------


def test_spec_example_as_written(emulator: Emulator) -> None:
    # the block from the spec, with only the port changed to the emulator's
    exec(compile(SPEC_EXAMPLE.replace("localhost:9200", f"localhost:{emulator.port}"), "README", "exec"), {})
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


@pytest.mark.parametrize("transport", ["http", "sdk"])
def test_data_stream_api_key_and_two_hosts(emulator: Emulator, index: str, transport: str) -> None:
    first, second = Recorder(upstream=emulator.url), Recorder(upstream=emulator.url)
    try:
        micktrace.configure(handlers=[OpenSearchHandler(
            hosts=[first.url, second.url.replace("http://", "")], index=index, data_stream=True,
            api_key=("key-id", "key-secret-value"), transport=transport, batch_size=10, **FAST)])  # fmt: skip
        log = micktrace.get_logger("ds")
        for i in range(40):
            log.info("to a stream", seq=i)
        assert micktrace.flush(10)
        assert _seqs(emulator.wait_docs(index, 40)) == list(range(40))
        requests = first.accepted() + second.accepted()
        assert first.accepted() and second.accepted()  # both hosts took requests (round robin, or the client's pool)
        expected = "ApiKey " + base64.b64encode(b"key-id:key-secret-value").decode()
        assert all(r.headers["authorization"] == expected for r in requests)
        actions = [line for r in requests for line in r.ndjson() if "create" in line or "index" in line]
        assert len(actions) == 40 and all(a == {"create": {"_index": index}} for a in actions)
        text = json.dumps(micktrace.health(), default=str) + repr(micktrace.metrics())
        assert "key-secret-value" not in text and expected[7:] not in text
    finally:
        first.close()
        second.close()


@pytest.mark.parametrize("transport", ["http", "sdk"])
def test_basic_auth_from_options_and_the_url(proxy: Recorder, emulator: Emulator, index: str, transport: str) -> None:
    handler = OpenSearchHandler(hosts=proxy.url, index=index, username="elastic", password="s3cret-pass",
                                transport=transport, **FAST)  # fmt: skip
    in_url = proxy.url.replace("http://", "http://bob:pw%40x1@")
    handler2 = OpenSearchHandler(hosts=in_url, index=index, transport=transport, name="second", **FAST)
    assert "s3cret" not in repr(handler) and "pw@x1" not in repr(handler2)
    micktrace.configure(handlers=[handler, handler2])
    micktrace.get_logger("auth").info("hello", seq=0)
    assert micktrace.flush(10)
    assert len(emulator.wait_docs(index, 2)) == 2
    got = sorted(r.headers["authorization"] for r in proxy.accepted())
    assert got == sorted("Basic " + base64.b64encode(c).decode() for c in (b"elastic:s3cret-pass", b"bob:pw@x1"))


@pytest.mark.filterwarnings("ignore:.*verif:Warning")
@pytest.mark.parametrize("transport", ["http", "sdk"])
def test_tls_ca_certs_verify_certs(tmp_path: Path, emulator: Emulator, index: str, transport: str) -> None:
    import ssl

    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(cert),
                    "-days", "1", "-subj", "/CN=localhost", "-addext", "subjectAltName=IP:127.0.0.1"],
                   check=True, capture_output=True)  # fmt: skip
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(str(cert), str(key))
    rec = Recorder(upstream=emulator.url, tls_context=context)
    try:
        options: Dict[str, Any] = dict(FAST, hosts=rec.url, index=index, transport=transport)
        verified = OpenSearchHandler(ca_certs=str(cert), name="ca", **options)
        unverified = OpenSearchHandler(verify_certs=False, name="off", **options)
        refused = OpenSearchHandler(name="default", retries=0, **options)  # the system CAs do not know this cert
        micktrace.configure(handlers=[verified, unverified, refused])
        micktrace.get_logger("tls").info("over tls", seq=0)
        micktrace.flush(10)
        assert len(emulator.wait_docs(index, 2)) == 2
        rows = micktrace.metrics()["handlers"]
        assert rows["ca"]["delivered"] == rows["off"]["delivered"] == 1
        assert rows["default"]["delivered"] == 0 and rows["default"]["fallback"] == 1
        assert "CERTIFICATE_VERIFY_FAILED" in str(refused.health()["last_error"]).upper().replace(" ", "_")
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
    assert [NETWORK_HANDLER_TYPES[t][2] for t in ("elasticsearch", "opensearch")] == ["elastic", "opensearch"]


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


# -- elasticsearch-py, injected clients, exit, missing extras ------------------------------------------


def _elasticsearch_answer(request: Request) -> Any:
    """What Elasticsearch answers to a bulk request: item 1 throttled the first time, item 2 rejected."""
    pairs = request.ndjson()
    items: List[Dict[str, Any]] = []
    for n, doc in enumerate(pairs[1::2]):
        status = 201
        if doc["seq"] == 1 and not any(b'"seq":1' in r.body for r in _es_seen[:-1]):
            status = 429
        elif doc["seq"] == 2:
            status = 400
        entry: Dict[str, Any] = {"_index": "x", "status": status}
        if status != 201:
            kind = "mapper_parsing_exception" if status == 400 else "es_rejected_execution_exception"
            entry["error"] = {"type": kind, "reason": f"item {n}"}
        items.append({"index": entry})
    headers = {"X-Elastic-Product": "Elasticsearch", "Content-Type": "application/vnd.elasticsearch+json"}
    return 200, headers, json.dumps({"took": 1, "errors": True, "items": items}).encode()


_es_seen: List[Request] = []


def test_elasticsearch_py_path_against_an_elasticsearch_answer(capsys: Any) -> None:
    import elasticsearch

    rec = Recorder()
    _es_seen.clear()

    def respond(request: Request) -> Any:
        _es_seen.append(request)
        return _elasticsearch_answer(request)

    rec.respond_with(respond)
    try:
        handler = ElasticsearchHandler(hosts=rec.url, index="app", api_key=("id1", "k" * 12), transport="sdk", **FAST)
        micktrace.configure(handlers=[handler])
        _log(5)
        assert micktrace.flush(10)
        assert handler.health()["destination"].endswith("via elasticsearch")
        assert len(_es_seen) == 2 and all(r.path == "/_bulk" for r in _es_seen)
        assert "compatible-with" in _es_seen[0].headers["content-type"]  # it really was elasticsearch-py
        assert _es_seen[0].headers["authorization"] == "ApiKey " + base64.b64encode(b"id1:" + b"k" * 12).decode()
        assert [d["seq"] for d in _es_seen[1].ndjson() if "seq" in d] == [1]  # only the throttled item again
        row = _row()
        assert row["delivered"] == 4 and row["rejected"] == 1 and row["retries"] == 1
        assert "seq=2" in capsys.readouterr().err
        # an injected elasticsearch client is used as it is
        client = elasticsearch.Elasticsearch(rec.url, max_retries=0)
        injected = ElasticsearchHandler(client=client, index="app", name="inj", **FAST)
        assert injected.describe() == "an injected client index=app via elasticsearch"
        micktrace.configure(handlers=[injected])
        _log(1)
        assert micktrace.flush(10) and len(_es_seen) == 3
    finally:
        rec.close()


def test_spec_example_switches_elasticsearch_py_to_http_for_opensearch(emulator: Emulator, capsys: Any) -> None:
    import elasticsearch  # noqa: F401  (in the test extra: the auto transport picks it for "elasticsearch")

    handler = ElasticsearchHandler(hosts=f"localhost:{emulator.port}", index="switched", **FAST)
    micktrace.configure(handlers=[handler])
    assert handler.health()["destination"].endswith("via elasticsearch")
    _log(3)
    assert micktrace.flush(10)
    assert _seqs(emulator.wait_docs("switched", 3)) == [0, 1, 2]
    assert handler.health()["destination"].endswith("via http") and _row()["fallback"] == 0
    assert "sending with plain HTTP from now on" in capsys.readouterr().err


def test_injected_opensearch_client_survives_close(emulator: Emulator, index: str) -> None:
    from opensearchpy import OpenSearch

    client = OpenSearch([emulator.url])
    handler = OpenSearchHandler(client=client, index=index, **FAST)
    micktrace.configure(handlers=[handler])
    _log(5)
    micktrace.configure(reset=True)  # closes the handler, not the application's client
    assert _seqs(emulator.wait_docs(index, 5)) == list(range(5))
    assert client.count(index=index)["count"] == 5


def test_capture_stdlib_with_the_sdk_loggers_at_debug_does_not_loop(emulator: Emulator, index: str) -> None:
    import logging

    names = ("opensearch", "urllib3", "opensearchpy")
    saved = {n: logging.getLogger(n).level for n in names}
    for n in names:
        logging.getLogger(n).setLevel(logging.DEBUG)
    try:
        handler = OpenSearchHandler(hosts=emulator.url, index=index, transport="sdk", **FAST)
        micktrace.configure(level="DEBUG", capture_stdlib=True, handlers=[handler])
        for i in range(50):
            logging.getLogger("app").info("via stdlib %d", i)
            time.sleep(0.002)
        assert micktrace.flush(10)
        time.sleep(0.3)  # anything the SDK logged while sending would be indexed by now
        micktrace.flush(5)
        docs = emulator.wait_docs(index, 50)
        assert [d["message"] for d in docs] == [f"via stdlib {i}" for i in range(50)]
        assert _row("OpenSearchHandler")["feedback_skipped"] > 0  # the SDK did log, and it was kept out
    finally:
        micktrace.configure(reset=True, capture_stdlib=False)
        for n, level in saved.items():
            logging.getLogger(n).setLevel(level)


@pytest.mark.parametrize("transport", ["http", "sdk"])
def test_exit_with_a_backlog_delivers_it(emulator: Emulator, index: str, transport: str) -> None:
    script = textwrap.dedent(
        f"""
        import micktrace
        micktrace.configure(handlers=[{{"type": "opensearch", "hosts": "{emulator.url}", "index": "{index}",
                                        "transport": "{transport}", "linger": 30, "batch_size": 200}}])
        log = micktrace.get_logger("exit")
        for i in range(500):
            log.info("event", seq=i)
        raise SystemExit(3)
        """
    )
    proc = subprocess.run([sys.executable, "-c", script], env={**os.environ, "PYTHONPATH": SRC}, timeout=30,
                          capture_output=True, text=True)  # fmt: skip
    assert proc.returncode == 3, proc.stderr
    assert _seqs(emulator.wait_docs(index, 500)) == list(range(500))


def test_missing_client_library_names_the_extra(tmp_path: Path) -> None:
    for name in ("opensearchpy", "elasticsearch"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "__init__.py").write_text("raise ImportError('blocked for the test')\n")
    script = textwrap.dedent(
        """
        import micktrace
        from micktrace.errors import MissingExtraError
        from micktrace.handlers.network.elasticsearch import ElasticsearchHandler, OpenSearchHandler
        for cls in (OpenSearchHandler, ElasticsearchHandler):
            try:
                cls(transport="sdk")
            except MissingExtraError as exc:
                print("missing:", exc)
            print("auto:", cls().describe())
        try:
            micktrace.configure(handlers=[{"type": "elasticsearch", "transport": "sdk"}])
        except MissingExtraError as exc:
            print("configure:", exc.extra)
        """
    )
    proc = subprocess.run([sys.executable, "-c", script], env={**os.environ, "PYTHONPATH": f"{tmp_path}:{SRC}"},
                          timeout=30, capture_output=True, text=True)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert "missing:" in lines[0] and "'opensearchpy'" in lines[0] and "micktrace[opensearch]" in lines[0]
    assert lines[1].endswith("via http") and "'elasticsearch'" in lines[2] and "micktrace[elastic]" in lines[2]
    assert lines[3].endswith("via http")
    assert lines[4] == "configure: elastic"


def test_a_record_over_the_document_limit_is_truncated_with_a_marker(emulator: Emulator, index: str) -> None:
    micktrace.configure(handlers=[OpenSearchHandler(hosts=emulator.url, index=index, transport="http", **FAST)])
    log = micktrace.get_logger("big")
    log.info("x" * (3 * 1024 * 1024), seq=0)  # a long string is cut by the serializer, visibly
    log.info("many fields", seq=1, **{f"f{i}": "y" * 15_000 for i in range(100)})  # 1.5 MB: over the 1 MiB limit
    assert micktrace.flush(10)
    first, second = emulator.wait_docs(index, 2)
    assert first["message"].endswith("more chars]") and len(first["message"]) < 1024 * 1024
    assert second["micktrace_truncated"] is True and "f1" not in second and "many fields" in second["message"]
    assert _row("OpenSearchHandler")["truncated"] == 1
