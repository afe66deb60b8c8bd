"""Built-in handlers. See :mod:`micktrace.handlers.base` for the contract."""

from .base import CallableHandler, Handler, ObjectHandler
from .console import ConsoleHandler, RichConsoleHandler
from .file import FileHandler
from .memory import MemoryHandler, NullHandler

__all__ = [
    "CallableHandler",
    "ConsoleHandler",
    "FileHandler",
    "Handler",
    "MemoryHandler",
    "NullHandler",
    "ObjectHandler",
    "RichConsoleHandler",
]
