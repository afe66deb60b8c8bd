"""Format templates: a handler's ``"format"`` written as a line with placeholders.

``{"type": "console", "format": "{time:HH:mm:ss} {level:<8} {logger}: {message} {fields}"}``
is compiled once, when the configuration is built, into a
:class:`TemplateFormatter`; an unknown placeholder is a ``ConfigError`` then.
The placeholders (docs/formatting.md):

``time`` (``{time:YYYY-MM-DD HH:mm:ss.SSS}``: tokens YYYY YY MM DD HH mm ss
SSS SSSSSS ZZ, local time, UTC with a trailing ``!UTC``), ``level``, ``levelno``,
``logger``, ``message``, ``fields`` (every field as ``key=value``),
``extra[name]`` / ``fields[name]`` (one field's value, empty when absent),
``caller`` (``file.py:12 in func``), ``file``, ``line``, ``function``, ``thread``,
``process``, ``exception`` (the traceback on indented lines, or nothing).
Any other placeholder may carry a format spec (``{level:<8}``).

Every part written from the record is escaped as in the text format, so a
template line cannot be broken or forged by a value either.

May import: lazy_values, levels, serialize, formatters.base, formatters.text.
"""

from __future__ import annotations

import os
import re
import string
import time
from typing import TYPE_CHECKING, Any, Callable, List, Optional, Tuple

from .. import lazy_values as _lazy
from ..errors import ConfigError
from ..levels import level_name
from .base import Formatter, escape_controls, resolve_lazy
from .text import _indent_block, _text_key, text_value

if TYPE_CHECKING:
    from ..record import LogRecord

formatter_parser = string.Formatter().parse
Getter = Callable[["LogRecord"], Any]

_TIME_TOKENS = re.compile(r"YYYY|YY|MM|DD|HH|mm|ss|SSSSSS|SSS|ZZ")
_STRFTIME = {"YYYY": "%Y", "YY": "%y", "MM": "%m", "DD": "%d", "HH": "%H", "mm": "%M", "ss": "%S", "ZZ": "%z"}
DEFAULT_TIME = "YYYY-MM-DD HH:mm:ss.SSS"


def _caller(record: LogRecord) -> str:
    if record.filename is None:
        return ""
    where = f"{os.path.basename(record.filename)}:{record.lineno}"
    return where + (" in " + record.func_name if record.func_name else "")


def _all_fields(record: LogRecord) -> str:
    return " ".join(
        _text_key(key) + "=" + text_value(value)
        for source in (record.static, record.context, record.data)
        if source
        for key, value in source.items()
    )


def _exception(record: LogRecord) -> str:
    parts = []
    if record.exc_info is not None:
        parts.append(_indent_block(record.exception_text or ""))
    if record.stack_info:
        parts.append(_indent_block(record.stack_info))
    return "".join(parts)


#: placeholder -> (the value, whether it is written escaped)
_SIMPLE: dict[str, Getter] = {
    "level": lambda r: level_name(r.level),
    "levelno": lambda r: int(r.level),
    "logger": lambda r: r.logger_name,
    "name": lambda r: r.logger_name,
    "message": lambda r: r.message,
    "caller": _caller,
    "file": lambda r: os.path.basename(r.filename) if r.filename else "",
    "path": lambda r: r.filename or "",
    "line": lambda r: r.lineno if r.lineno is not None else "",
    "function": lambda r: r.func_name or "",
    "thread": lambda r: r.thread_id,
    "process": lambda r: r.process_id,
}
_CALLER_NAMES = frozenset(("caller", "file", "path", "line", "function"))
PLACEHOLDERS = (*_SIMPLE, "time", "fields", "exception", "extra[name]", "fields[name]")


def _field_getter(name: str) -> Getter:
    def get(record: LogRecord) -> Any:
        for source in (record.data, record.context, record.static):
            if name in source:
                return text_value(source[name])
        return ""

    return get


