"""Parsing of log lines (JSON objects, logfmt) and reading the core fields out of them.

A line becomes a ``dict`` (JSON) or a ``dict`` of strings (logfmt), or None for
any other text. The accessors below find the time, level, logger, message and
traceback under the names in :mod:`.aliases`, loguru's ``{"text", "record"}``
layout included. Imports from micktrace: serialize (to find orjson) and .aliases.
"""

from __future__ import annotations

import calendar
import json
import re
import time
from typing import Any, Callable, Dict, List, Optional, Tuple

from ..serialize import _orjson_module
from . import aliases as A

MISSING: Any = object()


def _loader() -> Callable[[bytes], Any]:
    orjson = _orjson_module()
    if orjson is not None:
        return orjson.loads  # type: ignore[no-any-return]
    return json.loads


json_loads = _loader()

_PAIR = r'[^\s="]+=(?:"(?:[^"\\]|\\.)*"|[^\s"]*)'
_LOGFMT_LINE = re.compile(r"\s*(?:%s)(?:\s+%s)*\s*" % (_PAIR, _PAIR), re.DOTALL)  # noqa: UP031
_LOGFMT_PAIRS = re.compile(r'([^\s="]+)=("(?:[^"\\]|\\.)*"|[^\s"]*)', re.DOTALL)
_ESCAPE = re.compile(r"\\(?:x[0-9a-fA-F]{2}|u[0-9a-fA-F]{4}|.)", re.DOTALL)
_NAMED = {"n": "\n", "r": "\r", "t": "\t", '"': '"', "\\": "\\"}
_CORE_KEYS = frozenset(A.TIME_KEYS + A.LEVEL_KEYS + A.LOGGER_KEYS + A.MESSAGE_KEYS)


def _unescape(match: re.Match[str]) -> str:
    text = match.group()
    if len(text) > 2 and text[1] in "xu":
        return chr(int(text[2:], 16))
    return _NAMED.get(text[1], text[1])


def parse_logfmt(text: str) -> Optional[Dict[str, Any]]:
    """``key=value key2="quoted \\"value\\""`` as a dict of strings, or None when
    *text* is not made of such pairs only (two or more, or one naming a core field)."""
    out = _split_logfmt(text) if '\\"' not in text else _regex_logfmt(text)
    if out is None or (len(out) < 2 and not (out.keys() & _CORE_KEYS)):
        return None
    return out


def _regex_logfmt(text: str) -> Optional[Dict[str, Any]]:
    if _LOGFMT_LINE.fullmatch(text) is None:
        return None
    out: Dict[str, Any] = {}
    for key, value in _LOGFMT_PAIRS.findall(text):
        if value.startswith('"'):
            value = value[1:-1]
            if "\\" in value:
                value = _ESCAPE.sub(_unescape, value)
        out[key] = value
    return out


def _split_logfmt(text: str) -> Optional[Dict[str, Any]]:
    """The same as :func:`_regex_logfmt` for a line with no escaped quote, with
    str.split (several times faster): the text between quotes alternates between
    pairs and a quoted value."""
    segments = text.split('"')
    if len(segments) % 2 == 0:
        return None  # a quote left open
    out: Dict[str, Any] = {}
    last = len(segments) - 1
    pending = ""
    for index, segment in enumerate(segments):
        if index % 2:
            out[pending] = _ESCAPE.sub(_unescape, segment) if "\\" in segment else segment
            continue
        if index and segment and not segment[0].isspace():
            return None  # text straight after a closing quote
        tokens = segment.split()
        if index < last:
            if not segment.endswith("=") or not tokens:
                return None  # a quote that does not open a value
            pending = tokens.pop()[:-1]
            if not pending or "=" in pending:
                return None
        for token in tokens:
            key, eq, value = token.partition("=")
            if not eq or not key:
                return None
            out[key] = value
        if index < last:
            out[pending] = ""  # keeps the order the pairs were written in
    return out or None


