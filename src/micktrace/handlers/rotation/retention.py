"""Which rotated files are kept: the ``retention`` option parsed into a number
of files and a maximum age, and applying it after a rotation (also removing
temporary files of compressors that died).

May import the standard library, :mod:`micktrace.errors` and the sibling
modules ``schedule`` (units), ``naming`` and ``compression`` (stale temporaries).
"""

from __future__ import annotations

import datetime as _dt
import os
from typing import Any, List, Optional, Tuple

from ...errors import ConfigError
from .compression import remove_if_abandoned
from .naming import RotatedNames
from .schedule import NUMBER_UNIT, TIME_UNITS

RETENTION_ALLOWED = (
    'a number of rotated files to keep ("10 files" or an int), a maximum age ("14 days", '
    '"12 hours", "2 weeks" or a datetime.timedelta), or a list of these'
)


def parse_retention(value: Any, key: str = "retention") -> Tuple[Optional[int], Optional[float]]:
    """``(max_files, max_age_seconds)`` for the ``retention`` option."""
    items = list(value) if isinstance(value, (list, tuple)) else [value]
    if not items:
        raise ConfigError(key, value, RETENTION_ALLOWED)
    max_files: Optional[int] = None
    max_age: Optional[float] = None
    for item in items:
        files: Optional[int] = None
        age: Optional[float] = None
        if isinstance(item, bool):
            pass
        elif isinstance(item, int):
            files = item
        elif isinstance(item, _dt.timedelta):
            age = item.total_seconds()
        elif isinstance(item, str):
            match = NUMBER_UNIT.match(" ".join(item.strip().lower().split()))
            if match and match.group(2) in ("file", "files"):
                if "." not in match.group(1):
                    files = int(match.group(1))
            elif match and match.group(2) in TIME_UNITS:
                age = float(match.group(1)) * TIME_UNITS[match.group(2)]
        if files is not None and files >= 0:
            max_files = files if max_files is None else min(max_files, files)
        elif age is not None and age > 0:
            max_age = age if max_age is None else min(max_age, age)
        else:
            raise ConfigError(key, item, RETENTION_ALLOWED)
    return max_files, max_age


def apply_retention(names: RotatedNames, max_files: Optional[int], max_age: Optional[float], now: float) -> List[str]:
    """Delete the rotated files retention does not keep; the names deleted.
    Called under the exclusive lock, so it never races a compression finishing."""
    entries = [e for e in names.scan() if not e[3]]
    stamps = sorted({stamp for stamp, _, _, _ in entries}, reverse=True)  # newest first
    doomed = set()
    if max_files is not None:
        doomed.update(stamps[max_files:])
    if max_age is not None:
        for stamp in stamps:
            try:
                if now - names.stamp_time(stamp) > max_age:
                    doomed.add(stamp)
            except (ValueError, OverflowError):
                continue
    removed = []
    for _, name, _, _ in (e for e in names.scan() if e[3]):
        remove_if_abandoned(os.path.join(names.directory, name))
    for stamp, name, _, _ in entries:
        if stamp in doomed:
            try:
                os.unlink(os.path.join(names.directory, name))
                removed.append(name)
            except FileNotFoundError:
                pass
    return removed
