"""Filters: field expressions (``key=value``, ``http.status>=500``, ``logger~^app\\.``),
the level, logger, time-window and text filters, and the raw-byte pre-checks that
let most lines skip JSON parsing.

A pre-check only ever rejects a line the full check would reject too; every
line it lets through is parsed and checked. Imports from micktrace: .parse, .aliases.
"""

from __future__ import annotations

import re
import time
from typing import Any, Callable, Dict, Optional, Sequence, Tuple

from . import aliases as A
from .parse import (
    MISSING,
    find,
    level_key,
    level_name,
    level_of,
    level_rank,
    logger_of,
    loguru_record,
    message_key,
    parse_time,
)
from .parse import time_key as _time_key

Check = Callable[[Dict[str, Any]], bool]
RawCheck = Callable[[bytes], bool]

OPERATORS = ("!=", ">=", "<=", "!~", "==", "=", ">", "<", "~")
_EXPRESSION = re.compile(r"([^=!<>~\s]+)\s*(!=|>=|<=|!~|==|=|>|<|~)(.*)", re.DOTALL)
_NUMBER = re.compile(r"\s*[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?\s*")
_INTEGER = re.compile(r"\s*[+-]?\d+\s*")
_PLAIN = re.compile(r"[A-Za-z0-9_@-]+")
_PLAIN_NAME = re.compile(r"[A-Za-z0-9_.@-]+")
_DURATION = re.compile(r"(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)", re.IGNORECASE)
_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


class UsageError(ValueError):
    """A bad option value or expression (the command prints it and exits with 2)."""


def to_number(value: Any) -> Any:
    """An int or float for a number or numeric string (not a bool), else None."""
    vtype = type(value)
    if vtype is int or vtype is float:
        return value
    if vtype is str and _NUMBER.fullmatch(value):
        return int(value) if _INTEGER.fullmatch(value) else float(value)
    return None


def to_text(value: Any) -> str:
    if type(value) is str:
        return value
    if value is True or value is False or value is None:
        return "true" if value is True else "false" if value is False else "null"
    if type(value) in (dict, list):
        import json

        return json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=str)
    return str(value)


_COMPARE: Dict[str, Callable[[Any, Any], bool]] = {
    "=": lambda a, b: a == b,
    "!=": lambda a, b: a != b,
    ">": lambda a, b: a > b,
    "<": lambda a, b: a < b,
    ">=": lambda a, b: a >= b,
    "<=": lambda a, b: a <= b,
}


def is_expression(text: str) -> bool:
    return _EXPRESSION.fullmatch(text) is not None


def field_getter(key: str) -> Callable[[Dict[str, Any]], Any]:
    """How an expression reads *key*: the core names through their aliases, any
    other key exactly or as a dotted path (in loguru's ``record.extra`` first)."""
    if key == "level":
        return lambda d: level_key(d)[1]
    if key == "logger":
        return lambda d: MISSING if (name := logger_of(d)) is None else name
    if key == "message":
        return lambda d: message_key(d)[1]
    if key == "time":
        return lambda d: _time_key(d)[1]

    def get(data: Dict[str, Any]) -> Any:
        record = loguru_record(data)
        if record is not None:
            extra = record.get(A.LOGURU_FIELDS)
            if type(extra) is dict:
                value = find(extra, key)
                if value is not MISSING:
                    return value
            value = find(record, key[7:] if key.startswith("record.") else key)
            if value is not MISSING:
                return value
        return find(data, key)

    return get