def parse_line(raw: bytes) -> Optional[Dict[str, Any]]:
    """The line's fields, or None when it is neither a JSON object nor logfmt."""
    stripped = raw.strip()
    if stripped[:1] == b"{":
        try:
            data = json_loads(stripped)
        except Exception:
            return None
        return data if type(data) is dict else None
    if b"=" not in stripped:
        return None
    return parse_logfmt(stripped.decode("utf-8", "replace"))


def find(data: Dict[str, Any], path: str) -> Any:
    """``data[path]``, else the dotted *path* through nested objects, else MISSING."""
    value = data.get(path, MISSING)
    if value is not MISSING or "." not in path:
        return value
    node: Any = data
    for part in path.split("."):
        if type(node) is not dict:
            return MISSING
        node = node.get(part, MISSING)
        if node is MISSING:
            return MISSING
    return node


def loguru_record(data: Dict[str, Any]) -> Optional[Dict[str, Any]]:
    """The ``record`` object of a loguru ``serialize=True`` line, or None."""
    record = data.get("record")
    if type(record) is dict and "text" in data:
        return record
    return None


def _first(data: Dict[str, Any], keys: Tuple[str, ...], ok: Callable[[Any], bool]) -> Tuple[str, Any]:
    for key in keys:
        value = find(data, key)
        if value is not MISSING and ok(value):
            return key, value
    return "", MISSING


def _scalar(value: Any) -> bool:
    return type(value) in (str, int, float)


def level_rank(value: Any) -> Optional[int]:
    """The rank of a level value (name, number or numeric string), or None."""
    vtype = type(value)
    if vtype is str:
        rank = A.LEVELS.get(value.lower())
        if rank is not None:
            return rank
        return int(value) if value.isdigit() else None
    if vtype is int:
        return value  # type: ignore[no-any-return]
    if vtype is float:
        return int(value)
    return None


def _is_level(value: Any) -> bool:
    return type(value) is str or type(value) is int


def level_key(data: Dict[str, Any]) -> Tuple[str, Any]:
    """(alias used, raw value) of the record's level, or ("", MISSING)."""
    record = loguru_record(data)
    if record is not None:
        key, value = _first(record, A.LOGURU_LEVEL, _is_level)
        return ("record." + key if key else ""), value
    for key in A.LEVEL_KEYS:
        value = find(data, key)
        if value is MISSING or not _is_level(value):
            continue
        if key == "status" and (type(value) is not str or value.lower() not in A.LEVELS):
            continue  # an HTTP status, not a level
        return key, value
    return "", MISSING


def level_of(data: Dict[str, Any]) -> Optional[int]:
    """The record's level rank, or None (no level, or one the table does not know)."""
    value = data.get("level")  # the common case first
    if type(value) is str:
        rank = A.LEVELS.get(value.lower())
        if rank is not None:
            return rank
    value = level_key(data)[1]
    return None if value is MISSING else level_rank(value)


def level_name(value: Any) -> str:
    """The name shown for a level value."""
    if type(value) is str:
        return A.CANONICAL_NAME.get(value.lower()) or value.upper()
    rank = level_rank(value)
    if rank is not None and rank in A.CANONICAL:
        return A.CANONICAL[rank]
    return str(value)


def logger_key(data: Dict[str, Any]) -> Tuple[str, Any]:
    record = loguru_record(data)
    if record is not None:
        key, value = _first(record, A.LOGURU_LOGGER, _scalar)
        return ("record." + key if key else ""), value
    return _first(data, A.LOGGER_KEYS, lambda v: type(v) is str)


def logger_of(data: Dict[str, Any]) -> Optional[str]:
    value = data.get("logger")
    if type(value) is str:
        return value
    value = logger_key(data)[1]
    return None if value is MISSING else str(value)


def message_key(data: Dict[str, Any]) -> Tuple[str, Any]:
    record = loguru_record(data)
    if record is not None:
        key, value = _first(record, A.LOGURU_MESSAGE, _scalar)
        return ("record." + key if key else ""), value
    return _first(data, A.MESSAGE_KEYS, _scalar)


