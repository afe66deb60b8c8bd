"""The optional C encoder (micktrace._speedups): byte for byte the line the
pure-Python JSON formatter writes, or None for what it leaves to Python.

The extension must be built where these tests run (CI has a compiler): only
MICKTRACE_NO_SPEEDUPS=1 makes its absence acceptable.
"""

from __future__ import annotations

import collections
import enum
import json
import math
import os
import subprocess
import sys
import time
from typing import Any, Callable, Dict, List, Optional, Tuple

import pytest
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st

from conftest import SRC
from micktrace import _native
from micktrace.formatters.base import RESERVED_KEYS
from micktrace.formatters.json import JSONFormatter
from micktrace.levels import LEVEL_NAMES
from micktrace.record import LogRecord
from micktrace.serialize import stdlib_dumps_factory

DISABLED = os.environ.get(_native.ENV_NO_SPEEDUPS, "") not in ("", "0")
NS = 1_764_000_000_123_456_789
MAX_LINE = 1_048_576
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
LAST_NS = 253_402_300_799_999_999_999  # 9999-12-31T23:59:59.999999999Z

Encoder = Callable[..., Optional[bytes]]

# the pure-Python reference: the formatter with the compiled encoder switched off
FORMATTER = JSONFormatter()
FORMATTER._native = None
# the same formatter on the stdlib json path, as on an install without orjson
STDLIB_FORMATTER = JSONFormatter()
STDLIB_FORMATTER._native = None
STDLIB_FORMATTER._dumps = stdlib_dumps_factory()


@pytest.fixture
def enc() -> Encoder:
    if DISABLED:
        pytest.skip(f"{_native.ENV_NO_SPEEDUPS} is set")
    assert _native.encode_record is not None, "micktrace._speedups is not built"
    return _native.encode_record


def reference(
    level: int,
    logger: str,
    message: str,
    static: Dict[Any, Any],
    context: Dict[Any, Any],
    data: Dict[Any, Any],
    ns: int = NS,
    formatter: JSONFormatter = FORMATTER,
) -> bytes:
    rec = LogRecord(0.0, level, logger, message, data, context, static, None, None, 1, 1)
    rec.time_ns = ns
    return formatter.format(rec).encode("utf-8")


def fast(
    enc: Encoder,
    level: int,
    logger: str,
    message: str,
    static: Dict[Any, Any],
    context: Dict[Any, Any],
    data: Dict[Any, Any],
    ns: int = NS,
) -> Optional[bytes]:
    return enc(ns, LEVEL_NAMES[level], logger, message, static, context, data, RESERVED_KEYS)


def iso(ns: int) -> str:
    sec = ns // 1_000_000_000
    prefix = time.strftime("%Y-%m-%dT%H:%M:%S.", time.gmtime(sec))
    micros = ns // 1000 % 1_000_000
    return prefix + f"{micros:06d}" + "Z"


# --- what the encoder promises to cover -------------------------------------------


def _plain_str(value: Any) -> bool:
    return type(value) is str and value.isascii()


def _supported_value(value: Any, depth: int) -> bool:
    if value is None or value is True or value is False:
        return True
    vtype = type(value)
    if vtype is str:
        return value.isascii()  # type: ignore[no-any-return]
    if vtype is int:
        return INT64_MIN <= value <= INT64_MAX  # type: ignore[no-any-return]
    if vtype is float:
        return math.isfinite(value) and "e" not in repr(value)
    if vtype is dict or vtype is list or vtype is tuple:
        if depth >= 8:
            return False
        if vtype is dict:
            return all(_plain_str(k) and _supported_value(v, depth + 1) for k, v in value.items())
        return all(_supported_value(v, depth + 1) for v in value)
    return False


def supported(logger: str, message: str, static: Dict[Any, Any], context: Dict[Any, Any], data: Dict[Any, Any]) -> bool:
    """True when the record is in the subset the C encoder must handle (lines under 1 MiB)."""
    if not (_plain_str(logger) and _plain_str(message)):
        return False
    earlier: set[str] = set()
    for fields in (static, context, data):
        for key, value in fields.items():
            if not _plain_str(key) or key in RESERVED_KEYS or key in earlier:
                return False
            if not _supported_value(value, 0):
                return False
        earlier.update(fields)
    return True


# --- strategies: supported values mixed with everything the Python path must handle --


class Color(enum.IntEnum):
    RED = 1


