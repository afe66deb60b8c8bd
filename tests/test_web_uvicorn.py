"""The ASGI middleware behind a real uvicorn on 127.0.0.1, with uvicorn's records
captured into micktrace (configure(capture_stdlib=True), uvicorn's log_config=None)."""

from __future__ import annotations

import logging
import socket
import threading
import time
from typing import Any, Iterator, List, Tuple

import httpx
import pytest
import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

import micktrace
from micktrace.integrations.asgi import RequestContextMiddleware
from micktrace.integrations.stdlib import active_interception, folded_server_errors
from micktrace.record import LogRecord

log = micktrace.get_logger("api")


def fastapi_app() -> FastAPI:
    app = FastAPI()

    @app.get("/ok")
    async def ok() -> Any:
        log.info("fine")
        return {"ok": True}

    @app.get("/boom")
    async def boom() -> Any:
        raise RuntimeError("kaput")

    return app


@pytest.fixture
def records() -> Iterator[List[LogRecord]]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    sink: List[LogRecord] = []
    micktrace.configure(handlers=[sink.append], capture_stdlib=True)
    yield sink
    active = active_interception()
    if active is not None:
        active.undo()
    root.handlers[:] = handlers
    root.setLevel(level)


def serve(app: Any) -> Tuple[str, uvicorn.Server, threading.Thread]:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    config = uvicorn.Config(app, log_config=None, access_log=True, lifespan="off")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.01)
    return f"http://127.0.0.1:{sock.getsockname()[1]}", server, thread


@pytest.fixture
def run_server() -> Iterator[Any]:
    started: List[Tuple[uvicorn.Server, threading.Thread]] = []

    def start(app: Any) -> str:
        url, server, thread = serve(app)
        started.append((server, thread))
        return url

    yield start
    for server, thread in started:
        server.should_exit = True
        thread.join(10)


def wait_for(records: List[LogRecord], message: str, count: int = 1) -> None:
    """The server logs after the client has its response: wait for its records."""
    deadline = time.monotonic() + 10
    while sum(r.message == message for r in records) < count and time.monotonic() < deadline:
        time.sleep(0.01)
    micktrace.flush()


def access_lines(records: List[LogRecord]) -> List[LogRecord]:
    return [r for r in records if r.logger_name == "uvicorn.access"]


def tracebacks(records: List[LogRecord]) -> List[LogRecord]:
    return [r for r in records if r.exc_info is not None]


def test_add_middleware_failure_has_the_id_one_traceback_and_a_contextual_access_line(
    records: List[LogRecord], run_server: Any
) -> None:
    app = fastapi_app()
    app.add_middleware(RequestContextMiddleware)
    url = run_server(app)
    with httpx.Client(base_url=url) as client:
        ok = client.get("/ok")
        boom = client.get("/boom", headers={"X-Request-ID": "boom-1"})
    wait_for(records, "request failed")
    assert ok.status_code == 200 and len(ok.headers["x-request-id"]) == 32
    assert boom.status_code == 500 and boom.headers["x-request-id"] == "boom-1"
    assert boom.text == "Internal Server Error"
    (failure,) = tracebacks(records)  # not a second one from uvicorn.error
    assert failure.logger_name == "micktrace.web" and failure.message == "request failed"
    assert failure.context["request_id"] == "boom-1" and failure.exc_info is not None
    assert failure.exc_info[0] is RuntimeError and failure.data["status"] == 500
    access = access_lines(records)
    assert [r.data.get("status_code", r.message.rsplit(" ", 1)[-1]) for r in access] == ["200", "500"]
    assert [r.context.get("request_id") for r in access] == [ok.headers["x-request-id"], "boom-1"]
    for record in records:  # uvicorn's ANSI copy of each message is not a field
        assert "color_message" not in record.data


def test_wrapped_app_keeps_the_frameworks_500_handler_and_adds_the_id(
    records: List[LogRecord], run_server: Any
) -> None:
    inner = fastapi_app()

    @inner.exception_handler(Exception)
    async def handler(request: Request, exc: Exception) -> JSONResponse:
        return JSONResponse({"error": str(exc)}, status_code=500)

    url = run_server(RequestContextMiddleware(inner))
    folded = folded_server_errors()
    with httpx.Client(base_url=url) as client:
        boom = client.get("/boom", headers={"X-Request-ID": "boom-2"})
    wait_for(records, "request failed")
    # Starlette re-raises after its handler answered; uvicorn's report of it is folded
    deadline = time.monotonic() + 10
    while folded_server_errors() == folded and time.monotonic() < deadline:
        time.sleep(0.01)
    assert folded_server_errors() == folded + 1
    assert boom.status_code == 500 and boom.json() == {"error": "kaput"}
    assert boom.headers["x-request-id"] == "boom-2"
    (failure,) = tracebacks(records)
    assert failure.message == "request failed" and failure.context["request_id"] == "boom-2"
    (access,) = access_lines(records)
    assert access.context["request_id"] == "boom-2"


def test_pure_asgi_app_raising_gets_a_500_with_the_id(records: List[LogRecord], run_server: Any) -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        raise ValueError("no response at all")

    url = run_server(RequestContextMiddleware(app))
    with httpx.Client(base_url=url) as client:
        response = client.get("/x")
        again = client.get("/y")  # the connection is still usable
    wait_for(records, "request failed", 2)
    assert response.status_code == again.status_code == 500
    assert len(response.headers["x-request-id"]) == 32
    assert len(tracebacks(records)) == 2
    assert all(r.logger_name == "micktrace.web" for r in tracebacks(records))
