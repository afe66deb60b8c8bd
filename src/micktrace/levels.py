"""Log levels: stdlib's numbers plus TRACE, and the custom levels of :func:`add_level`.

May import: errors.
"""

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


#: custom level name -> number (add_level)
_CUSTOM: dict[str, int] = {}
#: custom level number -> its colour, as an ANSI SGR escape (the text format's)
LEVEL_COLORS: dict[int, str] = {}
#: custom level number -> its colour as given (``"bold magenta"``: also a rich style)
LEVEL_STYLES: dict[int, str] = {}

_BUILTIN_NAMES = frozenset((*_ALIASES, "OFF", "NONE", "DISABLED"))
_BUILTIN_NUMBERS = frozenset((*(int(m) for m in LogLevel), OFF))
_SGR = {
    "bold": "1", "dim": "2", "italic": "3", "underline": "4",
    "black": "30", "red": "31", "green": "32", "yellow": "33",
    "blue": "34", "magenta": "35", "cyan": "36", "white": "37",
}  # fmt: skip


def _color_escape(color: str) -> str:
    """``"bold magenta"`` -> the escape ``ESC[1;35m``; ConfigError for any other word."""
    words = color.lower().replace(",", " ").split() if isinstance(color, str) else None
    codes = [_SGR.get(word) for word in words or ()]
    if not codes or None in codes:
        raise ConfigError("color", color, "words among " + ", ".join(_SGR) + ' (e.g. "bold magenta")')
    return "\x1b[" + ";".join(code for code in codes if code) + "m"


def add_level(name: str, number: int, color: str | None = None) -> None:
    """Register a custom level: ``add_level("NOTICE", 25)``.

    Afterwards ``log.log("NOTICE", ...)`` and ``log.log(25, ...)`` log at it,
    every format writes ``NOTICE`` (not ``LEVEL25``) and ``configure(level="NOTICE")``
    or ``MICKTRACE_LEVEL=NOTICE`` accept it. *color* (``"cyan"``, ``"bold magenta"``)
    is its colour in the coloured text format. Registering the same name and
    number again is allowed (the colour is updated); a name or number of a built-in
    level, or of another custom level, raises :class:`~micktrace.ConfigError`.
    """
    if not isinstance(name, str) or not name.strip().replace("_", "").isalnum() or not name.strip()[:1].isalpha():
        raise ConfigError("name", name, "a level name of letters, digits and '_', starting with a letter")
    key = name.strip().upper()
    if isinstance(number, bool) or not isinstance(number, int) or not 0 < number < OFF:
        raise ConfigError("number", number, f"an int from 1 to {OFF - 1}")
    number = int(number)
    if key in _BUILTIN_NAMES:
        builtin = ", ".join(sorted(_BUILTIN_NAMES))
        raise ConfigError("name", name, f"a name that is not a built-in level ({builtin})")
    if number in _BUILTIN_NUMBERS:
        raise ConfigError("number", number, "a number that is not a built-in level's (5, 10, 20, 30, 40, 50, 100)")
    known = _CUSTOM.get(key)
    if known is not None and known != number:
        raise ConfigError("name", name, f"a name not yet registered ({key} is level {known})")
    taken = LEVEL_NAMES.get(number)
    if taken is not None and taken != key:
        raise ConfigError("number", number, f"a number not yet registered ({number} is {taken})")
    escape = _color_escape(color) if color is not None else None
    _CUSTOM[key] = number
    LEVEL_NAMES[number] = key
    if escape is not None:
        LEVEL_COLORS[number] = escape
        LEVEL_STYLES[number] = " ".join(color.lower().replace(",", " ").split())  # type: ignore[union-attr]


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
        upper = stripped.upper()
        found = _ALIASES.get(upper) or _CUSTOM.get(upper)
        if found is not None:
            return int(found)
        raise ConfigError(key, value, ", ".join(LEVEL_NAMES.values()) + ", OFF or a number")
    raise ConfigError(key, value, "a level name (" + ", ".join(LEVEL_NAMES.values()) + ") or a number")


def to_loglevel(level: int) -> LogLevel | int:
    """The ``LogLevel`` member for *level*, or the plain int for custom numbers."""
    try:
        return LogLevel(level)
    except ValueError:
        return level


def remove_level(name: str) -> None:
    """Forget a level registered by :func:`add_level` (a built-in one cannot be removed)."""
    key = name.strip().upper() if isinstance(name, str) else name
    number = _CUSTOM.pop(key, None)
    if number is None:
        raise ConfigError("name", name, "a custom level registered by add_level(): " + (", ".join(_CUSTOM) or "none"))
    LEVEL_NAMES.pop(number, None)
    LEVEL_COLORS.pop(number, None)
    LEVEL_STYLES.pop(number, None)