def compile_expression(text: str) -> Tuple[Check, Optional[bytes]]:
    """The check for one expression, and a byte string every matching raw line
    holds (the last part of a plain key), or None when there is none to require."""
    match = _EXPRESSION.fullmatch(text)
    if match is None:
        raise UsageError(f"not a field expression: {text!r} (KEY OP VALUE, OP one of {' '.join(OPERATORS)})")
    key, op, literal = match.groups()
    op = "=" if op == "==" else op
    get = field_getter(key)
    if op in ("~", "!~"):
        try:
            pattern = re.compile(literal)
        except re.error as exc:
            raise UsageError(f"bad regular expression in {text!r}: {exc}") from None
        want = op == "~"
        search = pattern.search

        def regex(data: Dict[str, Any]) -> bool:
            value = get(data)
            if value is MISSING:
                return False
            shown = level_name(value) if key == "level" else to_text(value)
            return (search(shown) is not None) is want

        return regex, _required(key)
    compare = _COMPARE[op]
    number = to_number(literal)
    if key == "level" and (number is not None or literal.lower() in A.LEVELS):
        rank = level_rank(literal)

        def by_level(data: Dict[str, Any]) -> bool:
            value = level_of(data)
            return value is not None and compare(value, rank)

        return by_level, None
    if key == "time" and number is None and parse_time(literal) is not None:
        stamp = parse_time(literal)

        def by_time(data: Dict[str, Any]) -> bool:
            value = get(data)
            seconds = None if value is MISSING else parse_time(value)
            return seconds is not None and compare(seconds, stamp)

        return by_time, None

    def check(data: Dict[str, Any]) -> bool:
        value = get(data)
        if value is MISSING:
            return False
        if number is not None and type(value) is not bool:
            other = to_number(value)
            if other is not None:
                return compare(other, number)
        return compare(to_text(value), literal)

    return check, _required(key)


def _required(key: str) -> Optional[bytes]:
    if key in A.CORE_NAMES:
        return None
    last = key.rsplit(".", 1)[-1]
    return last.encode() if _PLAIN.fullmatch(last) else None


def parse_level(text: str) -> int:
    """``-l`` values: a level name (any case, aliases such as WARN) or a number."""
    rank = level_rank(text.strip())
    if rank is None:
        names = ", ".join(sorted({name.upper() for name in A.LEVELS}, key=lambda n: A.LEVELS[n.lower()]))
        raise UsageError(f"unknown level {text!r} (one of {names}, or a number)")
    return rank


def parse_when(text: str, now: Optional[float] = None) -> float:
    """``--since`` / ``--until``: a duration before now (``30s``, ``10m``, ``2h``,
    ``1d``, ``1h30m``) or an ISO 8601 time; seconds since the epoch."""
    stripped = text.strip()
    pos, total = 0, 0.0
    for match in _DURATION.finditer(stripped):
        if match.start() != pos:
            break
        total += float(match.group(1)) * _UNITS[match.group(2).lower()]
        pos = match.end()
    if pos and pos == len(stripped):
        return (time.time() if now is None else now) - total
    stamp = parse_time(stripped) if not _NUMBER.fullmatch(stripped) else None
    if stamp is None:
        raise UsageError(f"not a duration (30s, 10m, 2h, 1d) or an ISO 8601 time: {text!r}")
    return stamp


#: the top-level "level" of a JSON object written with simple values before it
#: (micktrace, python-json-logger, most others), found without parsing
_JSON_LEVEL = re.compile(
    rb'\s*\{\s*(?:"[^"\\]*"\s*:\s*(?:"[^"\\]*"|[-+0-9.eE]+|true|false|null)\s*,\s*)*?"level"\s*:\s*"([A-Za-z]+)"'
).match
#: the same for logfmt: ``... level=INFO ...`` after simple pairs
_LOGFMT_LEVEL = re.compile(rb'\s*(?:[^\s="]+=(?:"[^"\\]*"|[^\s"]*)\s+)*?level=("?)([A-Za-z]+)\1(?:\s|$)').match
_BYTE_LEVELS = {name.encode(): rank for name, rank in A.LEVELS.items()}


