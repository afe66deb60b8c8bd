"""What rotated files are called: ``app.log`` becomes
``app.2024-05-01_00-00-00_000000.log``, then ``.log.gz`` once compressed, and
names always sort in rotation order. Also the table of compressed-file
extensions, since they are part of the names.

May import only the standard library.
"""

from __future__ import annotations

import datetime as _dt
import os
import re
from typing import Dict, List, Tuple

#: compression name -> file extension of the compressed file
COMPRESSIONS: Dict[str, str] = {"gz": ".gz", "bz2": ".bz2", "xz": ".xz", "lz4": ".lz4", "zstd": ".zst"}

STAMP_FORMAT = "%Y-%m-%d_%H-%M-%S_%f"
_STAMP_RE = r"\d{4}-\d{2}-\d{2}_\d{2}-\d{2}-\d{2}_\d{6}"


class RotatedNames:
    """``app.log`` rotates to ``app.2024-05-01_00-00-00_000000.log`` (then
    ``.log.gz`` once compressed): the stem, the rotation time to the
    microsecond, the suffix. Names sort in rotation order: a new name is always
    later than every existing one (if the clock went back, or two rotations fall
    in one microsecond, the stamp is moved one microsecond past the latest)."""

    def __init__(self, path: str, utc: bool) -> None:
        self.directory, base = os.path.split(path)
        self.stem, self.suffix = os.path.splitext(base)
        self.utc = utc
        extensions = "|".join(re.escape(ext) for ext in COMPRESSIONS.values())
        self._pattern = re.compile(
            rf"^{re.escape(self.stem)}\.({_STAMP_RE}){re.escape(self.suffix)}({extensions})?(\.\d+\.tmp)?$"
        )

    def scan(self) -> List[Tuple[str, str, str, bool]]:
        """``(stamp, file name, compression extension, is_temporary)`` of every
        rotated file in the directory, oldest first."""
        found = []
        for name in os.listdir(self.directory):
            match = self._pattern.match(name)
            if match:
                found.append((match.group(1), name, match.group(2) or "", bool(match.group(3))))
        found.sort()
        return found

    def stamp_time(self, stamp: str) -> float:
        moment = _dt.datetime.strptime(stamp, STAMP_FORMAT)
        if self.utc:
            moment = moment.replace(tzinfo=_dt.timezone.utc)
        return moment.timestamp()

    def new_name(self, when: float) -> str:
        tz = _dt.timezone.utc if self.utc else None
        moment = _dt.datetime.fromtimestamp(when, tz).replace(tzinfo=None)
        existing = self.scan()
        if existing:
            latest = _dt.datetime.strptime(existing[-1][0], STAMP_FORMAT)
            if moment <= latest:
                moment = latest + _dt.timedelta(microseconds=1)
        return os.path.join(self.directory, f"{self.stem}.{moment.strftime(STAMP_FORMAT)}{self.suffix}")