class _Clock:
    """The ``time`` placeholder: its tokens rendered per record, the part that
    changes once a second cached."""

    def __init__(self, spec: str) -> None:
        self.utc = spec.endswith("!UTC")
        spec = (spec[:-4] if self.utc else spec) or DEFAULT_TIME
        # split into whole-second strftime text and the sub-second tokens
        pieces: List[Tuple[bool, str]] = []
        last = 0
        for match in _TIME_TOKENS.finditer(spec):
            pieces.append((False, spec[last : match.start()].replace("%", "%%")))
            token = match.group()
            pieces.append((token in ("SSS", "SSSSSS"), _STRFTIME.get(token, token)))
            last = match.end()
        pieces.append((False, spec[last:].replace("%", "%%")))
        self.pieces = pieces
        self._second = -1
        self._texts: List[str] = []

    def __call__(self, record: LogRecord) -> str:
        second, ns = divmod(record.time_ns, 1_000_000_000)
        if second != self._second:
            moment = time.gmtime(second) if self.utc else time.localtime(second)
            self._texts = [text if sub else time.strftime(text, moment) for sub, text in self.pieces]
            self._second = second
        if len(self.pieces) == 1:
            return self._texts[0]
        return "".join(
            (f"{ns // 1_000_000:03d}" if piece[1] == "SSS" else f"{ns // 1000:06d}") if piece[0] else text
            for piece, text in zip(self.pieces, self._texts)
        )


class TemplateFormatter(Formatter):
    """A line laid out by a template (see the module docstring for the placeholders).

    Args:
        template: the layout, e.g. ``"{time:HH:mm:ss} {level:<8} {logger}: {message} {fields}"``.
        key: the configuration key named by a ``ConfigError``.
    """

    def __init__(self, template: str, key: str = "format") -> None:
        if not isinstance(template, str):
            raise ConfigError(key, template, "a template string such as '{time} {level} {message} {fields}'")
        self.template = template
        self.needs_caller = False
        self._parts: List[Tuple[str, Optional[Getter], str, bool]] = []
        try:
            parsed = list(formatter_parser(template))
        except ValueError as exc:
            allowed = f"a valid template ({exc}; a literal brace is written {{{{ or }}}})"
            raise ConfigError(key, template, allowed) from None
        for literal, field, spec, conversion in parsed:
            if field is None:
                self._parts.append((literal, None, "", False))
                continue
            getter, escaped = self._compile(field, spec or "", key)
            if conversion or (spec and "{" in spec):
                raise ConfigError(key, "{" + field + "}", "placeholders without !conversion or nested {} in the spec")
            if field == "time":
                spec = ""  # the clock applies it
            self._parts.append((literal, getter, spec or "", escaped))

    def _compile(self, field: str, spec: str, key: str) -> Tuple[Getter, bool]:
        if field in _SIMPLE:
            self.needs_caller |= field in _CALLER_NAMES
            return _SIMPLE[field], True
        if field == "time":
            return _Clock(spec), False
        if field == "fields":
            return _all_fields, False
        if field == "exception":
            return _exception, False
        match = re.fullmatch(r"(?:extra|fields)\[([^\]]+)\]", field)
        if match:
            return _field_getter(match.group(1)), False
        raise ConfigError(key, "{" + field + "}", "the placeholders " + ", ".join(PLACEHOLDERS))

    def format(self, record: LogRecord) -> str:
        if _lazy.used:
            resolve_lazy(record)
        out: List[str] = []
        for literal, getter, spec, escaped in self._parts:
            out.append(literal)
            if getter is None:
                continue
            value = getter(record)
            if spec:
                try:
                    value = format(value, spec)
                except (ValueError, TypeError):  # "{line:>5}" with no caller: the value as it is
                    value = str(value)
            elif type(value) is not str:
                value = str(value)
            out.append(escape_controls(value) if escaped else value)
        return "".join(out).rstrip(" ")
