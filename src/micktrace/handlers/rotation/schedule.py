"""When a log file rotates: the ``rotation`` option parsed into a size limit and
clock-aligned :class:`Schedule` objects, and the units both are written in
(shared with the ``retention`` option).

May import the standard library and :mod:`micktrace.errors`; nothing else of
micktrace.
"""

from __future__ import annotations

import datetime as _dt
import re
from typing import Any, Dict, List, Optional, Tuple

from ...errors import ConfigError

SIZE_UNITS: Dict[str, int] = {
    "b": 1,
    "byte": 1,
    "bytes": 1,
    "kb": 1000,
    "mb": 1000**2,
    "gb": 1000**3,
    "tb": 1000**4,
    "kib": 1024,
    "mib": 1024**2,
    "gib": 1024**3,
    "tib": 1024**4,
}

DAY = 86400.0
WEEK = 7 * DAY
TIME_UNITS: Dict[str, float] = {}
for _names, _seconds in (
    (("s", "sec", "secs", "second", "seconds"), 1.0),
    (("min", "mins", "minute", "minutes"), 60.0),
    (("h", "hr", "hrs", "hour", "hours"), 3600.0),
    (("d", "day", "days"), DAY),
    (("w", "week", "weeks"), WEEK),
):
    for _name in _names:
        TIME_UNITS[_name] = _seconds

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")

ROTATION_ALLOWED = (
    'a size ("100 MB", "512 KiB", or an int of bytes), a time ("daily", "hourly", "weekly", '
    '"00:00", "daily at 04:30", "monday at 12:00", "6 hours", "1 week", a datetime.time or '
    "a datetime.timedelta), or a list of these (the file rotates when any of them is reached)"
)

#: a number and a unit: "100 mb", "14 days", "10 files"
NUMBER_UNIT = re.compile(r"^(\d+(?:\.\d+)?)\s*([a-z]+)$")
_CLOCK_TIME = re.compile(r"^(\d{1,2}):(\d{2})(?::(\d{2}))?$")


