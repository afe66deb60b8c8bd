"""Compressing rotated files (gz, bz2, xz, lz4, zstd) in a background thread:
the ``compression`` option, the compressor libraries (lz4 and zstandard are
optional and imported only when asked for, with
:class:`~micktrace.errors.MissingExtraError` naming the extra when missing), and
the thread that compresses and swaps the files in.

May import the standard library, :mod:`micktrace.errors`,
:mod:`micktrace.handlers._files` and the sibling modules ``naming`` and ``lock``.
"""

from __future__ import annotations

import atexit
import importlib
import os
import sys
import threading
import time
import weakref
from typing import Any, Callable, Optional

from ...errors import ConfigError, MissingExtraError
from .._files import write_all
from .lock import FileLock
from .naming import COMPRESSIONS, RotatedNames

try:
    import fcntl as _fcntl
except ImportError:  # pragma: no cover - Windows: stale temporary files are told by their age
    _fcntl = None  # type: ignore[assignment]

_COMPRESSION_ALIASES = {"gzip": "gz", "zst": "zstd", "zstandard": "zstd", "lzma": "xz", "bzip2": "bz2"}


def parse_compression(value: Any, key: str = "compression") -> str:
    """The canonical compression name; its library must be importable."""
    name = value.strip().lower() if isinstance(value, str) else ""
    name = _COMPRESSION_ALIASES.get(name, name)
    if name not in COMPRESSIONS:
        raise ConfigError(key, value, 'None, "gz", "bz2", "xz", "lz4" or "zstd"')
    _compressor_factory(name)  # a missing extra is reported at configure time, not at the first rotation
    return str(name)


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


#: seconds a compressor's :meth:`Compressor.finish` (at close() and at exit)
#: waits before it cuts the work short, leaving it to the next handler to start
FINISH_WAIT = 10.0
#: (without ``flock``) a temporary file untouched this long belongs to a compressor that died
STALE_AFTER = 600.0


def remove_if_abandoned(path: str) -> bool:
    """Remove the temporary file *path* if the compressor writing it is gone:
    a compressor holds an ``flock`` on its temporary file until it is swapped
    in, and the lock goes with its process. True if *path* is gone now."""
    if _fcntl is None:
        try:
            if time.time() - os.stat(path).st_mtime <= STALE_AFTER:
                return False
        except FileNotFoundError:
            return True
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        return True
    try:
        if _fcntl is not None:
            try:
                _fcntl.flock(fd, _fcntl.LOCK_EX | _fcntl.LOCK_NB)
            except BlockingIOError:
                return False  # its compressor is at work
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass
        return True
    finally:
        os.close(fd)


def _lock_new_temp(path: str, fd: int) -> bool:
    """Lock the temporary file just created (held until it is swapped in).
    False if another compressor found it in between and removes it."""
    try:
        _fcntl.flock(fd, _fcntl.LOCK_EX | _fcntl.LOCK_NB)
        st, mine = os.stat(path), os.fstat(fd)
    except (BlockingIOError, FileNotFoundError):
        return False
    return (st.st_ino, st.st_dev) == (mine.st_ino, mine.st_dev)


class _Aborted(Exception):
    """finish() ran out of time: stop, leave the original as it is."""


_live: weakref.WeakSet[Compressor] = weakref.WeakSet()
_exiting = False
_hooked_pid = 0


def _finish_all_at_exit() -> None:
    global _exiting
    _exiting = True  # a rotation after this leaves its file to the next start
    for compressor in list(_live):
        try:
            compressor.finish()
        except Exception:
            pass


def _hook_exit() -> None:
    """Finish (or cut short) the compressions at exit, before the interpreter
    kills the daemon threads: atexit, and the finalizers a fork-started
    multiprocessing child runs instead. Once per process."""
    global _hooked_pid
    if _hooked_pid == os.getpid():
        return
    if not _hooked_pid:
        atexit.register(_finish_all_at_exit)  # inherited by forked children
    _hooked_pid = os.getpid()
    util = sys.modules.get("multiprocessing.util")
    if util is not None:
        util.Finalize(None, _finish_all_at_exit, exitpriority=50)  # after micktrace's flush (100)


