"""Masking values: dict keys and their kinds, nested containers walked to
``max_depth``, ints that look like cards, objects the JSON writer would expand,
and the caches of (key, value) pairs found clean. :class:`ValueMasking` is the
second layer of the Masker.

May import: errors, serialize, masking.rules, masking.styles, masking.text.
"""

from __future__ import annotations

from typing import (
    TYPE_CHECKING,
    Any,
    Dict,
    Iterable,
    List,
    Mapping,
    Optional,
    Tuple,
)

from .rules import (
    _default_sensitive,
    is_card_number,
    normalize_key,
)
from .styles import (
    _ALLOWED,
    _BYTES,
    _CACHE_LIMIT,
    _CACHE_MAX_LEN,
    _CARD_INT_MIN,
    _ECHO_MIN,
    _INT,
    _LIST,
    _MAPPING,
    _OTHER,
    _PLAIN,
    _RENAME,
    _SAFE,
    _SAFE_MODULES,
    _SENSITIVE,
    _SET,
    _STR,
    _TUPLE,
    _plain_text,
)

if TYPE_CHECKING:
    pass

from .styles import *  # noqa: F403
from .text import TextMasking


class ValueMasking(TextMasking):
    """Masking values (see the module docstring)."""

    def _key_kind(self, key: Any) -> int:
        kind = self._key_kinds.get(key)
        if kind is not None:
            return kind
        if not isinstance(key, str):
            kind = _PLAIN
        else:
            norm = normalize_key(key)
            if norm in self.allow_keys:
                kind = _ALLOWED
            elif self._keys_on and (norm in self.extra_keys or _default_sensitive(norm)):
                kind = _SENSITIVE
            else:
                kind = _PLAIN
                masked = self.mask_text(str.__str__(key))
                if masked != key:
                    kind = _RENAME
                    if len(self._renamed) >= _CACHE_LIMIT:
                        self._renamed.clear()
                    self._renamed[key] = masked
        kinds = self._key_kinds
        if len(kinds) >= _CACHE_LIMIT:
            kinds.clear()
        kinds[key] = kind
        return kind

    def _under_key(self, value: Any) -> Any:
        """The stand-in for a value stored under a sensitive key."""
        if value is None or value is True or value is False or value == "":
            return value  # nothing to hide, and "the password was empty" is worth seeing
        if type(value) is str:
            if value in self._masks:
                return value
            return self._mask_span("keys", value)
        return self._mask_span("keys", _plain_text(value))

    def _echoes(self, value: Any, out: List[str], depth: int = 0) -> None:
        """Collect the texts masked under sensitive keys in *value* (walked like
        :meth:`_dict`), to mask them where they recur in the message."""
        if depth > self.max_depth:
            return
        if isinstance(value, dict):
            for key, item in value.items():
                kind = self._key_kind(key)
                if kind == _SENSITIVE:
                    if item is None or item is True or item is False:
                        continue
                    text = item if type(item) is str else _plain_text(item)
                    if len(text) >= _ECHO_MIN and text not in self._masks:
                        out.append(text)
                elif kind != _ALLOWED:
                    self._echoes(item, out, depth + 1)
        elif isinstance(value, (list, tuple)):
            for item in value:
                self._echoes(item, out, depth + 1)

    # -- values --------------------------------------------------------------
    def mask(self, value: Any) -> Any:
        """*value* with secrets masked (the same object when there were none)."""
        return self._value(value, 0)

    def _dict(self, d: Mapping[Any, Any], depth: int) -> Any:
        """*d* with its secrets masked: the same dict when there were none,
        otherwise a new one (the caller's dicts are never modified)."""
        items: Iterable[Tuple[Any, Any]]
        scan = self._scan_fields
        if scan is not None and type(d) is dict:
            # compiled: None when every pair was seen clean before; otherwise
            # the fields left for Python, after it settled the plain values
            # no rule could match (remembering the new clean strings)
            keys = scan(
                d, self._clean_values, self._key_kinds, self._clean, self._min_text, _CACHE_LIMIT, _CACHE_MAX_LEN
            )
            if keys is None:
                return d
            items = [(key, d[key]) for key in keys]
        else:
            unknown = self._unknown_keys(d)
            if unknown is not None:
                if not unknown:  # every pair seen clean before: one C-level check
                    return d
                # only the fields not known clean (a value new on every call):
                # the others would be passed over below anyway
                items = [(key, d[key]) for key in unknown]
            else:
                items = d.items()
        out: Optional[Dict[Any, Any]] = None
        kinds = self._key_kinds
        clean = self._clean
        min_text = self._min_text
        for key, value in items:
            kind = kinds.get(key)
            if kind is None:
                kind = self._key_kind(key)
            if kind == _PLAIN:
                vtype = type(value)
                if vtype is str:
                    if len(value) < min_text or value in clean:
                        continue
                    new = self._scan(value)
                elif vtype is int:
                    if -_CARD_INT_MIN < value < _CARD_INT_MIN:
                        continue
                    new = self._int(value)
                elif vtype is float or vtype is bool or value is None:
                    continue
                else:
                    new = self._value(value, depth + 1)
            elif kind == _SENSITIVE:
                new = self._under_key(value)
            elif kind == _ALLOWED:
                continue
            else:
                return self._dict_renaming(d, depth)
            if new is not value:
                if out is None:
                    out = dict(d)
                out[key] = new
        if out is None:
            self._clean_misses += 1
            if self._clean_misses >= self._remember_at:
                self._remember_pairs(d)
            return d
        return out

    def _remember_pairs(self, d: Mapping[Any, Any]) -> None:
        """Remember the (key, value) pairs of a dict found clean. Not every one:
        the 16th clean dict that missed the cache, then at growing intervals (up
        to every 256th). Records whose values repeat are remembered soon and
        then stop missing; records with a value new on every call (a request
        id) keep missing, and pay less and less for the attempts."""
        self._clean_misses = 0
        self._remember_at = min(self._remember_at * 2, 256)
        pairs, by_key = self._clean_pairs, self._clean_values
        if len(pairs) + len(d) > _CACHE_LIMIT:
            pairs.clear()
            by_key.clear()
        for key, value in d.items():
            vtype = type(value)
            # plain values only (their equality cannot be faked), and no number
            # that equals a card number: 4111111111111111.0 == 4111111111111111
            if vtype is str:
                if len(value) > _CACHE_MAX_LEN:
                    continue
            elif vtype is int or vtype is float:
                if not -_CARD_INT_MIN < value < _CARD_INT_MIN:
                    continue
            elif not (vtype is bool or value is None):
                continue
            pairs.add((key, value))
            values = by_key.get(key)
            if values is None:
                values = by_key[key] = set()
            values.add(value)

    def _unknown_keys(self, d: Mapping[Any, Any]) -> Optional[List[Any]]:
        """The keys of *d* whose pair is not known clean ([] when all are), or
        None for "look at them all" (no compiled speedup, and not all known)."""
        fast = self._unknown
        if fast is not None and type(d) is dict:
            return fast(d, self._clean_values)
        try:
            if d.items() <= self._clean_pairs:
                return []
        except TypeError:  # an unhashable value
            pass
        return None

    def _all_clean(self, d: Mapping[Any, Any]) -> bool:
        """True if every (key, value) pair of *d* was remembered clean."""
        fast = self._fields_clean
        if fast is not None and type(d) is dict:
            return fast(d, self._clean_values)
        try:
            return d.items() <= self._clean_pairs
        except TypeError:  # an unhashable value
            return False

    def _dict_renaming(self, d: Mapping[Any, Any], depth: int) -> Dict[Any, Any]:
        """A new dict for *d*, some of whose keys hold secrets themselves."""
        out: Dict[Any, Any] = {}
        for key, value in d.items():
            kind = self._key_kind(key)
            if kind == _SENSITIVE:
                value = self._under_key(value)
            elif kind != _ALLOWED:
                value = self._value(value, depth + 1)
                if kind == _RENAME:
                    key = self._renamed.get(key) or self.mask_text(key)
                    base, n = key, 2
                    while key in out:  # two keys masked alike both stay
                        key = f"{base}#{n}"
                        n += 1
            out[key] = value
        return out

    def _int(self, value: int) -> Any:
        text = str(value)
        if "card" in self._on and 13 <= len(text) <= 19 and is_card_number(text):
            return self._mask_span("card", text)
        return value

    def _type_kind(self, vtype: type) -> int:
        import enum

        if issubclass(vtype, enum.Enum) or vtype.__module__ in _SAFE_MODULES:
            kind = _SAFE
        elif issubclass(vtype, str):
            kind = _STR
        elif issubclass(vtype, bool) or issubclass(vtype, (float, complex, range)):
            kind = _SAFE
        elif issubclass(vtype, int):
            kind = _INT
        elif issubclass(vtype, dict):
            kind = _MAPPING
        elif issubclass(vtype, (bytes, bytearray, memoryview)):
            kind = _BYTES
        elif issubclass(vtype, (set, frozenset)):
            kind = _SET
        elif issubclass(vtype, tuple):
            kind = _TUPLE if vtype is tuple else _OTHER  # namedtuples go by their fields
        elif issubclass(vtype, list):
            kind = _LIST
        else:
            kind = _OTHER
        self._type_kinds[vtype] = kind
        return kind

    def _value(self, value: Any, depth: int) -> Any:
        vtype = type(value)
        if vtype is str:
            return self.mask_text(value)
        if value is None or vtype is bool or vtype is float:
            return value
        if vtype is int:
            return value if -_CARD_INT_MIN < value < _CARD_INT_MIN else self._int(value)
        kind = self._type_kinds.get(vtype)
        if kind is None:
            kind = self._type_kind(vtype)
        if kind == _SAFE:
            return value
        if kind == _STR:
            text = str.__str__(value)
            masked = self.mask_text(text)
            return value if masked == text else masked
        if kind == _INT:
            number = int(value)
            return value if -_CARD_INT_MIN < number < _CARD_INT_MIN else self._int(number)
        if kind == _BYTES:
            text = bytes(value).decode("utf-8", "backslashreplace")
            masked = self.mask_text(text)
            return value if masked == text else masked
        if depth > self.max_depth:
            return self._as_text(value)
        if kind == _MAPPING:
            return self._dict(value, depth)
        if kind == _LIST or kind == _TUPLE or kind == _SET:
            changed = False
            items = []
            for item in value:
                new = self._value(item, depth + 1)
                changed = changed or new is not item
                items.append(new)
            if not changed:
                return value
            if kind == _LIST:
                return items
            if kind == _TUPLE:
                return tuple(items)
            try:
                return set(items)
            except TypeError:
                return items
        return self._object(value, depth)

    def _object(self, value: Any, depth: int) -> Any:
        """An object the formatters expand or print, masked through what they
        would write: JSON writes ``json_default``'s stand-in, text writes ``str()``."""
        from ..serialize import json_default, safe_str

        try:
            stand_in = json_default(value)
        except Exception:
            stand_in = None
        if isinstance(stand_in, (dict, list, tuple)):
            masked = self._value(stand_in, depth + 1)
            return value if masked is stand_in else masked
        text = safe_str(value)
        masked_text = self.mask_text(text)
        if masked_text != text:
            return masked_text
        if isinstance(stand_in, str) and stand_in != text and self.mask_text(stand_in) != stand_in:
            return text  # the repr shows a secret the str does not: write the str
        return value

    def _as_text(self, value: Any) -> Any:
        """Beyond ``max_depth``: the value stays, unless its text form shows a secret."""
        from ..serialize import safe_repr

        text = safe_repr(value, 1_000_000)
        masked = self.mask_text(text)
        return value if masked == text else masked

    # -- records -------------------------------------------------------------
