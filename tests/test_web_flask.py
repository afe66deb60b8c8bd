"""WSGI middleware with Flask's test client, and a raw WSGI app through Werkzeug's client."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Dict, Iterator, List

import pytest
from flask import Flask, Response, jsonify, request, stream_with_context
from werkzeug.test import Client

import micktrace
from micktrace.integrations.wsgi import RequestContextMiddleware
from micktrace.record import LogRecord

TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
log = micktrace.get_logger("api")


def make_app() -> Flask:
    app = Flask(__name__)
    app.wsgi_app = RequestContextMiddleware(app.wsgi_app)  # type: ignore[method-assign]

    @app.route("/api/users", methods=["POST"])
    def create_user() -> Any:
        n = request.get_json()["n"]
        log.info("User creation started", n=n)
        time.sleep(0.001)  # let other threads' requests interleave
        log.info("User created successfully", n=n)
        return jsonify(user_id=n, context=micktrace.get_context())

    @app.route("/stream")
    def stream() -> Any:
        def body() -> Iterator[str]:
            for i in range(3):
                log.info("chunk", i=i)
                yield f"{i}\n"

        return Response(stream_with_context(body()))

    @app.route("/boom")
    def boom() -> Any:
        raise RuntimeError("kaput")

    return app


@pytest.fixture
def records() -> List[LogRecord]:
    sink: List[LogRecord] = []
    micktrace.configure(handlers=[sink.append])
    return sink


def completion(records: List[LogRecord]) -> List[LogRecord]:
    return [r for r in records if r.logger_name == "micktrace.web"]


def test_request_context_echo_and_completion(records: List[LogRecord]) -> None:
    client = make_app().test_client()
    response = client.post("/api/users", json={"n": 1})
    request_id = response.headers["X-Request-ID"]
    assert len(request_id) == 32
    ctx = response.get_json()["context"]
    assert ctx == {"request_id": request_id, "method": "POST", "path": "/api/users"}
    started, created, done = records
    assert started.context == created.context == done.context == ctx
    assert done.message == "request completed" and done.data["status"] == 200
    assert isinstance(done.data["duration_ms"], float)


def test_incoming_ids_are_used(records: List[LogRecord]) -> None:
    client = make_app().test_client()
    response = client.post("/api/users", json={"n": 1}, headers={"X-Request-ID": "r-77", "traceparent": TRACEPARENT})
    assert response.headers["X-Request-ID"] == "r-77"
    ctx = response.get_json()["context"]
    assert ctx["request_id"] == "r-77" and ctx["trace_id"] == "4bf92f3577b34da6a3ce929d0e0e4736"


def test_streamed_body_logs_inside_the_context_and_completion_follows_it(records: List[LogRecord]) -> None:
    client = make_app().test_client()
    response = client.get("/stream", headers={"X-Request-ID": "s-1"})
    assert response.get_data(as_text=True) == "0\n1\n2\n"
    response.close()
    chunks = [r for r in records if r.message == "chunk"]
    assert [r.context["request_id"] for r in chunks] == ["s-1"] * 3
    (done,) = completion(records)
    assert records.index(done) > records.index(chunks[-1])  # logged when the body was done
    assert micktrace.get_context() == {}


def test_unhandled_exception_becomes_a_500_with_a_completion_record(records: List[LogRecord]) -> None:
    client = make_app().test_client()
    response = client.get("/boom")
    assert response.status_code == 500 and response.data and "X-Request-ID" in response.headers
    (done,) = completion(records)
    assert done.data["status"] == 500 and done.level == micktrace.LogLevel.ERROR


def test_concurrent_requests_from_a_thread_pool_are_isolated(records: List[LogRecord]) -> None:
    app = make_app()
    local = threading.local()

    def call(n: int) -> Dict[str, Any]:
        if not hasattr(local, "client"):
            local.client = app.test_client()
        response = local.client.post("/api/users", json={"n": n}, headers={"X-Request-ID": f"req-{n}"})
        assert response.headers["X-Request-ID"] == f"req-{n}"
        return dict(response.get_json())

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(call, range(40)))
    assert [r["context"]["request_id"] for r in results] == [f"req-{n}" for n in range(40)]
    assert len(records) == 120
    for record in records:
        if record.logger_name == "api":
            assert record.context["request_id"] == f"req-{record.data['n']}"
    assert sorted(r.context["request_id"] for r in completion(records)) == sorted(f"req-{n}" for n in range(40))


def test_any_wsgi_app_exception_is_answered_500_with_the_id_after_the_failure_record(
    records: List[LogRecord],
) -> None:
    def broken_app(environ: Dict[str, Any], start_response: Any) -> Any:
        log.info("about to fail")
        raise ValueError("bad")

    client = Client(RequestContextMiddleware(broken_app, header="X-Trace"))
    response = client.get("/x", headers={"X-Trace": "t-1"})
    assert response.status_code == 500 and response.headers["X-Trace"] == "t-1"
    about, failed = records
    assert about.context["request_id"] == "t-1" == failed.context["request_id"]
    assert failed.message == "request failed" and failed.exc_info is not None and failed.data["status"] == 500


def test_flask_propagating_exceptions_still_gets_a_500_with_the_id(records: List[LogRecord]) -> None:
    app = make_app()
    app.testing = True  # Flask re-raises instead of answering the 500
    response = app.test_client().get("/boom", headers={"X-Request-ID": "p-1"})
    assert response.status_code == 500 and response.headers["X-Request-ID"] == "p-1"
    (failed,) = completion(records)
    assert failed.message == "request failed" and failed.exc_info is not None
    assert failed.context["request_id"] == "p-1"


def test_generator_body_that_fails_midway_is_recorded_once(records: List[LogRecord]) -> None:
    def app(environ: Dict[str, Any], start_response: Any) -> Iterator[bytes]:
        start_response("200 OK", [("Content-Type", "text/plain")])
        yield b"first"
        raise OSError("backend went away")

    client = Client(RequestContextMiddleware(app))
    response = client.get("/")
    with pytest.raises(OSError):
        response.get_data()
    response.close()
    (failed,) = completion(records)
    assert failed.message == "request failed" and failed.data["status"] == 200


def test_list_body_completes_at_once_and_keeps_the_utf8_path(records: List[LogRecord]) -> None:
    def app(environ: Dict[str, Any], start_response: Any) -> List[bytes]:
        start_response("404 Not Found", [])
        return [b"nope"]

    wrapped = RequestContextMiddleware(app)
    environ = {"REQUEST_METHOD": "GET", "PATH_INFO": "/caf\u00c3\u00a9"}  # "/café" as PEP 3333 hands it over
    statuses: List[str] = []
    body = wrapped(environ, lambda status, headers, exc_info=None: statuses.append(status))
    assert body == [b"nope"] and statuses == ["404 Not Found"]
    (done,) = completion(records)
    assert done.context["path"] == "/caf\u00e9" and done.data["status"] == 404


def test_server_closing_an_unread_body_completes_the_request(records: List[LogRecord]) -> None:
    def app(environ: Dict[str, Any], start_response: Any) -> Iterator[bytes]:
        start_response("200 OK", [])
        yield b"a"
        yield b"b"

    wrapped = RequestContextMiddleware(app)
    body = wrapped({"REQUEST_METHOD": "GET", "PATH_INFO": "/"}, lambda *args: None)
    assert next(iter(body)) == b"a"
    assert completion(records) == []  # still streaming
    body.close()  # type: ignore[attr-defined]  # what a server does when the client goes away
    body.close()  # type: ignore[attr-defined]  # closing twice logs once
    (done,) = completion(records)
    assert done.data["status"] == 200


@pytest.mark.parametrize("propagate", [False, True])
def test_behind_a_real_werkzeug_server_a_failure_has_the_id_and_one_traceback(
    records: List[LogRecord], propagate: bool
) -> None:
    import logging

    import httpx
    from werkzeug.serving import make_server

    from micktrace.integrations.stdlib import active_interception

    root = logging.getLogger()
    saved = list(root.handlers), root.level
    micktrace.configure(capture_stdlib=True)
    app = make_app()
    app.config["PROPAGATE_EXCEPTIONS"] = propagate  # True: the exception leaves Flask
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        response = httpx.get(f"http://127.0.0.1:{server.server_port}/boom", headers={"X-Request-ID": "w-1"})
    finally:
        server.shutdown()
        thread.join(10)
        active = active_interception()
        if active is not None:
            active.undo()
        root.handlers[:], _ = saved
        root.setLevel(saved[1])
    micktrace.flush()
    assert response.status_code == 500 and response.headers["X-Request-ID"] == "w-1"
    (failure,) = [r for r in records if r.exc_info is not None]
    assert failure.exc_info is not None and failure.exc_info[0] is RuntimeError
    assert failure.context["request_id"] == "w-1"
    # Flask logs it itself ("Exception on /boom [GET]"); a propagated one is ours
    assert (failure.message == "request failed") is propagate


def test_with_log_requests_off_a_failure_is_left_to_the_server(records: List[LogRecord]) -> None:
    def broken_app(environ: Dict[str, Any], start_response: Any) -> Any:
        raise ValueError("bad")

    with pytest.raises(ValueError):  # not swallowed unlogged
        Client(RequestContextMiddleware(broken_app, log_requests=False)).get("/x")
    assert completion(records) == []
