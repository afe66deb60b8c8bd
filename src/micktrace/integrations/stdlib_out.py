"""Out of micktrace into stdlib ``logging``: kept at this path for imports
written against it; the handlers live in :mod:`micktrace.handlers.stdlib_forward`."""

from __future__ import annotations

from ..handlers.stdlib_forward import (
    BRIDGE_ATTR,
    FIELDS_ATTR,
    MESSAGE_ATTR,
    RECORD_ATTR,
    DefaultConsoleHandler,
    StdlibForwardHandler,
    StdlibRecord,
    forward,
    stdlib_configured,
    to_stdlib,
)

__all__ = [
    "BRIDGE_ATTR",
    "FIELDS_ATTR",
    "MESSAGE_ATTR",
    "RECORD_ATTR",
    "DefaultConsoleHandler",
    "StdlibForwardHandler",
    "StdlibRecord",
    "forward",
    "stdlib_configured",
    "to_stdlib",
]
