"""The handler contract.

A handler is ``level`` + ``filters`` + ``formatter`` + a transport. The core
calls :meth:`Handler.handle` for each record at or above the handler's level;
``handle`` applies the filters, formats and writes. A transport implements
:meth:`Handler.write_lines` (and may override :meth:`Handler.write` for the
single-record path), :meth:`flush` and :meth:`close`.

Anything else with a ``handle(record)`` method, or a plain callable taking a
record, can be passed in ``configure(handlers=[...])``; see :class:`ObjectHandler`
and :class:`CallableHandler`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, Dict, List, Optional, Sequence, Tuple

from .._report import report
from ..formatters.base import Formatter

if TYPE_CHECKING:
    from ..record import LogRecord

Filter = Callable[["LogRecord"], bool]
_EMPTY: Dict[str, Any] = {}


class Handler:
    """Base class for handlers.

    Args:
        level: the least severe level this handler writes (default: everything
            the logger lets through).
        formatter: a :class:`Formatter`, or any callable ``record -> str``.
        filters: callables ``record -> bool``; a record is written only if all
            return true.
        name: how the handler is called in error reports, metrics and health.
    """

    #: the dispatch mode this handler type prefers (see docs/dispatch.md)
    default_dispatch = "sync"
    #: set by configure() from a handler spec's "dispatch" key: (value, config key)
    dispatch_spec: Optional[Tuple[Any, str]] = None
    #: False when the destination takes records, not text: ``metrics()`` then
    #: reports ``bytes_written`` 0 (the conformance kit holds the others to it)
    counts_written = True

    def __init__(
        self,
        level: int = 0,
        formatter: Optional[Formatter | Callable[[LogRecord], str]] = None,
        filters: Optional[Sequence[Filter]] = None,
        name: Optional[str] = None,
    ) -> None:
        self.level = level
        if formatter is None:
            from ..formatters.text import TextFormatter

            formatter = TextFormatter()
        self.formatter = formatter
        self.filters: List[Filter] = list(filters or ())
        self.name = name or type(self).__name__
        self.closed = False

    @property
    def formatter(self) -> Formatter | Callable[[LogRecord], str]:
        return self._formatter

    @formatter.setter
    def formatter(self, formatter: Formatter | Callable[[LogRecord], str]) -> None:
        self._formatter = formatter
        # call Formatter.format directly: one Python call less per record
        self._format = formatter.format if isinstance(formatter, Formatter) else formatter

    # -- the record path ---------------------------------------------------------
    def enabled(self, level: int) -> bool:
        """True when a record at *level* would be written (the dispatcher checks
        ``level`` directly on the hot path; this is the protocol's spelling)."""
        return level >= self.level

    def handle(self, record: LogRecord) -> Optional[int]:
        """Filter, format and write one record. May raise: the caller isolates it.

        Returns the number of characters written (for metrics), if known."""
        for accept in self.filters:
            if not accept(record):
                return 0
        line = self.format(record)
        self.write(line)
        return len(line) + 1

    def emit(self, record: LogRecord) -> None:
        """Write one record now, from code that calls a handler directly (MickTrace
        1.x's spelling). Unlike :meth:`handle` it never raises: a failure is
        reported and the record goes to the fallback. A record whose ``data``
        is None is written with no fields."""
        if getattr(record, "data", _EMPTY) is None:
            record.data = {}
        try:
            self.handle(record)
        except Exception as exc:
            report(f"handler {self.name!r}", exc)
            from .fallback import write_to_fallback

            write_to_fallback(self, [record], f"{type(exc).__name__}: {exc}")

    def handle_batch(self, records: Sequence[LogRecord]) -> Optional[int]:
        """Filter, format and write several records with one transport call.

        Returns the number of characters written (for metrics), if known.
        """
        filters = self.filters
        if filters:
            records = [r for r in records if all(f(r) for f in filters)]
        try:  # the formatter directly: one Python call less per record
            fast = self._format
            lines = [fast(r) for r in records]
        except Exception:  # redo record by record, so only the bad one falls back
            fmt = self.format
            lines = [fmt(r) for r in records]
        if not lines:
            return 0
        self.write_lines(lines)
        return sum(map(len, lines)) + len(lines)

    def format(self, record: LogRecord) -> str:
        """The formatted line; a failing formatter falls back to the text format."""
        try:
            return self._format(record)
        except Exception as exc:
            from ..serialize import defuse_record

            if defuse_record(record):  # an int too long for str(): retry with it marked
                try:
                    return self._format(record)
                except Exception:
                    pass
            report(f"formatter of handler {self.name!r}", exc)
            from ..formatters.text import TextFormatter

            return TextFormatter().format(record)

    # -- the transport -------------------------------------------------------------
    def write(self, line: str) -> None:
        """Write one formatted line (no trailing newline)."""
        self.write_lines([line])

    def write_lines(self, lines: List[str]) -> None:
        """Write formatted lines; subclasses implement this."""
        raise NotImplementedError

    def flush(self) -> None:
        """Push buffered output to its destination."""

    def close(self) -> None:
        """Flush and release resources. Called when a configuration replaces the handler."""
        self.closed = True

    def after_fork(self) -> None:
        """Called in a forked child: replace any lock another thread may have held."""

    # -- monitoring ------------------------------------------------------------------
    def health(self) -> Dict[str, Any]:
        """This handler's own view of its health, merged into :func:`micktrace.health`.

        The dispatcher already tracks failures, drops and the circuit of every
        handler; a handler with state of its own (a network handler's circuit,
        a file handler's last rotation error) adds it here."""
        return {}

    def metrics(self) -> Dict[str, Any]:
        """Counters of this handler's own, merged into :func:`micktrace.metrics`."""
        return {}

    @property
    def needs_caller(self) -> bool:
        """True when the formatter shows the caller's file and line."""
        return bool(getattr(self.formatter, "needs_caller", False))

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r} level={self.level}>"


class CallableHandler(Handler):
    """Wraps a callable that takes a :class:`LogRecord`."""

    counts_written = False

    def __init__(self, fn: Callable[[LogRecord], Any], **kwargs: Any) -> None:
        kwargs.setdefault("name", getattr(fn, "__name__", None) or repr(fn))
        super().__init__(**kwargs)
        self.fn = fn

    def handle(self, record: LogRecord) -> None:
        for accept in self.filters:
            if not accept(record):
                return
        self.fn(record)

    def handle_batch(self, records: Sequence[LogRecord]) -> Optional[int]:
        for record in records:
            self.handle(record)
        return None

    def write_lines(self, lines: List[str]) -> None:  # pragma: no cover - not used
        raise TypeError("a callable handler receives records, not lines")


class ObjectHandler(CallableHandler):
    """Wraps any object with a ``handle(record)`` method (and optional
    ``flush()``, ``close()`` and ``level``)."""

    def __init__(self, obj: Any, **kwargs: Any) -> None:
        kwargs.setdefault("name", type(obj).__name__)
        if "level" not in kwargs and isinstance(getattr(obj, "level", None), int):
            kwargs["level"] = int(obj.level)
        super().__init__(obj.handle, **kwargs)
        self.obj = obj

    def flush(self) -> None:
        fn = getattr(self.obj, "flush", None)
        if callable(fn):
            fn()

    def close(self) -> None:
        fn = getattr(self.obj, "close", None)
        if callable(fn):
            fn()
        super().close()
