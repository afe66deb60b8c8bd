"""What the JSON log intakes over HTTPS (Datadog, New Relic) share.

Holds :func:`attributes` (a record's static, context and own fields as one
flat dict, a field whose name the platform reserves renamed rather than lost),
:class:`StaticView` (static fields less those a handler writes elsewhere, once
per static dict), :func:`trace_ids` (a record's trace and span ids),
:func:`low64_decimal` (Datadog's form of a hex trace/span id),
:func:`json_bytes` (compact UTF-8 JSON that never raises, long values not cut)
and :func:`secret_from` (an option, or else an environment variable).

May import: serialize, errors.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, AbstractSet, Any, Callable, Collection, Dict, Optional, Tuple

from ...errors import ConfigError
from ...serialize import _orjson_module, _stdlib_encoder, defuse, dumps, json_default

if TYPE_CHECKING:
    from ...record import LogRecord

_PREFIXES = ("static.", "context.", "fields.")


def attributes(record: LogRecord, reserved: AbstractSet[str], static: Dict[str, Any]) -> Dict[str, Any]:
    """*static* (the record's static fields as the handler keeps them, see
    :class:`StaticView`), the record's context and own fields in one dict.

    A name the platform reserves (in *reserved*) or already taken is written
    as ``static.<name>`` / ``context.<name>`` / ``fields.<name>``: no value is lost.
    """
    context, data = record.context, record.data
    out = {**static, **context, **data}
    if len(out) == len(static) + len(context) + len(data) and reserved.isdisjoint(out):
        return out  # no name taken twice: the common case, in one dict display
    out = {}
    for source, prefix in zip((static, context, data), _PREFIXES):
        for key, value in source.items():
            name = key if type(key) is str else str(key)
            if name in reserved or name in out:
                name = prefix + name
                while name in out:
                    name = prefix + name
            out[name] = value
    return out


class StaticView:
    """A record's static fields less the ones a handler writes elsewhere (Datadog's
    service and env/version tags), computed once per static dict: records share it."""

    def __init__(self, skip: Collection[str]) -> None:
        self.skip = tuple(skip)
        self._cache: Tuple[Optional[Dict[str, Any]], Dict[str, Any]] = (None, {})

    def of(self, static: Dict[str, Any]) -> Dict[str, Any]:
        source, view = self._cache  # one tuple: threads calling at once see a matching pair
        if static is source:
            return view
        view = {k: v for k, v in static.items() if k not in self.skip} if self.skip else static
        self._cache = (static, view)
        return view


def trace_ids(record: LogRecord) -> Tuple[Any, Any]:
    """The record's ``trace_id`` and ``span_id`` (its own fields first, then the context), or None."""
    data, context = record.data, record.context
    trace_id = data.get("trace_id") if data else None
    if trace_id is None and context:
        trace_id = context.get("trace_id")
    span_id = data.get("span_id") if data else None
    if span_id is None and context:
        span_id = context.get("span_id")
    return trace_id, span_id


def low64_decimal(hex_id: Optional[str]) -> Optional[str]:
    """The decimal of the lower 64 bits of a hex id (an OpenTelemetry 128-bit
    trace id or a 64-bit span id), as Datadog correlates them; None when it is not hex."""
    if not hex_id or len(hex_id) > 32:
        return None
    try:
        value = int(hex_id, 16)
    except ValueError:
        return None
    return str(value & 0xFFFF_FFFF_FFFF_FFFF)


_encode: Optional[Callable[[Any], bytes]] = None


def _make_encoder() -> Callable[[Any], bytes]:
    orjson = _orjson_module()
    if orjson is not None:
        options = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS
        orjson_dumps = orjson.dumps

        def encode_orjson(obj: Any) -> bytes:
            data: bytes = orjson_dumps(obj, default=json_default, option=options)
            return data

        return encode_orjson
    encode = _stdlib_encoder()

    def encode_stdlib(obj: Any) -> bytes:
        return encode(obj).encode("utf-8")

    return encode_stdlib


def json_bytes(obj: Any) -> bytes:
    """Compact JSON of *obj* in UTF-8. Unlike the JSON formatter's lines, a long
    value is not cut here (the engine truncates a record past the platform's
    limit, with its marker); a value JSON cannot take (a surrogate, a cycle, too
    deep) is repaired as :func:`micktrace.serialize.dumps` repairs it."""
    global _encode
    if _encode is None:
        _encode = _make_encoder()
    try:
        return _encode(obj)
    except Exception:
        try:
            return dumps(obj).encode("utf-8", "replace")
        except ValueError:  # an int past Python's digit limit for str(): written marked
            return dumps(defuse(obj)).encode("utf-8", "replace")


def secret_from(key: str, value: Optional[str], env: Optional[str] = None) -> Optional[str]:
    """*value*, or else the environment variable *env*; a non-string value is a ConfigError naming *key*."""
    if value is None and env is not None:
        value = os.environ.get(env) or None
    if value is not None and (not isinstance(value, str) or not value.strip()):
        raise ConfigError(key, "[REDACTED]", "a non-empty string")
    return value.strip() if value is not None else None