class Text(str):
    pass


class Number(int):
    pass


Point = collections.namedtuple("Point", "x y")

ASCII = st.text(st.characters(max_codepoint=0x7F), max_size=12)  # control chars and DEL included
SPECIAL = st.text(st.sampled_from('"\\/\x00\x01\x1f\x7f\n\r\t\b\f aZ9'), max_size=10)
NON_ASCII = st.text(st.characters(min_codepoint=0x80, blacklist_categories=()), min_size=1, max_size=4)
CLEAN_TEXT = st.one_of(ASCII, SPECIAL)
ANY_TEXT = st.one_of(CLEAN_TEXT, CLEAN_TEXT, st.tuples(ASCII, NON_ASCII).map("".join))

CLEAN_LEAF = st.one_of(
    CLEAN_TEXT,
    st.integers(INT64_MIN, INT64_MAX),
    st.sampled_from([0, -1, INT64_MIN, INT64_MAX, 123]),
    st.floats(-1e15, 1e15),
    st.floats(-1e15, 1e15).map(lambda x: round(x, 3)),
    st.sampled_from([12.5, 1.0, -0.0, 0.0, 100.0, 0.0001, 1e15, 0.1, 9007199254740993.0, 0.00012]),
    st.booleans(),
    st.none(),
)
ODD_LEAF = st.one_of(
    NON_ASCII,
    st.integers(),  # huge ones too
    st.floats(),  # nan, inf, exponents
    st.sampled_from([1e16, 1e-5, 5e-324, 1.7976931348623157e308]),
    st.builds(Text, ASCII),
    st.builds(Number, st.integers(-3, 3)),
    st.just(Color.RED),
    st.binary(max_size=4),
    st.builds(object),
    st.just(collections.OrderedDict(a=1)),
    st.builds(Point, st.integers(-3, 3), st.integers(-3, 3)),
    st.frozensets(st.integers(0, 5), max_size=3),
)
COMMON_KEYS = ["user_id", "ip", "a", "b", "service", "request_id"]
CLEAN_KEY = st.one_of(st.sampled_from(COMMON_KEYS), ASCII, SPECIAL)
ODD_KEY = st.one_of(
    st.sampled_from(sorted(RESERVED_KEYS)),
    NON_ASCII,
    st.builds(Text, ASCII),
    st.integers(0, 3),
    st.none(),
    st.just(True),
    st.just((1, 2)),
)


def _nest(value: Any, depth: int, kinds: str) -> Any:
    for i in range(depth):
        kind = kinds[i % len(kinds)]
        value = {"k": value} if kind == "d" else [value] if kind == "l" else (value,)
    return value


def _values(
    leaf: st.SearchStrategy[Any], key: st.SearchStrategy[Any], depths: Tuple[int, int]
) -> st.SearchStrategy[Any]:
    tree = st.recursive(
        leaf,
        lambda inner: st.one_of(
            st.lists(inner, max_size=4),
            st.lists(inner, max_size=3).map(tuple),
            st.dictionaries(key, inner, max_size=4),
        ),
        max_leaves=12,
    )
    deep = st.builds(_nest, leaf, st.integers(*depths), st.sampled_from(["d", "l", "t", "dlt", "ld"]))
    return st.one_of(tree, tree, deep)


CLEAN_VALUES = _values(CLEAN_LEAF, CLEAN_KEY, (1, 8))  # up to the deepest nesting handled in C
ANY_VALUES = _values(st.one_of(CLEAN_LEAF, CLEAN_LEAF, ODD_LEAF), st.one_of(CLEAN_KEY, CLEAN_KEY, ODD_KEY), (6, 11))


def _clean_fields(prefix: str, names: list[str]) -> st.SearchStrategy[Dict[str, Any]]:
    # keys of one dict only (the prefix keeps them apart from the other two dicts')
    key = st.one_of(st.sampled_from(names), ASCII.map(prefix.__add__), SPECIAL.map(prefix.__add__))
    return st.dictionaries(key, CLEAN_VALUES, max_size=6)


