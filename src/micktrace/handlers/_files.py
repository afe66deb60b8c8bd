"""Low-level file calls shared by the file handler and its rotation package:
opening a file with exact permissions, writing a buffer completely, syncing
data to the disk.

It sits below :mod:`micktrace.handlers.file` and :mod:`micktrace.handlers.rotation`
and may import only the standard library.
"""

from __future__ import annotations

import os
from typing import Callable

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
