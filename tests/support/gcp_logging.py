"""A loopback emulator of the Cloud Logging API (REST v2), its OAuth token endpoint and the metadata server.

:class:`CloudLoggingEmulator` is a :class:`support.http_faults.Recorder` (so the
fault queue works: fail, fail_for, reset, hang) answering as the documented API:

* ``POST /v2/entries:write`` (cloud.google.com/logging/docs/reference/v2/rest/v2/entries/write):
  the ``Authorization: Bearer`` token checked (401 UNAUTHENTICATED; 403
  PERMISSION_DENIED while ``denied``), the JSON body parsed and its shape
  validated against the LogEntry schema (400 for an unknown field or a wrong
  type, as the real API's JSON parser answers), the request at most 10 MiB;
  each entry checked (logName and resource from the entry or the request,
  severity, RFC 3339 timestamp at most a day ahead, spanId, sourceLocation,
  labels, at most 256 KiB): a bad entry is refused one by one, with
  ``partialSuccess`` the others are written and the answer is a 400 whose
  ``WriteLogEntriesPartialErrors`` detail names the refused indexes.
* ``POST /v2/entries:list``: the entries read back, filtered (a subset of the
  Logging query language: ``field op value`` clauses joined by ``AND``),
  ordered and paged, so google-cloud-logging's own ``Client.list_entries()``
  reads what a handler wrote.
* ``POST /token``: an OAuth 2.0 token endpoint for a service account's
  JWT-bearer grant (the ``token_uri`` of the key file :meth:`service_account` writes).

:class:`MetadataServer` answers ``/computeMetadata/v1/<path>`` with the
``Metadata-Flavor: Google`` header, as a Compute Engine metadata server does.

Only 127.0.0.1. ``python -m support.gcp_logging`` serves an emulator until stdin
closes (for the benchmark), printing its URL and a valid token.
"""

from __future__ import annotations

import base64
import datetime as dt
import itertools
import json
import re
import sys
import threading
import time
import urllib.parse
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Tuple

from .http_faults import Answer, Recorder, Request

MAX_REQUEST_BYTES = 10 * 1024 * 1024
MAX_ENTRY_BYTES = 256 * 1024
SEVERITIES = ("DEFAULT", "DEBUG", "INFO", "NOTICE", "WARNING", "ERROR", "CRITICAL", "ALERT", "EMERGENCY")
REQUEST_KEYS = {"logName", "resource", "labels", "entries", "partialSuccess", "dryRun"}
ENTRY_KEYS = {"logName", "resource", "timestamp", "receiveTimestamp", "severity", "insertId", "httpRequest", "labels",
              "operation", "trace", "spanId", "traceSampled", "sourceLocation", "split", "textPayload", "jsonPayload",
              "protoPayload", "errorGroups", "apphub"}  # fmt: skip
_LOG_NAME = re.compile(r"^(projects|organizations|billingAccounts|folders)/[^/]+/logs/[^/]+$")
_TIME = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d{1,9}))?(Z|[+-]\d\d:?\d\d)$")
_CLAUSE = re.compile(r"^\s*([\w.@/\-]+)\s*(>=|<=|!=|=|>|<|:)\s*(.+?)\s*$")
GOOGLE_TOKEN_URI = "https://oauth2.googleapis.com/token"
PARTIAL_ERRORS = "type.googleapis.com/google.logging.v2.WriteLogEntriesPartialErrors"


def _compact(obj: Any) -> bytes:
    """*obj* as compact JSON (orjson when it is there: serving stays cheap)."""
    try:
        import orjson
    except ImportError:
        return json.dumps(obj, separators=(",", ":")).encode()
    return orjson.dumps(obj)


def parse_time(text: Any) -> Optional[dt.datetime]:
    """An RFC 3339 time (nanoseconds cut to microseconds), or None."""
    match = _TIME.match(text) if isinstance(text, str) else None
    if not match:
        return None
    base, frac, zone = match.groups()
    zone = "+00:00" if zone == "Z" else (zone if ":" in zone else zone[:3] + ":" + zone[3:])
    try:
        return dt.datetime.fromisoformat(f"{base}.{(frac or '0')[:6].ljust(6, '0')}{zone}")
    except ValueError:
        return None