ANY_FIELDS = st.one_of(
    st.dictionaries(CLEAN_KEY, CLEAN_VALUES, max_size=5),
    st.dictionaries(st.one_of(CLEAN_KEY, CLEAN_KEY, ODD_KEY), ANY_VALUES, max_size=5),
)
LEVELS = st.sampled_from(sorted(LEVEL_NAMES))
# (level, logger, message, static, context, data)
CLEAN_RECORDS = st.tuples(
    LEVELS,
    CLEAN_TEXT,
    CLEAN_TEXT,
    _clean_fields("s.", ["service", "version", "environment"]),
    _clean_fields("c.", ["request_id", "trace_id", "user"]),
    _clean_fields("d.", ["user_id", "ip", "success", "latency_ms", "path"]),
)
ANY_RECORDS = st.tuples(LEVELS, ANY_TEXT, ANY_TEXT, ANY_FIELDS, ANY_FIELDS, ANY_FIELDS)
RECORDS = st.one_of(CLEAN_RECORDS, ANY_RECORDS)

BENCH = {"user_id": 123, "ip": "1.2.3.4", "success": True, "latency_ms": 12.5, "path": "/api/x"}


# --- the build and the switch ---------------------------------------------------------


def test_extension_built_unless_disabled() -> None:
    if DISABLED:
        assert _native.encode_record is None
        assert not _native.available()
    else:
        import micktrace._speedups

        assert _native.available()
        assert _native.encode_record is micktrace._speedups.encode_record


