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


# ---------------------------------------------------------------------------
# make_record: the LogRecord of a log call, built in one C call exactly as the
# logger's Python fast path builds it (object.__new__ plus slot assignments)

Maker = Callable[..., LogRecord]
# every slot make_record fills (LogRecord.__slots__ less _exception, left unset)
RECORD_SLOTS = tuple(name for name in LogRecord.__slots__ if name != "_exception")


def _context_var() -> Any:
    from micktrace.context import _context  # the module's ContextVar (micktrace.context is the class)

    return _context


def _init_default() -> None:
    assert _native.init_records is not None
    _native.init_records(LogRecord, _context_var())


@pytest.fixture
def make(request: pytest.FixtureRequest) -> Maker:
    if DISABLED:
        pytest.skip(f"{_native.ENV_NO_SPEEDUPS} is set")
    assert _native.make_record is not None, "micktrace._speedups is not built"
    assert _native.init_records is not None, "micktrace._speedups is not built"
    _init_default()
    request.addfinalizer(_init_default)  # whatever a test set, the next one starts from LogRecord
    native = _native.make_record

    def make(level: Any, logger_name: str, message: str, data: Any, static: Any, pid: Any) -> Any:
        """make_record with nothing bound: the record's data is the call's fields."""
        return native(level, logger_name, message, data, {}, static, pid)

    return make


def python_record(
    level: Any, logger_name: str, message: str, data: Dict[str, Any], static: Dict[str, Any], pid: int
) -> LogRecord:
    """The logger's pure-Python fast path (logger.py, _FAST_METHOD)."""
    import threading

    record = object.__new__(LogRecord)
    record.time_ns = time.time_ns()
    record.level = level
    record.logger_name = logger_name
    record.message = message
    record.data = data
    record.context = _context_var().get()
    record.static = static
    record.exc_info = record.stack_info = record.filename = record.lineno = record.func_name = None
    record.thread_id = threading.get_ident()
    record.process_id = pid
    return record


def assert_same_record(c_record: Any, py_record: LogRecord, before: int, after: int) -> None:
    """c_record, made between time.time_ns() readings before and after, is py_record but for the clock."""
    assert type(c_record) is LogRecord
    for name in RECORD_SLOTS:
        if name == "time_ns":
            continue
        mine, theirs = getattr(c_record, name), getattr(py_record, name)
        assert type(mine) is type(theirs), name
        if name == "thread_id":
            assert mine == theirs
        else:
            assert mine is theirs, name  # the very objects passed in (or None, or the context dict)
    assert type(c_record.time_ns) is int
    assert before <= c_record.time_ns <= after
    with pytest.raises(AttributeError):
        _ = c_record._exception
    with pytest.raises(AttributeError):
        _ = py_record._exception


def _made_both(make: Maker, *args: Any) -> Tuple[Any, LogRecord, int, int]:
    before = time.time_ns()
    c_record = make(*args)
    after = time.time_ns()
    return c_record, python_record(*args), before, after


def test_make_record_exposed_like_encode_record() -> None:
    if DISABLED:
        assert _native.make_record is None and _native.init_records is None
    else:
        import micktrace._speedups

        assert _native.make_record is micktrace._speedups.make_record
        assert _native.init_records is micktrace._speedups.init_records


def test_make_record_switched_off_by_the_environment() -> None:
    show = "import micktrace._native as n; print(n.make_record is None, n.init_records is None)"
    assert _child(show, **{_native.ENV_NO_SPEEDUPS: "1"}) == "True True"
    if not DISABLED:
        assert _child(show) == "False False"


