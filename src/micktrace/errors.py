"""Exceptions raised by micktrace's public API."""

from __future__ import annotations

from typing import Any, Iterable


class ConfigError(ValueError):
    """A configuration value is invalid.

    The message always names the key, the offending value and what is allowed,
    for example ``handlers[1].type: 'filee' is not a known handler type; allowed:
    console, file, memory, null``.
    """

    def __init__(self, key: str, value: Any, allowed: str | Iterable[str]) -> None:
        if not isinstance(allowed, str):
            allowed = ", ".join(str(a) for a in allowed)
        self.key = key
        self.value = value
        self.allowed = allowed
        super().__init__(f"{key}: {value!r} is not valid; allowed: {allowed}")


class MissingExtraError(ImportError):
    """An optional integration was used without its extra installed."""

    def __init__(self, feature: str, extra: str, module: str) -> None:
        self.extra = extra
        super().__init__(
            f"{feature} needs the optional dependency {module!r}; install it with: pip install 'micktrace[{extra}]'"
        )


def check_number(key: str, value: Any, minimum: float = 0.0, integer: bool = False, unit: str = "") -> Any:
    """*value* if it is a number (an int when *integer*) of at least *minimum*;
    else a :class:`ConfigError` naming *key*. Booleans are not numbers here."""
    kind = int if integer else (int, float)
    if isinstance(value, bool) or not isinstance(value, kind) or value < minimum:
        what = "an integer" if integer else "a number"
        raise ConfigError(key, value, f"{what} >= {minimum:g}{unit}")
    return value
