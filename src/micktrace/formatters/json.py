"""JSON lines: one object per record."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Dict

from .._exceptions import exception_dict
from ..levels import LEVEL_NAMES
from ..serialize import get_dumps, iso_utc_ns
from .base import RESERVED_KEYS, Formatter

if TYPE_CHECKING:
    from ..record import LogRecord

_PREFIXES = ("static.", "context.", "fields.")
_NESTED_KEYS = frozenset(("context", "fields"))


def _merge_renaming(out: Dict[str, Any], record: LogRecord) -> None:
    """Merge static, context and fields into *out*; a key already present is kept
    and the newcomer is written as ``context.<key>`` / ``fields.<key>``."""
    for source, prefix in zip((record.static, record.context, record.data), _PREFIXES):
        for key, value in source.items():
            if key in out or key in RESERVED_KEYS:
                key = prefix + str(key)
                while key in out:  # "fields.level" may itself be a field
                    key = prefix + key
            out[key] = value


def record_dict(record: LogRecord, nested: bool = False) -> Dict[str, Any]:
    """The record laid out as the JSON formatter writes it (values unserialised)."""
    stamp = iso_utc_ns(record.time_ns)
    out: Dict[str, Any] = {
        "timestamp": stamp,
        "level": LEVEL_NAMES.get(record.level) or str(record.level),
        "logger": record.logger_name,
        "message": record.message,
    }
    static, ctx, data = record.static, record.context, record.data
    if nested:
        if static:
            for key, value in static.items():
                if key in RESERVED_KEYS or key in _NESTED_KEYS or key in out:
                    key = "static." + str(key)
                    while key in out:
                        key = "static." + key
                out[key] = value
        if ctx:
            out["context"] = ctx
        if data:
            out["fields"] = data
    else:
        expected = 4
        if static:
            out.update(static)
            expected += len(static)
        if ctx:
            out.update(ctx)
            expected += len(ctx)
        if data:
            out.update(data)
            expected += len(data)
        # "exception", "caller" and "stack" are renamed even when the record has
        # none, so a consumer always finds the same thing under those keys
        # (three `in` checks: cheaper than a set operation over every key)
        if len(out) != expected or "exception" in out or "caller" in out or "stack" in out:
            # some key collided: redo it, keeping every value under its own key
            out = {
                "timestamp": stamp,  # not out["timestamp"]: a field may have replaced it
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