def test_make_record_is_the_python_record(make: Maker) -> None:
    import gc

    import micktrace
    from micktrace.levels import LogLevel

    data, static = {"user_id": 123, "ip": "1.2.3.4"}, {"service": "api"}
    name, message, pid = "".join(["svc.", "db"]), "".join(["User ", "login"]), os.getpid()
    for level in (LogLevel.INFO, LogLevel.ERROR, 25):
        c_record, py_record, before, after = _made_both(make, level, name, message, data, static, pid)
        assert_same_record(c_record, py_record, before, after)
        assert c_record.context == {}
    with micktrace.context(a=1):
        c_record, py_record, before, after = _made_both(make, LogLevel.WARNING, name, message, data, static, pid)
        assert_same_record(c_record, py_record, before, after)
        assert c_record.context == {"a": 1}
        with micktrace.context(b=[2]):
            inner = make(LogLevel.WARNING, name, message, data, static, pid)
            assert inner.context == {"a": 1, "b": [2]}
        assert make(LogLevel.WARNING, name, message, data, static, pid).context == {"a": 1}
    assert make(LogLevel.WARNING, name, message, data, static, pid).context == {}
    # the record behaves like the Python one everywhere
    record = c_record
    assert gc.is_tracked(py_record)
    # untracked by the cycle collector: it holds only dicts of atomic values
    assert not gc.is_tracked(record) and not gc.is_tracked(data) and not gc.is_tracked(static)
    assert sys.getsizeof(record) == sys.getsizeof(py_record)
    assert abs(record.timestamp - time.time()) < 60
    assert record.timestamp == record.time_ns / 1_000_000_000
    assert record.name == name and record.fields is data and record.level_name == "WARNING"
    assert record.exception is None and record.exception_text is None
    assert record.all_fields() == {"service": "api", "a": 1, "user_id": 123, "ip": "1.2.3.4"}
    expected, got = py_record.to_dict(), record.to_dict()
    assert got.pop("timestamp") and expected.pop("timestamp")
    assert got == expected
    assert got == {"level": "WARNING", "logger": "svc.db", "message": "User login", "service": "api", "a": 1, **data}
    assert json.loads(record.to_json())["message"] == "User login"
    assert "user_id=123" in record.to_logfmt()
    assert repr(record) == repr(py_record)
    # a record stays an ordinary, mutable LogRecord
    record.exception = {"type": "E"}
    assert record._exception == {"type": "E"}
    record.data = {}
    assert record.data == {}


def test_make_record_thread_id_in_other_threads(make: Maker) -> None:
    import threading

    import micktrace

    results: Dict[str, Any] = {}

    def worker() -> None:
        with micktrace.context(thread="worker"):
            c_record, py_record, before, after = _made_both(make, 20, "a", "m", {}, {}, 1)
            assert_same_record(c_record, py_record, before, after)
        results["record"], results["ident"] = c_record, threading.get_ident()
        results["plain"] = make(20, "a", "m", {}, {}, 1)  # a thread starts with the default context

    thread = threading.Thread(target=worker)
    thread.start()
    thread.join()
    assert results["record"].thread_id == results["ident"] != threading.get_ident()
    assert results["record"].context == {"thread": "worker"}
    assert results["plain"].context == {} and results["plain"].context is _context_var().get()
    assert make(20, "a", "m", {}, {}, 1).thread_id == threading.get_ident()
    # threads taking turns (make_record keeps the int of the last thread ident it saw)
    wrong: List[Tuple[int, int]] = []

    def busy() -> None:
        ident = threading.get_ident()
        for _ in range(20_000):
            got = make(20, "a", "m", {}, {}, 1).thread_id
            if got != ident:
                wrong.append((got, ident))

    threads = [threading.Thread(target=busy) for _ in range(4)]
    old_interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        sys.setswitchinterval(old_interval)
    assert wrong == []
    assert make(20, "a", "m", {}, {}, 1).thread_id == threading.get_ident()


def test_make_record_context_per_asyncio_task(make: Maker) -> None:
    import asyncio
    import contextvars

    import micktrace

    async def one(i: int) -> Tuple[Any, Any]:
        with micktrace.context(task=i):
            await asyncio.sleep(0)
            first = make(20, "a", f"task {i}", {}, {}, 1)
            await asyncio.sleep(0)
            assert first.context is _context_var().get()
            return first, make(20, "a", "again", {}, {}, 1)

    async def main() -> List[Tuple[Any, Any]]:
        with micktrace.context(outer=True):
            return list(await asyncio.gather(*(one(i) for i in range(5))))

    for i, (first, second) in enumerate(asyncio.run(main())):
        assert first.context == second.context == {"outer": True, "task": i}
    assert make(20, "a", "m", {}, {}, 1).context == {}
    # and in a copied context where the variable was set
    ctx = contextvars.copy_context()
    ctx.run(_context_var().set, {"copied": 1})
    assert ctx.run(make, 20, "a", "m", {}, {}, 1).context == {"copied": 1}
    assert make(20, "a", "m", {}, {}, 1).context == {}


