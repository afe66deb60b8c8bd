"""ASGI middleware with FastAPI (httpx + ASGITransport) and Starlette's TestClient."""

from __future__ import annotations

import asyncio
import contextlib
import random
import warnings
from typing import Any, List

import httpx
import pytest
from fastapi import BackgroundTasks, FastAPI
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse, StreamingResponse
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket

import micktrace
from micktrace.integrations.asgi import RequestContextMiddleware
from micktrace.record import LogRecord

with warnings.catch_warnings():
    # newer Starlette suggests another HTTP client for its TestClient; httpx still works
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
log = micktrace.get_logger("api")


def make_app() -> FastAPI:
    app = FastAPI()
    app.add_middleware(RequestContextMiddleware)

    @app.get("/items/{n}")
    async def item(n: int) -> Any:
        await asyncio.sleep(random.random() / 200)  # interleave concurrent requests
        log.info("looking up", n=n)
        await asyncio.sleep(random.random() / 200)
        log.info("found", n=n)
        return {"n": n, "context": micktrace.get_context()}

    @app.get("/sync")
    def sync_endpoint() -> Any:  # FastAPI runs it in a thread pool
        log.info("in a worker thread")
        return micktrace.get_context()

    @app.get("/boom")
    async def boom() -> Any:
        raise RuntimeError("kaput")

    @app.get("/background")
    async def background(tasks: BackgroundTasks) -> Any:
        tasks.add_task(lambda: log.info("background task"))
        return {}

    @app.get("/own-id")
    async def own_id() -> Any:
        return PlainTextResponse("x", headers={"X-Request-ID": "set-by-app"})

    return app


@pytest.fixture
def records() -> List[LogRecord]:
    sink: List[LogRecord] = []
    micktrace.configure(handlers=[sink.append])
    return sink


def get(app: Any, path: str, **kwargs: Any) -> httpx.Response:
    async def call() -> httpx.Response:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
            return await client.get(path, **kwargs)

    return asyncio.run(call())


def completion(records: List[LogRecord]) -> List[LogRecord]:
    return [r for r in records if r.logger_name == "micktrace.web"]


def test_generated_request_id_is_in_context_and_echoed(records: List[LogRecord]) -> None:
    response = get(make_app(), "/items/3")
    assert response.status_code == 200
    request_id = response.headers["x-request-id"]
    assert len(request_id) == 32
    assert response.json()["context"] == {"request_id": request_id, "method": "GET", "path": "/items/3"}
    looking, found, done = records
    assert looking.context == found.context == done.context == response.json()["context"]
    assert done.logger_name == "micktrace.web" and done.message == "request completed"
    assert done.data["status"] == 200 and done.data["duration_ms"] >= 0
    assert done.level == micktrace.LogLevel.INFO


def test_incoming_request_id_and_traceparent_are_used(records: List[LogRecord]) -> None:
    response = get(make_app(), "/items/1", headers={"X-Request-ID": "abc-123", "traceparent": TRACEPARENT})
    assert response.headers["x-request-id"] == "abc-123"
    ctx = response.json()["context"]
    assert ctx["request_id"] == "abc-123"
    assert ctx["trace_id"] == "4bf92f3577b34da6a3ce929d0e0e4736" and ctx["parent_span_id"] == "00f067aa0ba902b7"
    assert len(ctx["span_id"]) == 16


def test_traceparent_alone_gives_the_request_id(records: List[LogRecord]) -> None:
    response = get(make_app(), "/items/1", headers={"traceparent": TRACEPARENT})
    assert response.headers["x-request-id"] == "4bf92f3577b34da6a3ce929d0e0e4736"


def test_unsafe_request_id_is_replaced(records: List[LogRecord]) -> None:
    response = get(make_app(), "/items/1", headers={"X-Request-ID": "x" * 500})
    assert response.headers["x-request-id"] != "x" * 500 and len(response.headers["x-request-id"]) == 32
    for unsafe in (b"evil\xe2\x80\xa8line", b"two words", b'quote"d'):
        response = get(make_app(), "/items/1", headers={"X-Request-ID": unsafe})
        assert len(response.headers["x-request-id"]) == 32 and response.json()["context"]["request_id"] != unsafe


def test_sync_endpoint_and_background_task_keep_the_context(records: List[LogRecord]) -> None:
    app = make_app()
    response = get(app, "/sync")
    assert response.json()["request_id"] == response.headers["x-request-id"]
    records.clear()
    response = get(app, "/background")
    background = next(r for r in records if r.message == "background task")
    assert background.context["request_id"] == response.headers["x-request-id"]


