"""Turning arbitrary Python values into safe JSON and text.

The fast path hands the record dict to orjson (when installed) or the stdlib
``json`` module with a ``default`` hook. Anything either of them rejects (cycles,
non-string keys, lone surrogates, integers beyond 64 bits, NaN, very deep
nesting) is repaired by :func:`jsonable` (``cut=False``), which changes only
what cannot be written; a line longer than ``MAX_LINE_CHARS`` is rebuilt with
long strings, long collections and deep nesting cut. A log call therefore always
gets one valid JSON object, and the same one with or without orjson.
"""

from __future__ import annotations

import enum
import math
import os
import re
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


def swallowable(exc: BaseException) -> bool:
    """May a value's ``__str__``/``__repr__`` failure with *exc* be swallowed?

    Every ``Exception``, and ``SystemExit``/``GeneratorExit`` raised by hostile
    values, yes. ``KeyboardInterrupt`` only off the main thread: on the main
    thread it may be the user's Ctrl-C arriving during the call, which must
    still stop the program.
    """
    if isinstance(exc, KeyboardInterrupt):
        import threading

        return threading.current_thread() is not threading.main_thread()
    return True


def safe_repr(obj: Any, limit: int = 1_000) -> str:
    """``repr(obj)`` that never raises and is never longer than *limit*."""
    try:
        text = repr(obj)
    except BaseException as exc:  # a broken __repr__ must not break logging
        if not swallowable(exc):
            raise
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
    except BaseException as exc:
        if not swallowable(exc):
            raise
        return safe_repr(obj)


def json_default(obj: Any) -> Any:
    """``default`` hook for json/orjson: a JSON-ready stand-in for *obj*."""
    stand_in = expand(obj)
    return safe_repr(obj) if stand_in is UNEXPANDED else stand_in


#: what :func:`expand` returns for an object it has no stand-in for
UNEXPANDED: Any = object()


def expand(obj: Any) -> Any:
    """:func:`json_default`'s stand-in for *obj*, or :data:`UNEXPANDED` where
    json_default would write ``repr(obj)`` (without calling it)."""
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
    if isinstance(obj, tuple):  # a namedtuple: a list, as the stdlib json module writes it
        return list(obj)
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
    return UNEXPANDED


def _json_key(key: Any, limit: int | None) -> str:
    # the same spelling the stdlib json module uses for non-string keys
    if isinstance(key, str):
        return _clean_str(str.__str__(key), limit)
    if key is True:
        return "true"
    if key is False:
        return "false"
    if key is None:
        return "null"
    if isinstance(key, float):
        return float.__repr__(key)
    if isinstance(key, int):
        return str(int(key))
    return _clean_str(safe_str(key), limit)


def _clean_str(value: str, limit: int | None) -> str:
    if limit is not None and len(value) > limit:
        value = value[:limit] + f"...[{len(value) - limit} more chars]"
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:  # lone surrogates: keep them visible, escaped
        value = value.encode("utf-8", "backslashreplace").decode("utf-8")
    return value


#: Nesting kept when a value is repaired rather than cut (see :func:`jsonable`).
REPAIR_DEPTH = 100
#: A line nested deeper than this is rebuilt by :func:`jsonable`. orjson refuses
#: more than 254 or 255 levels (by version) and the stdlib json module stops at
#: the recursion limit; below both, the two paths stay alike.
MAX_JSON_DEPTH = 200


