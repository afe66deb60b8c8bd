"""Human-readable text: ``2026-11-24 10:24:33.123 INFO     [api] User login user_id=12345``."""

from __future__ import annotations

import os
from typing import IO, TYPE_CHECKING, Optional

from .._exceptions import exception_text
from ..levels import LEVEL_NAMES
from ..serialize import iso_utc_ns, local_time_ns
from .base import Formatter, escape_controls
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

    @property
    def needs_caller(self) -> bool:
        return self.show_path

    def _fields(self, record: LogRecord) -> str:
        out = []
        key_on, key_off = (DIM, RESET) if self.colors else ("", "")
        for source in (record.static, record.context, record.data):
            for key, value in source.items():
                out.append(f"{key_on}{logfmt_key(key)}={key_off}{logfmt_value(value)}")
        return " ".join(out)

    def format(self, record: LogRecord) -> str:
        colors = self.colors
        parts = []
        if self.show_time:
            stamp = iso_utc_ns(record.time_ns) if self.utc else local_time_ns(record.time_ns)
            parts.append(f"{DIM}{stamp}{RESET}" if colors else stamp)
        if self.show_level:
            name = LEVEL_NAMES.get(record.level) or f"LEVEL{record.level}"
            if colors:
                parts.append(f"{LEVEL_COLORS.get(record.level, BOLD)}{name:<8}{RESET}")
            else:
                parts.append(f"{name:<8}")
        if self.show_logger:
            where = escape_controls(record.logger_name)
            if self.show_path and record.filename is not None:
                where = f"{where} {escape_controls(os.path.basename(record.filename))}:{record.lineno}"
            parts.append(f"{CYAN}[{where}]{RESET}" if colors else f"[{where}]")
        parts.append(escape_controls(record.message))
        if record.static or record.context or record.data:
            parts.append(self._fields(record))
        line = " ".join(parts)
        if record.exc_info is not None:
            line += _indent_block(exception_text(record.exc_info))
        if record.stack_info:
            line += _indent_block(record.stack_info)
        return line
