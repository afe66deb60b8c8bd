"""The file handler: appends lines to a file."""

from __future__ import annotations

import os
import threading
from typing import Any, List, Union

from ..errors import ConfigError
from .base import Handler

PathLike = Union[str, "os.PathLike[str]"]


class FileHandler(Handler):
    """Appends one line per record to *path* (UTF-8).

    The file is opened with ``O_APPEND`` and every record (or every batch, with
    background dispatch) is written with a single ``os.write`` call, so lines
    from several threads or processes writing the same file never interleave,
    and nothing sits in a user-space buffer if the process dies.

    Args:
        path: the file; its directory must exist.
        mode: ``"a"`` (append, default) or ``"w"`` (truncate on open).
        permissions: file mode bits for a new file (default ``0o640``: not
            world-readable).
        encoding_errors: how characters that cannot be encoded are written
            (default ``"backslashreplace"``: visible escapes, always valid UTF-8).
    """

    default_dispatch = "background"

    def __init__(
        self,
        path: PathLike,
        mode: str = "a",
        permissions: int = 0o640,
        encoding_errors: str = "backslashreplace",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if not isinstance(path, (str, os.PathLike)) or not os.fspath(path):
            raise ConfigError("path", path, "a file path")
        if mode not in ("a", "w"):
            raise ConfigError("mode", mode, "'a' (append) or 'w' (truncate)")
        self.path = os.path.abspath(os.fspath(path))
        directory = os.path.dirname(self.path)
        if not os.path.isdir(directory):
            raise ConfigError("path", os.fspath(path), f"a path whose directory exists ({directory!r} does not)")
        if os.path.isdir(self.path):
            raise ConfigError("path", os.fspath(path), "a file, not a directory")
        self.mode = mode
        self.permissions = permissions
        self.encoding_errors = encoding_errors
        self._lock = threading.Lock()
        self._fd = -1
        self._open(truncate=mode == "w")
        if not kwargs.get("name"):
            self.name = f"file:{self.path}"

    def _open(self, truncate: bool = False) -> None:
        flags = os.O_WRONLY | os.O_CREAT | os.O_APPEND | getattr(os, "O_CLOEXEC", 0)
        if truncate:
            flags |= os.O_TRUNC
        self._fd = os.open(self.path, flags, self.permissions)

    def _write_bytes(self, data: bytes) -> None:
        with self._lock:
            if self._fd < 0:
                if self.closed:
                    raise ValueError(f"handler {self.name!r} is closed")
                self._open()
            view = memoryview(data)
            while view:
                written = os.write(self._fd, view)
                view = view[written:]

    def write(self, line: str) -> None:
        self._write_bytes((line + "\n").encode("utf-8", self.encoding_errors))

    def write_lines(self, lines: List[str]) -> None:
        self._write_bytes(("\n".join(lines) + "\n").encode("utf-8", self.encoding_errors))

    def close(self) -> None:
        with self._lock:
            if self._fd >= 0:
                try:
                    os.close(self._fd)
                finally:
                    self._fd = -1
        super().close()