def jsonable(value: Any, depth: int = 0, _seen: set[int] | None = None, *, cut: bool = True) -> Any:
    """A copy of *value* made only of dict/list/str/int/float/bool/None.

    With ``cut=True`` (the default) long strings, long collections and deep
    nesting are cut to ``MAX_STRING``, ``MAX_ITEMS`` and ``MAX_DEPTH``. With
    ``cut=False`` only what no JSON serialiser takes is repaired: cycles become
    ``"[cycle]"``, nesting beyond ``REPAIR_DEPTH`` ``"[max depth]"``, NaN and
    infinities null, lone surrogates visible escapes, and non-string keys are
    spelled as the stdlib ``json`` module spells them; everything else is kept.
    """
    if value is None or value is True or value is False:
        return value
    vtype = type(value)
    limit = MAX_STRING if cut else None
    if vtype is str or isinstance(value, str):
        return _clean_str(str.__str__(value), limit)
    if isinstance(value, bool):
        return bool(value)
    if isinstance(value, int) and not isinstance(value, enum.Enum):
        return int(value)
    if isinstance(value, float) and not isinstance(value, enum.Enum):
        real = float(value)
        return real if math.isfinite(real) else None
    if depth >= (MAX_DEPTH if cut else REPAIR_DEPTH):
        return "[max depth]" if isinstance(value, (dict, list, tuple)) else safe_repr(value, 200)
    max_items = MAX_ITEMS if cut else None
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
                    if max_items is not None and i >= max_items:
                        out["..."] = f"[{len(value) - max_items} more items]"
                        break
                    out[_json_key(k, limit)] = jsonable(v, depth + 1, seen, cut=cut)
                return out
            items = list(value)
            if isinstance(value, (set, frozenset)):
                try:
                    items = sorted(items)
                except TypeError:
                    pass
            if max_items is not None and len(items) > max_items:
                result = [jsonable(v, depth + 1, seen, cut=cut) for v in items[:max_items]]
                result.append(f"[{len(items) - max_items} more items]")
                return result
            return [jsonable(v, depth + 1, seen, cut=cut) for v in items]
        finally:
            seen.discard(marker)
    try:
        stand_in = json_default(value)
    except Exception:
        stand_in = safe_repr(value)
    if type(stand_in) is str:
        return _clean_str(stand_in, limit)
    marker = id(value)
    if marker in seen:
        return "[cycle]"
    seen.add(marker)
    try:
        return jsonable(stand_in, depth + 1, seen, cut=cut)
    finally:
        seen.discard(marker)


# --- the two serialisers, kept alike ------------------------------------------
# orjson refuses what the stdlib json module takes (non-string keys, integers
# beyond 64 bits, lone surrogates, very deep nesting) and the stdlib refuses NaN
# and cycles. Whatever either one refuses is repaired by ``jsonable(cut=False)``,
# which keeps everything else as it was, and the repaired value is written by
# the stdlib encoder on both paths; a stdlib line with a lone surrogate or very
# deep nesting is repaired the same way. So both paths write the same line for
# the same value. The one difference left is the spelling of floats with an
# exponent (``1e+16`` from the stdlib, ``1e16`` from some orjson versions):
# respelling them would cost more than the whole orjson call, and they parse to
# the same number.

_BRACKET_OR_STRING = re.compile(r'"(?:[^"\\]|\\.)*"|[\[\]{}]')


def _too_deep(text: str) -> bool:
    """True when the JSON *text* nests more than ``MAX_JSON_DEPTH`` levels."""
    if len(text) <= 2 * MAX_JSON_DEPTH or text.count("[") + text.count("{") <= MAX_JSON_DEPTH:
        return False
    depth = 0
    for match in _BRACKET_OR_STRING.finditer(text):
        token = match.group()
        if token == "[" or token == "{":
            depth += 1
            if depth > MAX_JSON_DEPTH:
                return True
        elif token == "]" or token == "}":
            depth -= 1
    return False


def _has_surrogates(text: str) -> bool:
    if text.isascii():
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


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
        return orjson_dumps_factory(orjson)
    return stdlib_dumps_factory()


