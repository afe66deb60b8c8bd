"""Reading lines: whole files and streams in large chunks, and following files
across rotation (``-f``), by polling.

Every source yields *batches*: the complete lines that one read returned, each
without its newline, so the command can write a batch and flush once. A
followed file is reopened when its path names a new file (renamed and
recreated: the inode changed) and read from the start when it shrank
(truncated); the old file is drained first, and kept open a few polls more for
a writer that has not reopened yet (two seconds after its last line). Imports nothing from micktrace.
"""

from __future__ import annotations

import gzip
import os
import time
from typing import Any, Iterator, List, Optional, Sequence, Tuple

CHUNK = 1 << 20
FOLLOW_CHUNK = 1 << 16
#: seconds a renamed-away file stays open, after its last new line, once the
#: path names a new file (for a writer that reopens late)
RETIRE_AFTER = 2.0
#: reads of one file per poll (64 KiB each)
MAX_READS = 64


def _split(partial: bytes, data: bytes) -> Tuple[List[bytes], bytes]:
    lines = (partial + data).split(b"\n") if partial else data.split(b"\n")
    rest = lines.pop()
    return lines, rest


def fd_batches(fd: int, chunk: int = CHUNK) -> Iterator[List[bytes]]:
    """The lines of an open file descriptor (a file, a pipe, a terminal) to its end;
    each read's complete lines form one batch."""
    partial = b""
    while True:
        try:
            data = os.read(fd, chunk)
        except InterruptedError:  # pragma: no cover - retried by Python itself since 3.5
            continue
        if not data:
            break
        lines, partial = _split(partial, data)
        if lines:
            yield lines
    if partial:
        yield [partial]


def stream_batches(stream: Any, chunk: int = CHUNK) -> Iterator[List[bytes]]:
    """The same for a file object (compressed files)."""
    partial = b""
    while True:
        data = stream.read(chunk)
        if not data:
            break
        lines, partial = _split(partial, data)
        if lines:
            yield lines
    if partial:
        yield [partial]


def file_batches(path: str) -> Iterator[List[bytes]]:
    """The lines of *path* (``-`` is stdin; a ``.gz`` file is decompressed)."""
    if path == "-":
        yield from fd_batches(0)
        return
    if path.endswith(".gz"):
        with gzip.open(path, "rb") as stream:
            yield from stream_batches(stream)
        return
    fd = os.open(path, os.O_RDONLY)
    try:
        yield from fd_batches(fd)
    finally:
        os.close(fd)


class Follower:
    """One followed path: its open file, how far it was read, the unfinished line."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.fd: Optional[int] = None
        self.ident: Tuple[int, int] = (0, 0)
        self.pos = 0
        self.partial = b""
        #: [fd, unfinished line, when it last grew] of files renamed away
        self.retired: List[List[object]] = []
        self._open()

    def _open(self) -> None:
        try:
            fd = os.open(self.path, os.O_RDONLY)
        except OSError:
            self.fd = None  # not there (yet): looked for again at every poll
            return
        st = os.fstat(fd)
        self.fd, self.ident, self.pos, self.partial = fd, (st.st_dev, st.st_ino), 0, b""

    def _drain(self, out: List[bytes]) -> bool:
        """Read on; True when the end of the file was reached (not when a poll's
        share of a large file was read: the next poll goes on)."""
        assert self.fd is not None
        for _ in range(MAX_READS):
            data = os.read(self.fd, FOLLOW_CHUNK)
            if not data:
                return True
            self.pos += len(data)
            lines, self.partial = _split(self.partial, data)
            out.extend(lines)
        return False

    def _drain_retired(self, out: List[bytes]) -> None:
        keep = []
        now = time.monotonic()
        for entry in self.retired:
            fd, partial, grew = entry
            assert isinstance(fd, int) and isinstance(partial, bytes) and isinstance(grew, float)
            while True:
                data = os.read(fd, FOLLOW_CHUNK)
                if not data:
                    break
                grew = now
                lines, partial = _split(partial, data)
                out.extend(lines)
            if now - grew >= RETIRE_AFTER:
                if partial:
                    out.append(partial)
                os.close(fd)
            else:
                keep.append([fd, partial, grew])
        self.retired = keep

    def poll(self) -> List[bytes]:
        """The lines written since the last poll."""
        out: List[bytes] = []
        if self.retired:
            self._drain_retired(out)
        if self.fd is None:
            self._open()
            if self.fd is None:
                return out
        if not self._drain(out):
            return out
        try:
            st = os.stat(self.path)
        except OSError:
            return out  # renamed away and not recreated yet: keep reading the old file
        if (st.st_dev, st.st_ino) != self.ident:
            self.retired.append([self.fd, self.partial, time.monotonic()])
            self._open()
            if self.fd is not None:
                self._drain(out)
        elif st.st_size < self.pos:  # truncated in place
            if self.partial:
                out.append(self.partial)
            os.lseek(self.fd, 0, os.SEEK_SET)
            self.pos, self.partial = 0, b""
            self._drain(out)
        return out

    def close(self) -> None:
        for entry in self.retired:
            os.close(entry[0])  # type: ignore[arg-type]
        self.retired = []
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None


def follow_batches(paths: Sequence[str], interval: float = 0.1) -> Iterator[List[bytes]]:
    """The lines of *paths*, then the lines written to them, until interrupted."""
    followers = [Follower(path) for path in paths]
    try:
        while True:
            idle = True
            for follower in followers:
                lines = follower.poll()
                if lines:
                    idle = False
                    yield lines
            if idle:
                time.sleep(interval)
    finally:
        for follower in followers:
            follower.close()
