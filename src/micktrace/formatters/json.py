"""JSON lines: one object per record."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Dict

from .._exceptions import exception_dict
from ..levels import LEVEL_NAMES
from ..serialize import get_dumps, iso_utc
from .base import RESERVED_KEYS, Formatter

if TYPE_CHECKING:
    from ..record import LogRecord

_PREFIXES = ("static.", "context.", "fields.")
_LATE_KEYS = frozenset(("caller", "exception", "stack"))


def _merge_renaming(out: Dict[str, Any], record: LogRecord) -> None:
    """Merge static, context and fields into *out*; a key already present is kept
    and the newcomer is written as ``context.<key>`` / ``fields.<key>``."""
    for source, prefix in zip((record.static, record.context, record.data), _PREFIXES):
        for key, value in source.items():
            if key in out or key in RESERVED_KEYS:
                key = prefix + str(key)
            out[key] = value


def record_dict(record: LogRecord, nested: bool = False) -> Dict[str, Any]:
    """The record laid out as the JSON formatter writes it (values unserialised)."""
    out: Dict[str, Any] = {
        "timestamp": iso_utc(record.timestamp),
        "level": LEVEL_NAMES.get(record.level) or str(record.level),
        "logger": record.logger_name,
        "message": record.message,
    }
    static, ctx, data = record.static, record.context, record.data
    if nested:
        if static:
            for key, value in static.items():
                out[key if key not in RESERVED_KEYS else "static." + key] = value
        if ctx:
            out["context"] = ctx
        if data:
            out["fields"] = data
    else:
        expected = 4 + len(static) + len(ctx) + len(data)
        if static:
            out.update(static)
        if ctx:
            out.update(ctx)
        if data:
            out.update(data)
        extras = record.filename is not None or record.exc_info is not None or record.stack_info
        if len(out) != expected or (extras and not _LATE_KEYS.isdisjoint(out)):
            # some key collided: redo it, keeping every value under its own key
            out = {
                "timestamp": out["timestamp"],
                "level": LEVEL_NAMES.get(record.level) or str(record.level),
                "logger": record.logger_name,
                "message": record.message,
            }
            _merge_renaming(out, record)
    if record.filename is not None:
        out["caller"] = {"file": record.filename, "line": record.lineno, "function": record.func_name}
    if record.exc_info is not None:
        out["exception"] = exception_dict(record.exc_info)
    if record.stack_info:
        out["stack"] = record.stack_info
    return out


class JSONFormatter(Formatter):
    """``{"timestamp": "...Z", "level": "INFO", "logger": ..., "message": ..., <fields>}``.

    Args:
        nested: put context fields under ``"context"`` and the record's fields
            under ``"fields"`` instead of at the top level.
    """

    def __init__(self, nested: bool = False) -> None:
        self.nested = nested
        self._dumps = get_dumps()

    def format(self, record: LogRecord) -> str:
        return self._dumps(record_dict(record, self.nested))
