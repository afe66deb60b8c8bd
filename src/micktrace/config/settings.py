"""The settings ``configure()`` takes: environment variables, validation of each
keyword (:func:`validate`), and the effective level, format and static fields
(:func:`effective`: argument, then environment, then default).

May import: environment, errors, levels, formatters, filters, dispatch, masking.
"""

from __future__ import annotations

import os
import sys
from typing import Any, Callable, Dict, Mapping, Tuple

from ..dispatch import parse_dispatch
from ..environment import detect
from ..errors import ConfigError
from ..handlers.base import Handler
from ..levels import LogLevel, to_level
from .handlers import build_handler, parse_format

ENV_LEVEL = "MICKTRACE_LEVEL"
ENV_FORMAT = "MICKTRACE_FORMAT"
ENV_SERVICE = "MICKTRACE_SERVICE"
ENV_ENVIRONMENT = "MICKTRACE_ENVIRONMENT"
ENV_VERSION = "MICKTRACE_VERSION"

DEFAULT_LEVEL = int(LogLevel.INFO)
DEFAULT_FORMAT = "text"

_warned_env: set[Tuple[str, str]] = set()


def _env(name: str, parse: Callable[[str], Any]) -> Any:
    """The parsed value of environment variable *name*, or None; a bad value
    warns once on stderr and is ignored."""
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return None
    try:
        return parse(raw)
    except ConfigError as exc:
        if (name, raw) not in _warned_env:
            _warned_env.add((name, raw))
            try:
                sys.stderr.write(f"micktrace: ignoring environment variable {name}={raw!r}; allowed: {exc.allowed}\n")
            except Exception:
                pass
        return None


_parse_format = parse_format


_KNOWN_KEYS = (
    "level",
    "format",
    "service",
    "version",
    "environment",
    "handlers",
    "loggers",
    "fields",
    "caller",
    "processors",
    "dispatch",
    "fallback",
    "capture_stdlib",
    "capture_uncaught",
    "masking",
    "reset",
)
_HANDLER_KEYS = ("handlers", "format", "dispatch")


def _effective(settings: Dict[str, Any]) -> Tuple[int, str, Dict[str, Any]]:
    level = settings.get("level")
    if level is None:
        level = _env(ENV_LEVEL, lambda raw: to_level(raw, ENV_LEVEL))
    if level is None:
        level = DEFAULT_LEVEL
    fmt = settings.get("format")
    if fmt is None:
        fmt = _env(ENV_FORMAT, lambda raw: _parse_format(raw, ENV_FORMAT))
    place = detect()
    if fmt is None:
        fmt = "json" if place.wants_json else DEFAULT_FORMAT
    # the platform's resource fields first: what configure() names wins
    static: Dict[str, Any] = dict(place.fields)
    for name, env in (("service", ENV_SERVICE), ("version", ENV_VERSION), ("environment", ENV_ENVIRONMENT)):
        value = settings.get(name)
        if value is None:
            value = os.environ.get(env) or None
        if value is not None:
            static[name] = value
    static.update(settings.get("fields") or {})
    return level, fmt, static



def _validate(kwargs: Dict[str, Any]) -> Dict[str, Any]:
    clean: Dict[str, Any] = {}
    for key, value in kwargs.items():
        if key not in _KNOWN_KEYS:
            raise ConfigError("configure", key, "the keywords " + ", ".join(_KNOWN_KEYS))
        if value is None or key == "reset":
            continue
        if key == "level":
            value = to_level(value, "level")
        elif key == "format":
            value = _parse_format(value)
        elif key in ("service", "version", "environment"):
            value = str(value)
        elif key == "handlers":
            if not isinstance(value, (list, tuple)):
                raise ConfigError("handlers", value, "a list of handler specs")
            value = list(value)
        elif key == "loggers":
            if not isinstance(value, Mapping):
                raise ConfigError(
                    "loggers", value, 'a dict of logger-name prefix -> level, e.g. {"urllib3": "WARNING"}'
                )
            value = {str(name): to_level(lvl, f"loggers[{name!r}]") for name, lvl in value.items()}
        elif key == "fields":
            if not isinstance(value, Mapping):
                raise ConfigError("fields", value, "a dict of fields added to every record")
            value = dict(value)
        elif key == "processors":
            if not isinstance(value, (list, tuple)) or not all(callable(p) for p in value):
                raise ConfigError("processors", value, "a list of callables record -> record or None")
            value = list(value)
        elif key == "caller":
            value = bool(value)
        elif key == "dispatch":
            value = parse_dispatch(value, "dispatch")
        elif key == "fallback":
            value = build_handler(value, 0, "text") if not isinstance(value, Handler) else value
        elif key == "masking":
            from ..masking import parse_masking

            value = parse_masking(value)
        elif key in ("capture_stdlib", "capture_uncaught"):
            if not isinstance(value, bool):
                raise ConfigError(key, value, "True or False")
        clean[key] = value
    return clean


