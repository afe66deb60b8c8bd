"""Reading ``configure(masking=...)``: option values as lists and names, group
names expanded to categories.

May import: errors.
"""

from __future__ import annotations

from typing import (
    TYPE_CHECKING,
    Any,
    Iterable,
    List,
    Tuple,
)

from ..errors import ConfigError
from .rules import (
    GROUPS,
)

if TYPE_CHECKING:
    pass


# ---------------------------------------------------------------------------
# configuration


def _as_list(value: Any, key: str) -> List[Any]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, (list, tuple, set, frozenset)):
        return list(value)
    raise ConfigError(key, value, "a list of names")


def _as_name(value: Any, key: str) -> str:
    if not isinstance(value, str) or not value:
        raise ConfigError(key, value, "non-empty key names (str)")
    return value


def _expand(names: Iterable[Any], known: Tuple[str, ...], key: str) -> List[str]:
    out: List[str] = []
    for name in names:
        if name in GROUPS:
            out.extend(GROUPS[name])
        elif name in known:
            out.append(name)
        else:
            allowed = ", ".join(list(known) + list(GROUPS))
            raise ConfigError(key, name, f"the categories and groups {allowed}")
    return out