def _google_error(status: int, name: str, message: str, details: Optional[List[Any]] = None) -> Answer:
    error: Dict[str, Any] = {"code": status, "message": message, "status": name}
    if details:
        error["details"] = details
    return status, {"Content-Type": "application/json; charset=UTF-8"}, json.dumps({"error": error}).encode()


def _entry_problem(entry: Dict[str, Any], request: Dict[str, Any], horizon: dt.datetime, small: bool) -> Optional[str]:
    """Why Cloud Logging refuses *entry* on its own (None: it is fine); *horizon* is a day from now."""
    log_name = entry.get("logName", request.get("logName"))
    if not isinstance(log_name, str) or not _LOG_NAME.match(log_name):
        return f"Invalid log name: {log_name!r}"
    resource = entry.get("resource", request.get("resource"))
    if not isinstance(resource, dict) or not isinstance(resource.get("type"), str) or not resource["type"]:
        return "A monitored resource (with a type) is required"
    if "severity" in entry and entry["severity"] not in SEVERITIES and not isinstance(entry["severity"], int):
        return f"Invalid severity: {entry['severity']!r}"
    if "timestamp" in entry:
        when = parse_time(entry["timestamp"])
        if when is None:
            return f"Invalid timestamp: {entry['timestamp']!r}"
        if when > horizon:
            return "Timestamp is more than 1 day in the future"
    if "spanId" in entry and not (isinstance(entry["spanId"], str) and re.fullmatch(r"[0-9a-f]{16}", entry["spanId"])):
        return f"Invalid spanId: {entry['spanId']!r}"
    location = entry.get("sourceLocation")
    if location is not None:
        line = location.get("line", "0") if isinstance(location, dict) else None
        if not isinstance(location, dict) or not str(line).lstrip("-").isdigit():
            return "Invalid sourceLocation"
    if not all(isinstance(v, str) for v in (entry.get("labels") or {}).values()):
        return "Label values must be strings"
    if small:  # the whole request is within an entry's limit: no entry can pass it (and serving stays cheap)
        return None
    size = len(_compact(entry))
    if size > MAX_ENTRY_BYTES:
        return f"Log entry with size {size / 1024:.1f}K exceeds maximum size of 256.0K"
    return None


def _camel(obj: Dict[str, Any]) -> Dict[str, Any]:
    """Field names as lowerCamelCase: a proto3 JSON parser takes a field's proto name (``dry_run``) too."""
    if not any("_" in k for k in obj):
        return obj
    return {re.sub(r"_([a-z])", lambda m: m.group(1).upper(), k): v for k, v in obj.items()}


def _shape_problem(body: Any) -> Optional[str]:
    """Why the JSON parser refuses the whole request (None: its shape is fine)."""
    if not isinstance(body, dict):
        return "Invalid JSON payload received. Expected an object."
    unknown = set(body) - REQUEST_KEYS
    if unknown:
        return f'Invalid JSON payload received. Unknown name "{sorted(unknown)[0]}": Cannot find field.'
    entries = body.get("entries")
    if not isinstance(entries, list) or not entries:
        return "entries: at least one log entry is required"
    for i, entry in enumerate(entries):
        if not isinstance(entry, dict):
            return f"Invalid value at 'entries[{i}]': an object is expected"
        unknown = set(entry) - ENTRY_KEYS
        if unknown:
            return f"Invalid JSON payload received. Unknown name \"{sorted(unknown)[0]}\" at 'entries[{i}]'"
        if "jsonPayload" in entry and not isinstance(entry["jsonPayload"], dict):
            return f"Invalid value at 'entries[{i}].json_payload' (type.googleapis.com/google.protobuf.Struct)"
        if "traceSampled" in entry and not isinstance(entry["traceSampled"], bool):
            return f"Invalid value at 'entries[{i}].trace_sampled' (TYPE_BOOL)"
        if "labels" in entry and not isinstance(entry["labels"], dict):
            return f"Invalid value at 'entries[{i}].labels'"
    for key in ("labels", "resource"):
        if key in body and not isinstance(body[key], dict):
            return f"Invalid value at '{key}'"
    return None


