"""A loopback emulator of Sentry's envelope endpoint, for the sentry handler tests and benchmark.

:class:`SentryRelay` is a :class:`support.http_faults.Recorder` (so the fault
queue works: fail, fail_for, reset, hang) answering as Sentry's ingestion
(Relay) documents it (develop.sentry.dev, "Envelopes", "Envelope Items",
"Authentication", "Rate Limiting"):

* ``POST /api/<project>/envelope/`` only (404 otherwise, and for another project);
* authentication by ``X-Sentry-Auth: Sentry sentry_key=<key>, ...`` or the
  ``sentry_key`` query parameter (403 when missing or wrong);
* the body (gzip/deflate decoded) parsed as an envelope with its own reader,
  independent of sentry-sdk's: a JSON header line, then items, each a JSON
  header line with ``type`` (and ``length``: exactly that many payload bytes,
  else the payload runs to the next newline); 400 when malformed, when an
  envelope holds more than one event, when an event payload is not a JSON
  object or its ``event_id`` does not match the envelope header's;
* 413 for an event over 1 MB (Sentry's limit, uncompressed);
* 200 with ``{"id": <event id>}``.

Events are kept for the test to read back (``events()``, ``wait(n)``);
``GET /_count`` answers the count (for a benchmark in another process). The
keeping, the fault hook (``before``) and the read-back are the Datadog and New
Relic emulators' (:mod:`support.intakes`).

Only 127.0.0.1.
"""

from __future__ import annotations

import json
import sys
import urllib.parse
from typing import Any, Dict, List, Optional, Tuple

from .http_faults import Answer, Request
from .intakes import _Intake, _json_answer

MAX_EVENT_BYTES = 1_000_000


class BadEnvelope(ValueError):
    pass


def parse_envelope(body: bytes) -> Tuple[Dict[str, Any], List[Tuple[Dict[str, Any], bytes]]]:
    """(headers, [(item headers, payload bytes), ...]) of an envelope, as Sentry's format defines it."""
    first, _sep, rest = body.partition(b"\n")
    try:
        headers = json.loads(first)
    except ValueError:
        raise BadEnvelope("the envelope header is not JSON") from None
    if not isinstance(headers, dict):
        raise BadEnvelope("the envelope header is not an object")
    items: List[Tuple[Dict[str, Any], bytes]] = []
    while rest.strip():
        line, _, rest = rest.partition(b"\n")
        if not line.strip():
            continue
        try:
            item_headers = json.loads(line)
        except ValueError:
            raise BadEnvelope("an item header is not JSON") from None
        if not isinstance(item_headers, dict) or not isinstance(item_headers.get("type"), str):
            raise BadEnvelope("an item header without a type")
        length = item_headers.get("length")
        if length is not None:
            if not isinstance(length, int) or length < 0 or length > len(rest):
                raise BadEnvelope("an item length past the end of the envelope")
            payload, rest = rest[:length], rest[length:]
            if rest[:1] == b"\n":
                rest = rest[1:]
            elif rest:
                raise BadEnvelope("no newline after an item's payload")
        else:
            payload, _, rest = rest.partition(b"\n")
        items.append((item_headers, payload))
    return headers, items


def auth_key(request: Request) -> Optional[str]:
    """The ``sentry_key`` of a request: from X-Sentry-Auth, else from the query string."""
    header = request.headers.get("x-sentry-auth", "")
    if header.startswith("Sentry "):
        for part in header[len("Sentry ") :].split(","):
            name, _, value = part.strip().partition("=")
            if name == "sentry_key":
                return value
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(request.path).query)
    return query.get("sentry_key", [None])[0]


class SentryRelay(_Intake):
    """Sentry's envelope endpoint on 127.0.0.1 (plain HTTP) for one project and key; ``dsn`` is its DSN."""

    def __init__(self, public_key: str = "0123456789abcdef0123456789abcdef", project: int = 42) -> None:
        self.public_key = public_key
        self.project = project
        self.path = f"/api/{project}/envelope/"
        self.envelopes: List[Tuple[Dict[str, Any], List[Tuple[Dict[str, Any], bytes]]]] = []
        super().__init__(None, None)

    @property
    def dsn(self) -> str:
        return f"http://{self.public_key}@127.0.0.1:{self.recorder.port}/{self.project}"

    def answer(self, request: Request) -> Answer:
        if request.method != "POST" or urllib.parse.urlsplit(request.path).path != self.path:
            return _json_answer(404, {"detail": "not found"})
        if auth_key(request) != self.public_key:
            return _json_answer(403, {"detail": "invalid api key"})
        try:
            headers, items = parse_envelope(request.body)
        except BadEnvelope as exc:
            return _json_answer(400, {"detail": f"invalid envelope: {exc}"})
        events = [payload for item_headers, payload in items if item_headers["type"] == "event"]
        if len(events) > 1:
            return _json_answer(400, {"detail": "invalid envelope: duplicate event item"})
        kept: List[Dict[str, Any]] = []
        for payload in events:
            if len(payload) > MAX_EVENT_BYTES:
                return _json_answer(413, {"detail": "event too large"})
            try:
                event = json.loads(payload)
            except ValueError:
                return _json_answer(400, {"detail": "invalid event: not JSON"})
            if not isinstance(event, dict):
                return _json_answer(400, {"detail": "invalid event: not an object"})
            if headers.get("event_id") is not None and event.get("event_id") != headers["event_id"]:
                return _json_answer(400, {"detail": "invalid event: event_id does not match the envelope"})
            kept.append(event)
        with self._lock:
            self.envelopes.append((headers, items))
        self._keep(len(kept), lambda: kept)
        return _json_answer(200, {"id": headers.get("event_id")})

    def events(self) -> List[Dict[str, Any]]:
        """Every event accepted so far, in order of arrival."""
        return self.snapshot()


def serve() -> None:
    """``python -m support.sentry_relay`` (from tests/): serve until stdin closes; prints the DSN."""
    relay = SentryRelay()
    print(relay.dsn, flush=True)
    sys.stdin.read()
    relay.close()


if __name__ == "__main__":
    serve()