def test_make_record_without_a_context_value(make: Maker) -> None:
    import contextvars

    assert _native.init_records is not None
    no_default: contextvars.ContextVar[Dict[str, Any]] = contextvars.ContextVar("no_default")
    _native.init_records(LogRecord, no_default)
    with pytest.raises(LookupError) as info:
        make(20, "a", "m", {}, {}, 1)
    assert info.value.args == (no_default,)  # what no_default.get() raises
    token = no_default.set({"x": 1})
    assert make(20, "a", "m", {}, {}, 1).context == {"x": 1}
    no_default.reset(token)


def test_make_record_references_come_back(make: Maker) -> None:
    import gc

    import micktrace
    from micktrace.levels import LogLevel

    level, name, message = LogLevel.INFO, "".join(["lo", "gger"]), "".join(["mes", "sage"])
    data, static, pid = {"k": 1}, {"s": 2}, 10**20 + 1  # no cached or immortal objects
    passed = (level, name, message, data, static, pid)
    with micktrace.context(a=1):
        ctx = _context_var().get()
        gc.collect()
        watched = (*passed, ctx, LogRecord)
        baseline = [sys.getrefcount(obj) for obj in watched]
        records = [make(*passed) for _ in range(1000)]
        held = [sys.getrefcount(obj) for obj in watched]
        assert [h - b for h, b in zip(held, baseline)] == [1000] * len(watched)
        del records
        assert [sys.getrefcount(obj) for obj in watched] == baseline
        # a record in a reference cycle is collected (the slots are traversed)
        collected: List[bool] = []

        class Sentinel:
            def __del__(self) -> None:
                collected.append(True)

        cyclic: Dict[str, Any] = {"sentinel": Sentinel()}
        cyclic["record"] = make(level, name, message, cyclic, static, pid)
        del cyclic
        gc.collect()
        assert collected == [True]
        assert [sys.getrefcount(obj) for obj in watched] == baseline


def test_make_record_does_not_leak(make: Maker) -> None:
    import tracemalloc

    import micktrace

    data, static = {"user_id": 123}, {"service": "api"}

    def burst(n: int) -> None:
        for _ in range(n):
            make(20, "bench", "User login", data, static, 4242)

    with micktrace.context(request_id="r-1"):
        burst(1000)
        tracemalloc.start()
        try:
            burst(1000)
            start = tracemalloc.get_traced_memory()[0]
            burst(100_000)
            grown = tracemalloc.get_traced_memory()[0] - start
        finally:
            tracemalloc.stop()
    # a leaked record, time or thread int would be megabytes over 100k calls
    assert grown < 64 * 1024, grown


def test_make_record_for_a_subclass_and_back(make: Maker) -> None:
    assert _native.init_records is not None

    class Sub(LogRecord):
        __slots__ = ()

    class Own:
        __slots__ = ("extra", *RECORD_SLOTS)

    for cls in (Sub, Own):
        _native.init_records(cls, _context_var())
        record = make(20, "a", "m", {"d": 1}, {"s": 1}, 7)
        assert type(record) is cls
        assert (record.level, record.message, record.data, record.process_id) == (20, "m", {"d": 1}, 7)
        assert record.func_name is None
        with pytest.raises(AttributeError):
            _ = record.extra
    _native.init_records(LogRecord, _context_var())
    assert type(make(20, "a", "m", {}, {}, 1)) is LogRecord


def _slots_without(name: str) -> Tuple[str, ...]:
    return tuple(slot for slot in RECORD_SLOTS if slot != name)


class _Other:
    __slots__ = RECORD_SLOTS


class _NoSlots:
    pass


class _MissingThreadId:
    __slots__ = _slots_without("thread_id")


class _PropertyLevel:
    __slots__ = _slots_without("level")

    @property
    def level(self) -> int:
        return 20


class _BorrowedDescriptor:
    __slots__ = _slots_without("level")
    level = _Other.level  # another class's slot: another layout's offset


class _AliasedDescriptor:
    __slots__ = (*_slots_without("level"), "a_level")


_AliasedDescriptor.level = _AliasedDescriptor.a_level  # type: ignore[attr-defined]  # a_level's slot under another name


class _OwnSetattr(LogRecord):
    __slots__ = ()

    def __setattr__(self, name: str, value: Any) -> None:
        object.__setattr__(self, name, value)


class _DictBase(dict):  # type: ignore[type-arg]
    __slots__ = RECORD_SLOTS