def _field(entry: Dict[str, Any], path: str) -> Any:
    value: Any = entry
    for part in path.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return value


def _matches(entry: Dict[str, Any], clause: str) -> bool:
    match = _CLAUSE.match(clause)
    if not match:
        raise ValueError(f"unsupported filter clause: {clause!r}")
    path, op, raw = match.groups()
    wanted: Any = raw[1:-1] if len(raw) >= 2 and raw[0] == raw[-1] == '"' else raw
    got = _field(entry, path)
    if got is None:
        return op == "!="
    if path == "severity":
        got, wanted = SEVERITIES.index(got), SEVERITIES.index(str(wanted).upper())
    elif path in ("timestamp", "receiveTimestamp"):
        got, wanted = parse_time(got), parse_time(wanted)
        if got is None or wanted is None:
            raise ValueError(f"not a time in {clause!r}")
    elif isinstance(got, (int, float)) and not isinstance(got, bool):
        wanted = float(wanted)
    else:
        got = str(got).lower() if isinstance(got, bool) else str(got)
    if op == ":":
        return str(wanted) in str(got)
    return {"=": got == wanted, "!=": got != wanted, ">": got > wanted, "<": got < wanted,
            ">=": got >= wanted, "<=": got <= wanted}[op]  # fmt: skip


