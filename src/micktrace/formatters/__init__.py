"""Formatters: text, JSON, logfmt, templates, and the base class for your own."""

from __future__ import annotations

from .base import Formatter, escape_controls
from .json import JSONFormatter
from .logfmt import LogfmtFormatter
from .template import TemplateFormatter
from .text import TextFormatter

#: Format names accepted by ``configure(format=...)`` and a handler's ``format``.
FORMAT_NAMES = ("text", "json", "logfmt", "structured", "rich")


def formatter_for(name: str, key: str = "format", colors: bool = False) -> Formatter:
    """The formatter for a format name or a template; ``ConfigError`` naming *key* otherwise."""
    from ..errors import ConfigError

    if not isinstance(name, str):
        raise ConfigError(key, name, ", ".join(FORMAT_NAMES))
    if "{" in name:  # a template: "{time} {level} {message}" (formatters/template.py)
        return TemplateFormatter(name, key)
    normalized = name.strip().lower()
    if normalized in ("json", "structured"):
        return JSONFormatter()
    if normalized == "logfmt":
        return LogfmtFormatter()
    if normalized == "text":
        return TextFormatter(colors=colors)
    if normalized == "rich":
        return TextFormatter(colors=colors)
    raise ConfigError(key, name, ", ".join(FORMAT_NAMES))


__all__ = [
    "FORMAT_NAMES",
    "Formatter",
    "JSONFormatter",
    "LogfmtFormatter",
    "TemplateFormatter",
    "TextFormatter",
    "escape_controls",
    "formatter_for",
]