@pytest.mark.parametrize(
    "bad",
    [int, object, dict, type, _NoSlots, _MissingThreadId, _PropertyLevel, _BorrowedDescriptor, _OwnSetattr, _DictBase],
)
def test_init_records_rejects_other_classes(make: Maker, bad: Any) -> None:
    assert _native.init_records is not None
    with pytest.raises(TypeError):
        _native.init_records(bad, _context_var())
    # the earlier setting stays
    record = make(20, "a", "m", {}, {}, 1)
    assert type(record) is LogRecord and record.level == 20


def test_init_records_rejects_aliased_slots(make: Maker) -> None:
    assert _native.init_records is not None
    with pytest.raises(TypeError):
        _native.init_records(_AliasedDescriptor, _context_var())


@pytest.mark.parametrize(
    "args",
    [(), (LogRecord,), (LogRecord, None), (LogRecord, {}), (LogRecord, "ctx", 1), ("instance", "ctx")],
)
def test_init_records_bad_call(make: Maker, args: Tuple[Any, ...]) -> None:
    assert _native.init_records is not None
    if args == ("instance", "ctx"):  # an instance, not the class
        args = (LogRecord(0.0, 20, "a", "m", {}, {}, {}, None, None, 1, 1), _context_var())
    elif args[1:2] == ("ctx",):
        args = (args[0], _context_var(), *args[2:])
    with pytest.raises(TypeError):
        _native.init_records(*args)
    assert type(make(20, "a", "m", {}, {}, 1)) is LogRecord


def test_make_record_bad_call(make: Maker) -> None:
    native = _native.make_record
    assert native is not None
    for args in [(), (20, "a", "m", {}, {}, {}), (20, "a", "m", {}, {}, {}, 1, None)]:
        with pytest.raises(TypeError, match="exactly 7 arguments"):
            native(*args)
    with pytest.raises(TypeError):
        native(20, "a", "m", {}, {}, {}, process_id=1)
    with pytest.raises(TypeError, match="must be dicts"):
        native(20, "a", "m", [], {}, {}, 1)
    assert native(20, "a", "m", {}, {}, {}, 1).process_id == 1


# the extension file loaded under its own name without importing the micktrace
# package: a new module object, so nothing has called init_records on it
_LOAD_FRESH = """
import importlib.machinery, importlib.util, os, sys
folder = os.path.join({src!r}, "micktrace")
path = next(os.path.join(folder, "_speedups" + s) for s in importlib.machinery.EXTENSION_SUFFIXES
            if os.path.exists(os.path.join(folder, "_speedups" + s)))
spec = importlib.util.spec_from_file_location("micktrace._speedups", path)
mod = importlib.util.module_from_spec(spec)
spec.loader.exec_module(mod)
"""


def test_make_record_before_init_records_in_a_fresh_process() -> None:
    if DISABLED:
        pytest.skip(f"{_native.ENV_NO_SPEEDUPS} is set")
    code = _LOAD_FRESH.format(src=str(SRC)) + (
        "assert 'micktrace' not in sys.modules\n"
        "try:\n"
        "    mod.make_record(20, 'a', 'm', {}, {}, {}, 1)\n"
        "except RuntimeError as exc:\n"
        "    print('RuntimeError:', exc)\n"
        "import contextvars\n"
        "class R:\n"
        "    __slots__ = " + repr(RECORD_SLOTS) + "\n"
        "mod.init_records(R, contextvars.ContextVar('c', default={}))\n"
        "print(type(mod.make_record(20, 'a', 'm', {}, {}, {}, 1)).__name__)\n"
    )
    assert _child(code) == "RuntimeError: make_record() called before init_records()\nR"
    # and through micktrace._native in a fresh interpreter
    code = (
        "import importlib.util\n"
        "import micktrace._native as n\n"
        "from micktrace.context import _context\n"
        "from micktrace.record import LogRecord\n"
        "import micktrace._speedups as s\n"
        "try:\n"
        "    fresh = importlib.util.module_from_spec(s.__spec__)\n"  # another module object, its own state
        "    s.__spec__.loader.exec_module(fresh)\n"
        "    fresh.make_record(20, 'a', 'm', {}, {}, {}, 1)\n"
        "except RuntimeError as exc:\n"
        "    print('RuntimeError:', exc)\n"
        "n.init_records(LogRecord, _context)\n"
        "print(type(n.make_record(20, 'a', 'm', {}, {}, {}, 1)).__name__)\n"
    )
    assert _child(code) == "RuntimeError: make_record() called before init_records()\nLogRecord"


