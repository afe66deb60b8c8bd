"""Property tests (issue 5): whatever a record holds, JSON and logfmt write one line
that parses back to it, and text writes one printable line (plus indented
traceback lines when an exception is attached), with or without masking."""

from __future__ import annotations

import json
import re
import unicodedata
from typing import Any, Dict, List, Tuple

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from micktrace import LogLevel, LogRecord
from micktrace.formatters import JSONFormatter, LogfmtFormatter, TextFormatter
from micktrace.masking import Masker

# every code point, lone surrogates included
ANY_TEXT = st.text(alphabet=st.characters(blacklist_categories=()), max_size=40)
NASTY = st.sampled_from(["\n", "\r", "\x1b[31m", "\x85", "\u2028", "\ud800", '"', "\\", "=", " ", "\x00", "\u202e"])
TEXT = st.one_of(ANY_TEXT, st.lists(st.one_of(ANY_TEXT, NASTY), max_size=6).map("".join))
SCALARS = st.one_of(TEXT, st.integers(), st.floats(allow_nan=True), st.booleans(), st.none(), st.binary(max_size=12))
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(TEXT, inner, max_size=4)),
    max_leaves=10,
)
FIELDS = st.dictionaries(TEXT, VALUES, max_size=5)

SETTINGS = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def record(message: str, logger: str, data: Dict[str, Any], context: Dict[str, Any], exc: bool = False) -> LogRecord:
    exc_info = None
    if exc:
        try:
            raise ValueError(message)
        except ValueError as error:
            exc_info = (ValueError, error, error.__traceback__)
    return LogRecord(1_700_000_000.5, LogLevel.WARNING, logger, message, data, context, {}, exc_info, None, 1, 2)


# -- a small logfmt reader: key=bare or key="quoted with \\escapes" -------------
_PAIR = re.compile(r'([^\s=]+)=("(?:[^"\\]|\\.)*"|[^\s"]*)(?: |$)')
_ESCAPE = re.compile(r"\\(x[0-9a-f]{2}|u[0-9a-f]{4}|.)")
_SIMPLE = {"n": "\n", "r": "\r", "t": "\t", '"': '"', "\\": "\\"}


def _unescape(match: re.Match[str]) -> str:
    code = match.group(1)
    if code in _SIMPLE:
        return _SIMPLE[code]
    assert code[0] in "xu", code
    return chr(int(code[1:], 16))


def parse_logfmt(line: str) -> List[Tuple[str, str]]:
    pairs = []
    pos = 0
    while pos < len(line):
        match = _PAIR.match(line, pos)
        assert match is not None, f"unparseable at {pos}: {line[pos : pos + 40]!r}"
        key, raw = match.group(1), match.group(2)
        value = _ESCAPE.sub(_unescape, raw[1:-1]) if raw.startswith('"') else raw
        pairs.append((key, value))
        pos = match.end()
    return pairs


def one_line(text: str) -> bool:
    return "\n" not in text and len(text.splitlines()) == 1


_BIDI = set("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def safe(text: str) -> bool:
    """No control character, line or paragraph separator, lone surrogate or bidi
    control: nothing that breaks a line, drives a terminal or reorders text."""
    return not any(unicodedata.category(ch) in ("Cc", "Zl", "Zp", "Cs") or ch in _BIDI for ch in text)


def has_surrogate(text: str) -> bool:
    return any(0xD800 <= ord(ch) <= 0xDFFF for ch in text)


@SETTINGS
@given(message=TEXT, logger=TEXT, data=FIELDS, context=FIELDS)
def test_json_is_one_line_that_parses_back(
    message: str, logger: str, data: Dict[str, Any], context: Dict[str, Any]
) -> None:
    line = JSONFormatter().format(record(message, logger, data, context))
    assert one_line(line)
    line.encode("utf-8")  # writable to any UTF-8 stream
    parsed = json.loads(line)
    assert isinstance(parsed, dict)
    if not has_surrogate(message):  # lone surrogates are written as visible escapes
        assert parsed["message"] == message
    if not has_surrogate(logger):
        assert parsed["logger"] == logger


@SETTINGS
@given(message=TEXT, logger=TEXT, data=FIELDS, context=FIELDS)
def test_logfmt_is_one_line_that_parses_back(
    message: str, logger: str, data: Dict[str, Any], context: Dict[str, Any]
) -> None:
    line = LogfmtFormatter().format(record(message, logger, data, context))
    assert one_line(line)
    assert safe(line)
    pairs = parse_logfmt(line)
    assert [key for key, _ in pairs[:4]] == ["timestamp", "level", "logger", "message"]
    assert pairs[2][1] == logger
    assert pairs[3][1] == message
    assert len(pairs) == 4 + len(data) + len(context)
    assert all(re.fullmatch(r"[A-Za-z0-9_.\-/@]+", key) for key, _ in pairs)


@SETTINGS
@given(message=TEXT, logger=TEXT, data=FIELDS, context=FIELDS, exc=st.booleans())
def test_text_is_one_printable_line_plus_indented_traceback(
    message: str, logger: str, data: Dict[str, Any], context: Dict[str, Any], exc: bool
) -> None:
    text = TextFormatter().format(record(message, logger, data, context, exc))
    first, *rest = text.split("\n")
    assert safe(first)
    if exc:
        assert rest and all(line.startswith("  ") and safe(line) for line in rest)
    else:
        assert rest == []


@SETTINGS
@given(message=TEXT, data=FIELDS, context=FIELDS, exc=st.booleans())
def test_masked_records_keep_the_same_guarantees(
    message: str, data: Dict[str, Any], context: Dict[str, Any], exc: bool
) -> None:
    masked = Masker()(record(message, "masked", data, context, exc))
    assert one_line(JSONFormatter().format(masked))
    json.loads(JSONFormatter().format(masked))
    logfmt = LogfmtFormatter().format(masked)
    assert one_line(logfmt)
    parse_logfmt(logfmt)
    assert safe(TextFormatter().format(masked).split("\n")[0])
