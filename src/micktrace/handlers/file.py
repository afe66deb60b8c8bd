"""The file handler: appends lines to a file (the record and batch paths and
the write itself), drives rotation, and stays correct with several threads and
processes writing the same path.

May import the standard library, :mod:`micktrace._report`,
:mod:`micktrace.errors`, :mod:`micktrace.record` (types only) and these modules of
:mod:`micktrace.handlers`: ``base``, ``fallback``, ``stats``, ``_encode``, ``_files``, ``_watch``,
``_fork`` and the ``rotation`` package (which never imports this module). The rotation package is imported
only by a handler that rotates, retains or compresses, so a plain file handler
(and ``import micktrace``) does not load it.

See docs/file-handler.md for the options and for how several processes rotate
one file exactly once without losing or duplicating a record.
"""

from __future__ import annotations

import bisect
import os
import threading
import time
from typing import TYPE_CHECKING, Any, Callable, List, Optional, Sequence, Tuple, Union

from .._report import report
from ..errors import ConfigError
from . import _fork
from ._encode import RecordEnds, encode_batch, line_ends
from ._files import PartialWriteError, append, fdatasync, open_file, write_all
from ._watch import WATCH_INTERVAL, Watch, names_file, seconds_option
from .base import Handler
from .fallback import write_to_fallback
from .stats import stats_of

if TYPE_CHECKING:
    from ..record import LogRecord
    from .rotation import Compressor, FileLock, RotatedNames, Schedule

PathLike = Union[str, "os.PathLike[str]"]

#: seconds a failed rotation waits before it is tried again (the records keep going to the current file)
ROTATION_RETRY = 5.0


