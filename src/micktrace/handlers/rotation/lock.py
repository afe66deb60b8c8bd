"""The lock that lets several processes share one log file: an ``flock`` on a
hidden sidecar file, which also holds the generation counter and the state of
the current log file.

May import the standard library, :mod:`micktrace._state` and
:mod:`micktrace.handlers._files`.
"""

from __future__ import annotations

import json
import mmap
import os
from typing import Any, Dict, Optional

# _state is the bottom layer; it holds this process's pid, kept current by its
# own fork hook, so a lock opened by the parent is noticed without a getpid() call
from ... import _state
from .._files import open_file

try:
    import fcntl as _fcntl
except ImportError:  # pragma: no cover - Windows: rotation is safe within one process only
    _fcntl = None  # type: ignore[assignment]


def _lock_path(path: str) -> str:
    directory, base = os.path.split(path)
    return os.path.join(directory, f".{base}.lock")


#: bytes of the lock file holding the state: a 20-digit generation, then JSON, space-padded
STATE_SIZE = 256
_GEN_DIGITS = 20


class FileLock:
    """An ``flock`` on a hidden sidecar file (``.app.log.lock``) shared by every
    process writing ``app.log``: a writer holds it exclusive around its
    check-and-write (and the rotation that may come with it); a handler opening
    the file holds it shared.

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

    def exclusive(self, verify: bool = True) -> None:
        """Take the exclusive lock; with *verify*, on the lock file at the path
        (the writers' per-write call skips that check, and calls
        :meth:`refresh` when they reopen)."""
        for _ in range(3):
            fd = self._fileno()
            if _fcntl is None:
                return
            _fcntl.flock(fd, _fcntl.LOCK_EX)
            if not verify or self._same_file():
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

    def refresh(self) -> None:
        """While holding the exclusive lock: if the lock file was replaced, move
        our lock to the one at the path."""
        if _fcntl is None or self._fd < 0 or self._same_file():
            return
        self.release()
        self.close()
        self.exclusive()

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
