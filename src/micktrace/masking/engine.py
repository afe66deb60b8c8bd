"""The Masker: the processor ``configure()`` puts first, built from the options
of ``configure(masking={...})``, made of the text, value and record layers.

May import: _native, errors, masking.rules, masking.styles, masking.records.
"""

from __future__ import annotations

import re
from typing import (
    TYPE_CHECKING,
    Any,
    Callable,
    Dict,
    Iterable,
    List,
    Mapping,
    Optional,
    Pattern,
    Sequence,
    Tuple,
    Union,
)

from ..errors import ConfigError
from .options_parse import (
    _as_list,
    _as_name,
    _expand,
)
from .rules import (
    _T_ALWAYS,
    CATEGORIES,
    DEFAULT_MAX_DEPTH,
    DEFAULT_REPLACEMENT,
    GROUPS,
    STYLES,
    normalize_key,
)
from .styles import (
    _CONNECTION,
    _MIN_TEXT,
    _SENSITIVE,
)

if TYPE_CHECKING:
    pass

from .records import RecordMasking
from .styles import *  # noqa: F403


class Masker(RecordMasking):
    """The masking processor. Build it with the options ``configure(masking={...})``
    takes; call it on a record, or use :meth:`mask` / :meth:`mask_text` on values.

    Args:
        enabled: False makes :func:`build_masker` return None (no processor).
        keys: more sensitive key names (compared normalised: case and separators ignored).
        allow_keys: key names never masked, neither by name nor by value pattern.
        patterns: more patterns, ``{"name": r"regex"}``; the whole match is masked,
            or only the group named ``secret`` when the pattern has one.
        disable: categories or groups (``"pii"``, ``"financial"``, ``"identity"``,
            ``"tokens"``, ``"secrets"``, ``"all"``) to switch off.
        styles: ``{category or group: "full" | "partial" | "hash"}``.
        style: the style of every category not named in *styles* (default ``"full"``).
        replacement: the text of the full style (``"[REDACTED]"``; ``{category}``
            is replaced by the category name).
        salt: key of the hash style (str or bytes; default: random per process).
        max_depth: how deep nested containers are walked (deeper ones are
            checked as text).
    """

    def __init__(
        self,
        enabled: bool = True,
        keys: Iterable[str] = (),
        allow_keys: Iterable[str] = (),
        patterns: Optional[Mapping[str, Union[str, Pattern[str]]]] = None,
        disable: Iterable[str] = (),
        styles: Optional[Mapping[str, str]] = None,
        style: str = "full",
        replacement: str = DEFAULT_REPLACEMENT,
        salt: Union[str, bytes, None] = None,
        max_depth: int = DEFAULT_MAX_DEPTH,
    ) -> None:
        self.enabled = bool(enabled)
        self.extra_keys = frozenset(normalize_key(_as_name(k, "masking.keys")) for k in _as_list(keys, "masking.keys"))
        self.allow_keys = frozenset(
            normalize_key(_as_name(k, "masking.allow_keys")) for k in _as_list(allow_keys, "masking.allow_keys")
        )
        if not isinstance(replacement, str):
            raise ConfigError("masking.replacement", replacement, "a string, e.g. '[REDACTED]' or '***'")
        self.replacement = replacement
        if salt is not None and not isinstance(salt, (str, bytes)):
            raise ConfigError("masking.salt", salt, "a str or bytes secret")
        self._salt = salt.encode("utf-8") if isinstance(salt, str) else salt
        if type(max_depth) is not int or max_depth < 1:
            raise ConfigError("masking.max_depth", max_depth, "an int >= 1")
        self.max_depth = max_depth

        self.custom: Dict[str, Pattern[str]] = {}
        if patterns is not None:
            if not isinstance(patterns, Mapping):
                raise ConfigError("masking.patterns", patterns, 'a dict {"name": "regex"}')
            for name, pattern in patterns.items():
                key = f"masking.patterns.{name}"
                if not isinstance(name, str) or not name or name in CATEGORIES or name in GROUPS:
                    raise ConfigError(key, name, "a new name, not a built-in category or group")
                if isinstance(pattern, str):
                    try:
                        compiled = re.compile(pattern)
                    except re.error as exc:
                        raise ConfigError(key, pattern, f"a valid regular expression ({exc})") from None
                elif isinstance(pattern, re.Pattern) and isinstance(pattern.pattern, str):
                    compiled = pattern
                else:
                    raise ConfigError(key, pattern, "a regular expression (str or compiled)")
                if compiled.search("") is not None:
                    raise ConfigError(key, pattern, "a regular expression that does not match the empty string")
                self.custom[name] = compiled

        known = tuple(CATEGORIES) + tuple(self.custom)
        off = _expand(_as_list(disable, "masking.disable"), known, "masking.disable")
        self.disabled: frozenset[str] = frozenset(off)
        self.categories = tuple(c for c in known if c not in self.disabled)

        if style not in STYLES:
            raise ConfigError("masking.style", style, ", ".join(STYLES))
        self.styles: Dict[str, str] = dict.fromkeys(known, style)
        if styles is not None:
            if not isinstance(styles, Mapping):
                raise ConfigError("masking.styles", styles, '{"category or group": "full" | "partial" | "hash"}')
            for name, value in styles.items():
                if value not in STYLES:
                    raise ConfigError(f"masking.styles.{name}", value, ", ".join(STYLES))
                for category in _expand([name], known, "masking.styles"):
                    self.styles[category] = value
        self._full = {c: replacement.replace("{category}", c) for c in known}
        self._masks = frozenset(self._full.values())

        self._on = frozenset(self.categories)
        self._rules = self._build_rules()
        self._min_text = 1 if self.custom else _MIN_TEXT
        self._always = _T_ALWAYS if self.custom else 0
        self._keys_on = "keys" in self._on
        # Caches, bounded and cleared when full. Single set/dict operations are
        # atomic, so threads share them without a lock.
        self._clean: set[str] = set()  # strings known to hold nothing to mask
        self._clean_pairs: set[Tuple[Any, Any]] = set()  # (key, value) pairs known clean
        # the same pairs as key -> set of values, the layout the compiled check
        # reads (micktrace._speedups.fields_clean: no tuple built per pair)
        self._clean_values: Dict[Any, set[Any]] = {}
        self._fields_clean: Optional[Callable[[Dict[Any, Any], Dict[Any, set[Any]]], bool]] = _fields_clean()
        self._clean_records: Optional[Callable[..., List[int]]] = _clean_records()
        self._unknown: Optional[Callable[[Dict[Any, Any], Dict[Any, set[Any]]], List[Any]]] = _native_unknown()
        # the compiled per-field check knows the built-in rules only: with
        # custom patterns every string goes through the Python scan
        self._scan_fields: Optional[Callable[..., Optional[List[Any]]]] = None if self._always else _native_scan()
        self._clean_misses = 0
        self._remember_at = 16
        self._key_kinds: Dict[Any, int] = {}
        self._renamed: Dict[Any, str] = {}
        self._type_kinds: Dict[type, int] = {}
        # (source dict, its masked version, values masked under sensitive keys,
        # size): context and static dicts are immutable and shared by many records
        empty: Dict[str, Any] = {}
        self._ctx_cache: Tuple[Dict[str, Any], Any, Tuple[str, ...], int] = (empty, empty, (), 0)
        self._static_cache: Tuple[Dict[str, Any], Any, Tuple[str, ...], int] = (empty, empty, (), 0)

    def __repr__(self) -> str:
        return f"<micktrace.masking.Masker categories={list(self.categories)}>"

    def format_arg(self, key: Any, value: Any) -> Any:
        """*value*, given for ``%(key)s`` in a message: masked when *key* is a
        sensitive name (the rest of the message is scanned afterwards)."""
        if type(key) is not str and type(key) is not bytes:
            return value
        kind = self._key_kind(key)
        return self._keyed(kind, value, 0) if kind == _SENSITIVE or kind == _CONNECTION else value

    # -- rules ---------------------------------------------------------------