class CloudLoggingEmulator:
    """The emulator. ``entries`` holds what was written (with the request's defaults applied)."""

    def __init__(self, project: str = "test-project", token: str = "gcp-test-token-0123") -> None:
        self.project = project
        self.tokens = {token}
        self.token = token
        self.service_accounts: Dict[str, Any] = {}  # client email -> public key
        self.denied = False
        self.refuse: Optional[Callable[[Dict[str, Any]], Optional[str]]] = None
        self.before: Optional[Callable[[Request], Optional[Answer]]] = None
        self.entries: List[Dict[str, Any]] = []
        self.rejections: List[Tuple[int, str]] = []
        self.insert_ids: Dict[str, int] = {}
        self.resent = 0
        self.write_bodies: List[Dict[str, Any]] = []
        self._lock = threading.Lock()
        self._serial = itertools.count(1)
        self.recorder = Recorder()
        self.url = self.recorder.url
        self.token_uri = self.url + "/token"
        self.recorder.respond_with(self._answer)

    # -- credentials ---------------------------------------------------------------------
    def service_account(self, path: Path, email: str = "micktrace-test@test-project.iam.gserviceaccount.com") -> Path:
        """A service-account key file (as the console downloads it) whose token_uri is this emulator, with a
        fresh RSA key: google-auth signs a JWT with it and exchanges it here for a token the API accepts."""
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import rsa

        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption()).decode()  # fmt: skip
        self.service_accounts[email] = key.public_key()
        path.write_text(json.dumps({"type": "service_account", "project_id": self.project,
                                    "private_key_id": "0123456789abcdef", "private_key": pem, "client_email": email,
                                    "client_id": "1234567890", "token_uri": self.token_uri}))  # fmt: skip
        return path

    def _token(self, request: Request) -> Answer:
        """The JWT-bearer grant (RFC 7523) of a service account: the assertion's signature, issuer,
        audience and expiry checked."""
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import padding

        def refused(why: str) -> Answer:
            return 400, {}, json.dumps({"error": "invalid_grant", "error_description": why}).encode()

        form = dict(urllib.parse.parse_qsl(request.body.decode()))
        if form.get("grant_type") != "urn:ietf:params:oauth:grant-type:jwt-bearer":
            return refused("unsupported grant_type")
        try:
            head, body, signature = form["assertion"].split(".")
            claims = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
            public = self.service_accounts[claims["iss"]]
            public.verify(base64.urlsafe_b64decode(signature + "=" * (-len(signature) % 4)),
                          f"{head}.{body}".encode(), padding.PKCS1v15(), hashes.SHA256())  # fmt: skip
        except Exception:
            return refused("Invalid JWT Signature.")
        # google-auth's assertion names Google's token endpoint as its audience, wherever token_uri points
        if claims.get("aud") not in (self.token_uri, GOOGLE_TOKEN_URI) or claims.get("exp", 0) < time.time():
            return refused("Invalid JWT: audience or expiry")
        if "logging.write" not in claims.get("scope", "") and "cloud-platform" not in claims.get("scope", ""):
            return refused("the token would not carry a logging scope")
        token = f"gcp-issued-token-{next(self._serial)}"
        with self._lock:
            self.tokens.add(token)
        return 200, {}, json.dumps({"access_token": token, "expires_in": 3599, "token_type": "Bearer"}).encode()

    # -- the API ----------------------------------------------------------------------------
    def _answer(self, request: Request) -> Answer:
        path = request.path.split("?", 1)[0]
        if request.method == "GET" and path == "/_count":  # for the benchmark in another process
            return 200, {}, json.dumps({"count": len(self.entries)}).encode()
        if request.method == "POST" and path == "/token":
            return self._token(request)
        if self.before is not None:
            answer = self.before(request)
            if answer is not None:
                return answer
        if request.method != "POST" or path not in ("/v2/entries:write", "/v2/entries:list"):
            return _google_error(404, "NOT_FOUND", f"no such method: {request.method} {path}")
        header = request.headers.get("authorization", "")
        if not header.startswith("Bearer ") or header[7:] not in self.tokens:
            return _google_error(401, "UNAUTHENTICATED", "Request had invalid authentication credentials.")
        if self.denied:
            return _google_error(403, "PERMISSION_DENIED", "Permission 'logging.logEntries.create' denied")
        if len(request.body) > MAX_REQUEST_BYTES:
            too_large = f"Request payload size exceeds the limit: {MAX_REQUEST_BYTES} bytes."
            return _google_error(400, "INVALID_ARGUMENT", too_large)
        try:
            body = json.loads(request.body)
        except ValueError:
            return _google_error(400, "INVALID_ARGUMENT", "Invalid JSON payload received.")
        small = len(request.body) <= MAX_ENTRY_BYTES
        answer = self._write(body, small) if path.endswith("write") else self._list(body)
        if answer[0] >= 400:
            with self._lock:
                self.rejections.append((answer[0], answer[2].decode()))
        return answer

    def _write(self, body: Any, small: bool = False) -> Answer:
        if isinstance(body, dict):
            body = _camel(body)
            if isinstance(body.get("entries"), list):
                body["entries"] = [_camel(e) if isinstance(e, dict) else e for e in body["entries"]]
        problem = _shape_problem(body)
        if problem is not None:
            return _google_error(400, "INVALID_ARGUMENT", problem)
        errors: Dict[str, Dict[str, Any]] = {}
        good = []
        clock = dt.datetime.now(dt.timezone.utc)
        now, horizon = clock.strftime("%Y-%m-%dT%H:%M:%S.%fZ"), clock + dt.timedelta(days=1)
        for i, entry in enumerate(body["entries"]):
            why = _entry_problem(entry, body, horizon, small) or (
                self.refuse(entry) if self.refuse is not None else None
            )
            if why is not None:
                errors[str(i)] = {"code": 3, "message": why}
                continue
            stored = dict(entry)
            stored.setdefault("logName", body.get("logName"))
            stored.setdefault("resource", body.get("resource"))
            if body.get("labels"):
                stored["labels"] = {**body["labels"], **(entry.get("labels") or {})}
            stored["receiveTimestamp"] = now
            good.append(stored)
        if errors and not body.get("partialSuccess"):
            good = []  # all or nothing
        if not body.get("dryRun"):
            with self._lock:
                self.write_bodies.append({k: v for k, v in body.items() if k != "entries"})
                for stored in good:
                    stored.setdefault("insertId", f"emulator-{next(self._serial)}")
                    key = stored["insertId"]
                    if key in self.insert_ids:
                        self.resent += 1  # Cloud Logging would drop it as a duplicate (same insertId)
                    self.insert_ids[key] = self.insert_ids.get(key, 0) + 1
                    self.entries.append(stored)
        if errors:
            first = next(iter(errors.values()))["message"]
            more = f" (and {len(errors) - 1} other errors)" if len(errors) > 1 else ""
            return _google_error(400, "INVALID_ARGUMENT", first + more,
                                 [{"@type": PARTIAL_ERRORS, "logEntryErrors": errors}])  # fmt: skip
        return 200, {}, b"{}"

    def _list(self, body: Any) -> Answer:
        if not isinstance(body, dict) or not body.get("resourceNames"):
            return _google_error(400, "INVALID_ARGUMENT", "resourceNames is required")
        projects = {name for name in body["resourceNames"] if isinstance(name, str)}
        clauses = [c for c in re.split(r"\s+AND\s+", body.get("filter") or "") if c.strip()]
        with self._lock:
            rows = list(self.entries)
        try:
            rows = [e for e in rows if "/".join(str(e.get("logName")).split("/")[:2]) in projects
                    and all(_matches(e, c) for c in clauses)]  # fmt: skip
        except (ValueError, IndexError) as exc:
            return _google_error(400, "INVALID_ARGUMENT", f"Unparseable filter: {exc}")
        order = str(body.get("orderBy") or "timestamp asc").lower()
        rows.sort(key=lambda e: parse_time(e.get("timestamp")) or dt.datetime.min.replace(tzinfo=dt.timezone.utc),
                  reverse=order.endswith("desc"))  # fmt: skip
        start = int(body.get("pageToken") or 0)
        size = min(int(body.get("pageSize") or 1000), 1000)
        page: Dict[str, Any] = {"entries": rows[start : start + size]}
        if start + size < len(rows):
            page["nextPageToken"] = str(start + size)
        return 200, {}, json.dumps(page).encode()

    # -- reading back ---------------------------------------------------------------------------
    def snapshot(self) -> List[Dict[str, Any]]:
        with self._lock:
            return list(self.entries)

    def wait(self, count: int, timeout: float = 20.0) -> List[Dict[str, Any]]:
        self.recorder.wait_for(lambda: len(self.entries) >= count, timeout)
        return self.snapshot()

    def close(self) -> None:
        self.recorder.close()


class MetadataServer:
    """``/computeMetadata/v1/<path>`` from ``values``; 403 without ``Metadata-Flavor: Google``, 404 for a path
    it does not hold. ``host`` is what ``GCE_METADATA_HOST`` takes."""

    def __init__(self, values: Dict[str, str]) -> None:
        self.values = values
        self.asked: List[str] = []
        self.recorder = Recorder()
        self.host = f"127.0.0.1:{self.recorder.port}"
        self.recorder.respond_with(self._answer)

    def _answer(self, request: Request) -> Answer:
        if request.headers.get("metadata-flavor") != "Google":
            return 403, {}, b"Missing Metadata-Flavor:Google header."
        path = request.path.split("?", 1)[0].removeprefix("/computeMetadata/v1/")
        self.asked.append(path)
        if path not in self.values:
            return 404, {"Metadata-Flavor": "Google", "Content-Type": "text/html"}, b"Not Found"
        return 200, {"Metadata-Flavor": "Google", "Content-Type": "application/text"}, self.values[path].encode()

    def close(self) -> None:
        self.recorder.close()


if __name__ == "__main__":
    emulator = CloudLoggingEmulator()
    print(emulator.url, emulator.token, sep="\n", flush=True)
    sys.stdin.read()
    emulator.close()
