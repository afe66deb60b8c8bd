"""Rotation for the file handler: when to rotate, what rotated files are called,
which ones to keep, compressing them off the hot path, and the lock that lets
several processes share one log file.

Imported only by a :class:`~micktrace.handlers.file.FileHandler` that rotates,
retains or compresses, so a plain file handler (and ``import micktrace``) never
pays for it.
"""

from __future__ import annotations

import datetime as _dt
import importlib
import json
import mmap
import os
import re
import threading
import time
from typing import Any, Callable, Dict, List, Optional, Tuple

from .. import _state
from ..errors import ConfigError, MissingExtraError
from .file import open_file

try:
    import fcntl as _fcntl
except ImportError:  # pragma: no cover - Windows: rotation is safe within one process only
    _fcntl = None  # type: ignore[assignment]

# ---------------------------------------------------------------------------
# parsing the options

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
RETENTION_ALLOWED = (
    'a number of rotated files to keep ("10 files" or an int), a maximum age ("14 days", '
    '"12 hours", "2 weeks" or a datetime.timedelta), or a list of these'
)

#: compression name -> file extension of the compressed file
COMPRESSIONS: Dict[str, str] = {"gz": ".gz", "bz2": ".bz2", "xz": ".xz", "lz4": ".lz4", "zstd": ".zst"}
_COMPRESSION_ALIASES = {"gzip": "gz", "zst": "zstd", "zstandard": "zstd", "lzma": "xz", "bzip2": "bz2"}

_NUMBER_UNIT = re.compile(r"^(\d+(?:\.\d+)?)\s*([a-z]+)$")
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
    match = _NUMBER_UNIT.match(text)
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
    match = _NUMBER_UNIT.match(head)
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
            match = _NUMBER_UNIT.match(" ".join(item.strip().lower().split()))
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


def parse_compression(value: Any, key: str = "compression") -> str:
    """The canonical compression name; its library must be importable."""
    name = value.strip().lower() if isinstance(value, str) else ""
    name = _COMPRESSION_ALIASES.get(name, name)
    if name not in COMPRESSIONS:
        raise ConfigError(key, value, 'None, "gz", "bz2", "xz", "lz4" or "zstd"')
    _compressor_factory(name)  # a missing extra is reported at configure time, not at the first rotation
    return str(name)


# ---------------------------------------------------------------------------
# compression


class _Stream:
    """The two calls every compressor library offers, under one name."""

    def __init__(self, compress: Callable[[bytes], bytes], finish: Callable[[], bytes], header: bytes = b"") -> None:
        self.compress = compress
        self.finish = finish
        self.header = header


def _compressor_factory(name: str) -> Callable[[], _Stream]:
    if name == "gz":
        import zlib

        def gz() -> _Stream:
            obj = zlib.compressobj(6, zlib.DEFLATED, 31)  # wbits 31: a gzip member, readable by gzip/zcat
            return _Stream(obj.compress, obj.flush)

        return gz
    if name == "bz2":
        import bz2

        def bz() -> _Stream:
            obj = bz2.BZ2Compressor()
            return _Stream(obj.compress, obj.flush)

        return bz
    if name == "xz":
        import lzma

        def xz() -> _Stream:
            obj = lzma.LZMACompressor(format=lzma.FORMAT_XZ)
            return _Stream(obj.compress, obj.flush)

        return xz
    if name == "lz4":
        try:
            lz4_frame: Any = importlib.import_module("lz4.frame")
        except ImportError:
            raise MissingExtraError("lz4 compression of rotated log files", "performance", "lz4") from None

        def lz4() -> _Stream:
            obj: Any = lz4_frame.LZ4FrameCompressor()
            return _Stream(obj.compress, obj.flush, obj.begin())

        return lz4
    try:
        zstandard: Any = importlib.import_module("zstandard")
    except ImportError:
        raise MissingExtraError("zstd compression of rotated log files", "performance", "zstandard") from None

    def zstd() -> _Stream:
        obj: Any = zstandard.ZstdCompressor().compressobj()
        return _Stream(obj.compress, obj.flush)

    return zstd


# ---------------------------------------------------------------------------
# the inter-process lock


def _lock_path(path: str) -> str:
    directory, base = os.path.split(path)
    return os.path.join(directory, f".{base}.lock")


#: bytes of the lock file holding the state: a 20-digit generation, then JSON, space-padded
STATE_SIZE = 256
_GEN_DIGITS = 20


