"""Log levels: stdlib's numbers plus TRACE."""

from __future__ import annotations

from enum import IntEnum
from typing import Union

from .errors import ConfigError


class LogLevel(IntEnum):
    """Severity of a record. Numbers match :mod:`logging`, plus ``TRACE = 5``."""

    TRACE = 5
    DEBUG = 10
    INFO = 20
    WARNING = 30
    ERROR = 40
    CRITICAL = 50

    @classmethod
    def from_string(cls, name: str) -> LogLevel:
        """Parse a level name, case-insensitively (``"debug"``, ``"WARN"``, ``"fatal"``)."""
        key = name.strip().upper()
        try:
            return _ALIASES[key]
        except KeyError:
            raise ConfigError("level", name, ", ".join(m.name for m in cls)) from None


_ALIASES = {m.name: m for m in LogLevel}
_ALIASES.update({"WARN": LogLevel.WARNING, "FATAL": LogLevel.CRITICAL, "ERR": LogLevel.ERROR})

#: A level above CRITICAL: a logger at this level emits nothing.
OFF = 100

LevelLike = Union[int, str, LogLevel]

#: Fast int -> name lookup for formatters (avoids enum attribute machinery).
LEVEL_NAMES: dict[int, str] = {int(m): m.name for m in LogLevel}


def level_name(level: int) -> str:
    """Name of a level number; unknown numbers render as ``LEVEL<n>``."""
    name = LEVEL_NAMES.get(level)
    return name if name is not None else f"LEVEL{level}"


def to_level(value: LevelLike, key: str = "level") -> int:
    """Turn a level name or number into an int, raising ``ConfigError`` naming *key*."""
    if isinstance(value, bool):
        raise ConfigError(key, value, "a level name (TRACE, DEBUG, INFO, WARNING, ERROR, CRITICAL) or a number")
    if isinstance(value, int):
        if value < 0:
            raise ConfigError(key, value, "a non-negative level number or a level name")
        return int(value)
    if isinstance(value, str):
        stripped = value.strip()
        if stripped.isdigit():
            return int(stripped)
        if stripped.upper() in ("OFF", "NONE", "DISABLED"):
            return OFF
        try:
            return int(LogLevel.from_string(stripped))
        except ConfigError:
            raise ConfigError(key, value, "TRACE, DEBUG, INFO, WARNING, ERROR, CRITICAL, OFF or a number") from None
    raise ConfigError(key, value, "a level name (TRACE, DEBUG, INFO, WARNING, ERROR, CRITICAL) or a number")


def to_loglevel(level: int) -> LogLevel | int:
    """The ``LogLevel`` member for *level*, or the plain int for custom numbers."""
    try:
        return LogLevel(level)
    except ValueError:
        return level
