"""Rendering of a parsed record as one aligned, optionally coloured line:
time, level (padded), ``[logger]``, message, then the other fields as
``key=value`` (nested objects flattened to dotted keys), then any traceback
indented under it. Control characters in values are escaped so a record cannot
drive the terminal. Imports from micktrace: formatters (colours, escaping), .parse.
"""

from __future__ import annotations

import json
import time
from typing import Any, Dict, List, Optional, Set, Tuple

from ..formatters.base import escape_controls
from ..formatters.logfmt import logfmt_value
from ..formatters.text import BOLD, CYAN, DIM, LEVEL_COLORS, RESET
from . import aliases as A
from .parse import (
    MISSING,
    exception_field,
    level_key,
    level_name,
    level_rank,
    logger_key,
    loguru_record,
    message_key,
    parse_time,
    time_key,
)

MAGENTA = "\x1b[35m"
#: the core fields' names in micktrace's own layout (the first alias of each)
_OWN_KEYS = ("timestamp", "level", "logger", "message")
#: the top-level keys a traceback can hang from (each alias, its first part, loguru's "record")
_EXCEPTION_ROOTS = frozenset({k.split(".", 1)[0] for k in A.EXCEPTION_KEYS} | set(A.EXCEPTION_KEYS) | {"record"})
RED_BOLD = "\x1b[1;31m"
#: colours of the ranks micktrace has no level for
EXTRA_COLORS = {25: "\x1b[36m", 0: ""}
LEVEL_WIDTH = 8
#: the logger column grows to the longest name seen, up to this width
MAX_LOGGER_WIDTH = 30
_MAX_DEPTH = 8


def level_color(rank: Optional[int]) -> str:
    if rank is None:
        return ""
    color = LEVEL_COLORS.get(rank)
    if color is not None:
        return color
    if rank in EXTRA_COLORS:
        return EXTRA_COLORS[rank]
    if rank >= 50:
        return LEVEL_COLORS[50]
    best = max((r for r in LEVEL_COLORS if r <= rank), default=None)
    return LEVEL_COLORS[best] if best is not None else ""


def show_value(value: Any) -> str:
    """A field value as it reads best: bare or logfmt-quoted text, numbers, JSON for lists."""
    vtype = type(value)
    if vtype is str or vtype is int:
        return logfmt_value(value)
    if value is None:
        return "null"
    if vtype is list or vtype is dict:
        return escape_controls(json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=str))
    return logfmt_value(value)


def _flatten(prefix: str, value: Any, skip: Set[str], out: List[Tuple[str, Any]], depth: int) -> None:
    if prefix in skip:
        return
    if type(value) is dict and value and depth < _MAX_DEPTH:
        for key, inner in value.items():
            _flatten(f"{prefix}.{key}" if prefix else str(key), inner, skip, out, depth + 1)
        return
    out.append((prefix, value))


def show_time(value: Any) -> str:
    if value is MISSING:
        return ""
    if type(value) is str:
        return escape_controls(value)
    stamp = parse_time(value)
    if stamp is None:
        return escape_controls(str(value))
    whole = int(stamp // 1)
    millis = int((stamp - whole) * 1000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(whole)) + f".{millis:03d}Z"


class Renderer:
    """Turns records into display lines; keeps the logger column's width."""

    def __init__(self, color: bool) -> None:
        self.color = color
        self.logger_width = 0

    def paint(self, code: str, text: str) -> str:
        return f"{code}{text}{RESET}" if self.color and code and text else text

    def fit(self, records: List[Dict[str, Any]]) -> None:
        """Widen the logger column for *records* before any of them is shown
        (a batch lines up; the column never narrows)."""
        for data in records:
            value = data.get("logger")
            if type(value) is not str or "record" in data:
                value = logger_key(data)[1]
            if value is not MISSING:
                width = len(escape_controls(str(value))) + 2
                if width > self.logger_width:
                    self.logger_width = min(MAX_LOGGER_WIDTH, width)

    def render(self, data: Dict[str, Any]) -> str:
        """The display of one record, newline-terminated (more lines for a traceback)."""
        tvalue, lvalue, gvalue, mvalue = (data.get(k) for k in _OWN_KEYS)
        if type(tvalue) is str and type(lvalue) is str and type(gvalue) is str and type(mvalue) is str and (
            "record" not in data  # micktrace's own layout: the first alias of each, no loguru
        ):
            skip = set(_OWN_KEYS)
        else:
            tkey, tvalue = time_key(data)
            lkey, lvalue = level_key(data)
            gkey, gvalue = logger_key(data)
            mkey, mvalue = message_key(data)
            skip = {k for k in (tkey, lkey, gkey, mkey) if k}
        traceback = ""
        if not data.keys().isdisjoint(_EXCEPTION_ROOTS):
            exc_keys, traceback = exception_field(data)
            skip.update(exc_keys)

        parts: List[str] = []
        stamp = show_time(tvalue)
        if stamp:
            parts.append(self.paint(DIM, stamp))
        if lvalue is not MISSING:
            name = escape_controls(level_name(lvalue))
            parts.append(self.paint(level_color(level_rank(lvalue)), name.ljust(LEVEL_WIDTH)))
        else:
            parts.append(" " * LEVEL_WIDTH)
        if gvalue is not MISSING:
            logger = "[" + escape_controls(str(gvalue)) + "]"
            self.logger_width = min(MAX_LOGGER_WIDTH, max(self.logger_width, len(logger)))
            parts.append(self.paint(MAGENTA, logger) + " " * max(0, self.logger_width - len(logger)))
        elif self.logger_width:
            parts.append(" " * self.logger_width)
        if mvalue is not MISSING:
            parts.append(self.paint(BOLD, escape_controls(str(mvalue))))
        if self.color:
            for key, value in self._fields(data, skip):
                parts.append(f"{CYAN}{escape_controls(key)}{RESET}={show_value(value)}")
        else:
            for key, value in self._fields(data, skip):
                parts.append(f"{escape_controls(key)}={show_value(value)}")
        line = " ".join(parts)
        if traceback:
            line += self._traceback(traceback)
        return line + "\n"

    def _fields(self, data: Dict[str, Any], skip: Set[str]) -> List[Tuple[str, Any]]:
        out: List[Tuple[str, Any]] = []
        record = loguru_record(data)
        if record is not None:
            extra = record.get(A.LOGURU_FIELDS)
            if type(extra) is dict:
                for key, value in extra.items():
                    _flatten(str(key), value, set(), out, 0)
            return out
        for key, value in data.items():
            if type(value) is dict:
                _flatten(str(key), value, skip, out, 0)
            elif key not in skip:
                out.append((key, value))
        return out

    def _traceback(self, text: str) -> str:
        lines = text.split("\n")
        last = len(lines) - 1
        while last > 0 and not lines[last].strip():
            last -= 1
        shown = []
        for index, line in enumerate(lines):
            safe = escape_controls(line.rstrip())
            if not safe:
                shown.append("\n")
                continue
            shown.append("\n    " + (self.paint(RED_BOLD, safe) if index == last else safe))
        return "".join(shown)
