"""Import this to make every connection to an address other than the loopback fail in this process.

For code under test that might phone home (the Azure Monitor exporter's statsbeat, control plane
and resource detectors): ``connect`` to anything but 127.0.0.1/::1, and name lookups of anything
but localhost, raise ``OSError`` instead of leaving the machine. ``blocked`` lists what was refused.
"""

from __future__ import annotations

import socket
from typing import Any, List

blocked: List[str] = []
_LOCAL = ("127.0.0.1", "::1", "localhost")
_connect = socket.socket.connect
_connect_ex = socket.socket.connect_ex
_getaddrinfo = socket.getaddrinfo


def _check(address: Any) -> None:
    host = address[0] if isinstance(address, tuple) else address
    if isinstance(host, str) and host not in _LOCAL and not host.startswith("/"):
        blocked.append(host)
        raise OSError(f"loopback_only: connection to {host!r} refused in this test process")


def _guarded_connect(self: socket.socket, address: Any) -> None:
    if self.family in (socket.AF_INET, socket.AF_INET6):
        _check(address)
    _connect(self, address)


def _guarded_connect_ex(self: socket.socket, address: Any) -> int:
    if self.family in (socket.AF_INET, socket.AF_INET6):
        _check(address)
    return _connect_ex(self, address)


def _guarded_getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
    if isinstance(host, bytes):
        host = host.decode()
    if host is not None:
        _check((host, 0))
    return _getaddrinfo(host, *args, **kwargs)


socket.socket.connect = _guarded_connect  # type: ignore[method-assign]
socket.socket.connect_ex = _guarded_connect_ex  # type: ignore[method-assign]
socket.getaddrinfo = _guarded_getaddrinfo
