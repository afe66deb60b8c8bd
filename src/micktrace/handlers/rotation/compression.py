"""Compressing rotated files (gz, bz2, xz, lz4, zstd) in a background thread:
the ``compression`` option, the compressor libraries (lz4 and zstandard are
optional and imported only when asked for, with
:class:`~micktrace.errors.MissingExtraError` naming the extra when missing), and
the thread that compresses and swaps the files in.

May import the standard library, :mod:`micktrace.errors`,
:mod:`micktrace.handlers._files` and the sibling modules ``naming`` and ``lock``.
"""

from __future__ import annotations

import importlib
import os
import threading
import time
from typing import Any, Callable, Optional

from ...errors import ConfigError, MissingExtraError
from .._files import write_all
from .lock import FileLock
from .naming import COMPRESSIONS, RotatedNames

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


#: a compressor's temporary file untouched this long belongs to a compressor that died
STALE_AFTER = 600.0


def remove_if_stale(path: str) -> bool:
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
                    write_all(out, b"".join(chunks))
                    chunks = []
                write_all(out, b"".join([*chunks, stream.finish()]))
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
                if not remove_if_stale(os.path.join(self.names.directory, name)):
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