class _MaskedArgs:
    """The mapping argument of a ``"%(name)s"`` message, as the masker sees it:
    the value of a sensitive name is its masked stand-in (the key name is
    lost once the message is formatted, so it is judged here)."""

    __slots__ = ("_mapping", "_masker")

    def __init__(self, masker: Masker, mapping: Mapping[Any, Any]) -> None:
        self._masker = masker
        self._mapping = mapping

    def __getitem__(self, key: Any) -> Any:
        return self._masker.format_arg(key, self._mapping[key])

    def __str__(self) -> str:  # "%s" % mapping formats the mapping itself
        return str(self._mapping)

    def __repr__(self) -> str:
        return repr(self._mapping)


def mapping_args(processors: Sequence[Any], mapping: Mapping[Any, Any]) -> Any:
    """What to %-format a message with when its argument is *mapping*: the
    mapping seen through the masking processor when masking is on (it is the
    first of *processors*), the mapping itself otherwise."""
    masker = processors[0] if processors else None
    return _MaskedArgs(masker, mapping) if isinstance(masker, Masker) else mapping


def _fields_clean() -> Optional[Callable[[Dict[Any, Any], Dict[Any, set[Any]]], bool]]:
    """The compiled form of ``d.items() <= clean_pairs`` (micktrace._speedups), or None."""
    from .. import _native

    return _native.fields_clean


def _native_unknown() -> Optional[Callable[[Dict[Any, Any], Dict[Any, set[Any]]], List[Any]]]:
    """The compiled unknown-keys check (micktrace._speedups.unknown_keys), or None."""
    from .. import _native

    return _native.unknown_keys


def _native_scan() -> Optional[Callable[..., Optional[List[Any]]]]:
    """The compiled per-field check (micktrace._speedups.scan_fields), or None."""
    from .. import _native

    return _native.scan_fields


def _clean_records() -> Optional[Callable[..., List[int]]]:
    """The compiled batch check (micktrace._speedups.clean_records), or None.
    It reads the records' slots where the logger's compiled record builder
    told it they are, so it is used only when that builder was set up."""
    from .. import _native

    return _native.clean_records if _native.records_ready() else None