class FileLock:
    """An ``flock`` on a hidden sidecar file (``.app.log.lock``) shared by every
    process writing ``app.log``: writers hold it shared, rotation holds it
    exclusive.

    The file also holds the state of the current log file: a generation number
    that every rotation increments, then the inode and start time of the file
    rotated into place (so a process that reopens after another one rotated
    knows when that file began). Writers map it into memory and compare the
    generation before each write: a change means "someone rotated, reopen",
    found without a system call.

    ``flock`` locks belong to an open file description, which a forked child
    shares with its parent; so each process opens its own (checked by pid).
    """

    def __init__(self, path: str, permissions: int) -> None:
        self.path = _lock_path(path)
        self.permissions = permissions
        self._fd = -1
        self._pid = 0
        self._map: Optional[mmap.mmap] = None

    def _fileno(self) -> int:
        if self._fd < 0 or self._pid != _state.pid:
            self.close()  # in a forked child: the parent's description, whose lock is the parent's
            fd = open_file(self.path, os.O_RDWR, self.permissions)
            try:
                if os.fstat(fd).st_size < STATE_SIZE:
                    os.ftruncate(fd, STATE_SIZE)  # only ever grows, so racing processes agree
                self._map = mmap.mmap(fd, STATE_SIZE, access=mmap.ACCESS_READ)
            except (OSError, ValueError):
                self._map = None  # read with pread instead
            self._fd = fd
            self._pid = _state.pid
        return self._fd

    def shared(self) -> None:
        fd = self._fileno()
        if _fcntl is not None:
            _fcntl.flock(fd, _fcntl.LOCK_SH)

    def exclusive(self) -> None:
        for _ in range(3):
            fd = self._fileno()
            if _fcntl is None:
                return
            _fcntl.flock(fd, _fcntl.LOCK_EX)
            if self._same_file():
                return
            # the lock file was removed (or its directory made anew): a lock on
            # the orphaned inode excludes nobody, so take the one at the path
            _fcntl.flock(fd, _fcntl.LOCK_UN)
            self.close()

    def _same_file(self) -> bool:
        try:
            st = os.stat(self.path)
            mine = os.fstat(self._fd)
        except FileNotFoundError:
            return False
        return (st.st_ino, st.st_dev) == (mine.st_ino, mine.st_dev)

    def refresh_shared(self) -> None:
        """While holding the shared lock: if the lock file was replaced, move
        our shared lock to the one at the path."""
        if _fcntl is None or self._fd < 0 or self._same_file():
            return
        self.release()
        self.close()
        self.shared()

    def release(self) -> None:
        if _fcntl is not None and self._fd >= 0:
            _fcntl.flock(self._fd, _fcntl.LOCK_UN)

    def generation(self) -> bytes:
        """Changes with every rotation. Call with the lock held."""
        if self._map is not None:
            return self._map[:_GEN_DIGITS]
        return os.pread(self._fileno(), _GEN_DIGITS, 0)

    def read_state(self) -> Dict[str, Any]:
        try:
            raw = os.pread(self._fileno(), STATE_SIZE, 0)
            text = raw[_GEN_DIGITS:].decode("ascii").replace("\x00", "").strip()
            state = json.loads(text) if text else {}
            return state if isinstance(state, dict) else {}
        except (OSError, ValueError):
            return {}

    def write_state(self, state: Dict[str, Any]) -> None:
        """Store *state* and move the generation on. Call with the lock exclusive."""
        fd = self._fileno()
        try:
            generation = int(os.pread(fd, _GEN_DIGITS, 0).decode("ascii"))
        except ValueError:
            generation = 0
        body = json.dumps(state, sort_keys=True)
        data = f"{(generation + 1) % 10**_GEN_DIGITS:0{_GEN_DIGITS}d}{body}".encode("ascii")
        os.pwrite(fd, data.ljust(STATE_SIZE), 0)

    def close(self) -> None:
        if self._map is not None:
            try:
                self._map.close()
            except (OSError, ValueError, BufferError):
                pass
            self._map = None
        if self._fd >= 0:
            try:
                os.close(self._fd)
            except OSError:
                pass
            self._fd = -1


# ---------------------------------------------------------------------------
# rotated file names

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
        _remove_if_stale(os.path.join(names.directory, name))
    for stamp, name, _, _ in entries:
        if stamp in doomed:
            try:
                os.unlink(os.path.join(names.directory, name))
                removed.append(name)
            except FileNotFoundError:
                pass
    return removed