class FileHandler(Handler):
    """Appends one line per record to *path* (UTF-8).

    The file is opened with ``O_APPEND`` and every record (or every batch, with
    background dispatch) is written with a single ``os.write`` call, so lines
    from several threads or processes writing the same file never interleave,
    and nothing sits in a user-space buffer if the process dies.

    Args:
        path: the file; its directory must exist (``filename=``, MickTrace 1.x's name, also works).
        mode: ``"a"`` (append, default) or ``"w"`` (truncate on open).
        permissions: mode bits of files this handler creates (the log file, the
            rotated and compressed files, the lock file); default ``0o640``,
            not world-readable. Applied exactly, whatever the umask.
        encoding_errors: how characters that cannot be encoded are written
            (default ``"backslashreplace"``: visible escapes, always valid UTF-8).
        rotation: when to start a new file: a size (``"100 MB"``), a time
            (``"daily"``, ``"hourly"``, ``"00:00"``, ``"1 week"``), or a list
            of these. Default: never.
        retention: which rotated files to keep: ``"10 files"`` (or an int),
            ``"14 days"``, or a list of both. Default: all.
        compression: ``"gz"``, ``"bz2"``, ``"xz"``, ``"lz4"`` or ``"zstd"``:
            rotated files are compressed by a background thread.
        watch: reopen the path when the file was moved or deleted underneath
            (logrotate): ``True`` (default) checks before every batch and at
            most once a second for single records (sync dispatch); a number
            sets that interval (``0``: before every write); ``False`` never.
        fsync: ``False`` (default: the OS writes back), ``True`` (after every
            write call: per batch in the background, per record in sync mode),
            or seconds between syncs. Every mode syncs on flush() and close().
        utc: rotation times and rotated file names in UTC instead of local time.
        clock: the wall clock for time rotation and retention by age
            (default ``time.time``); tests inject their own.
    """

    default_dispatch = "background"

    def __init__(
        self,
        path: Optional[PathLike] = None,
        mode: str = "a",
        permissions: int = 0o640,
        encoding_errors: str = "backslashreplace",
        rotation: Any = None,
        retention: Any = None,
        compression: Optional[str] = None,
        watch: Union[bool, float] = True,
        fsync: Union[bool, float] = False,
        utc: bool = False,
        clock: Optional[Callable[[], float]] = None,
        filename: Optional[PathLike] = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        path = path if path is not None else filename
        if not isinstance(path, (str, os.PathLike)) or not os.fspath(path):
            raise ConfigError("path", path, "a file path")
        if mode not in ("a", "w"):
            raise ConfigError("mode", mode, "'a' (append) or 'w' (truncate)")
        if not isinstance(permissions, int) or isinstance(permissions, bool) or not 0 <= permissions <= 0o7777:
            raise ConfigError("permissions", permissions, "file mode bits as an int, e.g. 0o640 or 0o600")
        import codecs

        try:
            codecs.lookup_error(encoding_errors)
        except (LookupError, TypeError):
            raise ConfigError(
                "encoding_errors", encoding_errors, "a codec error handler: backslashreplace, replace, ignore, strict"
            ) from None
        self._watch = Watch(seconds_option("watch", watch, allow_zero=True, true_means=WATCH_INTERVAL))
        self._sync_every = seconds_option("fsync", fsync, allow_zero=False, true_means=0.0)
        if not isinstance(utc, bool):
            raise ConfigError("utc", utc, "True or False")
        if clock is not None and not callable(clock):
            raise ConfigError("clock", clock, "a callable returning seconds since the epoch, like time.time")
        self.path = os.path.abspath(os.fspath(path))
        directory = os.path.dirname(self.path)

        self._max_bytes: Optional[int] = None
        self._schedules: List[Schedule] = []
        self._max_files: Optional[int] = None
        self._max_age: Optional[float] = None
        self._file_lock: Optional[FileLock] = None
        self._names: Optional[RotatedNames] = None
        self._compressor: Optional[Compressor] = None
        self.compression: Optional[str] = None
        if rotation is not None or retention is not None or compression is not None:
            # imported here, not at the top, so that a plain file handler never loads
            # the rotation package (there is no cycle: rotation never imports this module)
            from . import rotation as _rotation

            if rotation is None:
                key = "retention" if retention is not None else "compression"
                raise ConfigError(
                    key, retention if retention is not None else compression, "a value together with 'rotation'"
                )
            self._max_bytes, self._schedules = _rotation.parse_rotation(rotation, utc)
            if retention is not None:
                self._max_files, self._max_age = _rotation.parse_retention(retention)
            if compression is not None:
                self.compression = _rotation.parse_compression(compression)

        if not os.path.isdir(directory):
            raise ConfigError("path", os.fspath(path), f"a path whose directory exists ({directory!r} does not)")
        if os.path.isdir(self.path):
            raise ConfigError("path", os.fspath(path), "a file, not a directory")
        self.mode = mode
        self.permissions = permissions
        self.encoding_errors = encoding_errors
        self.rotation = rotation
        self.retention = retention
        self.watch = watch
        self.fsync = fsync
        self.utc = utc
        self._clock: Callable[[], float] = clock or time.time
        #: the last failure (``"OSError: ..."``) and when (``time.time()``), for health()
        self.last_error: Optional[str] = None
        self.last_error_time: Optional[float] = None
        #: failed writes, and rotations this handler performed (in this process)
        self.errors = 0
        self.rotations = 0

        self._lock = threading.Lock()
        self._fork_pid = os.getpid()
        self._fd = -1
        self._ident: Optional[Tuple[int, int]] = None
        self._rotate_at: Optional[float] = None
        self._generation = b""
        self._rotation_paused_until = 0.0
        self._next_sync = 0.0
        # a file whose last line a failed write cut short and could not take back
        self._torn_ident: Optional[Tuple[int, int]] = None

        if self._max_bytes is not None or self._schedules:
            from . import rotation as _rotation  # loaded only when rotating (see above)

            self._file_lock = _rotation.FileLock(self.path, permissions)
            self._names = _rotation.RotatedNames(self.path, utc)
            if self.compression is not None:
                self._compressor = _rotation.Compressor(
                    self._names, self.compression, permissions, self.path, bool(fsync), self._compression_failed
                )
            try:
                self._file_lock.shared()
                try:
                    self._open(truncate=mode == "w")
                finally:
                    self._file_lock.release()
            except BaseException:
                self._file_lock.close()
                raise
            if self._compressor is not None:
                self._compressor.resume()  # what an earlier process left uncompressed
        else:
            self._open(truncate=mode == "w")
        if not kwargs.get("name"):
            self.name = f"file:{self.path}"
        _fork.track(self)  # fresh locks in a forked child

    # -- opening ---------------------------------------------------------------------
    def _open(self, truncate: bool = False) -> None:
        flags = os.O_WRONLY | os.O_APPEND | (os.O_TRUNC if truncate else 0)
        fd = open_file(self.path, flags, self.permissions)
        try:
            st = os.fstat(fd)
        except OSError:
            os.close(fd)
            raise
        old, self._fd = self._fd, fd
        self._ident = (st.st_ino, st.st_dev)
        if old >= 0:
            try:
                os.close(old)
            except OSError:
                pass
        if self._file_lock is not None:
            self._generation = self._file_lock.generation()
        if self._schedules:
            self._rotate_at = self._next_rotation(st)

    def _next_rotation(self, st: os.stat_result) -> float:
        """The next rotation time of the file just opened, from when it began:
        recorded in the lock file by whoever rotated it into place; else, for
        a file that already has lines, its last write (a file left over from
        yesterday rotates at the first write today); else now."""
        now = self._clock()
        state = self._file_lock.read_state() if self._file_lock is not None else {}
        start = state.get("start")
        if state.get("ino") == st.st_ino and state.get("dev") == st.st_dev and isinstance(start, (int, float)):
            began = float(start)
        elif st.st_size == 0:
            began = now
        else:
            began = min(st.st_mtime, now)
        return self._schedule_after(began)

    def _schedule_after(self, t: float) -> float:
        return min(schedule.next_after(t) for schedule in self._schedules)

    def _path_is_current(self) -> bool:
        return names_file(self.path, self._ident)

    # -- writing -----------------------------------------------------------------------
    def write(self, line: str) -> None:
        self._write_bytes((line + "\n").encode("utf-8", self.encoding_errors), False, None)

    def write_lines(self, lines: List[str]) -> None:
        """Raises :class:`PartialWriteError` when only the first ``written`` lines
        made it into the file (whole); no part of the others is in it."""
        data = ("\n".join(lines) + "\n").encode("utf-8", self.encoding_errors)
        self._write_bytes(
            data, True, RecordEnds(data, len(lines), lambda: line_ends(lines, self.encoding_errors, len(data)))
        )

    def handle_batch(self, records: Sequence[LogRecord]) -> Optional[int]:
        """Format *records* and write them with one write call. If the disk
        fills up part-way, the records written stay in the file, whole, and
        the others go to the fallback: each record lands in exactly one place."""
        if self.filters:
            records = [r for r in records if all(f(r) for f in self.filters)]
        if not records:
            return 0
        data, ends, size = encode_batch(records, self._formatter, self._format, self.format, self.encoding_errors)
        try:
            self._write_bytes(data, True, ends)
        except PartialWriteError as exc:
            rest = records[exc.written :]
            stats_of(self).record_failure(exc)
            report(f"handler {self.name!r}", exc, f"{len(rest)} of {len(records)} records went to the fallback")
            write_to_fallback(self, rest, f"{type(exc.cause).__name__}: {exc.cause}")
            return exc.bytes
        return size

    def _write_bytes(self, data: bytes, batch: bool, ends: Optional[RecordEnds]) -> None:
        """Write *data*, whose records end where *ends* says (None: one record)."""
        with self._lock:
            if self._fd < 0 and self.closed:
                raise ValueError(f"handler {self.name!r} is closed")
            try:
                if self._file_lock is not None:
                    self._write_rotating(data, batch, ends)
                else:
                    if self._fd < 0 or (self._watch.due(batch) and not self._path_is_current()):
                        self._open()
                    if self._torn_ident is not None:
                        self._end_torn_line()
                    append(self._fd, data, 0, len(data), ends.all if ends is not None else None)
                self._after_write()
            except OSError as exc:
                self._note_error(exc)
                self._close_fd()  # reopen on the next write: the path may be fixed by then
                if isinstance(exc, PartialWriteError):
                    if exc.torn:  # the next write ends the fragment first, so its lines start intact
                        self._torn_ident = self._ident
                    if not exc.written:
                        raise exc.cause from None
                raise

    def _end_torn_line(self) -> None:
        if self._torn_ident == self._ident:
            write_all(self._fd, b"\n")
        self._torn_ident = None

    def _write_rotating(self, data: bytes, batch: bool, ends: Optional[RecordEnds]) -> None:
        # The exclusive lock covers check-and-write: a rotation can never slip
        # between them (no line lands in a file already rotated, compressed or
        # deleted), and the size seen is the size written to (files hold the limit).
        lock = self._file_lock
        assert lock is not None
        lock.exclusive(verify=False)
        try:
            if self._fd < 0 or lock.generation() != self._generation or self._watch.due(batch):
                self._reopen_if_moved(lock)  # another process rotated, or logrotate, or deleted
            stop = self._stop_for_this_file(data, 0, None)
            if stop == len(data):  # the common case: all of it into this file
                if self._torn_ident is not None:
                    self._end_torn_line()
                append(self._fd, data, 0, stop, ends.all if ends is not None else None)
            else:
                self._write_across(data, stop, ends, lock)
        finally:
            lock.release()

    def _write_across(self, data: bytes, stop: int, ends: Optional[RecordEnds], lock: FileLock) -> None:
        """Write *data* into as many files as the limit takes, rotating
        between them; *stop*: where the current file's share ends."""
        known = ends if ends is not None else RecordEnds(data, 1, lambda: [len(data)])
        if stop < 0:  # it does not all fit: where to split
            stop = self._stop_for_this_file(data, 0, known)
        pos, idle = 0, 0
        try:
            while pos < len(data):
                if stop == pos:  # nothing more goes into this file: rotate first
                    if idle < 3 and self._rotate(lock):
                        idle += 1
                        stop = self._stop_for_this_file(data, pos, known)
                        continue
                    stop = len(data)  # rotation failed: the rest goes on into this file
                if self._torn_ident is not None:
                    self._end_torn_line()
                append(self._fd, data, pos, stop, known.all)
                pos, idle = stop, 0
                stop = self._stop_for_this_file(data, pos, known) if pos < len(data) else pos
        except PartialWriteError:
            raise
        except OSError as exc:  # opening the new file failed: the records before it are written
            if pos:
                raise PartialWriteError(exc, bisect.bisect_right(known.all(), pos), pos, False) from exc
            raise

    def _stop_for_this_file(self, data: bytes, pos: int, ends: Optional[RecordEnds]) -> int:
        """How far into *data* the current file takes records (whole ones): to
        the end, or to the last record that keeps it within the size limit, or
        *pos* when it is time to rotate first; -1 when it does not all fit and
        *ends* (where the records end) is not given."""
        if self._rotation_paused_until and time.monotonic() < self._rotation_paused_until:
            return len(data)
        if self._rotate_at is not None and self._clock() >= self._rotate_at:
            return pos
        if self._max_bytes is None:
            return len(data)
        size = os.lseek(self._fd, 0, os.SEEK_END)  # every process's lines, not only ours
        room = self._max_bytes - size
        if len(data) - pos <= room:
            return len(data)
        if ends is None:
            return -1
        stop = ends.last_within(pos, pos + room)
        if stop == pos and size == 0:  # a record larger than the limit: a file of its own
            return ends.first_after(pos)
        return stop

    def _reopen_if_moved(self, lock: FileLock) -> None:
        if self._fd < 0 or not self._path_is_current():
            self._open()
            lock.refresh()
        self._generation = lock.generation()

    def _after_write(self) -> None:
        every = self._sync_every
        if every is not None:
            now = time.monotonic()
            if now >= self._next_sync:
                self._next_sync = now + every
                fdatasync(self._fd)

    # -- rotating ----------------------------------------------------------------------
    def _rotate(self, lock: FileLock) -> bool:
        """With the exclusive lock held: move the file aside and start a new
        one. False if that failed (retried ROTATION_RETRY seconds later)."""
        names = self._names
        assert names is not None
        try:
            st: Optional[os.stat_result] = os.stat(self.path)
        except (FileNotFoundError, NotADirectoryError):
            st = None
        if st is None or self._fd < 0 or (st.st_ino, st.st_dev) != self._ident:
            self._open()  # moved away underneath: the file at the path is the current one
            lock.refresh()
            return True
        now = self._clock()
        by_time = self._rotate_at is not None and now >= self._rotate_at
        if st.st_size == 0:  # a period with no records leaves no empty rotated file
            self._rotate_at = self._schedule_after(now) if self._schedules else None
            return True
        # named after the moment the file ends: the rotation point it crossed, or now
        ended = self._rotate_at if by_time and self._rotate_at is not None else now
        try:
            target = names.new_name(min(ended, now))
            if self._sync_every is not None:
                fdatasync(self._fd)
            os.rename(self.path, target)
        except OSError as exc:
            self._note_error(exc)
            self._rotation_paused_until = time.monotonic() + ROTATION_RETRY
            report(f"handler {self.name!r}", exc, "failed to rotate (writing on to the current file)")
            return False
        self.rotations += 1
        self._close_fd()  # it names the rotated file now: never write there again
        self._open()
        assert self._ident is not None
        lock.write_state({"ino": self._ident[0], "dev": self._ident[1], "start": now})
        self._generation = lock.generation()
        self._after_rotation(now)
        return True

    def _after_rotation(self, now: float) -> None:
        if self._max_files is not None or self._max_age is not None:
            from .rotation import apply_retention  # loaded already: retention needs rotation

            assert self._names is not None
            try:
                apply_retention(self._names, self._max_files, self._max_age, now)
            except OSError as exc:
                self._note_error(exc)
                report(f"handler {self.name!r}", exc, "failed to remove old rotated files")
        if self._compressor is not None:
            self._compressor.request()

    def _compression_failed(self, exc: BaseException) -> None:
        self._note_error(exc)
        report(f"handler {self.name!r}", exc, "failed to compress a rotated file (left uncompressed)")

    def wait_for_compression(self, timeout: Optional[float] = None) -> bool:
        """Block until rotated files queued for compression are compressed.
        False if *timeout* (seconds) ran out first."""
        return self._compressor.wait(timeout) if self._compressor is not None else True

    # -- errors, flush, close, fork ----------------------------------------------------------
    def _note_error(self, exc: BaseException) -> None:
        self.errors += 1
        self.last_error = f"{type(exc).__name__}: {exc}"
        self.last_error_time = time.time()

    def _close_fd(self) -> None:
        fd, self._fd = self._fd, -1
        if fd >= 0:
            try:
                os.close(fd)
            except OSError:
                pass

    def flush(self) -> None:
        """Lines are never buffered in the process; with an ``fsync`` policy,
        this also syncs them to the disk."""
        if self._sync_every is not None:
            with self._lock:
                if self._fd >= 0:
                    fdatasync(self._fd)

    def close(self) -> None:
        with self._lock:
            if self._fd >= 0 and self._sync_every is not None:
                try:
                    fdatasync(self._fd)
                except OSError:
                    pass
            self._close_fd()
            if self._file_lock is not None:
                self._file_lock.close()
        super().close()
        if self._compressor is not None:  # within FINISH_WAIT, or cut short to resume at the next start
            self._compressor.finish()

    def after_fork(self) -> None:
        pid = os.getpid()
        if pid == self._fork_pid:
            return
        self._fork_pid = pid
        # another thread of the parent may have held it at the fork
        self._lock = threading.Lock()
        if self._compressor is not None:
            self._compressor.after_fork()
