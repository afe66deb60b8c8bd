"""Loopback HTTPS emulators of Azure Monitor's two ingestion APIs.

Each is a :class:`support.intakes._Intake` (a fault-injecting
:class:`support.http_faults.Recorder` serving TLS with a throwaway certificate).

``TrackIntake``: Application Insights' track API (``POST /v2.1/track``, also
``/v2/track``), as the official exporters and the data model document it: a
JSON array of envelopes (or newline-delimited, ``application/x-json-stream``),
gzipped or not; each envelope is validated (name, ISO time with ``Z``, the
instrumentation key, tags, ``data.baseType``/``baseData`` of MessageData or
ExceptionData with ``ver`` 2, string-valued properties, parsed stack frames);
the answer is 200 ``{"itemsReceived", "itemsAccepted", "errors": []}`` when all
were accepted, 206 with one error per refused item (``index``,
``statusCode``, ``message``), 400 with the same body when none was.
``item_status(envelope)`` lets a test answer chosen items with 429/500/...

``IngestionIntake``: the Logs Ingestion API
(``POST /dataCollectionRules/{ruleId}/streams/{stream}?api-version=2023-01-01``):
``Authorization: Bearer <token>`` checked (401), the rule (404) and stream
(404), the api-version (400), at most 1 MB per call (413), a gzipped or plain
JSON array of objects whose ``TimeGenerated`` (when present) is an ISO date
(400); 204 on success.

``StaticCredential`` is an azure-core ``TokenCredential`` handing out a fixed token.

Only 127.0.0.1.
"""

from __future__ import annotations

import datetime
import json
import re
import sys
import time
import urllib.parse
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Tuple

from .http_faults import Answer, Request
from .intakes import _Intake, _json_answer, tls_cert

IKEY = "4a8b9c3d-1e2f-4a5b-8c7d-0e1f2a3b4c5d"
RULE_ID = "dcr-00112233445566778899aabbccddeeff"
STREAM = "Custom-MicktraceLogs_CL"
TOKEN = "eyJ0eXAi.test-bearer-token.sig0123"
#: the environment that keeps Azure's exporter from phoning home (statsbeat, SDK stats, the control
#: plane, the Azure VM/App Service resource detectors); support.loopback_only enforces it
EXPORTER_ENV = {"APPLICATIONINSIGHTS_STATSBEAT_DISABLED_ALL": "true", "APPLICATIONINSIGHTS_SDKSTATS_DISABLED": "true",
                "APPLICATIONINSIGHTS_CONTROLPLANE_DISABLED": "true", "OTEL_EXPERIMENTAL_RESOURCE_DETECTORS": "otel"}
_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,7})?Z$")
_SEVERITIES = (0, 1, 2, 3, 4, "Verbose", "Information", "Warning", "Error", "Critical")
_KINDS = {"Microsoft.ApplicationInsights.Message": "MessageData",
          "Microsoft.ApplicationInsights.Exception": "ExceptionData"}  # fmt: skip