def test_exception_is_answered_500_with_the_id_and_logged_once_with_context(records: List[LogRecord]) -> None:
    app = make_app()
    response = get(app, "/boom", headers={"X-Request-ID": "boom-1"})
    assert response.status_code == 500 and response.text == "Internal Server Error"
    assert response.headers["x-request-id"] == "boom-1"
    (failed,) = completion(records)
    assert failed.message == "request failed" and failed.level == micktrace.LogLevel.ERROR
    assert failed.exc_info is not None and failed.exc_info[0] is RuntimeError
    assert failed.context["path"] == "/boom" and failed.data["status"] == 500
    assert failed.context["request_id"] == "boom-1"
    with TestClient(app) as client:  # Starlette's client too: no exception, the 500 with its id
        response = client.get("/boom")
    assert response.status_code == 500 and len(response.headers["x-request-id"]) == 32


def test_exception_after_the_response_started_is_logged_once_and_reraised(records: List[LogRecord]) -> None:
    async def broken(request: Any) -> StreamingResponse:
        async def body() -> Any:
            yield "first\n"
            raise RuntimeError("stream broke")

        return StreamingResponse(body())

    app = Starlette(routes=[Route("/broken", broken)])
    app.add_middleware(RequestContextMiddleware)
    with pytest.raises(RuntimeError, match="stream broke"):
        get(app, "/broken")
    (failed,) = completion(records)
    assert failed.message == "request failed" and failed.data["status"] == 200
    assert failed.exc_info is not None and failed.exc_info[0] is RuntimeError


def test_app_setting_its_own_id_header_is_not_duplicated(records: List[LogRecord]) -> None:
    response = get(make_app(), "/own-id")
    assert response.headers.get_list("x-request-id") == ["set-by-app"]


def test_concurrent_requests_are_isolated(records: List[LogRecord]) -> None:
    app = make_app()

    async def main() -> List[httpx.Response]:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
            return await asyncio.gather(
                *(client.get(f"/items/{n}", headers={"X-Request-ID": f"req-{n}"}) for n in range(30))
            )

    responses = asyncio.run(main())
    assert [r.headers["x-request-id"] for r in responses] == [f"req-{n}" for n in range(30)]
    assert len(records) == 90
    for record in records:
        if record.logger_name == "api":
            assert record.context["request_id"] == f"req-{record.data['n']}"
            assert record.context["path"] == f"/items/{record.data['n']}"
    done = completion(records)
    assert sorted(r.context["request_id"] for r in done) == sorted(f"req-{n}" for n in range(30))
    assert micktrace.get_context() == {}  # nothing leaked out of the requests


def test_starlette_test_client_streaming_lifespan_and_websocket(records: List[LogRecord]) -> None:
    async def stream(request: Any) -> StreamingResponse:
        async def body() -> Any:
            for i in range(3):
                log.info("chunk", i=i)
                yield f"{i}\n"

        return StreamingResponse(body())

    async def ws(websocket: WebSocket) -> None:
        await websocket.accept()
        log.info("socket", **micktrace.get_context())
        await websocket.send_text("hi")
        await websocket.close()

    started: List[bool] = []

    @contextlib.asynccontextmanager
    async def lifespan(app: Any) -> Any:
        started.append(True)
        yield

    app = Starlette(routes=[Route("/stream", stream), WebSocketRoute("/ws", ws)], lifespan=lifespan)
    app.add_middleware(RequestContextMiddleware, header="X-Correlation-ID", logger="access")
    with TestClient(app) as client:
        response = client.get("/stream", headers={"X-Correlation-ID": "c-1"})
        assert response.text == "0\n1\n2\n" and response.headers["x-correlation-id"] == "c-1"
        with client.websocket_connect("/ws") as socket:
            assert socket.receive_text() == "hi"
    assert started == [True]
    chunks = [r for r in records if r.message == "chunk"]
    assert [r.context["request_id"] for r in chunks] == ["c-1"] * 3
    (done,) = [r for r in records if r.logger_name == "access"]
    assert done.data["status"] == 200 and done.context["request_id"] == "c-1"
    socket_record = next(r for r in records if r.message == "socket")
    assert socket_record.context["path"] == "/ws" and socket_record.context["method"] == "WEBSOCKET"


def test_completion_record_can_be_turned_off(records: List[LogRecord]) -> None:
    app = FastAPI()
    app.add_middleware(RequestContextMiddleware, log_requests=False)

    @app.get("/")
    async def root() -> Any:
        return {}

    assert get(app, "/").status_code == 200
    assert completion(records) == []


def test_with_log_requests_off_a_failure_is_left_to_the_server_to_log(records: List[LogRecord]) -> None:
    app = FastAPI()
    app.add_middleware(RequestContextMiddleware, log_requests=False)

    @app.get("/boom")
    async def boom() -> Any:
        raise RuntimeError("kaput")

    with pytest.raises(RuntimeError):  # not swallowed unlogged
        get(app, "/boom")
    assert completion(records) == []