def _stdlib_encoder() -> Callable[[Any], str]:
    import json

    return json.JSONEncoder(default=json_default, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode


def orjson_dumps_factory(orjson: Any) -> Callable[[Any], str]:
    """The orjson-backed serialiser; the same output as :func:`stdlib_dumps_factory`'s."""
    orjson_dumps = orjson.dumps
    opts = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS
    encode = _stdlib_encoder()  # for repaired values, exactly as the stdlib path writes them

    def dumps_orjson(obj: Any) -> str:
        try:
            text: str = orjson_dumps(obj, default=json_default, option=opts).decode()
        except Exception:
            text = encode(jsonable(obj, cut=False))
        else:
            if len(text) > 2 * MAX_JSON_DEPTH and _too_deep(text):
                text = encode(jsonable(obj, cut=False))
        if len(text) > MAX_LINE_CHARS:
            return encode(jsonable(obj))
        return text

    return dumps_orjson


def stdlib_dumps_factory() -> Callable[[Any], str]:
    """The stdlib-json serialiser; the same output as the orjson one."""
    encode = _stdlib_encoder()

    def dumps_stdlib(obj: Any) -> str:
        try:
            text = encode(obj)
        except Exception:
            text = encode(jsonable(obj, cut=False))
        else:
            if _has_surrogates(text) or (len(text) > 2 * MAX_JSON_DEPTH and _too_deep(text)):
                text = encode(jsonable(obj, cut=False))
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
# Formatting a timestamp with datetime costs over a microsecond, and even an
# f-string with a float format costs several hundred nanoseconds.
# The date and time-of-day part only changes once a second, so it is cached per
# second; the fraction uses %-formatting, the cheapest spelling measured.
_utc_cache: tuple[int, str] = (-1, "")
_local_cache: tuple[int, str] = (-1, "")


def iso_utc(ts: float) -> str:
    """ISO 8601 UTC with microseconds: ``2026-11-24T10:24:33.123456Z``."""
    global _utc_cache
    sec = int(ts)
    if ts < sec:  # int() truncates towards zero; before 1970 we need the floor
        sec -= 1
    cached_sec, prefix = _utc_cache
    if sec != cached_sec:
        prefix = time.strftime("%Y-%m-%dT%H:%M:%S.", time.gmtime(sec))
        _utc_cache = (sec, prefix)
    return prefix + "%06dZ" % ((ts - sec) * 1_000_000.0)  # noqa: UP031 - fastest spelling


def local_time(ts: float) -> str:
    """Local wall-clock time with milliseconds: ``2026-11-24 10:24:33.123``."""
    global _local_cache
    sec = int(ts)
    if ts < sec:
        sec -= 1
    cached_sec, prefix = _local_cache
    if sec != cached_sec:
        prefix = time.strftime("%Y-%m-%d %H:%M:%S.", time.localtime(sec))
        _local_cache = (sec, prefix)
    return prefix + "%03d" % ((ts - sec) * 1000.0)  # noqa: UP031


_DIGITS3 = tuple(f"{i:03d}" for i in range(1000))


def iso_utc_ns(ns: int) -> str:
    """:func:`iso_utc` for integer nanoseconds (the record's ``time_ns``): integer
    arithmetic and a table of digits, half the cost of formatting a float."""
    global _utc_cache
    sec = ns // 1_000_000_000
    cached_sec, prefix = _utc_cache
    if sec != cached_sec:
        prefix = time.strftime("%Y-%m-%dT%H:%M:%S.", time.gmtime(sec))
        _utc_cache = (sec, prefix)
    micros = ns // 1000 % 1_000_000
    return prefix + _DIGITS3[micros // 1000] + _DIGITS3[micros % 1000] + "Z"


def local_time_ns(ns: int) -> str:
    """:func:`local_time` for integer nanoseconds."""
    global _local_cache
    sec = ns // 1_000_000_000
    cached_sec, prefix = _local_cache
    if sec != cached_sec:
        prefix = time.strftime("%Y-%m-%d %H:%M:%S.", time.localtime(sec))
        _local_cache = (sec, prefix)
    return prefix + _DIGITS3[ns // 1_000_000 % 1000]


def _huge_int_text(value: int) -> str:
    digits = int(abs(value).bit_length() * 0.30103) + 1
    sign = "-" if value < 0 else ""
    return f"<int of about {digits} digits, too long to print: {sign}{hex(abs(value))[:34]}...>"


def defuse(value: Any, depth: int = 0) -> Any:
    """*value* with every int that Python refuses to turn into a string
    (more digits than ``sys.get_int_max_str_digits()``) replaced by a marked
    stand-in, inside dicts, lists, tuples and sets too. The same object when
    nothing needed replacing. Used on the failure path only: a formatter or the
    masker that failed on a record tries again with its values defused.
    """
    if type(value) is int or (isinstance(value, int) and not isinstance(value, bool)):
        try:
            str(value)
            return value
        except ValueError:
            return _huge_int_text(value)
    if depth > 32:
        return value
    if isinstance(value, dict):
        out = None
        for key, item in value.items():
            new = defuse(item, depth + 1)
            if new is not item:
                if out is None:
                    out = dict(value)
                out[key] = new
        return value if out is None else out
    if isinstance(value, (list, tuple, set, frozenset)):
        items = list(value)
        new_items = [defuse(item, depth + 1) for item in items]
        if any(a is not b for a, b in zip(items, new_items)):
            return new_items if not isinstance(value, tuple) or hasattr(value, "_fields") else tuple(new_items)
        return value
    return value


def defuse_record(record: Any) -> bool:
    """Defuse the record's fields, context and static fields in place; True if
    anything changed."""
    changed = False
    for name in ("data", "context", "static"):
        current = getattr(record, name, None)
        if current:
            new = defuse(current)
            if new is not current:
                setattr(record, name, new)
                changed = True
    return changed
