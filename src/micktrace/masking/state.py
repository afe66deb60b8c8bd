"""The attributes every layer of the Masker reads, declared once.

Holds :class:`MaskerState`: no behaviour, only the annotations of what
``Masker.__init__`` (masking.engine) sets, so that the text, value and record
layers (masking.text, masking.values, masking.records) type-check on their own.

May import: masking.styles (for the rule type).
"""

from __future__ import annotations

from typing import Any, Callable, Dict, List, Optional, Pattern, Tuple

from .styles import _Rule


class MaskerState:
    enabled: bool
    extra_keys: frozenset[str]
    allow_keys: frozenset[str]
    replacement: str
    _salt: Optional[bytes]
    max_depth: int
    custom: Dict[str, Pattern[str]]
    disabled: frozenset[str]
    categories: Tuple[str, ...]
    styles: Dict[str, str]
    _full: Dict[str, str]
    _masks: frozenset[str]
    _on: frozenset[str]
    _rules: Tuple[_Rule, ...]
    _min_text: int
    _always: int
    _keys_on: bool
    _clean: set[str]
    _clean_pairs: set[Tuple[Any, Any]]
    _clean_values: Dict[Any, set[Any]]
    _fields_clean: Optional[Callable[[Dict[Any, Any], Dict[Any, set[Any]]], bool]]
    _clean_records: Optional[Callable[..., List[int]]]
    _unknown: Optional[Callable[[Dict[Any, Any], Dict[Any, set[Any]]], List[Any]]]
    _scan_fields: Optional[Callable[..., Optional[List[Any]]]]
    _clean_misses: int
    _remember_at: int
    _key_kinds: Dict[Any, int]
    _renamed: Dict[Any, str]
    _type_kinds: Dict[type, int]
    _ctx_cache: Tuple[Dict[str, Any], Any, Tuple[str, ...], int]
    _static_cache: Tuple[Dict[str, Any], Any, Tuple[str, ...], int]

    def _key_kind(self, key: Any) -> int:
        """How a dict key is treated (implemented by masking.values)."""
        raise NotImplementedError
