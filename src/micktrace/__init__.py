"""micktrace: structured logging that is fast, safe, and zero-configuration.

>>> import micktrace
>>> log = micktrace.get_logger(__name__)
>>> log.info("User login", user_id=12345, success=True)  # doctest: +SKIP

Importing micktrace changes nothing global: no handlers on the stdlib root
logger, no threads, no files, no excepthook.
"""

from __future__ import annotations

from typing import Any

from . import formatters, handlers, testing, types
from .config import Config, basic_config, configure, disable, enable, export_settings, import_settings, reset
from .context import (
    acontext,
    acorrelation,
    clear_context,
    context,
    correlation,
    get_context,
    new_correlation_id,
    set_context,
    unset_context,
    wrap,
)
from .dispatch import aflush, flush, flush_on_signals, shutdown
from .errors import ConfigError, MissingExtraError
from .levels import LogLevel
from .logger import Logger, get_logger, getLogger
from .metrics import health, metrics
from .record import LogRecord

__version__ = "2.0.0.dev0"


def __getattr__(name: str) -> Any:
    # optional pieces are imported on first use so `import micktrace` stays cheap
    raise AttributeError(f"module 'micktrace' has no attribute {name!r}")


__all__ = [
    "Config",
    "ConfigError",
    "LogLevel",
    "LogRecord",
    "Logger",
    "MissingExtraError",
    "acontext",
    "acorrelation",
    "aflush",
    "basic_config",
    "clear_context",
    "configure",
    "context",
    "correlation",
    "disable",
    "enable",
    "export_settings",
    "flush",
    "flush_on_signals",
    "health",
    "import_settings",
    "metrics",
    "formatters",
    "getLogger",
    "get_context",
    "get_logger",
    "handlers",
    "new_correlation_id",
    "reset",
    "set_context",
    "shutdown",
    "testing",
    "types",
    "unset_context",
    "wrap",
]
