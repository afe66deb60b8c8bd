"""Django: the middleware class through Django's test clients, and the WSGI middleware around Django."""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Dict, Iterator, List

import django
import pytest
from django.conf import settings

import micktrace
from micktrace.record import LogRecord

if not settings.configured:
    settings.configure(
        DEBUG=False,
        SECRET_KEY="micktrace-tests",
        ALLOWED_HOSTS=["*"],
        ROOT_URLCONF=None,
        MIDDLEWARE=[],
        INSTALLED_APPS=[],
        DATABASES={},
        USE_TZ=True,
    )
    django.setup()

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.test import AsyncClient, Client
from django.test.utils import override_settings
from django.urls import path

TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
MIDDLEWARE = "micktrace.integrations.django.RequestContextMiddleware"
log = micktrace.get_logger("shop")


def order(request: HttpRequest, n: int) -> HttpResponse:
    log.info("order received", n=n)
    threading.Event().wait(0.001)  # let other threads' requests interleave
    log.info("order stored", n=n)
    return JsonResponse({"n": n, "context": micktrace.get_context()})


async def async_order(request: HttpRequest, n: int) -> HttpResponse:
    await asyncio.sleep(0)
    log.info("async order", n=n)
    return JsonResponse({"n": n, "context": micktrace.get_context()})


def boom(request: HttpRequest) -> HttpResponse:
    raise RuntimeError("kaput")


class URLS:
    """The URLconf (Django accepts any hashable object with ``urlpatterns``)."""

    urlpatterns = [
        path("orders/<int:n>", order),
        path("async/<int:n>", async_order),
        path("boom", boom),
    ]


@pytest.fixture
def records() -> Iterator[List[LogRecord]]:
    sink: List[LogRecord] = []
    micktrace.configure(handlers=[sink.append])
    with override_settings(ROOT_URLCONF=URLS, MIDDLEWARE=[MIDDLEWARE]):
        yield sink


def completion(records: List[LogRecord]) -> List[LogRecord]:
    return [r for r in records if r.logger_name == "micktrace.web"]


def test_request_context_echo_and_completion(records: List[LogRecord]) -> None:
    response = Client().get("/orders/5", HTTP_TRACEPARENT=TRACEPARENT)
    assert response.status_code == 200
    request_id = response["X-Request-ID"]
    assert request_id == "4bf92f3577b34da6a3ce929d0e0e4736"  # from the traceparent
    ctx = response.json()["context"]
    assert ctx["request_id"] == request_id and ctx["method"] == "GET" and ctx["path"] == "/orders/5"
    assert ctx["trace_id"] == "4bf92f3577b34da6a3ce929d0e0e4736"
    received, stored, done = records
    assert received.context == stored.context == done.context
    assert done.message == "request completed" and done.data["status"] == 200 and done.data["duration_ms"] >= 0


def test_incoming_request_id_and_a_500(records: List[LogRecord]) -> None:
    client = Client(raise_request_exception=False)
    response = client.get("/boom", HTTP_X_REQUEST_ID="r-500")
    assert response.status_code == 500 and response["X-Request-ID"] == "r-500"
    (done,) = completion(records)
    assert done.data["status"] == 500 and done.level == micktrace.LogLevel.ERROR
    assert done.context["request_id"] == "r-500"


def test_concurrent_requests_through_the_test_client_are_isolated(records: List[LogRecord]) -> None:
    local = threading.local()

    def call(n: int) -> Dict[str, Any]:
        if not hasattr(local, "client"):
            local.client = Client()
        response = local.client.get(f"/orders/{n}", HTTP_X_REQUEST_ID=f"req-{n}")
        return dict(response.json())

    with ThreadPoolExecutor(max_workers=6) as pool:
        results = list(pool.map(call, range(30)))
    assert [r["context"]["request_id"] for r in results] == [f"req-{n}" for n in range(30)]
    assert len(records) == 90
    for record in records:
        if record.logger_name == "shop":
            assert record.context["request_id"] == f"req-{record.data['n']}"


def test_async_views_through_the_async_client(records: List[LogRecord]) -> None:
    async def main() -> List[Any]:
        client = AsyncClient()
        return await asyncio.gather(*(client.get(f"/async/{n}", headers={"X-Request-ID": f"a-{n}"}) for n in range(10)))

    responses = asyncio.run(main())
    assert [r["X-Request-ID"] for r in responses] == [f"a-{n}" for n in range(10)]
    for record in records:
        if record.logger_name == "shop":
            assert record.context["request_id"] == f"a-{record.data['n']}"
    assert len(completion(records)) == 10


def test_wsgi_middleware_around_django_wsgi_application(records: List[LogRecord]) -> None:
    from django.core.wsgi import get_wsgi_application
    from werkzeug.test import Client as WSGIClient

    from micktrace.integrations.wsgi import RequestContextMiddleware

    with override_settings(MIDDLEWARE=[]):  # only the WSGI wrapper this time
        application = RequestContextMiddleware(get_wsgi_application())
        response = WSGIClient(application).get("/orders/9", headers={"X-Request-ID": "w-9"})
        body = response.get_json()
    assert response.headers["X-Request-ID"] == "w-9"
    assert body["context"] == {"request_id": "w-9", "method": "GET", "path": "/orders/9"}
    (done,) = completion(records)
    assert done.data["status"] == 200 and done.context["request_id"] == "w-9"


def test_a_500_is_logged_once_by_django_with_the_requests_context(records: List[LogRecord]) -> None:
    import logging

    from micktrace.integrations.stdlib import active_interception

    root = logging.getLogger()
    saved_handlers, saved_level = list(root.handlers), root.level
    micktrace.configure(capture_stdlib=True)
    try:
        response = Client(raise_request_exception=False).get("/boom", HTTP_X_REQUEST_ID="r-501")
    finally:
        active = active_interception()
        if active is not None:
            active.undo()
        root.handlers[:] = saved_handlers
        root.setLevel(saved_level)
    assert response.status_code == 500 and response["X-Request-ID"] == "r-501"
    (failure,) = [r for r in records if r.exc_info is not None]
    assert failure.logger_name == "django.request" and failure.context["request_id"] == "r-501"
    (done,) = completion(records)
    assert done.data["status"] == 500 and done.exc_info is None
