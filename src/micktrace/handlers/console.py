"""Console handlers: plain and rich."""

from __future__ import annotations

import sys
from typing import IO, TYPE_CHECKING, Any, List, Optional, Union

from ..formatters.text import TextFormatter, stream_supports_color
from .base import Handler

if TYPE_CHECKING:
    from ..record import LogRecord

StreamSpec = Union[str, IO[str], None]


def _resolve(stream: StreamSpec) -> IO[str]:
    # "stderr"/"stdout" are looked up at every write, so replacing sys.stderr
    # (pytest's capsys, a daemon redirecting output) is followed
    if stream is None or stream == "stderr":
        return sys.stderr
    if stream == "stdout":
        return sys.stdout
    return stream  # type: ignore[return-value]


def _is_terminal(stream: IO[str]) -> bool:
    try:
        return bool(stream.isatty())
    except Exception:
        return False


class ConsoleHandler(Handler):
    """Writes lines to stderr (default), stdout, or any text stream.

    Each write is flushed, so log lines and ``print`` output keep their order.
    The text format is coloured when the stream is a TTY and ``NO_COLOR`` is unset,
    and on a TTY it shows the caller (``[api app.py:12 in login]``; off with
    ``configure(caller=False)``).

    Args:
        stream: ``"stderr"``, ``"stdout"`` or a file-like object.
    """

    def __init__(self, stream: StreamSpec = "stderr", **kwargs: Any) -> None:
        if isinstance(stream, str) and stream not in ("stderr", "stdout"):
            from ..errors import ConfigError

            raise ConfigError("stream", stream, "'stderr', 'stdout' or a file-like object")
        self.stream_spec = stream
        super().__init__(**kwargs)
        if isinstance(self.formatter, TextFormatter) and "formatter" not in kwargs:
            self.formatter.colors = stream_supports_color(_resolve(stream))
            # development: a terminal shows where each line was logged (file:line in function)
            self.formatter.show_path = _is_terminal(_resolve(stream))

    @property
    def stream(self) -> IO[str]:
        return _resolve(self.stream_spec)

    def write(self, line: str) -> None:
        stream = _resolve(self.stream_spec)
        stream.write(line + "\n")
        stream.flush()

    def write_lines(self, lines: List[str]) -> None:
        stream = _resolve(self.stream_spec)
        stream.write("\n".join(lines) + "\n")
        stream.flush()

    def flush(self) -> None:
        try:
            _resolve(self.stream_spec).flush()
        except Exception:
            pass


class RichConsoleHandler(ConsoleHandler):
    """Pretty console output for development.

    Uses `rich <https://github.com/Textualize/rich>`_ (``pip install
    'micktrace[rich]'``) when it is installed: coloured levels, highlighted
    values and rich tracebacks. Without rich it falls back to the coloured
    text format, with the same options.
    """

    def __init__(
        self,
        stream: StreamSpec = "stderr",
        show_time: bool = True,
        show_level: bool = True,
        show_path: bool = False,
        show_logger: bool = True,
        **kwargs: Any,
    ) -> None:
        colors = stream_supports_color(_resolve(stream))
        kwargs.setdefault(
            "formatter",
            TextFormatter(
                colors=colors,
                show_time=show_time,
                show_level=show_level,
                show_logger=show_logger,
                show_path=show_path,
            ),
        )
        super().__init__(stream=stream, **kwargs)
        self.show_time = show_time
        self.show_level = show_level
        self.show_path = show_path
        self.show_logger = show_logger
        try:
            import rich  # noqa: F401
        except ImportError:
            self._rich = False
        else:
            self._rich = True
        self._console: Optional[Any] = None
        self._console_stream: Optional[IO[str]] = None

    @property
    def needs_caller(self) -> bool:
        return self.show_path

    def _get_console(self) -> Any:
        from rich.console import Console

        stream = _resolve(self.stream_spec)
        if self._console is None or self._console_stream is not stream:
            self._console = Console(file=stream, soft_wrap=True, highlight=True)
            self._console_stream = stream
        return self._console

    def handle(self, record: LogRecord) -> None:
        if not self._rich or (self.formatter is not None and not isinstance(self.formatter, TextFormatter)):
            super().handle(record)
            return
        for accept in self.filters:
            if not accept(record):
                return
        self._rich_emit(record)

    def _rich_emit(self, record: LogRecord) -> None:
        from rich.text import Text

        from .. import lazy_values

        if lazy_values.used:
            from ..formatters.base import resolve_lazy

            resolve_lazy(record)

        from ..formatters.base import escape_controls
        from ..formatters.logfmt import logfmt_key, logfmt_value
        from ..levels import LEVEL_NAMES, LEVEL_STYLES
        from ..serialize import local_time_ns

        styles = {5: "dim blue", 10: "blue", 20: "green", 30: "yellow", 40: "red", 50: "bold white on red"}
        text = Text()
        if self.show_time:
            text.append(local_time_ns(record.time_ns) + " ", style="dim")
        if self.show_level:
            name = LEVEL_NAMES.get(record.level) or f"LEVEL{record.level}"
            style = styles.get(record.level) or LEVEL_STYLES.get(record.level, "bold")  # add_level's colour
            text.append(f"{name:<8} ", style=style)
        if self.show_logger:
            where = record.logger_name
            if self.show_path and record.filename is not None:
                where += f" {record.filename}:{record.lineno}"
            text.append(f"[{escape_controls(where)}] ", style="cyan")
        text.append(escape_controls(record.message))
        for source in (record.static, record.context, record.data):
            for key, value in source.items():
                text.append(" " + logfmt_key(key) + "=", style="dim")
                text.append(logfmt_value(value), style="magenta")
        console = self._get_console()
        console.print(text)
        exception_text = record.exception_text  # the masked text (see docs/masking.md)
        if exception_text:
            # rich's Traceback renders the live exception, unmasked: print the
            # masked text instead, escaped and indented like the text format
            block = Text()
            for line in exception_text.split("\n"):
                block.append("  " + escape_controls(line) + "\n", style="red")
            console.print(block, end="")
