"""Configuration files: reading TOML, JSON or YAML into ``configure()`` keywords.

Holds :func:`read_settings` (parse a file, expand ``${VAR}`` and
``${VAR:-default}`` from the environment, check the keys), :class:`ConfigFileError`
(a :class:`~micktrace.errors.ConfigError` naming the file, the line when the
parser knows it, or the key and the value) and :func:`env_config_path`
(``MICKTRACE_CONFIG``).

The file holds exactly what ``configure()`` takes (``level``, ``format``,
``service``, ``handlers``, ``loggers``, ``masking``, ``dispatch``...), at the top
level or under a ``micktrace`` table (``[tool.micktrace]`` in a ``pyproject.toml``).

May import: errors (and tomllib/tomli, json, yaml: the standard library, or
the optional PyYAML and tomli, imported when a file needs them).
"""

from __future__ import annotations

import json
import os
import re
import sys
from typing import Any, Dict, Optional

from ..errors import ConfigError, MissingExtraError

ENV_CONFIG = "MICKTRACE_CONFIG"
SUFFIXES = (".toml", ".json", ".yaml", ".yml")
_VAR = re.compile(r"\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


class ConfigFileError(ConfigError):
    """A configuration file that cannot be used: its path, and the line or the key."""

    def __init__(self, path: str, key: str, value: Any, allowed: str, line: Optional[int] = None) -> None:
        self.path = path
        self.line = line
        where = f"{path}, line {line}" if line is not None else path
        super().__init__(f"{where}: {key}" if key else where, value, allowed)


def env_config_path() -> Optional[str]:
    """The file ``MICKTRACE_CONFIG`` names, or None."""
    raw = os.environ.get(ENV_CONFIG, "").strip()
    return raw or None


def _parse(path: str, text: str) -> Any:
    suffix = os.path.splitext(path)[1].lower()
    if suffix == ".json":
        try:
            return json.loads(text)
        except json.JSONDecodeError as exc:
            raise ConfigFileError(
                path, "", text.splitlines()[exc.lineno - 1][:80] if text else "", f"valid JSON ({exc.msg})", exc.lineno
            ) from None
    if suffix == ".toml":
        if sys.version_info >= (3, 11):
            import tomllib as toml
        else:  # pragma: no cover - Python 3.9 and 3.10
            try:
                import tomli as toml  # type: ignore[no-redef,import-not-found,unused-ignore]
            except ImportError:
                raise MissingExtraError("a TOML configuration file", "toml", "tomli") from None
        try:
            return toml.loads(text)
        except toml.TOMLDecodeError as exc:
            match = re.search(r"line (\d+)", str(exc))
            line = int(match.group(1)) if match else None
            raise ConfigFileError(path, "", None, f"valid TOML ({exc})", line) from None
    if suffix in (".yaml", ".yml"):
        try:
            import yaml  # type: ignore[import-untyped,unused-ignore]
        except ImportError:
            raise MissingExtraError("a YAML configuration file", "yaml", "PyYAML") from None
        try:
            return yaml.safe_load(text)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            line = mark.line + 1 if mark is not None else None
            raise ConfigFileError(path, "", None, f"valid YAML ({getattr(exc, 'problem', exc)})", line) from None
    raise ConfigFileError(path, "", suffix or path, "a file ending in " + ", ".join(SUFFIXES))


def expand(value: Any, path: str, key: str = "") -> Any:
    """*value* with ``${VAR}`` / ``${VAR:-default}`` replaced from the environment
    in every string (``$$`` is a literal ``$``); an unset variable without a
    default is a :class:`ConfigFileError` naming the key."""
    if isinstance(value, str):

        def replace(match: re.Match[str]) -> str:
            if match.group(0) == "$$":
                return "$"
            name, default = match.group(1), match.group(2)
            found = os.environ.get(name)
            if found is None or (found == "" and default is not None):
                if default is None:
                    raise ConfigFileError(
                        path,
                        key or "(top level)",
                        value,
                        f"the environment variable {name} set, or a default: ${{{name}:-default}}",
                    )
                return default
            return found

        return _VAR.sub(replace, value)
    if isinstance(value, dict):
        return {k: expand(v, path, f"{key}.{k}" if key else str(k)) for k, v in value.items()}
    if isinstance(value, list):
        return [expand(v, path, f"{key}[{i}]") for i, v in enumerate(value)]
    return value


def read_settings(path: str) -> Dict[str, Any]:
    """The ``configure()`` keywords a file holds, environment variables expanded.

    Raises :class:`ConfigFileError` (a ConfigError) naming the file and the line
    or key for a file that does not parse or holds something else than a table
    of settings; the keywords themselves are validated by ``configure()``.
    """
    try:
        with open(path, encoding="utf-8") as stream:
            text = stream.read()
    except OSError as exc:
        raise ConfigFileError(path, "", path, f"a readable file ({exc.strerror})") from None
    data = _parse(path, text)
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigFileError(path, "", data, "a table (mapping) of configure() settings")
    tool = data.get("tool")
    if isinstance(tool, dict) and isinstance(tool.get("micktrace"), dict):
        data = tool["micktrace"]  # pyproject.toml's [tool.micktrace]
    elif isinstance(data.get("micktrace"), dict):
        data = data["micktrace"]
    settings = expand(data, path)
    if "reset" in settings:
        raise ConfigFileError(path, "reset", settings["reset"], "the configure() settings (a file always replaces)")
    return dict(settings)
