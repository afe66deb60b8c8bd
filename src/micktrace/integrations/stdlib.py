"""stdlib ``logging`` into micktrace, and micktrace's formats for stdlib.

* :class:`StdlibHandler`: a :class:`logging.Handler` that feeds stdlib records
  into micktrace's pipeline (context, processors such as masking, levels,
  handlers, ``capture_logs``). Usable from ``dictConfig``.
* :func:`intercept_stdlib` (or ``configure(capture_stdlib=True)``): puts one
  on the root logger so every stdlib record goes through micktrace, and
  returns a handle whose ``undo()`` restores the stdlib state it found.
* :class:`StdlibFormatter`: a :class:`logging.Formatter` that renders stdlib
  records as micktrace's JSON, logfmt or text.

The other direction (micktrace records into stdlib) is in
:mod:`micktrace.integrations.stdlib_out`.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any, Dict, Optional

from .. import _state
from .._report import report
from ..formatters import formatter_for
from ..handlers.stdlib_forward import RECORD_ATTR, StdlibForwardHandler, StdlibRecord, stdlib_configured, to_stdlib
from ..stdlib_capture import (
    PRESENTATION_ATTRS,
    SERVER_ERROR_LOGGERS,
    StdlibHandler,
    StdlibInterception,
    active_interception,
    apply_capture_setting,
    folded_server_errors,
    from_stdlib,
    intercept_stdlib,
    submit,
)

if TYPE_CHECKING:
    from ..record import LogRecord

class StdlibFormatter(logging.Formatter):
    """A :class:`logging.Formatter` that writes micktrace's formats.

    ``dictConfig`` accepts both ``{"()": "micktrace.StdlibFormatter", "format":
    "json"}`` and ``{"class": "micktrace.StdlibFormatter", "format": "logfmt"}``.
    A record micktrace forwarded to stdlib is rendered from the original
    micktrace record; a native stdlib record is converted like
    :class:`StdlibHandler` does, with the micktrace context of the thread that
    formats it (the logging thread, for stdlib's synchronous handlers).

    Args:
        format: ``"json"`` (default), ``"logfmt"``, ``"text"`` or ``"structured"``.
        datefmt, style, validate, defaults: accepted for ``dictConfig``'s
            ``"class"`` form and ignored (micktrace's formats fix the layout).
        caller: include the caller's file and line.
    """

    def __init__(
        self,
        format: Optional[str] = "json",
        datefmt: Optional[str] = None,
        style: str = "%",
        validate: bool = True,
        *,
        defaults: Optional[Dict[str, Any]] = None,
        caller: bool = False,
    ) -> None:
        super().__init__()
        self.format_name = format or "json"
        self.inner = formatter_for(self.format_name, "StdlibFormatter.format")
        self.caller = caller

    def format(self, record: logging.LogRecord) -> str:
        original = record.__dict__.get(RECORD_ATTR)
        try:
            if original is not None:
                return self.inner.format(original)  # already went through the processors
            cfg = _state.current()
            mrec: Optional[LogRecord] = from_stdlib(record, caller=self.caller)
            # masking and the other processors, as for any micktrace record
            for processor in cfg.processors:
                mrec = processor(mrec)  # type: ignore[arg-type]
                if mrec is None:
                    return ""
            return self.inner.format(mrec)  # type: ignore[arg-type]
        except Exception as exc:
            report("StdlibFormatter", exc)
            return super().format(record)


__all__ = [
    "PRESENTATION_ATTRS",
    "SERVER_ERROR_LOGGERS",
    "StdlibForwardHandler",
    "StdlibFormatter",
    "StdlibHandler",
    "StdlibInterception",
    "StdlibRecord",
    "active_interception",
    "apply_capture_setting",
    "folded_server_errors",
    "from_stdlib",
    "intercept_stdlib",
    "stdlib_configured",
    "submit",
    "to_stdlib",
]
