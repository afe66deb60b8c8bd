"""``configure(masking=...)``: :func:`parse_masking` (validation) and
:func:`build_masker` (the processor for a validated setting).

May import: errors, masking.engine.
"""

from __future__ import annotations

from typing import (
    TYPE_CHECKING,
    Any,
    Dict,
    Mapping,
    Optional,
    Union,
)

from ..errors import ConfigError
from .rules import (
    _OPTION_KEYS,
)

if TYPE_CHECKING:
    pass

from .engine import Masker


def parse_masking(value: Any, key: str = "masking") -> Union[bool, Dict[str, Any]]:
    """Validate ``configure(masking=...)``: True, False, or a dict of
    :class:`Masker` options. Returns the value to keep in the settings;
    raises :class:`ConfigError` naming the bad key."""
    if value is True or value is False:
        return value
    if not isinstance(value, Mapping):
        raise ConfigError(key, value, "True, False, or a dict of masking options (" + ", ".join(_OPTION_KEYS) + ")")
    options = dict(value)
    for name in options:
        if name not in _OPTION_KEYS:
            raise ConfigError(f"{key}.{name}", options[name], "the options " + ", ".join(_OPTION_KEYS))
    Masker(**options)  # raises ConfigError for any bad option
    return options



def build_masker(spec: Any) -> Optional[Masker]:
    """The masking processor for a validated setting (None: masking is off)."""
    if spec is None or spec is True:
        return _default_masker()
    if spec is False:
        return None
    if isinstance(spec, Masker):
        return spec if spec.enabled else None
    masker = Masker(**spec)
    return masker if masker.enabled and masker.categories else None


def _default_masker() -> Masker:
    # a fresh one per configuration: its caches then never outlive the settings
    return Masker()

