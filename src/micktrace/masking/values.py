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
    _URL_USERINFO,
    KEY_CONNECTION,
    KEY_SENSITIVE,
    classify_key,
    is_card_number,
    normalize_key,
)
from .styles import (
    _ALLOWED,
    _BYTES,
    _CACHE_LIMIT,
    _CACHE_MAX_LEN,
    _CARD_INT_MIN,
    _CONNECTION,
    _ECHO_MIN,
    _ENUM,
    _INT,
    _LIST,
    _MAPPING,
    _NAMEDTUPLE,
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
        if isinstance(key, str):
            name = str.__str__(key)
        elif type(key) is bytes:  # ASGI headers, raw WSGI environ pairs
            name = key.decode("latin-1")
        else:
            name = None
        if name is None:
            kind = _PLAIN
        else:
            norm = normalize_key(name)
            if norm in self.allow_keys:
                kind = _ALLOWED
            elif not self._keys_on:
                kind = _PLAIN
            elif norm in self.extra_keys:
                kind = _SENSITIVE
            else:
                found = classify_key(name)
                kind = _SENSITIVE if found == KEY_SENSITIVE else _CONNECTION if found == KEY_CONNECTION else _PLAIN
            if kind == _PLAIN and isinstance(key, str):
                masked = self.mask_text(name)
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
        return self._mask_span("keys", _text_of(value))

    def _under_connection(self, value: Any) -> Any:
        """The stand-in for a value stored under a connection setting's name:
        a URL or ``key=value`` string keeps what the patterns leave of it (and
        a user name given without a password is masked, as it may be a token);
        anything else is a bare secret, masked whole."""
        if value is None or value is True or value is False or value == "":
            return value
        text = _text_of(value)
        if not _structured(text):
            return value if text in self._masks else self._mask_span("keys", text)
        masked = self.mask_text(text)
        if "@" in masked:
            span = self._mask_span
            masked = _URL_USERINFO.get().sub(lambda m: m.group("pre") + span("keys", m.group("user")), masked)
        return value if masked == text else masked

    def _keyed(self, kind: int, value: Any, depth: int) -> Any:
        """*value*, stored under a key of the given kind, masked."""
        if kind == _SENSITIVE:
            return self._under_key(value)
        if kind == _CONNECTION:
            return self._under_connection(value)
        if kind == _ALLOWED:
            return value
        return self._value(value, depth + 1)

    def _echoes(self, value: Any, out: List[str], depth: int = 0) -> None:
        """Collect the texts masked under sensitive keys in *value* (walked like
        :meth:`_dict`), to mask them where they recur in the message."""
        if depth > self.max_depth:
            return
        if isinstance(value, Mapping):
            for key, item in value.items():
                self._echo_keyed(self._key_kind(key), item, out, depth)
        elif isinstance(value, (list, tuple)):
            fields = getattr(value, "_fields", None)
            if isinstance(fields, tuple) and len(fields) == len(value):
                for name, item in zip(fields, value):
                    self._echo_keyed(self._key_kind(name), item, out, depth)
                return
            for item in value:
                if _is_pair(item):
                    self._echo_keyed(self._key_kind(item[0]), item[1], out, depth)
                else:
                    self._echoes(item, out, depth + 1)

    def _echo_keyed(self, kind: int, item: Any, out: List[str], depth: int) -> None:
        if kind == _SENSITIVE or kind == _CONNECTION:
            if item is None or item is True or item is False:
                return
            text = item if type(item) is str else _text_of(item)
            if kind == _CONNECTION and _structured(text):
                return
            if len(text) >= _ECHO_MIN and text not in self._masks:
                out.append(text)
        elif kind != _ALLOWED:
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
            elif kind == _ALLOWED:
                continue
            elif kind == _RENAME:
                return self._dict_renaming(d, depth)
            else:
                new = self._keyed(kind, value, depth)
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
            value = self._keyed(kind, value, depth)
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

        if issubclass(vtype, enum.Enum):
            kind = _ENUM
        elif vtype.__module__ in _SAFE_MODULES:
            kind = _SAFE
        elif issubclass(vtype, str):
            kind = _STR
        elif issubclass(vtype, bool) or issubclass(vtype, (float, complex, range)):
            kind = _SAFE
        elif issubclass(vtype, int):
            kind = _INT
        elif issubclass(vtype, dict):
            kind = _MAPPING
        elif issubclass(vtype, Mapping):
            kind = _MAPPING  # any other mapping (request headers, os.environ) is walked like a dict
        elif issubclass(vtype, (bytes, bytearray, memoryview)):
            kind = _BYTES
        elif issubclass(vtype, (set, frozenset)):
            kind = _SET
        elif issubclass(vtype, tuple):
            # namedtuples go by their field names
            named = isinstance(getattr(vtype, "_fields", None), tuple)
            kind = _TUPLE if vtype is tuple else _NAMEDTUPLE if named else _OTHER
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
        if kind == _ENUM:
            # written as its value (JSON) or its name (text): the value is masked
            # like any other, and replaces the member when it holds a secret
            try:
                inner = value.value
            except Exception:  # a member whose value cannot be read: judged by its text
                return self._object(value, depth)
            masked = self._value(inner, depth + 1)
            return value if masked is inner else masked
        if kind == _OTHER:
            return self._object(value, depth)
        if depth > self.max_depth:
            return self._as_text(value)
        if kind == _MAPPING:
            return self._dict(value, depth)
        if kind == _LIST or kind == _TUPLE or kind == _SET:
            return self._sequence(value, kind, depth)
        return self._namedtuple(value, depth)

    def _sequence(self, value: Any, kind: int, depth: int) -> Any:
        """A list, tuple or set; a ``(name, value)`` pair in it (a 2-item tuple or
        list whose first item is a str or bytes: ASGI headers, ``dict.items()``)
        is masked as a dict entry is, by its name."""
        changed = False
        items = []
        for item in value:
            if _is_pair(item):
                new = self._pair(item, depth + 1)
            else:
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

    def _pair(self, item: Any, depth: int) -> Any:
        key, value = item
        kind = self._key_kind(key)
        if kind == _PLAIN or kind == _RENAME:
            return self._value(item, depth)
        new = self._keyed(kind, value, depth)
        if new is value:
            return item
        return (key, new) if isinstance(item, tuple) else [key, new]

    def _namedtuple(self, value: Any, depth: int) -> Any:
        """A namedtuple, masked by its field names: the same type with the
        masked values (a dict of them if the type refuses them)."""
        fields = value._fields
        if len(fields) != len(value):
            return self._object(value, depth)
        changed = False
        items = []
        for name, item in zip(fields, value):
            new = self._keyed(self._key_kind(name), item, depth)
            changed = changed or new is not item
            items.append(new)
        if not changed:
            return value
        try:
            return type(value)._make(items)
        except Exception:
            return dict(zip(fields, items))

    def _object(self, value: Any, depth: int) -> Any:
        """An object the formatters expand or print, masked through what they
        would write. One with a JSON stand-in (a dataclass, a model, an
        exception...) is masked through it. Any other is replaced by its
        ``str()`` text, masked: the only time its ``__str__``/``__repr__``
        runs for this record (the formatters write the text)."""
        from ..lazy_values import Lazy
        from ..serialize import UNEXPANDED, expand, safe_str

        if type(value) is Lazy:
            return value  # computed when written, and masked then (formatters.base.resolve_lazy)
        try:
            stand_in = expand(value)
        except Exception:
            stand_in = UNEXPANDED
        if isinstance(stand_in, (dict, list, tuple)):
            masked = self._value(stand_in, depth + 1)
            if masked is stand_in and not isinstance(value, BaseException):
                return value
            return masked  # an exception's stand-in holds its str(): not computed twice
        if isinstance(stand_in, str):
            masked_text = self.mask_text(stand_in)
            return value if masked_text is stand_in else masked_text
        if stand_in is not UNEXPANDED:
            return value
        return self.mask_text(safe_str(value))

    def _as_text(self, value: Any) -> Any:
        """Beyond ``max_depth``: the value stays, unless its text form shows a secret."""
        from ..serialize import safe_repr

        text = safe_repr(value, 1_000_000)
        masked = self.mask_text(text)
        return value if masked == text else masked

    # -- records -------------------------------------------------------------


def _is_pair(item: Any) -> bool:
    """A ``(name, value)`` pair: a 2-item tuple or list whose first item is a str or bytes."""
    itype = type(item)
    return (itype is tuple or itype is list) and len(item) == 2 and type(item[0]) in (str, bytes)


def _text_of(value: Any) -> str:
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value).decode("utf-8", "backslashreplace")
    return _plain_text(value)


def _structured(text: str) -> bool:
    """A URL or a ``key=value`` connection string, not a bare secret."""
    return "://" in text or "=" in text
