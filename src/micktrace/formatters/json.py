"""JSON lines: one object per record."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, Callable, Dict, List, Optional, Tuple

from .. import _native
from .. import lazy_values as _lazy
from ..levels import LEVEL_NAMES, level_name
from ..serialize import MAX_JSON_DEPTH, MAX_LINE_CHARS, _orjson_module, get_dumps, iso_utc_ns, json_default
from .base import RESERVED_KEYS, Formatter, resolve_lazy

if TYPE_CHECKING:
    from ..record import LogRecord

_PREFIXES = ("static.", "context.", "fields.")
# characters JSON may leave raw that are line breaks or terminal
# controls elsewhere; they only occur inside strings, where \uXXXX means the same
_RAW_BREAKS = re.compile("[\x7f-\x9f\u2028\u2029]")


def _json_escape(match: re.Match[str]) -> str:
    return "\\u%04x" % ord(match.group())  # noqa: UP031


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
    static, ctx, data = record.static, record.context, record.data
    if not nested:
        # the common case in one dict display: cheaper than four updates
        out: Dict[str, Any] = {
            "timestamp": stamp,
            "level": LEVEL_NAMES.get(record.level) or level_name(record.level),
            "logger": record.logger_name,
            "message": record.message,
            **static,
            **ctx,
            **data,
        }
        if (
            len(out) == 4 + len(static) + len(ctx) + len(data)
            and "exception" not in out
            and "caller" not in out
            and "stack" not in out
        ):
            if record.exc_info is None and record.filename is None and not record.stack_info:
                return out
            return _add_extras(out, record)
    out = {
        "timestamp": stamp,
        "level": LEVEL_NAMES.get(record.level) or level_name(record.level),
        "logger": record.logger_name,
        "message": record.message,
    }
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
        # some key collided: keep every value under its own key
        _merge_renaming(out, record)
    return _add_extras(out, record)


def _add_extras(out: Dict[str, Any], record: LogRecord) -> Dict[str, Any]:
    if record.filename is not None:
        out["caller"] = {"file": record.filename, "line": record.lineno, "function": record.func_name}
    if record.exc_info is not None:
        out["exception"] = record.exception  # masked view when masking is on
    if record.stack_info:
        out["stack"] = record.stack_info
    return out


def _native_records_ready() -> bool:
    """True when the compiled speedup knows the LogRecord layout (see logger.py)."""
    return _native.records_ready()


def _orjson_bytes() -> Optional[Tuple[Callable[..., bytes], int]]:
    orjson = _orjson_module()
    if orjson is None:
        return None
    return orjson.dumps, orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS


class JSONFormatter(Formatter):
    """``{"timestamp": "...Z", "level": "INFO", "logger": ..., "message": ..., <fields>}``.

    Args:
        nested: put context fields under ``"context"`` and the record's fields
            under ``"fields"`` instead of at the top level.
    """

    def __init__(self, nested: bool = False) -> None:
        self.nested = nested
        self._dumps = get_dumps()
        self._orjson = _orjson_bytes()
        #: the compiled encoder (micktrace._speedups) for the flat layout, or
        #: None: it writes the common record in one pass and returns None for
        #: anything it does not cover, which then takes the Python path below
        self._native = _native.encode_record if not nested else None
        self._native_batch = _native.encode_records if not nested and _native_records_ready() else None

    def _encode_native(self, record: LogRecord) -> Optional[bytes]:
        """The line from the compiled encoder, or None (not built, or not a record it covers)."""
        native = self._native
        if native is None or record.exc_info is not None or record.filename is not None or record.stack_info:
            return None
        try:
            return native(
                record.time_ns,
                LEVEL_NAMES.get(record.level) or level_name(record.level),
                record.logger_name,
                record.message,
                record.static,
                record.context,
                record.data,
                RESERVED_KEYS,
            )
        except Exception:
            return None

    def format_bytes(self, record: LogRecord) -> bytes:
        """The same line as :meth:`format`, as UTF-8 bytes.

        With orjson the common line (ASCII, short enough that it cannot be
        nested too deeply) is used as orjson produced it, saving a decode and
        an encode per record on the file handler's batch path; any other line
        goes through :meth:`format`.
        """
        if _lazy.used:
            resolve_lazy(record)
        line = self._encode_native(record)
        if line is not None:
            return line
        return self._format_bytes_python(record)

    def format_batch(self, records: List[LogRecord]) -> bytes:
        """The lines of *records*, each with its newline, as one bytes object
        (the file handler's batch path). With the compiled speedup the records
        it covers are written in one C call, the others by :meth:`format_bytes`."""
        if _lazy.used:
            for record in records:
                resolve_lazy(record)
        batch = self._native_batch
        if batch is not None:
            return batch(records, RESERVED_KEYS, LEVEL_NAMES, self._format_bytes_python)
        return b"".join([self.format_bytes(record) + b"\n" for record in records])

    def _format_bytes_python(self, record: LogRecord) -> bytes:
        fast = self._orjson
        if fast is not None:
            try:
                data: bytes = fast[0](record_dict(record, self.nested), default=json_default, option=fast[1])
            except Exception:
                pass
            else:
                # the checks dumps() makes on its text, done on the bytes
                if data.isascii() and b"\x7f" not in data and len(data) <= MAX_LINE_CHARS and (
                    len(data) <= 2 * MAX_JSON_DEPTH or data.count(b"[") + data.count(b"{") <= MAX_JSON_DEPTH
                ):
                    return data
        return self._format_python(record).encode("utf-8", "backslashreplace")

    def format(self, record: LogRecord) -> str:
        if _lazy.used:
            resolve_lazy(record)
        line = self._encode_native(record)
        if line is not None:
            return line.decode("ascii")  # the encoder writes ASCII only
        return self._format_python(record)

    def _format_python(self, record: LogRecord) -> str:
        text = self._dumps(record_dict(record, self.nested))
        # JSON leaves DEL, C1 controls (NEL, CSI) and U+2028/U+2029
        # raw; readers that split on them (str.splitlines) or terminals that obey
        # them would see more than one line. str.isascii() is O(1); DEL is ASCII.
        if text.isascii() and "\x7f" not in text:
            return text
        return _RAW_BREAKS.sub(_json_escape, text)
