"""logfmt: ``key=value`` pairs, quoted and escaped where needed."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from .. import lazy_values as _lazy
from ..levels import LEVEL_NAMES, level_name
from ..serialize import iso_utc_ns
from .base import RESERVED_KEYS, Formatter, resolve_lazy, to_text

if TYPE_CHECKING:
    from ..record import LogRecord

_BAD_KEY = re.compile(r"[^A-Za-z0-9_.\-/@]")
_ESCAPES = {'"': '\\"', "\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t"}
#: keys this formatter writes itself; a field by one of these names is prefixed
_WRITTEN_KEYS = RESERVED_KEYS | {"exc_type", "exc_message", "exc_traceback"}
_ESCAPE_RE = re.compile('["\\\\\x00-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff\u202a-\u202e\u2066-\u2069]')  # bidi too


def _escape(match: re.Match[str]) -> str:
    ch = match.group()
    named = _ESCAPES.get(ch)
    if named is not None:
        return named
    code = ord(ch)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def logfmt_value(value: Any) -> str:
    """One logfmt value: bare when safe, otherwise double-quoted with escapes."""
    vtype = type(value)
    if vtype is str:
        text = value
    elif vtype is int or vtype is float:
        return repr(value)
    elif vtype is bool:
        return "true" if value else "false"
    else:
        text = to_text(value)
    if not text:
        return '""'
    # bare when printable with no space, quote, '=' or backslash (checked in C,
    # cheaper than the regex); anything else is quoted and escaped
    if text.isprintable() and " " not in text and '"' not in text and "=" not in text and "\\" not in text:
        return text  # type: ignore[no-any-return]
    return '"' + _ESCAPE_RE.sub(_escape, text) + '"'


_key_cache: dict[Any, str] = {}


def logfmt_key(key: Any) -> str:
    """A key with anything but ``[A-Za-z0-9_.-/@]`` replaced by ``_`` (cached)."""
    cached = _key_cache.get(key)
    if cached is not None:
        return cached
    text = key if type(key) is str else str(key)
    text = _BAD_KEY.sub("_", text) if text else "_"
    if len(_key_cache) < 10_000 and type(key) is str:
        _key_cache[key] = text
    return text


class LogfmtFormatter(Formatter):
    """``timestamp=... level=INFO logger=api message="User login" user_id=1``.

    Static fields, then context, then the record's fields follow the four
    fixed keys; a key already written is never repeated or overwritten: the later
    one is written as ``context.<key>`` or ``fields.<key>``.
    """

    def format(self, record: LogRecord) -> str:
        if _lazy.used:
            resolve_lazy(record)
        parts = [
            "timestamp=" + iso_utc_ns(record.time_ns),
            "level=" + (LEVEL_NAMES.get(record.level) or level_name(record.level)),
            "logger=" + logfmt_value(record.logger_name),
            "message=" + logfmt_value(record.message),
        ]
        seen = set(_WRITTEN_KEYS)
        for source, prefix in ((record.static, "static."), (record.context, "context."), (record.data, "fields.")):
            for key, value in source.items():
                name = logfmt_key(key)
                if name in seen:
                    name = prefix + name
                    while name in seen:  # "fields.level" may itself be a field
                        name = prefix + name
                seen.add(name)
                parts.append(name + "=" + logfmt_value(value))
        if record.filename is not None:
            parts.append(f"caller={logfmt_value(f'{record.filename}:{record.lineno}')}")
        if record.exc_info is not None:
            exc = record.exc_info
            parts.append("exc_type=" + logfmt_value(exc[0].__name__))
            view = record.exception or {}  # masked view when masking is on
            parts.append("exc_message=" + logfmt_value(view.get("message", "")))
            parts.append("exc_traceback=" + logfmt_value(record.exception_text or ""))
        if record.stack_info:
            parts.append("stack=" + logfmt_value(record.stack_info))
        return " ".join(parts)