def _problem(envelope: Any, ikey: str) -> Optional[str]:
    """What is wrong with one envelope, as the track API would say it, or None."""
    if not isinstance(envelope, dict):
        return "Item is not a JSON object"
    if envelope.get("iKey") != ikey:
        return "Invalid instrumentation key"
    name = envelope.get("name")
    if name not in _KINDS:
        return f"Unknown telemetry name {name!r}"
    if not isinstance(envelope.get("time"), str) or not _TIME.match(envelope["time"]):
        return "Field 'time' on type 'Envelope' is not a valid UTC ISO 8601 date"
    tags = envelope.get("tags", {})
    if not isinstance(tags, dict) or not all(isinstance(v, str) for v in tags.values()):
        return "Field 'tags' must map strings to strings"
    data = envelope.get("data")
    if not isinstance(data, dict) or data.get("baseType") != _KINDS[name] or not isinstance(data.get("baseData"), dict):
        return "Field 'data' must hold the baseType of the envelope's name and a baseData"
    base = data["baseData"]
    if base.get("ver") != 2:
        return "Field 'ver' on baseData must be 2"
    if base.get("severityLevel", 1) not in _SEVERITIES:
        return f"Unknown severityLevel {base.get('severityLevel')!r}"
    props = base.get("properties", {})
    if not isinstance(props, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in props.items()):
        return "Field 'properties' must map strings to strings"
    if data["baseType"] == "MessageData":
        if not isinstance(base.get("message"), str) or not base["message"] or len(base["message"]) > 32768:
            return "Field 'message' on type 'MessageData' is required but missing or empty"
        return None
    exceptions = base.get("exceptions")
    if not isinstance(exceptions, list) or not exceptions:
        return "Field 'exceptions' on type 'ExceptionData' is required but missing or empty"
    for detail in exceptions:
        if not isinstance(detail, dict) or not isinstance(detail.get("message"), str):
            return "Field 'message' on type 'ExceptionDetails' is required"
        for frame in detail.get("parsedStack", []):
            if not isinstance(frame, dict) or type(frame.get("level")) is not int:
                return "A parsedStack frame needs an integer level and a method"
            if not isinstance(frame.get("method"), str):
                return "A parsedStack frame needs an integer level and a method"
    return None


def _oversized(envelope: Dict[str, Any]) -> bool:
    """A message, property name or value past the data model's lengths (the service cuts them)."""
    base = envelope["data"]["baseData"]
    props = base.get("properties", {})
    return (len(base.get("message", "")) > 32768 or any(len(v) > 8192 for v in props.values())
            or any(len(k) > 150 for k in props))  # fmt: skip


class TrackIntake(_Intake):
    path = "/v2.1/track"
    max_request_bytes = 64_000_000  # a generous cap: the handler sends at most 3 MB

    def __init__(self, cert: str, key: str, ikey: str = IKEY) -> None:
        self.ikey = ikey
        self.item_status: Optional[Callable[[Dict[str, Any]], Optional[Tuple[int, str]]]] = None
        self.refused: List[Tuple[Dict[str, Any], int, str]] = []
        self.oversized = 0
        super().__init__(cert, key)

    @property
    def connection_string(self) -> str:
        return f"InstrumentationKey={self.ikey};IngestionEndpoint={self.base}/;LiveEndpoint={self.base}/"

    def answer(self, request: Request) -> Answer:
        if request.method != "POST" or request.path.split("?", 1)[0] not in (self.path, "/v2/track"):
            return _json_answer(404, {"error": "Not found"})
        if len(request.body) > self.max_request_bytes:
            return _json_answer(413, {"itemsReceived": 0, "itemsAccepted": 0, "errors": []})
        try:
            if "x-json-stream" in request.headers.get("content-type", ""):
                items: Any = [json.loads(line) for line in request.body.splitlines() if line.strip()]
            else:
                items = json.loads(request.body)
        except ValueError:
            error = {"index": 0, "statusCode": 400, "message": "Invalid JSON"}
            return _json_answer(400, {"itemsReceived": 0, "itemsAccepted": 0, "errors": [error]})
        items = items if isinstance(items, list) else [items]
        accepted: List[Dict[str, Any]] = []
        errors: List[Dict[str, Any]] = []
        for index, envelope in enumerate(items):
            problem = _problem(envelope, self.ikey)
            if problem is None and _oversized(envelope):
                self.oversized += 1  # the service would cut it silently
            injected = self.item_status(envelope) if problem is None and self.item_status is not None else None
            if problem is not None or injected is not None:
                status, message = (400, problem) if problem is not None else injected  # type: ignore[misc]
                errors.append({"index": index, "statusCode": status, "message": message})
                with self._lock:
                    self.refused.append((envelope, status, str(message)))
            else:
                accepted.append(envelope)
        if accepted:
            self._keep(len(accepted), lambda: accepted)
        status = 200 if not errors else (206 if accepted else 400)
        return _json_answer(status, {"itemsReceived": len(items), "itemsAccepted": len(accepted), "errors": errors})


