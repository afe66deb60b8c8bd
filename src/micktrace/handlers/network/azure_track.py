"""Application Insights' track API: connection strings, envelopes and answers.

Holds :func:`parse_connection_string` (``InstrumentationKey=...;IngestionEndpoint=...``
as the Azure Monitor SDKs read it), :class:`TrackEncoder` (a record as one
telemetry envelope: ``Microsoft.ApplicationInsights.Message`` with
``MessageData``, or ``Microsoft.ApplicationInsights.Exception`` with
``ExceptionData`` and the parsed stack frames, for a record that carries an
exception) and :func:`track_result` (the track API's 200/206 answer,
``{"itemsReceived", "itemsAccepted", "errors": [{"index", "statusCode",
"message"}]}``, as the engine's :class:`BatchResult`).

The envelope (the Application Insights data model, as the official exporters
send it): ``name``, ``time`` (UTC ISO 8601 with ``Z``), ``iKey``, ``tags``
(``ai.cloud.role``, ``ai.cloud.roleInstance``, ``ai.application.ver``,
``ai.operation.id``, ``ai.operation.parentId``, ``ai.internal.sdkVersion``) and
``data: {"baseType", "baseData"}``; ``baseData.properties`` (customDimensions)
holds string values only, so other values are written as JSON text.

May import: errors, levels, serialize, handlers.network (batching, retry, intake).
"""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING, Any, Dict, List, Optional, Tuple

from ...errors import ConfigError
from ...levels import LEVEL_NAMES, level_name
from ...serialize import defuse
from .batching import BatchResult
from .intake import attributes, json_bytes, trace_ids
from .retry import RETRYABLE_STATUSES

if TYPE_CHECKING:
    from ...record import LogRecord

#: where the track API is when the connection string names no IngestionEndpoint (the global one)
DEFAULT_INGESTION_ENDPOINT = "https://dc.services.visualstudio.com"
TRACK_PATH = "/v2.1/track"
MESSAGE_ENVELOPE = "Microsoft.ApplicationInsights.Message"
EXCEPTION_ENVELOPE = "Microsoft.ApplicationInsights.Exception"
#: the data model's published field limits (characters)
MAX_MESSAGE = 32_768
MAX_PROPERTY_VALUE = 8_192
MAX_FRAMES = 200
#: item statuses of a 206 worth sending again (throttled, timed out, a server failure; 439: daily quota)
RETRY_ITEM_STATUSES = RETRYABLE_STATUSES | {439}
#: property names of ours; a record's field of that name is renamed (``fields.<name>``)
RESERVED = frozenset({"logger", "level", "message", "caller", "stack"})
_CUT = "...[truncated by micktrace]"


def parse_connection_string(text: str) -> Dict[str, str]:
    """The parts of an Application Insights connection string, keys lower-cased, with
    ``ingestionendpoint`` always set (built from ``EndpointSuffix``/``Location`` or the
    global default). A ConfigError naming ``connection_string`` when it is malformed."""
    parts: Dict[str, str] = {}
    for piece in text.split(";"):
        if not piece.strip():
            continue
        key, sep, value = piece.partition("=")
        if not sep or not key.strip():
            raise ConfigError("connection_string", "[REDACTED]", "'Key=value' pairs separated by ';'")
        parts[key.strip().lower()] = value.strip()
    if not parts.get("instrumentationkey"):
        raise ConfigError("connection_string", "[REDACTED]", "a connection string with InstrumentationKey=...")
    auth = parts.get("authorization")
    if auth is not None and auth.lower() != "ikey":
        raise ConfigError("connection_string", "[REDACTED]", "Authorization=ikey (or no Authorization)")
    if not parts.get("ingestionendpoint"):
        suffix = parts.get("endpointsuffix")
        if suffix:
            location = parts.get("location")
            parts["ingestionendpoint"] = f"https://{location + '.' if location else ''}dc.{suffix.strip('/')}"
        else:
            parts["ingestionendpoint"] = DEFAULT_INGESTION_ENDPOINT
    return parts


def severity_of(level: int) -> int:
    """Application Insights' severityLevel: Verbose 0, Information 1, Warning 2, Error 3, Critical 4."""
    if level >= 50:
        return 4
    if level >= 40:
        return 3
    if level >= 30:
        return 2
    if level >= 20:
        return 1
    return 0


_BIG = 10**18


def json_text(value: Any) -> str:
    """*value* as compact JSON text (an int too long for ``str()`` written as a marked stand-in)."""
    try:
        data = json_bytes(value)
    except ValueError:
        data = json_bytes(defuse(value))
    return data.decode("utf-8", "replace")


