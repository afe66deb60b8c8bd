"""Any value serialises: stand-ins for common types, and safe cuts for the pathological."""

from __future__ import annotations

import collections
import dataclasses
import datetime
import decimal
import enum
import json
import pathlib
import uuid
from typing import Any, Callable, Dict, List

import pytest

import micktrace
from micktrace import LogRecord, serialize
from micktrace.formatters import JSONFormatter, LogfmtFormatter, TextFormatter
from micktrace.handlers import MemoryHandler
from micktrace.serialize import jsonable, safe_repr, safe_str


def _orjson_dumps() -> Callable[[Any], str]:
    import orjson

    return serialize.orjson_dumps_factory(orjson)


SERIALISERS = {"orjson": _orjson_dumps, "stdlib": serialize.stdlib_dumps_factory}


@pytest.fixture(params=sorted(SERIALISERS))
def dumps(request: pytest.FixtureRequest) -> Callable[[Any], str]:
    return SERIALISERS[request.param]()


def roundtrip(dumps: Callable[[Any], str], value: Any) -> Any:
    text = dumps({"v": value})
    assert "\n" not in text
    return json.loads(text)["v"]


class Color(enum.Enum):
    RED = "red"
    BLUE = 2


class Flag(enum.IntEnum):
    ON = 1


@dataclasses.dataclass
class Point:
    x: int
    y: float
    tags: List[str] = dataclasses.field(default_factory=list)


class Model:
    """Looks like a pydantic v2 model."""

    def model_dump(self) -> Dict[str, Any]:
        return {"id": 1, "when": datetime.date(2024, 1, 1)}


class LegacyModel:
    """Looks like a pydantic v1 model."""

    def dict(self) -> Dict[str, Any]:
        return {"legacy": True}


class BrokenDump:
    def model_dump(self) -> Dict[str, Any]:
        raise RuntimeError("cannot dump")

    def __repr__(self) -> str:
        return "BrokenDump()"


class BrokenRepr:
    def __repr__(self) -> str:
        raise RuntimeError("no repr")

    def __str__(self) -> str:
        raise RuntimeError("no str")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (datetime.datetime(2024, 1, 2, 3, 4, 5, 6), "2024-01-02T03:04:05.000006"),
        (
            datetime.datetime(2024, 1, 2, 3, 4, 5, tzinfo=datetime.timezone(datetime.timedelta(hours=2))),
            "2024-01-02T03:04:05+02:00",
        ),
        (datetime.date(2024, 5, 6), "2024-05-06"),
        (datetime.time(7, 8, 9, 10), "07:08:09.000010"),
        (datetime.timedelta(minutes=1, microseconds=500), 60.0005),
        (uuid.UUID("12345678-1234-5678-1234-567812345678"), "12345678-1234-5678-1234-567812345678"),
        (decimal.Decimal("1.10"), "1.10"),
        (decimal.Decimal("NaN"), "NaN"),
        (Color.RED, "red"),
        (Color.BLUE, 2),
        (Flag.ON, 1),
        (b"ab\xff\x00", "ab\\xff\x00"),
        (bytearray(b"xy"), "xy"),
        (memoryview(b"mv"), "mv"),
        ({3, 1, 2}, [1, 2, 3]),
        (frozenset({"b", "a"}), ["a", "b"]),
        ({1, "mixed"}, None),  # unsortable: any order, checked below
        (pathlib.PurePosixPath("/var/log/app.log"), "/var/log/app.log"),
        (pathlib.Path("relative/x"), "relative/x"),
        (Point(1, 2.5, ["a"]), {"x": 1, "y": 2.5, "tags": ["a"]}),
        (Model(), {"id": 1, "when": "2024-01-01"}),
        (LegacyModel(), {"legacy": True}),
        (BrokenDump(), "BrokenDump()"),
        (ValueError("bad input"), {"type": "ValueError", "message": "bad input"}),
        (collections.namedtuple("Pair", "a b")(1, 2), [1, 2]),
        (collections.OrderedDict([("b", 1), ("a", 2)]), {"b": 1, "a": 2}),
        (1 + 2j, "(1+2j)"),
        ((1, (2, 3)), [1, [2, 3]]),
        (Point, None),  # a class, not an instance: its repr
    ],
)
def test_common_types(dumps: Callable[[Any], str], value: Any, expected: Any) -> None:
    got = roundtrip(dumps, value)
    if expected is not None:
        assert got == expected
    elif isinstance(value, set):
        assert sorted(got, key=str) == sorted(value, key=str)
    else:
        assert got == repr(value)


def test_objects_with_a_broken_repr(dumps: Callable[[Any], str]) -> None:
    got = roundtrip(dumps, BrokenRepr())
    assert got == "<unrepresentable BrokenRepr: RuntimeError>"
    assert safe_repr(BrokenRepr()) == got
    assert safe_str(BrokenRepr()) == got


