"""The ``opensearch`` handler with faults injected by a proxy in front of the real OpenSearch
API emulator (osmem-server): throttled, failing, resetting and hung requests, items of a bulk
response throttled or rejected, 403 and 413. In each: nothing lost, nothing duplicated, and
health tells the truth. Both transports: opensearch-py and stdlib HTTP.
"""

from __future__ import annotations

import http.client
import json
import uuid
from typing import Any, Callable, Dict, Iterator, Optional, Tuple

import pytest

import micktrace
from micktrace.handlers.network.elastic_docs import bulk_outcome
from micktrace.handlers.network.elasticsearch import OpenSearchHandler
from support.http_faults import Recorder, Request
from support.osmem import FAST, Emulator
from support.osmem import log_events as _log
from support.osmem import row as _row
from support.osmem import seqs as _seqs


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


# -- faults in front of the real server -------------------------------------------------------------


def _via(proxy: Recorder, index: str, transport: str, **options: Any) -> OpenSearchHandler:
    settings: Dict[str, Any] = dict(FAST, retries=30, timeout=2.0)
    settings.update(options)
    return OpenSearchHandler(hosts=proxy.url, index=index, transport=transport, **settings)


FAULTS: Dict[str, Callable[[Recorder], None]] = {
    "503_for_2s": lambda rec: rec.fail_for(2.0, 503),
    "429_retry_after": lambda rec: rec.fail(2, 429, headers={"Retry-After": "1"}),
    "connection_resets": lambda rec: rec.reset(2),
    "hung_server": lambda rec: rec.hang(1, 3.0),
}


@pytest.mark.parametrize("transport", ["http", "sdk"])
@pytest.mark.parametrize("fault", sorted(FAULTS))
def test_faults_lose_and_duplicate_nothing(
    proxy: Recorder, emulator: Emulator, index: str, transport: str, fault: str
) -> None:
    FAULTS[fault](proxy)
    handler = _via(proxy, index, transport, timeout=0.5 if fault == "hung_server" else 2.0)
    micktrace.configure(handlers=[handler])
    _log(60, pause=0.005)
    assert micktrace.flush(15)
    assert _seqs(emulator.wait_docs(index, 60)) == list(range(60))
    row = _row("OpenSearchHandler")
    assert row["delivered"] == 60 and row["fallback"] == row["dropped"] == row["rejected"] == 0
    assert row["retries"] >= 1 and handler.health()["last_error"]  # the fault was seen, and said
    assert handler.health()["state"] == "ok" and micktrace.health()["status"] != "failing"
    if fault == "429_retry_after":
        assert 429 in proxy.statuses()


def _forward(emulator: Emulator, request: Request, body: bytes) -> Dict[str, Any]:
    conn = http.client.HTTPConnection("127.0.0.1", emulator.port, timeout=10)
    try:
        conn.request("POST", request.path, body=body, headers={"Content-Type": "application/x-ndjson"})
        return dict(json.loads(conn.getresponse().read()))
    finally:
        conn.close()


def _throttling(emulator: Emulator, throttled: Tuple[int, ...]) -> Callable[[Request], Optional[Any]]:
    """A responder: the first bulk request's items at *throttled* get 429 (they are not
    forwarded), the rest go to the emulator; its answer is spliced around them."""
    state = {"first": True}

    def respond(request: Request) -> Optional[Any]:
        if "_bulk" not in request.path or not state["first"]:
            return None
        state["first"] = False
        lines = request.body.splitlines(keepends=True)
        pairs = [lines[i] + lines[i + 1] for i in range(0, len(lines), 2)]
        kept = [p for i, p in enumerate(pairs) if i not in throttled]
        answer = _forward(emulator, request, b"".join(kept))
        items = list(answer["items"])
        for i in throttled:
            error = {"type": "es_rejected_execution_exception", "reason": "rejected execution (queue capacity 200)"}
            items.insert(i, {"index": {"_index": "x", "status": 429, "error": error}})
        return 200, {}, json.dumps({"took": 1, "errors": True, "items": items}).encode()

    return respond