def test_make_record_survives_init_records_from_a_finalizer(make: Maker) -> None:
    """A garbage collection during the allocation (3.9-3.11 collect there) may run a
    finalizer that switches the class: the record is still laid out as its own class."""
    import gc

    assert _native.init_records is not None
    init = _native.init_records
    var = _context_var()

    class Wide:  # sorts its slots first, so every slot sits at another offset than LogRecord's
        __slots__ = ("a1", "a2", "a3", "a4", *RECORD_SLOTS)

    switched: List[bool] = []

    class Switcher:
        def __init__(self, target: type) -> None:
            self.target = target
            self.me = self  # garbage only the collector frees

        def __del__(self) -> None:
            init(self.target, var)
            switched.append(True)

    thresholds = gc.get_threshold()
    mid_call = 0
    try:
        gc.set_threshold(1, 1, 1)
        for i in range(300):
            target, current = (Wide, LogRecord) if i % 2 == 0 else (LogRecord, Wide)
            init(current, var)
            switched.clear()
            Switcher(target)
            record = make(20, "a", "m", {"i": i}, {}, 1)
            assert type(record) in (Wide, LogRecord)
            assert (record.level, record.logger_name, record.message, record.data) == (20, "a", "m", {"i": i})
            assert record.exc_info is record.func_name is None and record.process_id == 1
            if switched and type(record) is current:
                mid_call += 1  # the class changed while this record was being made
    finally:
        gc.set_threshold(*thresholds)
        gc.collect()
        init(LogRecord, var)
    if sys.version_info < (3, 12):
        assert mid_call > 0, "the collector never ran inside make_record"


def test_make_record_is_untracked_only_when_it_cannot_be_in_a_cycle(make: Maker) -> None:
    import gc

    import micktrace

    atomic = {"user_id": 123, "ip": "1.2.3.4", "ok": True, "ms": 1.5, "none": None}
    assert not gc.is_tracked(make(20, "a", "m", atomic, {"service": "api"}, 1))
    # anything that could lead back to the record keeps it tracked
    assert gc.is_tracked(make(20, "a", "m", {"items": [1, 2]}, {}, 1))
    assert gc.is_tracked(make(20, "a", "m", {"obj": type("Obj", (), {})()}, {}, 1))
    assert gc.is_tracked(make(20, "a", "m", {}, {"nested": {"a": 1}}, 1))
    with micktrace.context(state={"a": 1}):
        assert gc.is_tracked(make(20, "a", "m", {}, {}, 1))
    with micktrace.context(request_id="r-1"):
        assert not gc.is_tracked(make(20, "a", "m", {}, {}, 1))
    # and a tracked record in a cycle through its context is collected
    collected: List[bool] = []

    class Sentinel:
        def __del__(self) -> None:
            collected.append(True)

    state: Dict[str, Any] = {"sentinel": Sentinel()}
    with micktrace.context(state=state):
        state["record"] = make(20, "a", "m", {}, {}, 1)
    del state
    gc.collect()
    assert collected == [True]


def test_make_record_merges_bound_fields_and_refuses_stdlib_keywords() -> None:
    native = _native.make_record
    if DISABLED:
        pytest.skip(f"{_native.ENV_NO_SPEEDUPS} is set")
    assert native is not None
    _init_default()
    bound = {"a": 1, "b": 2}
    fields = {"b": 3, "c": 4}
    record = native(20, "x", "m", fields, bound, {}, 1)
    assert record.data == {**bound, **fields} and list(record.data) == ["a", "b", "c"]
    assert record.data is not bound and record.data is not fields and bound == {"a": 1, "b": 2}
    assert native(20, "x", "m", fields, {}, {}, 1).data is fields
    for key in ("exc_info", "extra", "stack_info", "stacklevel"):
        assert native(20, "x", "m", {"k": 1, key: None}, bound, {}, 1) is None
    assert native(20, "x", "m", {"exc_info_x": 1}, {}, {}, 1) is not None


def test_the_logger_builds_records_in_c_with_the_same_result() -> None:
    from micktrace import logger as logger_module
    from micktrace.testing import capture_logs

    if DISABLED:
        pytest.skip(f"{_native.ENV_NO_SPEEDUPS} is set")
    assert logger_module._record_builder()[1] == logger_module._BUILD_NATIVE
    log = __import__("micktrace").get_logger("c-built").bind(svc="api")
    with capture_logs() as logs:
        log.info("plain", a=1)
        log.info("stdlib keyword", extra={"e": 1}, stacklevel=1)
        try:
            raise ValueError("boom")
        except ValueError:
            log.error("failed", exc_info=True)
    plain, with_extra, failed = logs.records
    assert plain.data == {"svc": "api", "a": 1} and plain.thread_id == __import__("threading").get_ident()
    assert with_extra.data == {"svc": "api", "e": 1}
    assert failed.exc_info is not None and failed.exception["type"] == "ValueError"


