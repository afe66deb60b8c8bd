"""Console handlers: plain and rich."""

from __future__ import annotations

import os
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


class ConsoleHandler(Handler):
    """Writes lines to stderr (default), stdout, or any text stream.

    Each write is flushed, so log lines and ``print`` output keep their order.
    The text format is coloured when the stream is a TTY and ``NO_COLOR`` is unset.

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
    'micktrace[rich]'``) when it is installed and the stream is a terminal (or
    ``FORCE_COLOR`` is set): coloured levels, values highlighted by type, and
    tracebacks drawn as rich does (frames with highlighted source), masked
    (see :mod:`micktrace.handlers.rich_render`). Without rich it writes the
    coloured text format; off a terminal, the plain text format. Same options.
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
        self._checked_stream: Optional[IO[str]] = None
        self._checked_fancy = False

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

    def _fancy(self, stream: IO[str]) -> bool:
        """rich's layout on a terminal (or with FORCE_COLOR); plain text anywhere else."""
        if stream is not self._checked_stream:
            self._checked_stream = stream
            try:
                self._checked_fancy = bool(stream.isatty()) or bool(os.environ.get("FORCE_COLOR"))
            except Exception:
                self._checked_fancy = False
        return self._checked_fancy

    def handle(self, record: LogRecord) -> Optional[int]:
        if (
            not self._rich
            or (self.formatter is not None and not isinstance(self.formatter, TextFormatter))
            or not self._fancy(_resolve(self.stream_spec))
        ):
            return super().handle(record)
        for accept in self.filters:
            if not accept(record):
                return 0
        return self._rich_emit(record)

    def _rich_emit(self, record: LogRecord) -> int:
        """Print the record with rich; returns the characters of its line (styling
        and a drawn traceback not counted)."""
        from .rich_render import record_text, traceback_renderable

        console = self._get_console()
        text = record_text(record, self.show_time, self.show_level, self.show_logger, self.show_path)
        console.print(text)
        drawn = traceback_renderable(record)
        if drawn is not None:
            console.print(drawn)
        return len(text.plain) + 1