@pytest.mark.parametrize("transport", ["http", "sdk"])
def test_bulk_items_throttled_are_resent_alone(proxy: Recorder, emulator: Emulator, index: str, transport: str) -> None:
    proxy.respond_with(_throttling(emulator, (3, 7)))
    micktrace.configure(handlers=[_via(proxy, index, transport, linger=0.3)])
    _log(20)
    assert micktrace.flush(10)
    docs = emulator.wait_docs(index, 20)
    assert sorted(_seqs(docs)) == list(range(20)) and _seqs(docs)[-2:] == [3, 7]  # once each; the two came later
    bulks = [r for r in proxy.accepted() if "_bulk" in r.path]
    assert len(bulks) == 2 and [d["seq"] for d in bulks[1].ndjson() if "seq" in d] == [3, 7]
    row = _row("OpenSearchHandler")
    assert row["retries"] == 1 and row["delivered"] == 20 and row["fallback"] == 0


@pytest.mark.parametrize("transport", ["http", "sdk"])
def test_a_record_the_mapping_rejects_goes_to_the_fallback_with_its_reason(
    proxy: Recorder, emulator: Emulator, index: str, transport: str, capsys: Any
) -> None:
    status, _ = emulator.request("PUT", f"/{index}", {"mappings": {"properties": {"count": {"type": "long"}}}})
    assert status == 200
    micktrace.configure(handlers=[_via(proxy, index, transport, linger=0.3)])
    log = micktrace.get_logger("mapping")
    for i in range(30):
        log.info("event", seq=i, count="not-a-number" if i == 12 else i)
    assert micktrace.flush(10)
    assert _seqs(emulator.wait_docs(index, 29)) == [i for i in range(30) if i != 12]
    row = _row("OpenSearchHandler")
    assert row["rejected"] == 1 and row["fallback"] == 1 and row["delivered"] == 29 and row["retries"] == 0
    err = capsys.readouterr().err
    assert "mapper_parsing_exception" in err and "seq=12" in err and "HTTP 400" in err


@pytest.mark.parametrize("transport", ["http", "sdk"])
def test_403_means_unauthorized_and_no_secret_shows(
    proxy: Recorder, emulator: Emulator, index: str, transport: str, capsys: Any
) -> None:
    proxy.respond_with(lambda req: (403, {}, b'{"error":{"type":"security_exception","reason":"denied"},"status":403}'))
    handler = _via(proxy, index, transport, api_key="c2VjcmV0LWtleS1zZWNyZXQ=", breaker_cooldown=60)
    micktrace.configure(handlers=[handler])
    _log(10)
    micktrace.flush(5)
    health = micktrace.health()
    row = health["handlers"]["OpenSearchHandler"]
    assert row["state"] == "unauthorized" and health["status"] == "failing"
    assert _row("OpenSearchHandler")["fallback"] == 10
    shown = json.dumps(health, default=str) + capsys.readouterr().err + repr(handler)
    assert "c2VjcmV0LWtleS1zZWNyZXQ=" not in shown and "fallback" not in row.get("last_error", "")
    assert emulator.docs(index) == []


@pytest.mark.parametrize("transport", ["http", "sdk"])
def test_413_splits_the_batch(proxy: Recorder, emulator: Emulator, index: str, transport: str) -> None:
    proxy.fail(1, 413, body=b'{"error":"request entity too large"}')
    micktrace.configure(handlers=[_via(proxy, index, transport, linger=0.3)])
    _log(20)
    assert micktrace.flush(10)
    assert _seqs(emulator.wait_docs(index, 20)) == list(range(20))
    sizes = [len([d for d in r.ndjson() if "seq" in d]) for r in proxy.requests if "_bulk" in r.path]
    assert sizes == [20, 10, 10]
    assert _row("OpenSearchHandler")["fallback"] == 0


def test_bulk_outcome_reads_every_item_status() -> None:
    def item(status: int, kind: str = "index") -> Dict[str, Any]:
        body: Dict[str, Any] = {"status": status}
        if status >= 300:
            cause = {"type": "illegal_argument_exception", "reason": "For input string"}
            body["error"] = {"type": "mapper_parsing_exception", "reason": "failed to parse [n]", "caused_by": cause}
        return {kind: body}

    assert bulk_outcome({"errors": False, "items": [item(201)]}, 1) is None
    result = bulk_outcome({"errors": True, "items": [item(201), item(429), item(400, "create"), item(503)]}, 5)
    assert result is not None and result.retry == [1, 3, 4]  # the fifth was not answered: sent again
    ((index, reason),) = result.rejected
    assert index == 2 and "HTTP 400 mapper_parsing_exception" in reason and "For input string" in reason
    with pytest.raises(ValueError):
        bulk_outcome("not json", 1)