class IngestionIntake(_Intake):
    max_request_bytes = 1_048_576

    def __init__(self, cert: str, key: str, rule_id: str = RULE_ID, stream: str = STREAM, token: str = TOKEN) -> None:
        self.rule_id = rule_id
        self.stream = stream
        self.token = token
        super().__init__(cert, key)
        self.url = self.base  # the data collection endpoint

    def answer(self, request: Request) -> Answer:
        parts = urllib.parse.urlsplit(request.path)
        match = re.fullmatch(r"/dataCollectionRules/([^/]+)/streams/([^/]+)", parts.path)
        if request.method != "POST" or match is None:
            return _json_answer(404, {"error": {"code": "NotFound", "message": "No such route"}})
        if request.headers.get("authorization") != f"Bearer {self.token}":
            return _json_answer(401, {"error": {"code": "InvalidToken", "message": "The token is not valid"}})
        if urllib.parse.parse_qs(parts.query).get("api-version") != ["2023-01-01"]:
            return _json_answer(400, {"error": {"code": "InvalidApiVersion", "message": "api-version=2023-01-01"}})
        rule, stream = (urllib.parse.unquote(g) for g in match.groups())
        if rule != self.rule_id:
            return _json_answer(404, {"error": {"code": "DataCollectionRuleNotFound", "message": f"No DCR {rule}"}})
        if stream != self.stream:
            return _json_answer(404, {"error": {"code": "InvalidStream", "message": f"No stream {stream} in the DCR"}})
        if len(request.raw) > self.max_request_bytes or len(request.body) > self.max_request_bytes:
            return _json_answer(413, {"error": {"code": "ContentLengthLimitExceeded", "message": "Over 1 MB"}})
        try:
            rows = json.loads(request.body)
        except ValueError:
            return _json_answer(400, {"error": {"code": "InvalidContentFormat", "message": "Not JSON"}})
        if not isinstance(rows, list) or not all(isinstance(row, dict) for row in rows):
            return _json_answer(400, {"error": {"code": "InvalidContentFormat", "message": "Not an array of objects"}})
        for row in rows:
            stamp = row.get("TimeGenerated")
            if stamp is not None:
                try:
                    datetime.datetime.fromisoformat(str(stamp).replace("Z", "+00:00"))
                except ValueError:
                    return _json_answer(400, {"error": {"code": "InvalidTimeGenerated", "message": str(stamp)}})
        self._keep(len(rows), lambda: rows)
        return 204, {}, b""


class StaticCredential:
    """An azure-core TokenCredential handing out *token*; counts its calls and keeps the scopes asked for."""

    def __init__(self, token: str = TOKEN) -> None:
        self.token = token
        self.calls = 0
        self.scopes: List[Tuple[str, ...]] = []

    def get_token(self, *scopes: str, **kwargs: Any) -> Any:
        from azure.core.credentials import AccessToken

        self.calls += 1
        self.scopes.append(scopes)
        return AccessToken(self.token, int(time.time()) + 3600)


def serve(kind: str, directory: str) -> None:
    """``python -m support.azure_intakes track|ingestion DIR`` (from tests/): serve until stdin closes
    (for the benchmark). Prints the connection string (track) or the endpoint (ingestion), the CA
    file and the base URL, one a line."""
    cert, key = tls_cert(Path(directory))
    intake: _Intake = TrackIntake(cert, key) if kind == "track" else IngestionIntake(cert, key)
    first = intake.connection_string if isinstance(intake, TrackIntake) else intake.url
    print(first, cert, intake.base, sep="\n", flush=True)
    sys.stdin.read()
    intake.close()


if __name__ == "__main__":
    serve(sys.argv[1], sys.argv[2])