#: a compressor's temporary file untouched this long belongs to a compressor that died
STALE_AFTER = 600.0


def _remove_if_stale(path: str) -> bool:
    """Remove *path* if it has not been written for STALE_AFTER seconds."""
    try:
        if time.time() - os.stat(path).st_mtime > STALE_AFTER:
            os.unlink(path)
            return True
    except FileNotFoundError:
        return True
    return False


class Compressor:
    """Compresses rotated files in a daemon thread, started on the first
    rotation and ended when there is nothing left to do.

    Each run compresses every rotated file still uncompressed (oldest first),
    so a file left behind by a process that died mid-way is picked up by the
    next rotation anywhere. Several processes may try the same file: the
    temporary output is created with ``O_EXCL`` (one wins, the others skip),
    and the swap (``rename`` temp -> ``.gz``, ``unlink`` original) happens
    under the exclusive lock, after checking that retention has not removed
    the original meanwhile.
    """

    CHUNK = 1 << 20

    def __init__(
        self,
        names: RotatedNames,
        method: str,
        permissions: int,
        log_path: str,
        fsync: bool,
        on_error: Callable[[BaseException], None],
    ) -> None:
        self.names = names
        self.method = method
        self.extension = COMPRESSIONS[method]
        self.make_stream = _compressor_factory(method)
        self.permissions = permissions
        self.log_path = log_path
        self.fsync = fsync
        self.on_error = on_error
        self.compressed = 0
        self._init_runtime()

    def _init_runtime(self) -> None:
        self._cond = threading.Condition(threading.Lock())
        self._pending = False
        self._thread: Optional[threading.Thread] = None

    def after_fork(self) -> None:
        self._init_runtime()  # the parent's thread did not come along

    def request(self) -> None:
        """Compress whatever is uncompressed, soon, in the background."""
        with self._cond:
            self._pending = True
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="micktrace-compress", daemon=True)
                self._thread.start()

    def wait(self, timeout: Optional[float] = None) -> bool:
        """Wait until every requested compression is done; False on timeout."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            while self._pending or self._thread is not None:
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    return False
                self._cond.wait(remaining)
        return True

    def _run(self) -> None:
        while True:
            with self._cond:
                if not self._pending:
                    self._thread = None
                    self._cond.notify_all()
                    return
                self._pending = False
            try:
                self.compress_pending()
            except Exception as exc:
                self.on_error(exc)

    def compress_pending(self) -> None:
        for _, name, ext, temp in self.names.scan():
            if ext or temp:
                continue
            try:
                self._compress_one(os.path.join(self.names.directory, name))
            except Exception as exc:
                self.on_error(exc)

    def _compress_one(self, source: str) -> None:
        target = source + self.extension
        temp = f"{target}.{os.getpid()}.tmp"
        if self._claimed_elsewhere(target):
            return
        try:
            src = os.open(source, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
        except FileNotFoundError:
            return  # retention or another process got there first
        try:
            try:
                out = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), 0o600)
            except FileExistsError:
                return  # another compressor of this process has it
            done = False
            try:
                os.fchmod(out, self.permissions)
                stream = self.make_stream()
                chunks = [stream.header] if stream.header else []
                while True:
                    data = os.read(src, self.CHUNK)
                    if not data:
                        break
                    chunks.append(stream.compress(data))
                    _write_all(out, b"".join(chunks))
                    chunks = []
                _write_all(out, b"".join([*chunks, stream.finish()]))
                if self.fsync:
                    os.fsync(out)
                done = True
            finally:
                os.close(out)
                if not done:  # disk full, a read error: leave the original as it is
                    os.unlink(temp)
        finally:
            os.close(src)
        self._swap(source, temp, target)

    def _claimed_elsewhere(self, target: str) -> bool:
        """True if another live compressor is working on *target* right now."""
        prefix = os.path.basename(target) + "."
        for name in os.listdir(self.names.directory):
            if name.startswith(prefix) and name.endswith(".tmp"):
                if not _remove_if_stale(os.path.join(self.names.directory, name)):
                    return True
        return False

    def _swap(self, source: str, temp: str, target: str) -> None:
        lock = FileLock(self.log_path, self.permissions)
        lock.exclusive()
        try:
            if os.path.exists(source):
                os.replace(temp, target)
                os.unlink(source)
                self.compressed += 1
            else:
                os.unlink(temp)  # retention removed the original while we worked
        finally:
            lock.release()
            lock.close()


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]
