"""Rotation for the file handler, one concern per module:

* :mod:`.schedule`: when to rotate (a size, clock-aligned times) and the units;
* :mod:`.naming`: what rotated files are called (and compressed extensions);
* :mod:`.retention`: which rotated files are kept;
* :mod:`.compression`: compressing rotated files in a background thread;
* :mod:`.lock`: the inter-process lock and the shared rotation state.

Imported only by a :class:`~micktrace.handlers.file.FileHandler` that rotates,
retains or compresses, so a plain file handler (and ``import micktrace``) never
pays for it. The package never imports :mod:`micktrace.handlers.file`: below
it there are only :mod:`micktrace.handlers._files`, :mod:`micktrace.errors`,
:mod:`micktrace._state` and the standard library. This module re-exports the
names used elsewhere.
"""

from __future__ import annotations

from .compression import Compressor, parse_compression
from .lock import STATE_SIZE, FileLock
from .naming import COMPRESSIONS, STAMP_FORMAT, RotatedNames
from .retention import RETENTION_ALLOWED, apply_retention, parse_retention
from .schedule import ROTATION_ALLOWED, Schedule, parse_rotation, parse_schedule, parse_size

__all__ = [
    "COMPRESSIONS",
    "Compressor",
    "FileLock",
    "RETENTION_ALLOWED",
    "ROTATION_ALLOWED",
    "RotatedNames",
    "STAMP_FORMAT",
    "STATE_SIZE",
    "Schedule",
    "apply_retention",
    "parse_compression",
    "parse_retention",
    "parse_rotation",
    "parse_schedule",
    "parse_size",
]