def _text(value: Any) -> str:
    """A property value as the data model wants it: a string, at most 8,192 characters."""
    kind = type(value)
    if kind is int:
        return str(value) if -_BIG < value < _BIG else str(defuse(value))  # str() refuses the longest ints
    if kind is float:
        return repr(value) if value - value == 0 else json_text(value)  # nan and inf: JSON's null
    text: str
    if kind is str:
        text = value
    elif value is None or kind is bool:
        text = "null" if value is None else ("true" if value else "false")
    else:
        text = json_text(value)
    if len(text) > MAX_PROPERTY_VALUE:
        text = text[: MAX_PROPERTY_VALUE - len(_CUT)] + _CUT
    return text


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - len(_CUT)] + _CUT


def _frames(frames: Any) -> Tuple[List[Dict[str, Any]], bool]:
    """parsedStack (level 0 is the frame that raised) and whether it is whole."""
    if not isinstance(frames, list):
        return [], False
    innermost_first = list(reversed(frames))
    whole = len(innermost_first) <= MAX_FRAMES
    out = []
    for level, frame in enumerate(innermost_first[:MAX_FRAMES]):
        entry: Dict[str, Any] = {"level": level, "method": str(frame.get("function") or "<unknown>")}
        if frame.get("file"):
            entry["fileName"] = str(frame["file"])
        if isinstance(frame.get("line"), int):
            entry["line"] = frame["line"]
        out.append(entry)
    return out, whole


def exception_details(exception: Dict[str, Any]) -> List[Dict[str, Any]]:
    """ExceptionData.exceptions: the outer exception, then each cause (``outerId`` links them),
    from the record's (masked) exception view."""
    out: List[Dict[str, Any]] = []
    current: Optional[Dict[str, Any]] = exception
    outer: Optional[int] = None
    while current is not None and len(out) < 10:
        parsed, whole = _frames(current.get("frames"))
        detail: Dict[str, Any] = {
            "id": len(out) + 1,
            "typeName": str(current.get("type") or "Exception"),
            "message": _cut(str(current.get("message") or current.get("type") or "Exception"), MAX_MESSAGE),
            "hasFullStack": whole,
            "parsedStack": parsed,
        }
        if outer is not None:
            detail["outerId"] = outer
        if not out and isinstance(current.get("traceback"), str):
            detail["stack"] = _cut(current["traceback"], MAX_MESSAGE)
        out.append(detail)
        outer = detail["id"]
        nxt = current.get("cause") or current.get("context")
        current = nxt if isinstance(nxt, dict) else None
    return out


