"""Record filters: level, sampling, logger names, and your own callables."""

from __future__ import annotations

import random
from typing import TYPE_CHECKING, Any, Callable, Dict, Sequence

from .errors import ConfigError
from .levels import to_level

if TYPE_CHECKING:
    from .record import LogRecord

Filter = Callable[["LogRecord"], bool]

FILTER_TYPES = ("level", "sample", "logger")


class LevelFilter:
    """Passes records at or above ``level``."""

    def __init__(self, level: int) -> None:
        self.level = level

    def __call__(self, record: LogRecord) -> bool:
        return record.level >= self.level


class SampleFilter:
    """Passes a random fraction ``rate`` of records (0 < rate <= 1).

    ``always_above`` (a level) lets every record at or above it through
    unsampled, so errors are never sampled away.
    """

    def __init__(self, rate: float, seed: Any = None, always_above: int | None = None) -> None:
        self.rate = rate
        self.always_above = always_above
        self._random = random.Random(seed).random

    def __call__(self, record: LogRecord) -> bool:
        if self.always_above is not None and record.level >= self.always_above:
            return True
        return self._random() < self.rate


class LoggerFilter:
    """Passes records whose logger name is one of ``names`` or below it
    (``"db"`` matches ``db`` and ``db.pool``); ``exclude=True`` inverts it."""

    def __init__(self, names: Sequence[str], exclude: bool = False) -> None:
        self.names = tuple(names)
        self.exclude = exclude

    def __call__(self, record: LogRecord) -> bool:
        name = record.logger_name
        hit = any(name == n or name.startswith(n + ".") for n in self.names)
        return hit != self.exclude


def build_filter(spec: Any, key: str) -> Filter:
    """A filter from its configuration: a callable, or a dict with ``type``."""
    if callable(spec):
        return spec  # type: ignore[no-any-return]
    if not isinstance(spec, dict):
        raise ConfigError(key, spec, "a callable or a dict with 'type' (" + ", ".join(FILTER_TYPES) + ")")
    spec = dict(spec)
    ftype = spec.pop("type", None)
    if ftype == "level":
        _only(spec, {"level"}, key)
        if "level" not in spec:
            raise ConfigError(f"{key}.level", None, "a level name or number")
        return LevelFilter(to_level(spec["level"], f"{key}.level"))
    if ftype == "sample":
        _only(spec, {"rate", "seed", "always_above"}, key)
        rate = spec.get("rate")
        if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not 0 < rate <= 1:
            raise ConfigError(f"{key}.rate", rate, "a number greater than 0 and at most 1")
        above = spec.get("always_above")
        return SampleFilter(
            float(rate),
            spec.get("seed"),
            None if above is None else to_level(above, f"{key}.always_above"),
        )
    if ftype == "logger":
        _only(spec, {"name", "names", "exclude"}, key)
        names = spec.get("names", spec.get("name"))
        if isinstance(names, str):
            names = [names]
        if not names or not all(isinstance(n, str) for n in names):
            raise ConfigError(f"{key}.names", names, "a logger name or a list of names")
        return LoggerFilter(names, bool(spec.get("exclude", False)))
    raise ConfigError(f"{key}.type", ftype, ", ".join(FILTER_TYPES))


def _only(spec: Dict[str, Any], allowed: set[str], key: str) -> None:
    for name in spec:
        if name not in allowed:
            raise ConfigError(f"{key}.{name}", spec[name], "the keys " + ", ".join(sorted(allowed | {"type"})))