class Compressor:
    """Compresses rotated files in a daemon thread, started on the first
    rotation (or by :meth:`resume` when a handler starts and finds work left)
    and ended when there is nothing left to do.

    Each run compresses every rotated file still uncompressed (oldest first),
    so a file left behind by a process that died mid-way is picked up by the
    next rotation, or the next start, anywhere. Several processes may try the
    same file: each writes its own temporary file, holding an ``flock`` on it
    (another compressor leaves a locked one alone and removes an unlocked one,
    whose writer is gone), and the swap (``rename`` temp -> ``.gz``, ``unlink``
    original) happens under the exclusive lock, after checking that the
    original is still there (retention, or another compressor, may have
    removed it meanwhile).
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
        _live.add(self)
        _hook_exit()  # now, at configure time: at exit it then runs after micktrace's final flush

    def _init_runtime(self) -> None:
        self._cond = threading.Condition(threading.Lock())
        self._pending = False
        self._abort = False
        self._thread: Optional[threading.Thread] = None

    def after_fork(self) -> None:
        self._init_runtime()  # the parent's thread did not come along

    def request(self) -> None:
        """Compress whatever is uncompressed, soon, in the background."""
        with self._cond:
            self._pending = True
            if self._thread is None and not _exiting:
                _hook_exit()  # in a forked child: its own finalizer
                self._thread = threading.Thread(target=self._run, name="micktrace-compress", daemon=True)
                self._thread.start()

    def resume(self) -> None:
        """At a handler's start: compress what an earlier process left
        uncompressed, and remove the temporary files of compressors that died."""
        try:
            found = self.names.scan()
        except OSError:
            return
        if any(temp or not ext for _, _, ext, temp in found):
            self.request()

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

    def finish(self, timeout: float = FINISH_WAIT) -> bool:
        """Wait up to *timeout* for the work requested so far; then cut it
        short: the file being compressed stays as it was, its temporary file
        is removed, and the next handler to start compresses it. True if
        everything was done."""
        if self.wait(timeout):
            return True
        with self._cond:
            self._abort = True
        self.wait(FINISH_WAIT)  # the chunk in hand
        return False

    def _run(self) -> None:
        while True:
            with self._cond:
                if not self._pending or self._abort:
                    self._pending = self._abort = False
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
            path = os.path.join(self.names.directory, name)
            try:
                if temp:
                    remove_if_abandoned(path)
                elif not ext:
                    self._compress_one(path)
            except _Aborted:
                return
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
                if _fcntl is not None and not _lock_new_temp(temp, out):
                    done = True  # found not yet locked, and taken for abandoned: the finder does the work
                    return
                os.fchmod(out, self.permissions)
                self._copy(src, out)
                done = True
                self._swap(source, temp, target)
            finally:
                if not done:  # disk full, a read error, cut short: leave the original as it is
                    try:
                        os.unlink(temp)
                    except FileNotFoundError:
                        pass
                os.close(out)
        finally:
            os.close(src)

    def _copy(self, src: int, out: int) -> None:
        stream = self.make_stream()
        chunks = [stream.header] if stream.header else []
        while True:
            if self._abort:
                raise _Aborted()
            data = os.read(src, self.CHUNK)
            if not data:
                break
            chunks.append(stream.compress(data))
            write_all(out, b"".join(chunks))
            chunks = []
        write_all(out, b"".join([*chunks, stream.finish()]))
        if self.fsync:
            os.fsync(out)

    def _claimed_elsewhere(self, target: str) -> bool:
        """True if another live compressor is working on *target* right now
        (the temporary files of dead ones are removed on the way)."""
        prefix = os.path.basename(target) + "."
        for name in os.listdir(self.names.directory):
            if name.startswith(prefix) and name.endswith(".tmp"):
                if not remove_if_abandoned(os.path.join(self.names.directory, name)):
                    return True
        return False

    def _swap(self, source: str, temp: str, target: str) -> None:
        lock = FileLock(self.log_path, self.permissions)
        lock.exclusive()
        try:
            if os.path.exists(source):
                try:
                    os.replace(temp, target)
                except FileNotFoundError:
                    return  # taken for abandoned before we locked it: its finder compresses the file
                os.unlink(source)
                self.compressed += 1
            else:  # retention or another compressor removed the original meanwhile
                try:
                    os.unlink(temp)
                except FileNotFoundError:
                    pass
        finally:
            lock.release()
            lock.close()