def time_key(data: Dict[str, Any]) -> Tuple[str, Any]:
    record = loguru_record(data)
    if record is not None:
        key, value = _first(record, A.LOGURU_TIME, lambda v: v is not None)
        return ("record." + key if key else ""), value
    return _first(data, A.TIME_KEYS, lambda v: _scalar(v) or type(v) is dict)


def time_of(data: Dict[str, Any]) -> Optional[float]:
    """The record's time as seconds since the epoch, or None."""
    value = time_key(data)[1]
    return None if value is MISSING else parse_time(value)


_ISO = re.compile(
    r"\s*(\d{4})-(\d\d)-(\d\d)(?:[T ](\d\d):(\d\d)(?::(\d\d)(?:[.,](\d+))?)?)?\s*(Z|z|UTC|[+-]\d\d(?::?\d\d)?)?\s*"
)


def parse_time(value: Any) -> Optional[float]:
    """Seconds since the epoch for an ISO 8601 string (a time without a zone is
    local time), a number of seconds / ms / µs / ns since the epoch (told apart by
    size), or GCP's ``{"seconds": ..., "nanos": ...}``; None when it is none of them."""
    vtype = type(value)
    if vtype is str:
        match = _ISO.fullmatch(value)
        if match is None:
            try:
                value = float(value)
            except ValueError:
                return None
            return parse_time(value)
        year, month, day, hour, minute, sec, frac, zone = match.groups()
        fields = (int(year), int(month), int(day), int(hour or 0), int(minute or 0), int(sec or 0))
        fraction = float("0." + frac) if frac else 0.0
        try:
            if zone is None:
                return time.mktime((*fields, 0, 0, -1)) + fraction
            stamp = calendar.timegm((*fields, 0, 0, 0)) + fraction
        except (OverflowError, ValueError):
            return None
        if zone[0] in "+-":
            digits = zone[1:].replace(":", "")
            offset = int(digits[:2]) * 3600 + (int(digits[2:4]) * 60 if len(digits) > 2 else 0)
            stamp -= offset if zone[0] == "+" else -offset
        return stamp
    if vtype is int or vtype is float:
        number = float(value)
        magnitude = abs(number)
        if magnitude > 1e17:
            return number / 1e9
        if magnitude > 1e14:
            return number / 1e6
        if magnitude > 1e11:
            return number / 1e3
        return number
    if vtype is dict and "seconds" in value:
        try:
            return float(value["seconds"]) + float(value.get("nanos", 0)) / 1e9
        except (TypeError, ValueError):
            return None
    return None


def exception_field(data: Dict[str, Any]) -> Tuple[List[str], str]:
    """(the keys the traceback came from, its text) or ([], "")."""
    record = loguru_record(data)
    if record is not None:
        exc = record.get(A.LOGURU_EXCEPTION)
        if exc:
            text = data.get("text")
            if isinstance(text, str):
                start = text.find("Traceback (most recent call last)")
                if start >= 0:
                    return ["record.exception"], text[start:].rstrip("\n")
            if type(exc) is dict:
                return ["record.exception"], f"{exc.get('type')}: {exc.get('value')}"
        return [], ""
    for key in A.EXCEPTION_KEYS:
        value = find(data, key)
        if value is MISSING or not value:
            continue
        if type(value) is str:
            used = [key]
            if key == "exc_traceback":
                used += [k for k in A.EXCEPTION_COMPANIONS if k in data]
            return used, value.rstrip("\n")
        if type(value) is dict:  # micktrace's structured exception
            text = value.get("traceback")
            if type(text) is str and text:
                return [key], text.rstrip("\n")
            return [key], _from_frames(value)
    return [], ""


def _from_frames(exc: Dict[str, Any]) -> str:
    lines = ["Traceback (most recent call last):"]
    frames = exc.get("frames")
    if type(frames) is list:
        for frame in frames:
            if type(frame) is dict:
                lines.append(f'  File "{frame.get("file")}", line {frame.get("line")}, in {frame.get("function")}')
    lines.append(f"{exc.get('type', 'Exception')}: {exc.get('message', '')}")
    return "\n".join(lines)
