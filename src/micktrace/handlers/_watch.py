"""Noticing that a log file was moved or deleted underneath the handler
(logrotate's move-and-create, or a plain ``rm``), so that it reopens the path:
the ``watch`` interval and the check that the path still names the open file.
Also the parsing of the handler's interval options (``watch``, ``fsync``).

May import the standard library and :mod:`micktrace.errors`.
"""

from __future__ import annotations

import os
import time
from typing import Any, Optional, Tuple

from ..errors import ConfigError

#: with ``watch=True``: seconds between checks that the path still names the open file
WATCH_INTERVAL = 1.0


class Watch:
    """When the next check is due. Before every batch (cheap per record) and at
    most once per *every* seconds for single records (a ``stat`` costs more
    than the write itself); never if *every* is None."""

    __slots__ = ("_next", "every")

    def __init__(self, every: Optional[float]) -> None:
        self.every = every
        self._next = 0.0

    def due(self, batch: bool) -> bool:
        if self.every is None:
            return False
        now = time.monotonic()
        if batch or now >= self._next:
            self._next = now + self.every
            return True
        return False


def names_file(path: str, ident: Optional[Tuple[int, int]]) -> bool:
    """True if *path* is the file *ident* (``(inode, device)``) of the open
    descriptor; False if the path is gone or is another file now."""
    try:
        st = os.stat(path)
    except (FileNotFoundError, NotADirectoryError):
        return False
    except OSError:
        return True  # cannot tell (the directory lost its search permission): keep the open file
    return (st.st_ino, st.st_dev) == ident


def seconds_option(key: str, value: Any, allow_zero: bool, true_means: float) -> Optional[float]:
    """``True`` -> *true_means*, ``False`` -> None (never), a number -> itself."""
    if value is True:
        return true_means
    if value is False or value is None:
        return None
    if isinstance(value, (int, float)) and (value > 0 or (allow_zero and value == 0)):
        return float(value)
    allowed = "True, False, or seconds between checks (a number >= 0)"
    if key == "fsync":
        allowed = "False (leave it to the OS), True (after every write), or seconds between syncs (> 0)"
    raise ConfigError(key, value, allowed)