# ---------------------------------------------------------------------------
# fields_clean: the masking processor's cache check

_keys = st.sampled_from(["a", "b", "user_id", "path", 1])
_values = st.one_of(
    st.sampled_from(["x", "y", "1.2.3.4", "", 0, 1, True, False, None, 1.0, 12.5, -0.0, 0.0]),
    st.lists(st.integers(), max_size=2),  # unhashable: never known clean
)


@given(
    d=st.dictionaries(_keys, _values, max_size=5),
    clean=st.lists(st.tuples(_keys, st.sampled_from(["x", "1.2.3.4", 0, 1, True, None, 12.5, 0.0])), max_size=8),
)
@settings(max_examples=400, deadline=None)
def test_fields_clean_answers_as_the_pair_set_does(d: Dict[Any, Any], clean: List[Tuple[Any, Any]]) -> None:
    fast = _native.fields_clean
    if DISABLED:
        return
    assert fast is not None, "micktrace._speedups is not built"
    pairs = set(clean)
    by_key: Dict[Any, Any] = {}
    for key, value in clean:
        by_key.setdefault(key, set()).add(value)
    try:
        expected = d.items() <= pairs
    except TypeError:
        expected = False
    assert fast(d, by_key) is expected
    unknown = _native.unknown_keys
    assert unknown is not None
    expected_keys = []
    for key, value in d.items():
        try:
            known = (key, value) in pairs
        except TypeError:
            known = False
        if not known:
            expected_keys.append(key)
    assert unknown(d, by_key) == expected_keys


def test_the_masker_uses_the_compiled_check_and_masks_the_same() -> None:
    from micktrace.masking import Masker

    if DISABLED:
        pytest.skip(f"{_native.ENV_NO_SPEEDUPS} is set")
    compiled, python = Masker(), Masker()
    python._fields_clean = python._unknown = python._clean_records = None
    assert compiled._fields_clean is _native.fields_clean and compiled._unknown is _native.unknown_keys
    records = [
        {"user_id": 123, "ip": "1.2.3.4", "ok": True},
        {"user_id": 123, "ip": "1.2.3.4", "ok": True, "note": "card 4111111111111111"},
        {"password": "hunter2", "ip": "1.2.3.4"},
        {"items": [1, 2], "ip": "1.2.3.4"},
    ] * 40  # enough repeats for the clean pairs to be remembered
    # a field new on every record beside known ones: only it is looked at
    records += [{"user_id": 123, "ip": "1.2.3.4", "note": f"request {i} accepted"} for i in range(50)]
    records += [{"user_id": 123, "ip": "1.2.3.4", "note": f"card 4111111111111111 #{i}"} for i in range(5)]
    records += [{"user_id": 123, "password": f"pw-{i}"} for i in range(5)]
    for data in records:
        a = LogRecord(0.0, 20, "m", "msg", dict(data), {}, {}, None, None, 1, 1)
        b = LogRecord(0.0, 20, "m", "msg", dict(data), {}, {}, None, None, 1, 1)
        assert compiled(a).data == python(b).data
    assert compiled._clean_values and compiled._clean_pairs == python._clean_pairs


