"""The optional compiled speedup (micktrace._speedups) and the switch that turns it off.

``encode_record`` is :func:`micktrace._speedups.encode_record` when the extension
was built and ``MICKTRACE_NO_SPEEDUPS`` is unset, empty or ``"0"``; otherwise it is
None and callers use the pure-Python path. The variable is read once, at import.
"""

from __future__ import annotations

import os
from typing import Callable, Optional

ENV_NO_SPEEDUPS = "MICKTRACE_NO_SPEEDUPS"


def _disabled() -> bool:
    flag = os.environ.get(ENV_NO_SPEEDUPS, "")
    return flag != "" and flag != "0"


def _load() -> Optional[Callable[..., Optional[bytes]]]:
    if _disabled():
        return None
    try:
        from ._speedups import encode_record as fast
    except ImportError:  # not built (no compiler, or a pure-Python install)
        return None
    return fast


#: The C encoder, or None when unavailable or disabled. See micktrace/_speedups.c:
#: ``encode_record(time_ns, level, logger, message, static, context, data, reserved)``
#: returns the JSON line as bytes, or None when the record needs the Python path.
encode_record: Optional[Callable[..., Optional[bytes]]] = _load()


def available() -> bool:
    """True when the compiled encoder is loaded and enabled."""
    return encode_record is not None