def _child(code: str, **env: str) -> str:
    full = {k: v for k, v in os.environ.items() if k != _native.ENV_NO_SPEEDUPS}
    full["PYTHONPATH"] = str(SRC) + os.pathsep + full.get("PYTHONPATH", "")
    full.update(env)
    result = subprocess.run([sys.executable, "-c", code], env=full, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


SHOW = "import micktrace._native as n; print(n.encode_record is None, n.available())"


@pytest.mark.parametrize(
    ("value", "expected"),
    [(None, "False True"), ("1", "True False"), ("yes", "True False"), ("0", "False True"), ("", "False True")],
)
def test_environment_switch(value: Optional[str], expected: str) -> None:
    env = {} if value is None else {_native.ENV_NO_SPEEDUPS: value}
    assert _child(SHOW, **env) == expected


def test_missing_extension_means_pure_python() -> None:
    code = (
        "import sys; sys.modules['micktrace._speedups'] = None\n"  # the import now raises ImportError
        "import micktrace._native as n\n"
        "from micktrace.formatters.json import JSONFormatter\n"
        "from micktrace.record import LogRecord\n"
        "r = LogRecord(0.0, 20, 'app', 'hi', {'a': 1}, {}, {}, None, None, 1, 1)\n"
        "print(n.encode_record is None, n.available(), JSONFormatter().format(r).endswith('\"a\":1}'))"
    )
    assert _child(code) == "True False True"


# --- exact output ------------------------------------------------------------------


def test_benchmark_record(enc: Encoder) -> None:
    out = fast(enc, 20, "bench", "User login", {}, {}, BENCH)
    assert out == (
        b'{"timestamp":"2025-11-24T16:00:00.123456Z","level":"INFO","logger":"bench","message":"User login",'
        b'"user_id":123,"ip":"1.2.3.4","success":true,"latency_ms":12.5,"path":"/api/x"}'
    )
    assert out == reference(20, "bench", "User login", {}, {}, BENCH)


def test_static_context_data_order(enc: Encoder) -> None:
    static = {"service": "api", "version": "1.2"}
    context = {"request_id": "r1", "tenant": {"id": 7, "tags": ["a", "b"]}}
    data = {"n": None, "t": (1, 2.5, False), "empty": {}, "e2": [], "e3": ()}
    out = fast(enc, 30, "svc.db", "done", static, context, data)
    assert out == reference(30, "svc.db", "done", static, context, data)
    assert out is not None
    assert list(json.loads(out)) == [
        "timestamp",
        "level",
        "logger",
        "message",
        "service",
        "version",
        "request_id",
        "tenant",
        "n",
        "t",
        "empty",
        "e2",
        "e3",
    ]


@pytest.mark.parametrize("code", range(128))
def test_every_ascii_char_escaped_like_python(enc: Encoder, code: int) -> None:
    ch = chr(code)
    text = f"a{ch}b{ch}"
    data = {f"k{ch}": text, "nested": {ch: [ch]}}
    out = fast(enc, 20, f"log{ch}", f"msg{ch}", {}, {}, data)
    assert out == reference(20, f"log{ch}", f"msg{ch}", {}, {}, data)
    assert out == reference(20, f"log{ch}", f"msg{ch}", {}, {}, data, formatter=STDLIB_FORMATTER)


def test_escapes_spelled_like_orjson(enc: Encoder) -> None:
    out = fast(enc, 20, "a", "m", {}, {}, {"s": '"\\/\b\f\n\r\t\x00\x1f\x7f~'})
    assert out is not None
    assert out.endswith(b'"s":"\\"\\\\/\\b\\f\\n\\r\\t\\u0000\\u001f\\u007f~"}')


@pytest.mark.parametrize(
    "value",
    [
        12.5,
        1.0,
        -0.0,
        0.0,
        100.0,
        0.0001,
        1e15,
        1000000000000000.0,
        0.1,
        1 / 3,
        -2.75,
        2**-13,
        123456.789,
        9007199254740991.0,
        9007199254740994.0,
        9999999999999998.0,
        0.30000000000000004,
    ],
)
def test_floats_written_like_repr(enc: Encoder, value: float) -> None:
    out = fast(enc, 20, "a", "m", {}, {}, {"x": value})
    assert out == reference(20, "a", "m", {}, {}, {"x": value})
    assert out is not None and out.endswith(b'"x":' + repr(value).encode() + b"}")


@pytest.mark.parametrize("value", [0, 1, -1, 123, INT64_MAX, INT64_MIN, 10**18, -(10**18)])
def test_ints(enc: Encoder, value: int) -> None:
    out = fast(enc, 20, "a", "m", {}, {}, {"x": value})
    assert out == reference(20, "a", "m", {}, {}, {"x": value})


def test_depth_eight_is_the_limit(enc: Encoder) -> None:
    for kinds in ("d", "l", "t", "dlt"):
        ok = {"x": _nest(1, 8, kinds)}
        assert fast(enc, 20, "a", "m", {}, {}, ok) == reference(20, "a", "m", {}, {}, ok)
        assert fast(enc, 20, "a", "m", {}, {}, {"x": _nest(1, 9, kinds)}) is None
        assert fast(enc, 20, "a", "m", {}, {}, {"x": _nest([], 8, kinds)}) is None  # the empty list is the 9th


# --- what goes back to Python ----------------------------------------------------------


@pytest.mark.parametrize(
    ("static", "context", "data"),
    [
        *[({}, {}, {key: 1}) for key in sorted(RESERVED_KEYS)],
        *[({key: 1}, {}, {}) for key in sorted(RESERVED_KEYS)],
        *[({}, {key: 1}, {}) for key in sorted(RESERVED_KEYS)],
        ({"a": 1}, {"a": 2}, {}),
        ({"a": 1}, {}, {"a": 2}),
        ({}, {"a": 1}, {"a": 2}),
        ({}, {}, {1: "x"}),
        ({}, {}, {None: "x"}),
        ({}, {}, {Text("k"): "x"}),
        ({}, {}, {"k\u00e9": "x"}),
        ({}, {}, {"k": "caf\u00e9"}),
        ({}, {}, {"k": "\ud800"}),
        ({}, {}, {"k": "\u2028"}),
        ({}, {}, {"k": {"n\u00e9": 1}}),
        ({}, {}, {"k": {1: 1}}),
        ({}, {}, {"k": Text("x")}),
        ({}, {}, {"k": Number(3)}),
        ({}, {}, {"k": Color.RED}),
        ({}, {}, {"k": collections.OrderedDict(a=1)}),
        ({}, {}, {"k": Point(1, 2)}),
        ({}, {}, {"k": b"x"}),
        ({}, {}, {"k": bytearray(b"x")}),
        ({}, {}, {"k": {1, 2}}),
        ({}, {}, {"k": object()}),
        ({}, {}, {"k": float("nan")}),
        ({}, {}, {"k": float("inf")}),
        ({}, {}, {"k": -float("inf")}),
        ({}, {}, {"k": 1e16}),
        ({}, {}, {"k": 1e-5}),
        ({}, {}, {"k": 5e-324}),
        ({}, {}, {"k": 2**63}),
        ({}, {}, {"k": -(2**63) - 1}),
        ({}, {}, {"k": 10**40}),
        ({}, {}, {"k": [1, "\u00e9"]}),
    ],
)
def test_fallback(enc: Encoder, static: Dict[Any, Any], context: Dict[Any, Any], data: Dict[Any, Any]) -> None:
    assert not supported("a", "m", static, context, data)
    assert fast(enc, 20, "a", "m", static, context, data) is None
    reference(20, "a", "m", static, context, data)  # the Python path writes it


def test_fallback_for_record_strings(enc: Encoder) -> None:
    r = RESERVED_KEYS
    assert enc(NS, "INFO", "caf\u00e9", "m", {}, {}, {}, r) is None
    assert enc(NS, "INFO", "a", "caf\u00e9", {}, {}, {}, r) is None
    assert enc(NS, "INF\u00d6", "a", "m", {}, {}, {}, r) is None
    assert enc(NS, "INFO", Text("a"), "m", {}, {}, {}, r) is None
    assert enc(NS, "INFO", "a", None, {}, {}, {}, r) is None
    assert enc(NS, "INFO", "a", "m", collections.OrderedDict(), {}, {}, r) is None
    assert enc(NS, "INFO", "a", "m", {}, {}, {"k": 1}.items(), r) is None


def test_bad_call(enc: Encoder) -> None:
    with pytest.raises(TypeError):
        enc(NS, "INFO", "a", "m", {}, {}, {})
    with pytest.raises(TypeError):
        enc(NS, "INFO", "a", "m", {}, {}, {}, ["level"])
    assert enc(NS, "INFO", "a", "m", {}, {}, {"x": 1}, {"x"}) is None  # a plain set works too


# --- timestamps ----------------------------------------------------------------------


@settings(max_examples=200, deadline=None)
@given(
    st.one_of(
        st.integers(0, LAST_NS),  # 1970..9999
        st.integers(0, 2**63 - 1),
        st.integers(1_700_000_000 * 10**9, 1_900_000_000 * 10**9),  # around now
    )
)
@example(0)
@example(999)
@example(1_000)
@example(951_782_400 * 10**9)  # 2000-02-29
@example(4_107_542_400 * 10**9)  # 2100-03-01
@example(2**63 - 1)
@example(2**63)
@example(LAST_NS)
def test_timestamp_matches_python(ns: int) -> None:
    if DISABLED:
        pytest.skip(f"{_native.ENV_NO_SPEEDUPS} is set")
    assert _native.encode_record is not None
    out = _native.encode_record(ns, "INFO", "a", "m", {}, {}, {}, RESERVED_KEYS)
    assert out is not None
    assert json.loads(out)["timestamp"] == iso(ns)
    assert out == reference(20, "a", "m", {}, {}, {}, ns=ns)


@pytest.mark.parametrize("ns", [-1, -(10**18), LAST_NS + 1, 10**30, -(2**70), 1.5e18, True, "0", None])
def test_timestamp_out_of_range(enc: Encoder, ns: Any) -> None:
    assert enc(ns, "INFO", "a", "m", {}, {}, {}, RESERVED_KEYS) is None


# --- robustness --------------------------------------------------------------------


def test_long_string_returns_none(enc: Encoder) -> None:
    assert fast(enc, 20, "a", "m", {}, {}, {"big": "x" * 2_000_000}) is None
    assert fast(enc, 20, "a", "x" * 2_000_000, {}, {}, {}) is None
    assert fast(enc, 20, "a", "m", {}, {}, {"big": ["x" * 1000] * 2000}) is None


def test_line_length_limit_is_exact(enc: Encoder) -> None:
    base = fast(enc, 20, "a", "m", {}, {}, {})
    assert base is not None
    fill = MAX_LINE - len(base) - len(',"x":""')
    at_limit = {"x": "y" * fill}
    out = fast(enc, 20, "a", "m", {}, {}, at_limit)
    assert out is not None and len(out) == MAX_LINE
    assert out == reference(20, "a", "m", {}, {}, at_limit)
    assert fast(enc, 20, "a", "m", {}, {}, {"x": "y" * (fill + 1)}) is None


def test_escapes_count_towards_the_limit(enc: Encoder) -> None:
    # each NUL is written as six bytes
    fits = {"x": "\x00" * 174_000}
    out = fast(enc, 20, "a", "m", {}, {}, fits)
    assert out is not None and len(out) < MAX_LINE
    assert out == reference(20, "a", "m", {}, {}, fits)
    assert fast(enc, 20, "a", "m", {}, {}, {"x": "\x00" * 175_000}) is None
    assert fast(enc, 20, "a", "m", {}, {}, {"x": "a" * 1_000_000 + "\n" * 30_000}) is None


def test_deep_nesting_returns_none(enc: Encoder) -> None:
    deep: Dict[str, Any] = {}
    inner = deep
    for _ in range(50):
        inner["d"] = {}
        inner = inner["d"]
    assert fast(enc, 20, "a", "m", {}, {}, {"deep": deep}) is None


def test_cycles_return_none(enc: Encoder) -> None:
    loop: list[Any] = [1]
    loop.append(loop)
    assert fast(enc, 20, "a", "m", {}, {}, {"loop": loop}) is None
    mapping: Dict[str, Any] = {"a": 1}
    mapping["self"] = mapping
    assert fast(enc, 20, "a", "m", {}, {"ctx": mapping}, {}) is None
    assert fast(enc, 20, "a", "m", {}, {}, {"ok": 1}) is not None


def test_heap_buffer_for_large_records(enc: Encoder) -> None:
    data = {f"key{i}": ["value\t" * 20, i, i / 4, {"n": None}] for i in range(500)}
    out = fast(enc, 40, "big", "large", {"s": 1}, {"c": "x" * 10_000}, data)
    assert out is not None and len(out) > 90_000  # far past the 4 KiB stack buffer
    assert out == reference(40, "big", "large", {"s": 1}, {"c": "x" * 10_000}, data)


# --- the property --------------------------------------------------------------------


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(RECORDS)
@example((20, "bench", "User login", {}, {}, BENCH))
@example((20, "app", "m", {"a": 1}, {"a": 2}, {"message": 3}))
def test_same_bytes_as_python(record: Tuple[int, str, str, Dict[Any, Any], Dict[Any, Any], Dict[Any, Any]]) -> None:
    if DISABLED:
        pytest.skip(f"{_native.ENV_NO_SPEEDUPS} is set")
    assert _native.encode_record is not None
    level, logger, message, static, context, data = record
    out = fast(_native.encode_record, level, logger, message, static, context, data)
    if out is not None:
        assert type(out) is bytes
        assert out == reference(level, logger, message, static, context, data)
        assert out == reference(level, logger, message, static, context, data, formatter=STDLIB_FORMATTER)
    if supported(logger, message, static, context, data):
        assert out is not None, "a supported record went to the Python path"
    event("encoded in C" if out is not None else "left to Python")


# ---------------------------------------------------------------------------
# the JSON formatter uses the encoder for the records it covers


def test_the_formatter_uses_the_encoder_and_falls_back_line_for_line(enc: Encoder) -> None:
    calls: List[bytes] = []

    def counting(*args: Any) -> Optional[bytes]:
        line = enc(*args)
        calls.append(line if line is not None else b"<none>")
        return line

    formatter = JSONFormatter()
    assert formatter._native is enc
    formatter._native = counting
    data = {"user_id": 123, "ip": "1.2.3.4", "success": True, "latency_ms": 12.5, "path": "/api/x"}
    plain = LogRecord(0.0, 20, "bench", "User login", data, {"request_id": "r-1"}, {"service": "api"}, None, None, 1, 1)
    plain.time_ns = NS
    expected = FORMATTER.format(plain)
    assert formatter.format(plain) == expected
    assert formatter.format_bytes(plain) == expected.encode()
    assert len(calls) == 2 and calls[0] == expected.encode()
    # records the encoder does not take: exception, caller, stack, non-ASCII, colliding keys
    try:
        raise ValueError("boom")
    except ValueError:
        import sys

        exc = sys.exc_info()
    others = [
        LogRecord(0.0, 40, "bench", "failed", {}, {}, {}, exc, None, 1, 1),  # type: ignore[arg-type]
        LogRecord(0.0, 20, "bench", "here", {}, {}, {}, None, None, 1, 1, "app.py", 3, "main"),
        LogRecord(0.0, 20, "bench", "stack", {}, {}, {}, None, "Stack (most recent call last):", 1, 1),
        LogRecord(0.0, 20, "bench", "héllo", {"city": "Zürich"}, {}, {}, None, None, 1, 1),
        LogRecord(0.0, 20, "bench", "clash", {"level": "mine"}, {"a": 1}, {}, None, None, 1, 1),
    ]
    calls.clear()
    for record in others:
        assert formatter.format(record) == FORMATTER.format(record)
        assert formatter.format_bytes(record) == FORMATTER.format_bytes(record)
    # the first three never reach the encoder; the last two are refused by it
    assert calls == [b"<none>"] * 4


def test_nested_layout_stays_in_python() -> None:
    assert JSONFormatter(nested=True)._native is None