def test_mask_batch_picks_exactly_the_records_the_masker_would_change() -> None:
    """The compiled batch check sends to Python every record the masker's own
    fast path would not pass unchanged; the result equals masking one by one."""
    import micktrace
    from micktrace.masking import Masker

    if DISABLED:
        pytest.skip(f"{_native.ENV_NO_SPEEDUPS} is set")
    assert _native.clean_records is not None
    batch_masker, one_by_one = Masker(), Masker()
    assert batch_masker._clean_records is _native.clean_records
    log = micktrace.get_logger("batch")
    jwt_named = micktrace.get_logger("svc.eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.SflKxwRJSMeKKF2QT4fw")
    made: List[LogRecord] = []
    micktrace.configure(handlers=[made.append], masking=False)
    shapes = [
        lambda i: log.info("User login", user_id=123, ip="1.2.3.4", ok=True),
        lambda i: log.info("User login", user_id=i, ip="1.2.3.4"),  # a new value: not known clean
        lambda i: log.info("token sk_live_" + "a" * 24),  # a secret in the message
        lambda i: log.info("User login", password="hunter2"),
        lambda i: log.bind(card="4111111111111111").info("paid"),
        lambda i: log.info("x", items=[1, 2]),
        # the clean record of the first shape, from a logger whose name holds a JWT
        lambda i: jwt_named.info("User login", user_id=123, ip="1.2.3.4", ok=True),
    ]
    for i in range(300):
        shapes[i % len(shapes)](i)
    with micktrace.context(request_id="r-1", api_key="abc"):
        log.info("in context")
    try:
        raise ValueError("card 4111111111111111")
    except ValueError:
        log.exception("failed")
    log.info("stack", stack_info=True)
    foreign = LogRecord(0.0, 20, "x", "hand-made", {"password": "p"}, {}, {}, None, None, 1, 1)
    records = [*made, foreign]
    expected = [one_by_one(_copy(r)) for r in records]
    batch = [_copy(r) for r in records]
    skip = [1]  # premasked: left alone
    batch[1] = records[1]
    batch_masker.mask_batch(batch, skip)
    assert batch[1] is records[1]
    for i, (got, want) in enumerate(zip(batch, expected)):
        if i == 1:
            continue
        assert (got.message, got.data, got.context, got.logger_name) == (
            want.message,
            want.data,
            want.context,
            want.logger_name,
        ), i
    # the repeated clean record was passed over by the C check once it was cached
    dirty = _native.clean_records(
        [_copy(made[0])], batch_masker._clean_values, batch_masker._clean, batch_masker._min_text, None, 0, None, 0
    )
    assert dirty == []
    # ...but not the same record from a logger whose name holds a secret
    jwt_record = next(r for r in made if r.logger_name.startswith("svc."))
    assert jwt_record.data == made[0].data and jwt_record.message == made[0].message
    dirty = _native.clean_records(
        [_copy(jwt_record)], batch_masker._clean_values, batch_masker._clean, batch_masker._min_text, None, 0, None, 0
    )
    assert dirty == [0]
    assert _native.clean_records([foreign], {}, set(), 1, None, 0, None, 0) == [0]


def _copy(record: LogRecord) -> LogRecord:
    import copy

    return copy.copy(record)


# ---------------------------------------------------------------------------
# scan_fields: plain values settled in C must be values no built-in rule matches

_TRIGGER_ALPHABET = st.sampled_from(
    [*"abcdeyJxoAKISGlpatrBE -+.()/0123456789@=:_\t'\",", "earer", "asic", "eyJ", "xox", "-----", "AKIA", "ya29."]
)


@given(st.lists(_TRIGGER_ALPHABET, max_size=30).map("".join))
@settings(max_examples=1500, deadline=None)
def test_scan_fields_settles_only_strings_no_rule_could_match(text: str) -> None:
    from micktrace.masking import _CACHE_LIMIT, _CACHE_MAX_LEN, _MIN_TEXT, _triggers

    scan = _native.scan_fields
    if DISABLED:
        return
    assert scan is not None
    clean: set = set()
    keys = scan({"note": text}, {}, {"note": 0}, clean, _MIN_TEXT, _CACHE_LIMIT, _CACHE_MAX_LEN)
    assert keys is not None  # the pair was not known clean
    if not keys:  # settled in C
        assert len(text) < _MIN_TEXT or _triggers(text) == 0, text
        assert len(text) < _MIN_TEXT or text in clean
    else:
        assert keys == ["note"] and text not in clean


