"""``micktrace view``: a viewer and filter for JSON and logfmt log files.

Modules: aliases (field names per library, levels), parse (lines into fields),
expressions (filters and raw-line pre-checks), render (pretty output), follow
(reading, following across rotation), command (options and the main loop).
Top layer: imports anything in micktrace; only micktrace.cli imports it.
"""

from __future__ import annotations

from .command import main

__all__ = ["main"]
