"""Checks what a library wrote, so that no library is timed doing less work.

Every timed file must hold exactly the number of lines logged (the worker also
checks this right after each flush, inside the process), and its first and last
lines must carry every field with the right type.
"""

from __future__ import annotations

import json
import re
from typing import Any, Dict, List, Optional, Tuple

from libs import BOUND, CONTEXT, LOGGER_NAME, MESSAGE

#: the fields of scenario (3) and their exact values (type included)
FIELDS: Dict[str, Any] = {"user_id": 123, "ip": "1.2.3.4", "success": True, "latency_ms": 12.5, "path": "/api/x"}
#: where each library puts the common keys
MESSAGE_KEYS = ("message", "event", "msg")
LEVEL_KEYS = ("level", "levelname", "level_name")
TIME_KEYS = ("timestamp", "time", "ts", "asctime")
LOGGER_KEYS = ("logger", "logger_name", "name", "channel")
_CLOCK = re.compile(rb"\d\d:\d\d:\d\d|\d{10}\.\d")


def _pick(record: Dict[str, Any], keys: Tuple[str, ...], what: str) -> Any:
    for key in keys:
        if key in record:
            return record[key]
    raise AssertionError(f"no {what} (looked for {', '.join(keys)})")


def _same(value: Any, expected: Any) -> bool:
    # True == 1 and 12.5 == 12.5 would hide a wrong type: compare types too
    return type(value) is type(expected) and value == expected


def check_json_line(line: bytes, with_context: bool = False) -> None:
    """Raise AssertionError unless *line* is one JSON object with every field."""
    try:
        record = json.loads(line)
    except ValueError as exc:
        raise AssertionError(f"not JSON ({exc}): {line[:200]!r}")
    if not isinstance(record, dict):
        raise AssertionError(f"not a JSON object: {line[:200]!r}")
    message = _pick(record, MESSAGE_KEYS, "message")
    if message != MESSAGE:
        raise AssertionError(f"message is {message!r}, expected {MESSAGE!r}")
    level = _pick(record, LEVEL_KEYS, "level")
    if not isinstance(level, str) or level.upper() != "INFO":
        raise AssertionError(f"level is {level!r}, expected 'INFO'")
    stamp = _pick(record, TIME_KEYS, "timestamp")
    if isinstance(stamp, bool) or not isinstance(stamp, (str, int, float)) or not stamp:
        raise AssertionError(f"timestamp is {stamp!r}")
    logger = _pick(record, LOGGER_KEYS, "logger name")
    if logger != LOGGER_NAME:
        raise AssertionError(f"logger is {logger!r}, expected {LOGGER_NAME!r}")
    expected = dict(FIELDS)
    if with_context:
        expected.update(BOUND)
        expected.update(CONTEXT)
    for key, value in expected.items():
        if key not in record:
            raise AssertionError(f"field {key!r} missing from {line[:300]!r}")
        if not _same(record[key], value):
            raise AssertionError(f"field {key!r} is {record[key]!r} ({type(record[key]).__name__}), expected {value!r}")


def check_text_line(line: bytes) -> None:
    """A text line: a time of day, the level, the logger name and the message."""
    lowered = line.lower()
    for part in (b"info", LOGGER_NAME.encode(), MESSAGE.encode().lower()):
        if part not in lowered:
            raise AssertionError(f"{part.decode()!r} missing from text line {line[:200]!r}")
    if not _CLOCK.search(line):
        raise AssertionError(f"no timestamp in text line {line[:200]!r}")


def read_lines(path: str) -> List[bytes]:
    with open(path, "rb") as file:
        data = file.read()
    if data and not data.endswith(b"\n"):
        raise AssertionError("the file does not end with a newline (a record was cut)")
    return data.split(b"\n")[:-1] if data else []


def check_file(
    path: str,
    content: str,
    expected_lines: Optional[int] = None,
    min_lines: Optional[int] = None,
    max_lines: Optional[int] = None,
    which: Tuple[str, ...] = ("first", "last"),
) -> int:
    """Check the file a worker wrote; returns its line count. *content* is
    ``json``, ``json_ctx`` or ``text``."""
    lines = read_lines(path)
    count = len(lines)
    if expected_lines is not None and count != expected_lines:
        raise AssertionError(f"{count} lines, expected {expected_lines}")
    if min_lines is not None and count < min_lines:
        raise AssertionError(f"{count} lines, expected at least {min_lines}")
    if max_lines is not None and count > max_lines:
        raise AssertionError(f"{count} lines, expected at most {max_lines}")
    if not lines:
        raise AssertionError("the file is empty")
    picked = []
    if "first" in which:
        picked.append(lines[0])
    if "last" in which:
        picked.append(lines[-1])
    for line in picked:
        if content == "text":
            check_text_line(line)
        else:
            check_json_line(line, with_context=content == "json_ctx")
    return count