class Schedule:
    """Rotation times aligned to the clock, so that every process writing the
    same file computes the same rotation points without talking to the others.

    * ``interval`` (less than a day): at local midnight and every ``interval``
      seconds after it; the count restarts at each midnight.
    * ``days``: every ``days`` days at ``at`` (days counted from 0001-01-01,
      so "2 days" means every other day, the same days in every process).
    * ``weeks``: on ``weekday`` at ``at``, every ``weeks`` weeks.
    """

    def __init__(
        self,
        interval: Optional[float] = None,
        days: Optional[int] = None,
        weeks: Optional[int] = None,
        weekday: int = 0,
        at: _dt.time = _dt.time(0, 0),
        utc: bool = False,
        text: str = "",
    ) -> None:
        self.interval = interval
        self.days = days
        self.weeks = weeks
        self.weekday = weekday
        self.at = at
        self.utc = utc
        self.text = text

    def __repr__(self) -> str:
        return f"Schedule({self.text!r})"

    def _datetime(self, t: float) -> _dt.datetime:
        if self.utc:
            return _dt.datetime.fromtimestamp(t, _dt.timezone.utc)
        return _dt.datetime.fromtimestamp(t)

    def _timestamp(self, day: _dt.date, at: _dt.time) -> float:
        tz = _dt.timezone.utc if self.utc else None
        return _dt.datetime.combine(day, at, tzinfo=tz).timestamp()

    def next_after(self, t: float) -> float:
        """The first rotation time strictly after *t* (seconds since the epoch)."""
        today = self._datetime(t).date()
        if self.interval is not None:
            midnight = self._timestamp(today, _dt.time(0, 0))
            steps = int((t - midnight) // self.interval) + 1
            candidate = midnight + steps * self.interval
            next_midnight = self._timestamp(today + _dt.timedelta(days=1), _dt.time(0, 0))
            if candidate <= t:  # a day shortened by a DST change
                candidate = next_midnight
            return min(candidate, next_midnight)
        period = self.days or 1
        for offset in range(0, 7 * (self.weeks or 1) + period + 2):
            day = today + _dt.timedelta(days=offset)
            if self.weeks is not None:
                if day.weekday() != self.weekday or (day.toordinal() // 7) % self.weeks:
                    continue
            elif day.toordinal() % period:
                continue
            candidate = self._timestamp(day, self.at)
            if candidate > t:
                return candidate
        # unreachable for sane calendars; never stop rotating because of one
        return t + (self.interval or period * DAY)


def parse_size(text: str) -> Optional[int]:
    """Bytes for ``"100 MB"``, ``"10 MiB"``, ``"500kb"``; None if *text* is not a size."""
    match = NUMBER_UNIT.match(text)
    if not match or match.group(2) not in SIZE_UNITS:
        return None
    return int(float(match.group(1)) * SIZE_UNITS[match.group(2)])


def _parse_clock_time(text: str) -> Optional[_dt.time]:
    match = _CLOCK_TIME.match(text)
    if not match:
        return None
    hour, minute, second = int(match.group(1)), int(match.group(2)), int(match.group(3) or 0)
    if hour > 23 or minute > 59 or second > 59:
        return None
    return _dt.time(hour, minute, second)


def _schedule_for_interval(seconds: float, utc: bool, text: str) -> Optional[Schedule]:
    if seconds < 1:
        return None
    if seconds < DAY:
        return Schedule(interval=seconds, utc=utc, text=text)
    if seconds % WEEK == 0:
        return Schedule(weeks=int(seconds // WEEK), utc=utc, text=text)
    if seconds % DAY == 0:
        return Schedule(days=int(seconds // DAY), utc=utc, text=text)
    return None  # "36 hours": no clock-aligned meaning


def parse_schedule(text: str, utc: bool = False) -> Optional[Schedule]:
    """A :class:`Schedule` for a time rotation string; None if it is not one."""
    named = {
        "daily": Schedule(days=1, utc=utc, text=text),
        "midnight": Schedule(days=1, utc=utc, text=text),
        "hourly": Schedule(interval=3600.0, utc=utc, text=text),
        "minutely": Schedule(interval=60.0, utc=utc, text=text),
        "weekly": Schedule(weeks=1, utc=utc, text=text),
    }
    if text in named:
        return named[text]
    at_time: Optional[_dt.time] = None
    head = text
    if " at " in f" {text}":
        head, _, tail = f" {text}".rpartition(" at ")
        head = head.strip()
        at_time = _parse_clock_time(tail.strip())
        if at_time is None:
            return None
    elif _parse_clock_time(text) is not None:
        return Schedule(days=1, at=_parse_clock_time(text) or _dt.time(0, 0), utc=utc, text=text)
    at = at_time or _dt.time(0, 0)
    if head in ("daily", "every day") or (head == "" and at_time is not None):
        return Schedule(days=1, at=at, utc=utc, text=text)
    if head in WEEKDAYS or head == "weekly":
        weekday = WEEKDAYS.index(head) if head in WEEKDAYS else 0
        return Schedule(weeks=1, weekday=weekday, at=at, utc=utc, text=text)
    if at_time is not None:
        return None
    match = NUMBER_UNIT.match(head)
    if match and match.group(2) in TIME_UNITS:
        return _schedule_for_interval(float(match.group(1)) * TIME_UNITS[match.group(2)], utc, text)
    return None


def parse_rotation(value: Any, utc: bool = False, key: str = "rotation") -> Tuple[Optional[int], List[Schedule]]:
    """``(max_bytes, schedules)`` for the ``rotation`` option; ConfigError if invalid."""
    items = list(value) if isinstance(value, (list, tuple)) else [value]
    if not items:
        raise ConfigError(key, value, ROTATION_ALLOWED)
    max_bytes: Optional[int] = None
    schedules: List[Schedule] = []
    for item in items:
        size: Optional[int] = None
        schedule: Optional[Schedule] = None
        if isinstance(item, bool):
            pass
        elif isinstance(item, int):
            size = item
        elif isinstance(item, str):
            text = " ".join(item.strip().lower().split())
            size = parse_size(text)
            if size is None:
                schedule = parse_schedule(text, utc)
        elif isinstance(item, _dt.timedelta):
            schedule = _schedule_for_interval(item.total_seconds(), utc, str(item))
        elif isinstance(item, _dt.time):
            schedule = Schedule(days=1, at=item.replace(tzinfo=None), utc=utc, text=str(item))
        if size is not None and size > 0:
            max_bytes = size if max_bytes is None else min(max_bytes, size)
        elif schedule is not None:
            schedules.append(schedule)
        else:
            raise ConfigError(key, item, ROTATION_ALLOWED)
    return max_bytes, schedules