def test_scan_fields_leaves_every_secret_shape_and_key_kind_to_python() -> None:
    from micktrace.masking import _CACHE_LIMIT, _CACHE_MAX_LEN, _MIN_TEXT

    scan = _native.scan_fields
    if DISABLED:
        pytest.skip(f"{_native.ENV_NO_SPEEDUPS} is set")
    assert scan is not None
    data = {
        "a": "mail jane@example.com",
        "b": "card 4111 1111 1111 1111",
        "c": "call +1 415 555 0132",
        "d": "Bearer abcdef123456",
        "e": "x" * 40,
        "f": "token=abc",
        "g": "héllo wörld",  # not ASCII: Python
        "h": 4111111111111111,  # an int that can be a card number
        "i": b"bytes",
        "j": "request 123 accepted",  # settled
        "k": 123,  # settled
        "l": 12.5,  # settled
        "m": None,  # settled
        "secret": "hunter2",  # a sensitive key (kind 1): Python
        "unclassified": "plain text",  # no kind yet: Python
        "allowed": "jane@example.com",  # allow-listed (kind 2): left alone
        "pair": "('password', 'hunter2')",  # a pair's repr: no '=' nor ':', still Python
        "bpair": '[[b"authorization", b"Token abc"]]',
        "dsn": "bare-secret",  # a connection setting (kind 4): Python
        "n": [("password", "x")],  # pairs: Python
    }
    kinds = {key: 0 for key in data}
    kinds.update(secret=1, allowed=2, dsn=4)
    del kinds["unclassified"]
    clean: set = set()
    keys = scan(data, {}, kinds, clean, _MIN_TEXT, _CACHE_LIMIT, _CACHE_MAX_LEN)
    assert keys == ["a", "b", "c", "d", "e", "f", "g", "h", "i", "secret", "unclassified", "pair", "bpair", "dsn", "n"]
    assert clean == {"request 123 accepted"}
    # every pair known clean: None
    assert scan({"k": 1}, {"k": {1}}, {}, set(), _MIN_TEXT, _CACHE_LIMIT, _CACHE_MAX_LEN) is None
    # the clean-string cache is bounded like the Python one
    small: set = {"x1", "x2"}
    scan({"n": "fresh value"}, {}, {"n": 0}, small, _MIN_TEXT, 2, _CACHE_MAX_LEN)
    assert small == {"fresh value"}


# ---------------------------------------------------------------------------
# encode_records: the file handler's batch path


def test_format_batch_writes_what_the_python_path_writes() -> None:
    import micktrace

    if DISABLED:
        pytest.skip(f"{_native.ENV_NO_SPEEDUPS} is set")
    formatter = JSONFormatter()
    assert formatter._native_batch is _native.encode_records
    log = micktrace.get_logger("batch.enc").bind(svc="api")
    made: List[LogRecord] = []
    micktrace.configure(handlers=[made.append], masking=False, level="TRACE")
    log.info("User login", user_id=123, ip="1.2.3.4", success=True, latency_ms=12.5, path="/api/x")
    log.info("héllo", city="Zürich")  # non-ASCII: the fallback
    log.info("clash", level="mine")  # a reserved key: the fallback
    log.log(25, "custom level")  # not in LEVEL_NAMES: the fallback
    log.info("stack", stack_info=True)
    try:
        raise KeyError("k")
    except KeyError:
        log.exception("failed")
    with micktrace.context(request_id="r-1"):
        log.warning("in context", n=[1, {"a": None}])

    class Sub(LogRecord):
        __slots__ = ()

    sub = Sub(0.0, 20, "sub", "a subclass", {"a": 1}, {}, {}, None, None, 1, 1)
    records = [*made, sub]
    assert len(records) == 8
    expected = b"".join(FORMATTER.format_bytes(r) + b"\n" for r in records)
    assert formatter.format_batch(records) == expected
    assert formatter.format_batch([]) == b""
    # the fallback is used exactly for the records the encoder does not cover
    seen: List[str] = []

    def fallback(record: LogRecord) -> bytes:
        seen.append(record.message)
        return FORMATTER.format_bytes(record)

    assert _native.encode_records is not None
    out = _native.encode_records(records, RESERVED_KEYS, LEVEL_NAMES, fallback)
    assert out == expected
    assert seen == ["héllo", "clash", "custom level", "stack", "failed", "a subclass"]
    with pytest.raises(TypeError, match="must return bytes"):
        _native.encode_records([sub], RESERVED_KEYS, LEVEL_NAMES, lambda r: "text")


def test_the_file_handler_writes_batches_through_the_encoder(tmp_path: Any) -> None:
    import micktrace

    path = tmp_path / "app.log"
    micktrace.configure(format="json", handlers=[{"type": "file", "path": str(path)}])
    log = micktrace.get_logger("file.batch")
    for i in range(2500):
        log.info("event", i=i, tag="t" if i % 2 else "ü")
    assert micktrace.flush()
    lines = path.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 2500
    parsed = [json.loads(line) for line in lines]
    assert [p["i"] for p in parsed] == list(range(2500))
    assert parsed[0]["tag"] == "ü" and parsed[1]["tag"] == "t"