class TrackEncoder:
    """Records as envelopes for one instrumentation key.

    Args:
        ikey: the instrumentation key.
        role, role_instance: ``ai.cloud.role`` (None: the record's static ``service``)
            and ``ai.cloud.roleInstance``.
        sdk_version: ``ai.internal.sdkVersion``.
        message_of: the record's message as sent (the handler's formatter, when given).
    """

    def __init__(self, ikey: str, role: Optional[str], role_instance: str, sdk_version: str, message_of: Any) -> None:
        self._ikey = ikey
        self.role = role
        self.role_instance = role_instance
        self.sdk_version = sdk_version
        self.message_of = message_of
        self._tags: Tuple[Optional[Dict[str, Any]], Dict[str, str], Dict[str, Any]] = (None, {}, {})
        self._second: Tuple[int, str] = (-1, "")
        self._heads: Dict[Tuple[int, bool], Tuple[Dict[str, str], bytes, bytes]] = {}

    @property
    def ikey(self) -> str:
        return self._ikey

    @ikey.setter
    def ikey(self, value: str) -> None:  # a new key: the envelope heads written with the old one are stale
        self._ikey = value
        self._heads = {}

    def base_tags(self, static: Dict[str, Any]) -> Tuple[Dict[str, str], Dict[str, Any]]:
        """The tags every record of *static* shares, and the static fields left as properties."""
        source, tags, rest = self._tags  # one tuple: threads calling at once see a matching set
        if source is static:
            return tags, rest
        tags = {"ai.cloud.roleInstance": self.role_instance, "ai.internal.sdkVersion": self.sdk_version}
        role = self.role if self.role is not None else static.get("service")
        if role is not None:
            tags["ai.cloud.role"] = str(role)
        if static.get("version") is not None:
            tags["ai.application.ver"] = str(static["version"])
        rest = {k: v for k, v in static.items() if k != "service" or self.role is not None}
        self._tags = (static, tags, rest)
        return tags, rest

    def time_of(self, time_ns: int) -> str:
        seconds, micros = divmod(time_ns // 1000, 1_000_000)
        cached = self._second
        if cached[0] != seconds:
            cached = (seconds, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)))
            self._second = cached
        return f"{cached[1]}.{micros:06d}Z"

    def _parts(self, record: LogRecord) -> Tuple[Dict[str, str], Dict[str, Any]]:
        """The record's tags and its baseData (before JSON)."""
        base, rest = self.base_tags(record.static)
        tags = base
        trace_id, span_id = trace_ids(record) if record.data or record.context else (None, None)
        if trace_id is not None:
            tags = dict(base)
            tags["ai.operation.id"] = str(trace_id)
            if span_id is not None:
                tags["ai.operation.parentId"] = str(span_id)
        level = record.level
        props = {"logger": record.logger_name, "level": LEVEL_NAMES.get(level) or level_name(level)}
        props.update({key: value if type(value) is str and len(value) <= MAX_PROPERTY_VALUE else _text(value)
                      for key, value in attributes(record, RESERVED, rest).items()})  # fmt: skip
        if record.filename is not None:
            props["caller"] = f"{record.filename}:{record.lineno} {record.func_name}"
        if record.stack_info:
            props["stack"] = _cut(record.stack_info, MAX_PROPERTY_VALUE)
        message = _cut(self.message_of(record), MAX_MESSAGE)
        exception = record.exception if record.exc_info is not None else None
        if exception is None:
            return tags, {"ver": 2, "message": message, "severityLevel": severity_of(level), "properties": props}
        props["message"] = _cut(message, MAX_PROPERTY_VALUE)
        details = exception_details(exception)
        return tags, {"ver": 2, "exceptions": details, "severityLevel": severity_of(level), "properties": props}

    def envelope(self, record: LogRecord) -> Dict[str, Any]:
        """The envelope for *record* (before JSON)."""
        tags, base_data = self._parts(record)
        exception = "exceptions" in base_data
        return {
            "name": EXCEPTION_ENVELOPE if exception else MESSAGE_ENVELOPE,
            "time": self.time_of(record.time_ns),
            "iKey": self.ikey,
            "tags": tags,
            "data": {"baseType": "ExceptionData" if exception else "MessageData", "baseData": base_data},
        }

    def encode(self, record: LogRecord) -> bytes:
        """The envelope's JSON: what depends only on the key and the tags is written once per tag set."""
        tags, base_data = self._parts(record)
        exception = "exceptions" in base_data
        cached = self._heads.get((id(tags), exception))
        if cached is None or cached[0] is not tags:
            name, kind = (EXCEPTION_ENVELOPE, "ExceptionData") if exception else (MESSAGE_ENVELOPE, "MessageData")
            head = json_bytes({"name": name, "time": ""})[:-2]  # b'{"name":"...","time":"'
            tail = (b'","iKey":' + json_bytes(self.ikey) + b',"tags":' + json_bytes(tags)
                    + b',"data":{"baseType":"' + kind.encode() + b'","baseData":')  # fmt: skip
            cached = (tags, head, tail)
            if len(self._heads) > 64:
                self._heads.clear()
            if tags is self._tags[1]:  # tags with a trace id are per record: not worth keeping
                self._heads[(id(tags), exception)] = cached
        return cached[1] + self.time_of(record.time_ns).encode() + cached[2] + json_bytes(base_data) + b"}}"


def track_result(body: bytes, count: int, retry_after: Optional[float]) -> Optional[BatchResult]:
    """The track API's answer for a batch of *count* envelopes: None when every item was
    accepted, else the items to send again (408/429/439/5xx) and those refused (with the reason)."""
    try:
        answer = json.loads(body) if body else {}
    except ValueError:
        return None  # a 2xx without the usual body: the items were taken
    errors = answer.get("errors") if isinstance(answer, dict) else None
    if not errors:
        return None
    retry: List[int] = []
    rejected: List[Tuple[int, str]] = []
    for error in errors:
        if not isinstance(error, dict):
            continue
        index = error.get("index")
        if not isinstance(index, int) or not 0 <= index < count:
            continue
        status = error.get("statusCode")
        if isinstance(status, int) and status in RETRY_ITEM_STATUSES:
            retry.append(index)
        else:
            rejected.append((index, f"item {status}: {error.get('message') or 'refused'}"))
    if not retry and not rejected:
        return None
    return BatchResult(retry=retry, rejected=rejected, retry_after=retry_after)
