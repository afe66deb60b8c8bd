"""Low-level file calls shared by the file handler and its rotation package:
opening a file with exact permissions, writing a buffer completely, appending
whole records (a write cut short is rolled back to the last whole record, see
:class:`PartialWriteError`), syncing data to the disk.

It sits below :mod:`micktrace.handlers.file` and :mod:`micktrace.handlers.rotation`
and may import only the standard library.
"""

from __future__ import annotations

import bisect
import os
from typing import Callable, List, Optional

#: ``os.fdatasync`` where the platform has it, else ``os.fsync``
fdatasync: Callable[[int], None] = getattr(os, "fdatasync", os.fsync)


def open_file(path: str, flags: int, permissions: int) -> int:
    """Open *path*, creating it with exactly *permissions* if it does not exist.

    The bits are applied with ``fchmod`` after creating, so the umask does not
    loosen or tighten them: the option says what the file's mode is.
    """
    flags |= getattr(os, "O_CLOEXEC", 0)
    for _ in range(3):
        try:
            fd = os.open(path, flags | os.O_CREAT | os.O_EXCL, permissions)
        except FileExistsError:
            try:
                return os.open(path, flags)
            except FileNotFoundError:  # removed between the two calls: try again
                continue
        try:
            os.fchmod(fd, permissions)
        except OSError:
            pass
        return fd
    return os.open(path, flags | os.O_CREAT, permissions)


def write_all(fd: int, data: bytes) -> None:
    """Write all of *data* to *fd*, however many ``os.write`` calls it takes."""
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


class PartialWriteError(OSError):
    """A write of several records failed part-way (the disk filled up).

    The first ``written`` records (``bytes`` bytes) are in the file, whole;
    no part of the others is: a record cut short was truncated away again.
    ``torn`` is True in the one case where that was impossible (another
    process had appended after it), so the file ends with a fragment.
    ``cause`` is the original error; ``errno`` and ``strerror`` are its own.
    """

    def __init__(self, cause: OSError, written: int, nbytes: int, torn: bool) -> None:
        super().__init__(cause.errno, cause.strerror)
        self.cause = cause
        self.written = written
        self.bytes = nbytes
        self.torn = torn


def append(fd: int, data: bytes, start: int, stop: int, ends: Optional[Callable[[], List[int]]]) -> None:
    """Append ``data[start:stop]`` (whole records) to *fd*, opened with ``O_APPEND``.

    If a write fails part-way, the bytes of a record cut short are truncated
    away, and :class:`PartialWriteError` says which records of *data* are in
    the file. *ends* gives the end offset of each record in *data* (None: *data*
    is one record); it is called only on failure (a line of the text format
    may hold several newlines).
    """
    done = 0
    try:
        whole = start == 0 and stop == len(data)
        done = os.write(fd, data if whole else memoryview(data)[start:stop])
        while done < stop - start:  # a short write: the rest, or the error that cut it short
            done += os.write(fd, memoryview(data)[start + done : stop])
    except OSError as exc:
        at = start + done
        boundaries = ends() if ends is not None else [len(data)]
        count = bisect.bisect_right(boundaries, at)
        complete = max(boundaries[count - 1] if count else 0, start)
        torn = at > complete
        if torn:
            torn = not _truncate_tail(fd, at - complete)
        raise PartialWriteError(exc, count, complete, torn) from exc


def _truncate_tail(fd: int, length: int) -> bool:
    """Remove the last *length* bytes this descriptor wrote, if nobody has
    appended since (O_APPEND leaves the offset at the end of our last write)."""
    try:
        end = os.lseek(fd, 0, os.SEEK_CUR)
        if os.fstat(fd).st_size != end or end < length:
            return False
        os.ftruncate(fd, end - length)
        return True
    except OSError:
        return False
