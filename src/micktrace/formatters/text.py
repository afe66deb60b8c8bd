"""Human-readable text: ``2026-11-24 10:24:33.123 INFO     [api] User login user_id=12345``."""

from __future__ import annotations

import os
import re
from typing import IO, TYPE_CHECKING, Any, Optional

from .. import lazy_values as _lazy_values
from ..levels import LEVEL_COLORS as CUSTOM_COLORS
from ..levels import LEVEL_NAMES
from ..serialize import dumps, iso_utc_ns, local_time_ns
from .base import _UNSAFE, Formatter, escape_controls, resolve_lazy
from .logfmt import logfmt_key, logfmt_value

if TYPE_CHECKING:
    from ..record import LogRecord

RESET = "\x1b[0m"
DIM = "\x1b[2m"
BOLD = "\x1b[1m"
CYAN = "\x1b[36m"
LEVEL_COLORS = {
    5: "\x1b[2;34m",  # TRACE: dim blue
    10: "\x1b[34m",  # DEBUG: blue
    20: "\x1b[32m",  # INFO: green
    30: "\x1b[33m",  # WARNING: yellow
    40: "\x1b[31m",  # ERROR: red
    50: "\x1b[1;41;97m",  # CRITICAL: bold white on red
}


def stream_supports_color(stream: Optional[IO[str]]) -> bool:
    """Colour when the stream is a TTY, ``NO_COLOR`` is unset and ``TERM`` is not dumb;
    ``FORCE_COLOR`` turns it on regardless."""
    if os.environ.get("NO_COLOR"):
        return False
    if os.environ.get("FORCE_COLOR"):
        return True
    if os.environ.get("TERM") == "dumb":
        return False
    try:
        return bool(stream is not None and stream.isatty())
    except Exception:
        return False


#: field names a reader (or the log viewer) would take for the line's own parts
_RESERVED_KEYS = frozenset({"timestamp", "time", "level", "logger", "message", "msg"})


def _text_key(key: str) -> str:
    """A field's key as written: a reserved name is kept as ``fields.<name>``."""
    return "fields." + key if key in _RESERVED_KEYS else logfmt_key(key)


# a JSON string, or a separator outside one
_JSON_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"|[,:]')


def _spaced(match: re.Match[str]) -> str:
    token = match.group()
    return token if len(token) > 1 else token + " "


def _unsafe_to_u(match: re.Match[str]) -> str:
    return "\\u%04x" % ord(match.group())  # noqa: UP031


def text_value(value: Any) -> str:
    """A field value as the text format writes it: like logfmt, except that
    lists, dicts, tuples and sets are written as readable JSON, unquoted
    (``tags=["a", "b"]``). JSON escapes the quotes, backslashes and line breaks
    of the strings inside, and anything else unprintable is escaped as ``\\uXXXX``,
    so the value stays on its line and cannot end early."""
    vtype = type(value)
    # scalars as logfmt_value writes them, the common ones inline (one call per field)
    if vtype is str:
        if value and value.isprintable() and " " not in value and '"' not in value and "=" not in value:
            if "\\" not in value:
                return value  # type: ignore[no-any-return]
        return logfmt_value(value)
    if vtype is int or vtype is float:
        return repr(value)
    if vtype is bool:
        return "true" if value else "false"
    if vtype is not list and vtype is not dict and vtype is not tuple and vtype is not set and vtype is not frozenset:
        return logfmt_value(value)
    text = _JSON_TOKEN.sub(_spaced, dumps(value))
    if text.isprintable():
        return text
    return _UNSAFE.sub(_unsafe_to_u, text)


def _indent_block(text: str) -> str:
    # every line of a traceback starts with two spaces, so nothing inside it
    # (an exception message, say) can pass for a log line of its own
    return "".join("\n  " + escape_controls(line) for line in text.split("\n"))


class TextFormatter(Formatter):
    """One readable line per record: time, level, logger, message, then ``key=value``.

    Values are quoted and escaped like logfmt, and control characters in the
    message are escaped, so no value can start a forged line. Tracebacks follow
    on indented lines.

    Args:
        colors: ANSI colours for level, time and keys.
        show_time, show_level, show_logger, show_path: which parts to write
            (``show_path`` needs caller info, which it turns on).
        utc: write the time as ISO 8601 UTC instead of local time.
    """

    def __init__(
        self,
        colors: bool = False,
        show_time: bool = True,
        show_level: bool = True,
        show_logger: bool = True,
        show_path: bool = False,
        utc: bool = False,
    ) -> None:
        self.colors = colors
        self.show_time = show_time
        self.show_level = show_level
        self.show_logger = show_logger
        self.show_path = show_path
        self.utc = utc

        self._heads: dict[tuple[int, str], str] = {}

    @property
    def needs_caller(self) -> bool:
        return self.show_path

    def __setattr__(self, name: str, value: object) -> None:
        # the cached line heads depend on every option
        object.__setattr__(self, name, value)
        if name != "_heads":
            object.__setattr__(self, "_heads", {})

    def _fields(self, record: LogRecord) -> str:
        if self.colors:
            return " ".join(
                DIM + _text_key(key) + "=" + RESET + text_value(value)
                for source in (record.static, record.context, record.data)
                for key, value in source.items()
            )
        return " ".join(
            _text_key(key) + "=" + text_value(value)
            for source in (record.static, record.context, record.data)
            if source
            for key, value in source.items()
        )

    def _head(self, level: int, logger_name: str, where: str | None = None) -> str:
        """Level and logger, formatted once per (level, logger) and cached."""
        colors = self.colors
        parts = []
        if self.show_level:
            name = LEVEL_NAMES.get(level)
            if name is None:  # not cached: add_level() may name it later
                name, where = f"LEVEL{level}", where or ""
            color = LEVEL_COLORS.get(level) or CUSTOM_COLORS.get(level, BOLD)
            parts.append(f"{color}{name:<8}{RESET}" if colors else f"{name:<8}")
        if self.show_logger:
            text = escape_controls(logger_name) + (where or "")
            parts.append(f"{CYAN}[{text}]{RESET}" if colors else f"[{text}]")
        head = " ".join(parts) + " " if parts else ""
        if where is None and len(self._heads) < 4096:
            self._heads[(level, logger_name)] = head
        return head

    def format(self, record: LogRecord) -> str:
        if _lazy_values.used:
            resolve_lazy(record)
        if self.show_path and record.filename is not None and self.show_logger:
            where = f" {escape_controls(os.path.basename(record.filename))}:{record.lineno}"
            if record.func_name:
                where += " in " + escape_controls(record.func_name)
            head = self._head(record.level, record.logger_name, where)
        else:
            head = self._heads.get((record.level, record.logger_name)) or self._head(record.level, record.logger_name)
        message = record.message
        if "=" in message or message.startswith('"'):
            # "x admin=true" would read as a field: quote (and escape) it
            message = logfmt_value(message)
        line = head + (message if message.isprintable() else escape_controls(message))
        if self.show_time:
            stamp = iso_utc_ns(record.time_ns) if self.utc else local_time_ns(record.time_ns)
            line = (DIM + stamp + RESET + " " if self.colors else stamp + " ") + line
        if record.static or record.context or record.data:
            line += " " + self._fields(record)
        if record.exc_info is not None:
            line += _indent_block(record.exception_text or "")  # masked view
        if record.stack_info:
            line += _indent_block(record.stack_info)
        return line
