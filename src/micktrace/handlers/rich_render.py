"""What the ``rich_console`` handler prints, built with rich from a masked record.

Holds :func:`record_text` (the one-line head: time, level, logger, message and
fields, each value styled by its type) and :func:`traceback_renderable` (the
exception as rich draws a traceback: a panel of frames, each with its file,
line and function and a few highlighted source lines, then the exception type
and message; chained causes first, as Python prints them).

Nothing is shown that masking has not seen: the frames and the message come
from the record's exception view, which the masking processor has already
replaced with its masked copy, and the source lines read from disk are run
through the configuration's masker before rich highlights them. Local
variables are never shown. Imported only when rich is installed and used.

May import: _state, masking, formatters, levels, serialize.
"""

from __future__ import annotations

import linecache
from typing import TYPE_CHECKING, Any, Callable, Dict, List, Optional

from .. import _state
from ..formatters.base import escape_controls
from ..formatters.logfmt import logfmt_key, logfmt_value
from ..levels import LEVEL_NAMES
from ..serialize import local_time_ns

if TYPE_CHECKING:
    from ..record import LogRecord

LEVEL_STYLES = {5: "dim blue", 10: "blue", 20: "green", 30: "yellow", 40: "bold red", 50: "bold white on red"}
#: lines of source shown around the failing line of each frame
CONTEXT_LINES = 2


def value_style(value: Any) -> str:
    """The style of a field value, by its type (as rich's repr highlighter colours them)."""
    if value is None or isinstance(value, bool):
        return "italic magenta"
    if isinstance(value, (int, float)):
        return "bold cyan"
    if isinstance(value, str):
        return "green"
    if isinstance(value, (dict, list, tuple, set, frozenset)):
        return "yellow"
    return "magenta"


def record_text(record: LogRecord, show_time: bool, show_level: bool, show_logger: bool, show_path: bool) -> Any:
    """The record's line as a rich ``Text`` (control characters escaped, one line)."""
    from rich.text import Text

    text = Text()
    if show_time:
        text.append(local_time_ns(record.time_ns) + " ", style="dim")
    if show_level:
        name = LEVEL_NAMES.get(record.level) or f"LEVEL{record.level}"
        text.append(f"{name:<8} ", style=LEVEL_STYLES.get(record.level, "bold"))
    if show_logger:
        where = record.logger_name
        if show_path and record.filename is not None:
            where += f" {record.filename}:{record.lineno}"
        text.append(f"[{escape_controls(where)}] ", style="cyan")
    text.append(escape_controls(record.message))
    for source in (record.static, record.context, record.data):
        for key, value in source.items():
            text.append(" " + logfmt_key(key) + "=", style="dim")
            text.append(logfmt_value(value), style=value_style(value))
    return text


def current_mask() -> Optional[Callable[[str], str]]:
    """The text masking of the configuration in force (None when masking is off)."""
    from ..masking import Masker, build_masker

    cfg = _state.config
    if cfg is None:
        default = build_masker(None)
        return default.mask_text if default is not None else None
    for processor in cfg.processors:
        if isinstance(processor, Masker):
            return processor.mask_text
    return None


def _source(filename: str, lineno: int, mask: Optional[Callable[[str], str]]) -> Optional[Dict[str, Any]]:
    """The lines around *lineno* of *filename*, masked: {"code", "start"} or None."""
    if not filename or filename.startswith("<"):
        return None
    lines = linecache.getlines(filename)
    if not lines or lineno < 1 or lineno > len(lines):
        return None
    start = max(1, lineno - CONTEXT_LINES)
    chunk = lines[start - 1 : lineno + CONTEXT_LINES]
    code = "".join(chunk)
    if mask is not None:
        code = mask(code)
    return {"code": code, "start": start}


def _stack(view: Dict[str, Any], mask: Optional[Callable[[str], str]], caused: bool) -> List[Any]:
    from rich.syntax import Syntax
    from rich.text import Text

    parts: List[Any] = []
    cause = view.get("cause")
    if isinstance(cause, dict):
        parts.extend(_stack(cause, mask, True))
    frames = view.get("frames") or []
    for frame in frames:
        filename = str(frame.get("file", "?"))
        lineno = int(frame.get("line") or 0)
        function = str(frame.get("function", "?"))
        head = Text()
        head.append(escape_controls(filename), style="magenta")
        head.append(":")
        head.append(str(lineno), style="bold cyan")
        head.append(" in ")
        head.append(escape_controls(function), style="bold green")
        parts.append(head)
        source = _source(filename, lineno, mask)
        if source is not None:
            parts.append(
                Syntax(source["code"].rstrip("\n"), "python", line_numbers=True, start_line=source["start"],
                       highlight_lines={lineno}, theme="ansi_dark", word_wrap=False)
            )
    title = Text()
    title.append(escape_controls(str(view.get("type", "Exception"))), style="bold red")
    message = view.get("message")
    if message:
        title.append(": " + escape_controls(str(message)))
    parts.append(title)
    if caused:
        parts.append(Text("\nThe above exception was the direct cause of the following exception:\n", style="dim"))
    return parts


def traceback_renderable(record: LogRecord) -> Optional[Any]:
    """A rich panel drawing the record's (masked) exception, or None."""
    view = record.exception
    if not view:
        return None
    from rich.console import Group
    from rich.panel import Panel

    mask = current_mask()
    return Panel(
        Group(*_stack(view, mask, False)),
        title="[bold red]Traceback[/] [dim](most recent call last)[/]",
        border_style="red",
        expand=False,
    )