def _leading_level(raw: bytes) -> Optional[bytes]:
    """The level of a line in micktrace's own layout, ``{"timestamp":"...","level":"X",``
    or ``timestamp=... level=X ``, read with a few finds (cheaper than the regular
    expressions below); None for any other line, or one that holds a second
    ``level`` key or a backslash after it."""
    if raw.startswith(b'{"timestamp":"'):
        end = raw.find(b'"', 14)
        if end < 0 or raw[end - 1] == 92 or not raw.startswith(b',"level":"', end + 1):
            return None
        start = end + 11
        end = raw.find(b'"', start)
        if end < 0 or raw.find(b'"level"', end) >= 0 or raw.find(b"\\", end) >= 0:
            return None
        return raw[start:end]
    if raw.startswith(b"timestamp="):
        end = raw.find(b" ", 10)
        if end < 0 or raw.find(b'"', 10, end) >= 0 or not raw.startswith(b"level=", end + 1):
            return None
        start = end + 7
        end = raw.find(b" ", start)
        if end < 0:
            end = len(raw.rstrip())
        name = raw[start:end]
        if b'"' in name or raw.find(b"level=", end) >= 0:
            return None
        return name
    return None


def level_check(threshold: int) -> Tuple[Check, Optional[RawCheck]]:
    """``-l``: records at *threshold* or above, and the pre-check on the raw line.

    The pre-check reads the level of a line whose ``level`` key comes after
    simple values only (no nesting, no escapes, one ``level`` key in the line):
    that is the key the full check reads, so a known level below *threshold*
    rejects the line without parsing it. Any other line is parsed."""

    def check(data: Dict[str, Any]) -> bool:
        rank = level_of(data)
        return rank is not None and rank >= threshold

    levels = _BYTE_LEVELS

    def precheck(raw: bytes) -> bool:
        name = _leading_level(raw)
        if name is not None:
            rank = levels.get(name.lower())
            return rank is None or rank >= threshold
        if b"\\" in raw:
            return True
        match = _JSON_LEVEL(raw)
        if match is not None:
            rank = levels.get(match.group(1).lower())
            return rank is None or rank >= threshold or raw.count(b'"level"') > 1
        match = _LOGFMT_LEVEL(raw)
        if match is not None:
            rank = levels.get(match.group(2).lower())
            return rank is None or rank >= threshold or raw.count(b"level=") > 1
        return True

    return check, precheck


def logger_check(prefixes: Sequence[str]) -> Tuple[Check, Optional[RawCheck]]:
    """``--logger``: the logger is one of *prefixes* or below one (dotted names)."""
    exact = tuple(prefixes)
    dotted = tuple(p + "." for p in prefixes)

    def check(data: Dict[str, Any]) -> bool:
        name = logger_of(data)
        return name is not None and (name in exact or name.startswith(dotted))

    if not all(_PLAIN_NAME.fullmatch(p) for p in prefixes):
        return check, None
    needles = tuple(p.encode() for p in prefixes)

    def precheck(raw: bytes) -> bool:
        return any(n in raw for n in needles) or b"\\u" in raw

    return check, precheck


def time_check(since: Optional[float], until: Optional[float]) -> Check:
    low = float("-inf") if since is None else since
    high = float("inf") if until is None else until

    def check(data: Dict[str, Any]) -> bool:
        stamp = _time_of(data)
        return stamp is not None and low <= stamp <= high

    return check


def _time_of(data: Dict[str, Any]) -> Optional[float]:
    value = _time_key(data)[1]
    return None if value is MISSING else parse_time(value)


def grep_check(patterns: Sequence[str], ignore_case: bool) -> RawCheck:
    """``-g``: the raw line holds one of *patterns* (as written, escapes included)."""
    if not ignore_case:
        needles = tuple(p.encode() for p in patterns)
        return lambda raw: any(n in raw for n in needles)
    if all(p.isascii() for p in patterns):
        lowered = tuple(p.lower().encode() for p in patterns)

        def ascii_search(raw: bytes) -> bool:
            low = raw.lower()
            return any(n in low for n in lowered)

        return ascii_search
    folded = tuple(p.casefold() for p in patterns)

    def unicode_search(raw: bytes) -> bool:
        text = raw.decode("utf-8", "replace").casefold()
        return any(n in text for n in folded)

    return unicode_search


def required_check(needles: Sequence[bytes]) -> RawCheck:
    """Every one of *needles* is in the raw line (or it has ``\\u`` escapes, which could spell one)."""
    found = tuple(needles)

    def precheck(raw: bytes) -> bool:
        for needle in found:
            if needle not in raw:
                return b"\\u" in raw
        return True

    return precheck
