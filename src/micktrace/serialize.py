"""Turning arbitrary Python values into safe JSON and text.

The fast path hands the record dict to orjson (when installed) or the stdlib
``json`` module with a ``default`` hook. Anything either of them rejects (cycles,
non-string keys, lone surrogates, integers beyond 64 bits, NaN) and any line
longer than ``MAX_LINE_CHARS`` takes the slow path: :func:`jsonable` rebuilds the
value into plain JSON types, cutting cycles, depth, long strings and long
collections, and that is serialised instead. A log call therefore always gets
one valid JSON object.
"""

from __future__ import annotations

import enum
import math
import os
import time
from typing import Any, Callable

#: Longest string kept whole on the slow path; longer ones are cut.
MAX_STRING = 16_384
#: Most items of one list or dict kept on the slow path.
MAX_ITEMS = 1_000
#: Deepest nesting kept on the slow path.
MAX_DEPTH = 12
#: A serialised record longer than this is rebuilt with the limits above.
MAX_LINE_CHARS = 1_048_576


def safe_repr(obj: Any, limit: int = 1_000) -> str:
    """``repr(obj)`` that never raises and is never longer than *limit*."""
    try:
        text = repr(obj)
    except Exception as exc:  # a broken __repr__ must not break logging
        try:
            name = type(obj).__qualname__
        except Exception:
            name = "object"
        text = f"<unrepresentable {name}: {type(exc).__name__}>"
    if len(text) > limit:
        text = text[:limit] + f"...[{len(text) - limit} more chars]"
    return text


def safe_str(obj: Any) -> str:
    """``str(obj)`` that never raises."""
    if type(obj) is str:
        return obj
    try:
        return str(obj)
    except Exception:
        return safe_repr(obj)


def json_default(obj: Any) -> Any:
    """``default`` hook for json/orjson: a JSON-ready stand-in for *obj*."""
    # imported here, not at module level, to keep `import micktrace` cheap
    import dataclasses
    import datetime as _dt
    import decimal
    import uuid
    from pathlib import PurePath

    if isinstance(obj, _dt.datetime):
        return obj.isoformat()
    if isinstance(obj, (_dt.date, _dt.time)):
        return obj.isoformat()
    if isinstance(obj, _dt.timedelta):
        return obj.total_seconds()
    if isinstance(obj, uuid.UUID):
        return str(obj)
    if isinstance(obj, decimal.Decimal):
        return str(obj)
    if isinstance(obj, enum.Enum):
        return obj.value
    if isinstance(obj, (bytes, bytearray, memoryview)):
        return bytes(obj).decode("utf-8", "backslashreplace")
    if isinstance(obj, (set, frozenset)):
        try:
            return sorted(obj)
        except TypeError:
            return list(obj)
    if isinstance(obj, PurePath):
        return str(obj)
    if isinstance(obj, BaseException):
        return {"type": type(obj).__name__, "message": safe_str(obj)}
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: getattr(obj, f.name, None) for f in dataclasses.fields(obj)}
    for method in ("model_dump", "dict", "to_dict", "_asdict"):
        fn = getattr(obj, method, None)
        if callable(fn) and not isinstance(obj, type):
            try:
                result = fn()
            except Exception:
                continue
            if isinstance(result, dict):
                return result
    if isinstance(obj, complex):
        return str(obj)
    return safe_repr(obj)


def _json_key(key: Any) -> str:
    # the same spelling the stdlib json module uses for non-string keys
    if isinstance(key, str):
        return _clean_str(key, MAX_STRING)
    if key is True:
        return "true"
    if key is False:
        return "false"
    if key is None:
        return "null"
    if isinstance(key, float):
        return repr(key)
    if isinstance(key, int):
        return str(int(key))
    return safe_str(key)


def _clean_str(value: str, limit: int) -> str:
    if len(value) > limit:
        value = value[:limit] + f"...[{len(value) - limit} more chars]"
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:  # lone surrogates: keep them visible, escaped
        value = value.encode("utf-8", "backslashreplace").decode("utf-8")
    return value


_INT_MAX = 2**63 - 1
_UINT_MAX = 2**64 - 1


