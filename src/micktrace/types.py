"""Public types, importable as ``micktrace.types`` (as in micktrace 1.x)."""

from .config import Config
from .formatters.base import Formatter
from .handlers.base import Handler
from .levels import LogLevel
from .record import LogRecord

__all__ = ["Config", "Formatter", "Handler", "LogLevel", "LogRecord"]