def test_plain_objects_use_their_repr(dumps: Callable[[Any], str]) -> None:
    class Plain:
        __slots__ = ()

    got = roundtrip(dumps, Plain())
    assert got.startswith("<") and "Plain object at 0x" in got


def test_cycles_are_cut(dumps: Callable[[Any], str]) -> None:
    loop: List[Any] = [1]
    loop.append(loop)
    mapping: Dict[str, Any] = {"name": "m"}
    mapping["self"] = mapping
    shared = [1, 2]

    class SelfDump:
        def model_dump(self) -> Dict[str, Any]:
            return {"me": self}

    assert roundtrip(dumps, loop) == [1, "[cycle]"]
    assert roundtrip(dumps, mapping) == {"name": "m", "self": "[cycle]"}
    assert roundtrip(dumps, SelfDump()) == {"me": "[cycle]"}
    # the same object twice is not a cycle
    assert roundtrip(dumps, [shared, shared, loop]) == [[1, 2], [1, 2], [1, "[cycle]"]]


def test_big_ints_nan_and_infinity(dumps: Callable[[Any], str]) -> None:
    values = [2**63 - 1, 2**63, 2**64 - 1, 2**64, 2**200, -(2**63), -(2**63) - 1, -(10**40)]
    assert roundtrip(dumps, values) == values
    assert roundtrip(dumps, [float("nan"), float("inf"), float("-inf"), 1.5]) == [None, None, None, 1.5]
    assert roundtrip(dumps, {"nan": float("nan"), "keep": "x" * 100}) == {"nan": None, "keep": "x" * 100}


def test_lone_surrogates_stay_visible_and_valid(dumps: Callable[[Any], str]) -> None:
    text = dumps({"v": "a\ud800b", "\udfffkey": 1})
    text.encode("utf-8")  # always encodable
    parsed = json.loads(text)
    assert parsed["v"] == "a\\ud800b"
    assert parsed["\\udfffkey"] == 1
    assert roundtrip(dumps, "emoji 🎉 fine") == "emoji 🎉 fine"


def test_non_string_keys(dumps: Callable[[Any], str]) -> None:
    value = {1: "int", 2.5: "float", None: "none", False: "bool", (1, 2): "tuple", Color.RED: "enum"}
    got = roundtrip(dumps, value)
    assert got["1"] == "int" and got["2.5"] == "float" and got["null"] == "none" and got["false"] == "bool"
    assert got["(1, 2)"] == "tuple"
    assert "enum" in got.values()


def test_huge_strings_and_collections_are_cut(dumps: Callable[[Any], str]) -> None:
    big = "x" * (2 * serialize.MAX_LINE_CHARS)
    text = dumps({"big": big, "small": "kept"})
    assert len(text) < serialize.MAX_LINE_CHARS
    parsed = json.loads(text)
    assert parsed["small"] == "kept"
    assert parsed["big"].startswith("x" * serialize.MAX_STRING)
    assert parsed["big"].endswith(f"...[{len(big) - serialize.MAX_STRING} more chars]")

    many = list(range(300_000))
    parsed = json.loads(dumps({"many": many}))
    assert parsed["many"][: serialize.MAX_ITEMS] == many[: serialize.MAX_ITEMS]
    assert parsed["many"][-1] == f"[{len(many) - serialize.MAX_ITEMS} more items]"

    wide = {f"k{i}": "v" * 10 for i in range(100_000)}
    parsed = json.loads(dumps(wide))
    assert len(parsed) == serialize.MAX_ITEMS + 1
    assert parsed["..."] == f"[{100_000 - serialize.MAX_ITEMS} more items]"


def test_values_below_the_line_limit_are_kept_whole(dumps: Callable[[Any], str]) -> None:
    long = "y" * (serialize.MAX_STRING * 4)
    items = list(range(serialize.MAX_ITEMS * 3))
    assert roundtrip(dumps, long) == long
    assert roundtrip(dumps, items) == items


def _nest(depth: int) -> Any:
    value: Any = "bottom"
    for _ in range(depth):
        value = [value]
    return value


def _depth(value: Any) -> int:
    depth = 0
    while isinstance(value, list):
        depth += 1
        value = value[0] if value else None
    return depth


@pytest.mark.parametrize("depth", [50, 150, 230, 260, 5_000, 100_000])
def test_deep_nesting_is_cut_safely(dumps: Callable[[Any], str], depth: int) -> None:
    got = roundtrip(dumps, _nest(depth))
    if depth < serialize.MAX_JSON_DEPTH:
        assert _depth(got) == depth  # kept whole
    else:
        inner = got
        while isinstance(inner, list):
            inner = inner[0]
        assert inner == "[max depth]"
        assert _depth(got) < serialize.MAX_JSON_DEPTH


