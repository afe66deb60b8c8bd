"""``configure_from_file()``: a configuration file applied, and reloaded live.

Holds :func:`configure_from_file` and :class:`FileWatcher`. With ``watch=True``
one daemon thread polls the file (every ``poll_interval`` seconds, default 1.0:
its modification time, size and inode, so an editor's rename-into-place is
seen); with ``reload_on_sighup=True`` a SIGHUP asks the same thread to reload.
Without either, no thread is started.

A reload is atomic: the file is parsed and the new configuration built
completely before it replaces the running one (``configure(reset=True,
**settings)``). A file that fails to parse or validate keeps the running
configuration; the error is written once on stderr and shown in
``micktrace.health()["config_file"]`` with the file, the line or the key, and
the value, until a good version is loaded.

May import: _state, errors, config (this package).
"""

from __future__ import annotations

import os
import sys
import threading
import time
from typing import Any, Optional, Tuple

from .. import _state
from ..errors import ConfigError
from . import configure
from .files import ConfigFileError, read_settings
from .snapshot import Config

_watcher: Optional[FileWatcher] = None
_watcher_lock = threading.Lock()


def _stamp(path: str) -> Optional[Tuple[float, int, int]]:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_mtime, st.st_size, st.st_ino)


def _apply(path: str) -> Config:
    """Read, validate and install *path*; record the outcome for health()."""
    try:
        settings = read_settings(path)
        try:
            config = configure(reset=True, **settings)
        except ConfigError as exc:
            if isinstance(exc, ConfigFileError):
                raise
            raise ConfigFileError(path, exc.key, exc.value, exc.allowed) from None
        except TypeError as exc:  # configure() refused a keyword
            raise ConfigFileError(path, "", settings, f"configure() settings ({exc})") from None
    except ConfigError as exc:
        _note(path, "error", str(exc))
        raise
    _note(path, "ok", None)
    return config


def _note(path: str, status: str, error: Optional[str]) -> None:
    previous = _state.config_file or {}
    if status == "error" and previous.get("error") != error:
        try:
            sys.stderr.write(f"micktrace: configuration file not applied, the running configuration stays: {error}\n")
        except Exception:
            pass
    _state.config_file = {
        "path": path,
        "status": status,
        "error": error,
        "loaded_at": time.time() if status == "ok" else previous.get("loaded_at"),
    }


class FileWatcher:
    """Reloads one configuration file when it changes, or on SIGHUP."""

    def __init__(self, path: str, poll_interval: Optional[float]) -> None:
        self.path = path
        self.poll_interval = poll_interval
        self._stamp = _stamp(path)
        self._wake = threading.Event()
        self._stop = threading.Event()
        self.reloads = 0
        self._thread = threading.Thread(target=self._run, name="micktrace-config-watch", daemon=True)
        self._thread.start()

    def request_reload(self) -> None:
        """Reload at once (what SIGHUP does; safe from a signal handler)."""
        self._wake.set()

    def _run(self) -> None:
        while not self._stop.is_set():
            asked = self._wake.wait(self.poll_interval)
            self._wake.clear()
            if self._stop.is_set():
                return
            stamp = _stamp(self.path)
            if not asked and (stamp is None or stamp == self._stamp):
                continue
            self._stamp = stamp
            try:
                _apply(self.path)
                self.reloads += 1
            except Exception:
                pass  # noted for health() and on stderr once; the running configuration stays

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not threading.current_thread():
            self._thread.join(2)


def configure_from_file(
    path: str,
    watch: bool = False,
    poll_interval: float = 1.0,
    reload_on_sighup: bool = False,
) -> Config:
    """Apply the configuration file *path* (TOML, JSON, or YAML with PyYAML).

    Args:
        path: the file; it holds what ``configure()`` takes (see docs/configuration-files.md).
        watch: reload whenever the file changes (polled every *poll_interval* seconds).
        poll_interval: seconds between two looks at the file.
        reload_on_sighup: reload on SIGHUP too (call from the main thread; an
            application's choice, never a library's).

    Returns the new configuration; raises :class:`micktrace.ConfigError` (naming
    the file and the line or key) when the file cannot be applied, leaving the
    running configuration in place. Calling it again replaces the watcher.
    """
    global _watcher
    if isinstance(poll_interval, bool) or not isinstance(poll_interval, (int, float)) or poll_interval <= 0:
        raise ConfigError("poll_interval", poll_interval, "a positive number of seconds")
    path = os.path.abspath(os.fspath(path))
    config = _apply(path)
    with _watcher_lock:
        if _watcher is not None:
            _watcher.stop()
            _watcher = None
        if watch or reload_on_sighup:
            _watcher = FileWatcher(path, float(poll_interval) if watch else None)
    if reload_on_sighup:
        import signal

        watcher = _watcher

        def on_sighup(signum: int, frame: Any) -> None:
            if watcher is not None:
                watcher.request_reload()

        signal.signal(signal.SIGHUP, on_sighup)
    return config


def stop_watching() -> None:
    """Stop reloading the file (the configuration in force stays)."""
    global _watcher
    with _watcher_lock:
        if _watcher is not None:
            _watcher.stop()
            _watcher = None


def watcher() -> Optional[FileWatcher]:
    """The watcher in force, if any."""
    return _watcher


def _after_fork_in_child() -> None:
    global _watcher, _watcher_lock
    # the thread did not survive the fork; the child keeps the configuration
    _watcher_lock = threading.Lock()
    _watcher = None


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


__all__ = ["FileWatcher", "configure_from_file", "stop_watching", "watcher"]