def jsonable(value: Any, depth: int = 0, _seen: set[int] | None = None) -> Any:
    """A copy of *value* made only of dict/list/str/int/float/bool/None, within limits."""
    if value is None or value is True or value is False:
        return value
    vtype = type(value)
    if vtype is str or isinstance(value, str):
        return _clean_str(str.__str__(value), MAX_STRING)
    if isinstance(value, bool):
        return bool(value)
    if isinstance(value, int) and not isinstance(value, enum.Enum):
        number = int(value)
        return number if -_INT_MAX - 1 <= number <= _UINT_MAX else str(number)
    if isinstance(value, float) and not isinstance(value, enum.Enum):
        real = float(value)
        return real if math.isfinite(real) else None
    if depth >= MAX_DEPTH:
        return "[max depth]" if isinstance(value, (dict, list, tuple)) else safe_repr(value, 200)
    seen = _seen if _seen is not None else set()
    if isinstance(value, (dict, list, tuple, set, frozenset)):
        marker = id(value)
        if marker in seen:
            return "[cycle]"
        seen.add(marker)
        try:
            if isinstance(value, dict):
                out: dict[str, Any] = {}
                for i, (k, v) in enumerate(list(value.items())):
                    if i >= MAX_ITEMS:
                        out["..."] = f"[{len(value) - MAX_ITEMS} more items]"
                        break
                    out[_json_key(k)] = jsonable(v, depth + 1, seen)
                return out
            items = list(value)
            if isinstance(value, (set, frozenset)):
                try:
                    items = sorted(items)
                except TypeError:
                    pass
            result = [jsonable(v, depth + 1, seen) for v in items[:MAX_ITEMS]]
            if len(items) > MAX_ITEMS:
                result.append(f"[{len(items) - MAX_ITEMS} more items]")
            return result
        finally:
            seen.discard(marker)
    try:
        stand_in = json_default(value)
    except Exception:
        stand_in = safe_repr(value)
    if type(stand_in) is str:
        return _clean_str(stand_in, MAX_STRING)
    marker = id(value)
    if marker in seen:
        return "[cycle]"
    seen.add(marker)
    try:
        return jsonable(stand_in, depth + 1, seen)
    finally:
        seen.discard(marker)


def _orjson_module() -> Any:
    if os.environ.get("MICKTRACE_NO_ORJSON"):
        return None
    try:  # orjson is optional: the 'performance' extra
        import orjson
    except ImportError:
        return None
    return orjson


def _make_dumps() -> Callable[[Any], str]:
    orjson = _orjson_module()
    if orjson is not None:
        orjson_dumps = orjson.dumps
        opts = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS

        def dumps_orjson(obj: Any) -> str:
            try:
                text: str = orjson_dumps(obj, default=json_default, option=opts).decode()
            except Exception:
                return orjson_dumps(jsonable(obj), option=opts).decode()  # type: ignore[no-any-return]
            if len(text) > MAX_LINE_CHARS:
                return orjson_dumps(jsonable(obj), option=opts).decode()  # type: ignore[no-any-return]
            return text

        return dumps_orjson
    return stdlib_dumps_factory()


def stdlib_dumps_factory() -> Callable[[Any], str]:
    """The stdlib-json serialiser; same output as the orjson one."""
    import json

    encode = json.JSONEncoder(default=json_default, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode

    def dumps_stdlib(obj: Any) -> str:
        try:
            text = encode(obj)
        except Exception:
            return encode(jsonable(obj))
        if len(text) > MAX_LINE_CHARS:
            return encode(jsonable(obj))
        return text

    return dumps_stdlib


_dumps: Callable[[Any], str] | None = None


def get_dumps() -> Callable[[Any], str]:
    """The JSON serialiser in use: orjson-backed when orjson is installed."""
    global _dumps
    if _dumps is None:
        _dumps = _make_dumps()
    return _dumps


def dumps(obj: Any) -> str:
    """One line of compact JSON for *obj*; never raises. Uses orjson when installed."""
    return (_dumps or get_dumps())(obj)


def using_orjson() -> bool:
    """True when :func:`dumps` uses orjson."""
    return _orjson_module() is not None


# --- timestamps -----------------------------------------------------------
# Formatting a timestamp with datetime costs about a microsecond; the date and
# time-of-day part only changes once a second, so it is cached per second.
_utc_cache: tuple[int, str] = (-1, "")
_local_cache: tuple[int, str] = (-1, "")


def iso_utc(ts: float) -> str:
    """ISO 8601 UTC with microseconds: ``2026-11-24T10:24:33.123456Z``."""
    global _utc_cache
    sec = int(ts)
    cached_sec, prefix = _utc_cache
    if sec != cached_sec:
        prefix = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(sec))
        _utc_cache = (sec, prefix)
    micros = int((ts - sec) * 1_000_000)
    return f"{prefix}.{micros:06d}Z"


def local_time(ts: float) -> str:
    """Local wall-clock time with milliseconds: ``2026-11-24 10:24:33.123``."""
    global _local_cache
    sec = int(ts)
    cached_sec, prefix = _local_cache
    if sec != cached_sec:
        prefix = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(sec))
        _local_cache = (sec, prefix)
    millis = int((ts - sec) * 1000)
    return f"{prefix}.{millis:03d}"