def test_deep_dicts_and_mixed_nesting(dumps: Callable[[Any], str]) -> None:
    value: Any = 1
    for i in range(3_000):
        value = {"k": value} if i % 2 else [value]
    text = dumps({"deep": value})
    assert "[max depth]" in text
    json.loads(text)


def test_jsonable_cut_and_repair_modes() -> None:
    loop: List[Any] = []
    loop.append(loop)
    value = {"s": "z" * 20_000, "l": list(range(1_500)), 7: float("nan"), "loop": loop, "big": 2**80}
    repaired = jsonable(value, cut=False)
    assert repaired["s"] == "z" * 20_000 and repaired["l"] == list(range(1_500))
    assert repaired["7"] is None and repaired["loop"] == ["[cycle]"] and repaired["big"] == 2**80
    cut = jsonable(value)
    assert len(cut["s"]) < 20_000 and cut["s"].endswith("more chars]")
    assert len(cut["l"]) == serialize.MAX_ITEMS + 1


def test_safe_repr_limits_length() -> None:
    text = safe_repr("a" * 5_000, limit=100)
    assert text.startswith("'aaa") and text.endswith("more chars]")
    assert len(text) < 130


def test_dumps_never_raises_for_hostile_values() -> None:
    class Hostile:
        def __getattr__(self, name: str) -> Any:
            raise RuntimeError(f"no attribute {name}")

        def __repr__(self) -> str:
            raise RuntimeError("no repr")

    class BadDict:
        def dict(self) -> str:
            return "not a dict"

        def __repr__(self) -> str:
            return "BadDict()"

    for value in (Hostile(), BadDict(), [Hostile()], {Hostile(): 1}, {"x": {BrokenRepr()}}):
        text = serialize.dumps({"v": value})
        json.loads(text)


# -- through the formatters ------------------------------------------------------------


def test_every_format_handles_every_value() -> None:
    loop: List[Any] = []
    loop.append(loop)
    fields = {
        "dt": datetime.datetime(2024, 1, 1, 12, 0),
        "uuid": uuid.UUID(int=3),
        "dec": decimal.Decimal("2.50"),
        "enum": Color.RED,
        "bytes": b"\x00\xff",
        "set": {2, 1},
        "path": pathlib.PurePosixPath("/p"),
        "dc": Point(1, 2.0),
        "model": Model(),
        "exc": KeyError("k"),
        "broken": BrokenRepr(),
        "loop": loop,
        "big": 2**70,
        "nan": float("nan"),
        "surrogate": "\ud800",
        "deep": _nest(1_000),
    }
    handlers = [
        MemoryHandler(formatter=JSONFormatter()),
        MemoryHandler(formatter=TextFormatter()),
        MemoryHandler(formatter=LogfmtFormatter()),
    ]
    micktrace.configure(handlers=handlers)
    micktrace.get_logger("values").info("everything", **fields)
    json_line = handlers[0].lines[0]
    parsed = json.loads(json_line)
    assert parsed["dt"] == "2024-01-01T12:00:00" and parsed["enum"] == "red" and parsed["set"] == [1, 2]
    assert parsed["model"] == {"id": 1, "when": "2024-01-01"} and parsed["big"] == 2**70
    assert parsed["broken"] == "<unrepresentable BrokenRepr: RuntimeError>"
    for handler in handlers[1:]:
        line = handler.lines[0]
        assert "\n" not in line
        line.encode("utf-8")
        assert "<unrepresentable BrokenRepr: RuntimeError>" in line
        assert "2024-01-01 12:00:00" in line
        assert "big=1180591620717411303424" in line


def test_record_to_dict_keeps_python_values() -> None:
    record = LogRecord(0.0, 20, "x", "m", {"when": datetime.date(2024, 1, 1)}, {}, {}, None, None, 1, 2)
    assert record.to_dict()["when"] == datetime.date(2024, 1, 1)
    assert json.loads(record.to_json())["when"] == "2024-01-01"
    assert record.to_dict()["timestamp"] == "1970-01-01T00:00:00.000000Z"


def test_timestamps_before_1970_and_fractions() -> None:
    record = LogRecord(-1.5, 20, "x", "m", {}, {}, {}, None, None, 1, 2)
    assert json.loads(record.to_json())["timestamp"] == "1969-12-31T23:59:58.500000Z"
    record = LogRecord(1_700_000_000.125, 20, "x", "m", {}, {}, {}, None, None, 1, 2)
    assert json.loads(record.to_json())["timestamp"] == "2023-11-14T22:13:20.125000Z"
