"""Messages (issue 15): loguru's {}-style next to the stdlib's %-style, the rules
for ambiguous messages, and formats that fail without raising."""

from __future__ import annotations

import json
from typing import Any, List, Tuple

import pytest

import micktrace
from micktrace.handlers import MemoryHandler
from micktrace.messages import format_message, has_percent


def _log(msg: Any, *args: Any, **fields: Any) -> Tuple[str, dict]:
    """Log one record through the real logger; (its message, its fields)."""
    handler = MemoryHandler()
    micktrace.configure(handlers=[handler], masking=False)
    micktrace.get_logger("msg").info(msg, *args, **fields)
    (record,) = handler.records
    return record.message, dict(record.data)


@pytest.mark.parametrize(
    ("call", "expected"),
    [
        (("Hello {}", "bob"), "Hello bob"),
        (("Hello {0}, {0}!", "bob"), "Hello bob, bob!"),
        (("{} + {} = {}", 1, 2, 3), "1 + 2 = 3"),
        (("pi={:.2f} {!r}", 3.14159, "x"), "pi=3.14 'x'"),
        (("a %s", "x"), "a x"),
        (("%d%% of %s", 5, "disk"), "5% of disk"),
        (("{}% done", 50), "50% done"),  # "% d" is not taken for a %-conversion
        (("%(user)s in", {"user": "ann"}), "ann in"),
    ],
)
def test_positional_args_brace_or_percent(call: Tuple[Any, ...], expected: str) -> None:
    assert _log(*call)[0] == expected


def test_named_placeholders_come_from_the_calls_fields_which_stay_fields() -> None:
    message, data = _log("Hello {name}, {n:>4}|", name="ann", n=7)
    assert message == "Hello ann,    7|"
    assert data == {"name": "ann", "n": 7}
    handler = MemoryHandler()
    micktrace.configure(handlers=[handler], masking=False)
    micktrace.get_logger("msg").info("code {code}", extra={"code": 42})
    assert handler.records[0].message == "code 42"
    assert handler.records[0].data == {"code": 42}


def test_bound_fields_do_not_fill_placeholders() -> None:
    handler = MemoryHandler()
    micktrace.configure(handlers=[handler])
    micktrace.get_logger("msg").bind(user="ann").info("for {user}", n=1)
    assert handler.records[0].message == "for {user}"


@pytest.mark.parametrize(
    ("call", "fields", "expected"),
    [
        (("{}",), {}, "{}"),  # {} with no args stays as written
        (("{}",), {"x": 1}, "{}"),
        (("literal {{x}}",), {}, "literal {{x}}"),  # no args, no fields: never formatted
        (("literal {{x}} {y}",), {"y": 1}, "literal {x} 1"),  # formatted: {{ is a brace
        (("literal {{x}}",), {"y": 1}, "literal {x}"),
        (('payload {"a": 1}',), {"a": 1}, 'payload {"a": 1}'),  # JSON text is not a template
        (("who is {unknown}",), {"x": 1}, "who is {unknown}"),
        (("%s and {}", 1), {}, "1 and {}"),  # both styles: % wins, as in the stdlib
        (("50% of {n}",), {"n": 3}, "50% of 3"),  # no args: % is never applied
    ],
)
def test_ambiguous_messages(call: Tuple[Any, ...], fields: dict, expected: str) -> None:
    assert _log(*call, **fields)[0] == expected


class Hostile:
    def __format__(self, spec: str) -> str:
        raise RuntimeError("no")

    def __repr__(self) -> str:
        return "Hostile()"


@pytest.mark.parametrize(
    ("call", "expected"),
    [
        (("{} {}", 1), "{} {} (1,)"),  # too few args
        (("{}", 1, 2), "{} (1, 2)"),  # too many: none is lost
        (("{:d}", "x"), "{:d} ('x',)"),  # a spec that does not fit
        (("{0.__class__}", 1), "{0.__class__} (1,)"),  # no dunder access
        (("{:99999999}", 1), "{:99999999} (1,)"),  # no giant padding
        (("{} {0}", 1), "{} {0} (1,)"),  # mixed numbering
        (("{", 1), "{ (1,)"),
        (("}", 1), "} (1,)"),
        (("{}", Hostile()), "{} (Hostile(),)"),
        (("%d", "x"), "%d ('x',)"),
    ],
)
def test_bad_formats_keep_the_message_and_show_the_args(call: Tuple[Any, ...], expected: str) -> None:
    assert _log(*call)[0] == expected


def test_a_bad_named_format_keeps_the_message_and_never_raises() -> None:
    assert _log("{x:d}", x="text")[0] == "{x:d}"
    assert _log("{x}", x=Hostile())[0] == "{x}"


def test_non_str_messages_are_text_then_formatted() -> None:
    assert _log(123)[0] == "123"
    assert _log(b"{}")[0] == "b'{}'"


@pytest.mark.parametrize("fmt", ["json", "logfmt", "text"])
def test_every_format_writes_the_formatted_message(fmt: str) -> None:
    handler = MemoryHandler(formatter=micktrace.formatters.formatter_for(fmt))
    micktrace.configure(handlers=[handler])
    micktrace.get_logger("m").warning("user {user} ({}) failed", 3, user="ann")
    (line,) = handler.lines
    if fmt == "json":
        assert json.loads(line)["message"] == "user ann (3) failed"
    else:
        assert "user ann (3) failed" in line.replace('"', "")


def test_has_percent() -> None:
    assert has_percent("a %s") and has_percent("%(x)d") and has_percent("%5.2f")
    assert not has_percent("100%% sure") and not has_percent("{}% done") and not has_percent("plain")


def test_format_message_directly() -> None:
    calls: List[Any] = []

    class Spy:
        def __format__(self, spec: str) -> str:
            calls.append(spec)
            return "spy"

    assert format_message("{s:>3}", (), {"s": Spy()}) == "spy"
    assert calls == [">3"]
    assert format_message("x", ()) == "x"


def test_formatted_once_when_a_stdlib_keyword_sends_the_call_the_general_way() -> None:
    # "{{x}}" gives "{x}": formatting that text again would fill it with x
    assert _log("{{x}} {y}", y=1, x=2, stack_info=False)[0] == "{x} 1"
    assert _log("{{x}} {y}", y=1, x=2)[0] == "{x} 1"
    assert _log("{{x}} {}", 1, x=2)[0] == "{x} 1"


def test_exception_and_log_methods_format_too() -> None:
    handler = MemoryHandler()
    micktrace.configure(handlers=[handler])
    log = micktrace.get_logger("msg")
    try:
        raise ValueError("x")
    except ValueError:
        log.exception("failed {step} after {}", 3, step="pay")
    log.log("WARNING", "via log {n}", n=1)
    assert [r.message for r in handler.records] == ["failed pay after 3", "via log 1"]
    assert handler.records[0].exc_info is not None
