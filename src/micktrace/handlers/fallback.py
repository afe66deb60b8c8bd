"""Where records go that a handler could not deliver.

Holds :func:`write_to_fallback`. The fallback is the handler given with
``configure(fallback=...)`` (kept in :mod:`micktrace._state`), else stderr in
the text format with the failing handler's name and, when known, the reason.
Every record put here is counted in the failing handler's ``fallback`` counter;
if the fallback itself fails, the records are counted as ``dropped`` and the
failure is reported once: nothing is lost silently.

May import: _state, _report, formatters.text, handlers.stats.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any, Optional, Sequence

from .. import _state
from .._report import report
from ..formatters.text import TextFormatter
from .stats import stats_of

if TYPE_CHECKING:
    from ..record import LogRecord


def write_to_fallback(handler: Any, records: Sequence[LogRecord], reason: Optional[str] = None) -> bool:
    """Put *records* that *handler* could not take on the fallback. True on success."""
    if not records:
        return True
    stats = stats_of(handler)
    fallback = _state.fallback
    try:
        if fallback is not None and fallback is not handler:
            fallback.handle_batch(records)
        else:
            stream = sys.stderr or sys.__stderr__
            if stream is None:
                raise OSError("no stderr to write the fallback to")
            name = getattr(handler, "name", type(handler).__name__)
            why = f" ({reason})" if reason else ""
            fmt = TextFormatter().format
            stream.write("".join(f"micktrace fallback [{name}]{why}: {fmt(r)}\n" for r in records))
            stream.flush()
        stats.add("fallback", len(records))
        return True
    except Exception as exc:  # the last resort failed: count, report, give up
        report("fallback handler", exc)
        stats.add("dropped", len(records))
        return False
