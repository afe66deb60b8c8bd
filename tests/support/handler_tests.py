"""Small helpers the network handlers' test modules share.

``fallback_spec(path)``: a sync JSON file handler to use as ``configure(fallback=...)``,
so a test reads back exactly what went to the fallback. ``handler_row()``: the
metrics row of the one configured handler.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Dict

import micktrace


def fallback_spec(path: Path) -> Dict[str, Any]:
    return {"type": "file", "path": str(path), "dispatch": "sync", "format": "json"}


def handler_row() -> Dict[str, Any]:
    (row,) = micktrace.metrics()["handlers"].values()
    return dict(row)
