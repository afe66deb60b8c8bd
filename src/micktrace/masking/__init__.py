"""Automatic masking of secrets and personal data, before any handler sees a record.

:class:`Masker` is a processor (``record -> record``) that ``configure()`` puts
first in the processor chain unless ``masking=False``. It looks at the message
(and the values of ``%(name)s`` arguments by name, before formatting), the
logger name, the fields (bound, ``extra=`` and keyword), the context, the
static fields, nested dicts/lists/tuples/sets, namedtuples by field name,
``(name, value)`` pairs by name, Enum values, objects the JSON writer would
expand (dataclasses, pydantic models, exceptions), any other object through
its ``str()`` (computed once, and written in its place), the exception
(message and traceback text, chained causes included) and ``stack_info``.

Two detectors:

* **key names**: a value stored under a sensitive key (``password``,
  ``api_key``, ``Authorization``, ``card_number``...) is replaced whatever it is.
  Names are compared lower-cased with separators removed, so ``apiKey``,
  ``API-KEY`` and ``api_key`` are one name, with look-alikes read as letters
  (``p@ssword``) and by words (``db_pass``, ``priv_key``); see masking.keys.
  A connection setting (``DATABASE_URL``) is masked whole when it holds a bare
  value, through the patterns when it holds a URL or DSN.
* **value patterns**: strings are scanned for card numbers (Luhn-checked),
  tokens of well-known services, JWTs, private keys, credentials in URLs,
  ``password=...`` pairs inside text, SSNs, IBANs (mod-97 checked), emails and
  phone numbers. Only the secret part of a match is replaced.

Cost: a string is first checked with a few substring tests that run at C speed
(``"@" in s``...); only strings that pass run the regular expressions, and
strings found clean are remembered in a bounded cache, so repeated messages and
values cost one set lookup. Nothing is copied unless something is masked: the
caller's dicts (bound fields, context) are never modified; a masked record gets
new dicts. All patterns are linear in the input (no nested unbounded
quantifiers), so long or hostile strings are scanned in bounded time.

See docs/masking.md for the category table and the configuration.

Modules, each importing only those before it: keys (key names), rules (the detectors), styles
(how a match is written), options_parse, state (the Masker's attributes),
text, values, records (the three layers of the Masker), engine (the Masker),
options (``configure(masking=...)``).

May import: _native, _report, errors, serialize, record.
"""

from __future__ import annotations

from .engine import Masker, mapping_args
from .options import build_masker, parse_masking
from .rules import (
    CATEGORIES,
    DEFAULT_MAX_DEPTH,
    DEFAULT_REPLACEMENT,
    GROUPS,
    STYLES,
    is_card_number,
    is_iban,
    is_sensitive_key,
    luhn_valid,
    normalize_key,
)
from .rules import _triggers as _triggers
from .styles import _CACHE_LIMIT as _CACHE_LIMIT
from .styles import _CACHE_MAX_LEN as _CACHE_MAX_LEN
from .styles import _MIN_TEXT as _MIN_TEXT

__all__ = [
    "CATEGORIES",
    "DEFAULT_MAX_DEPTH",
    "DEFAULT_REPLACEMENT",
    "GROUPS",
    "STYLES",
    "Masker",
    "build_masker",
    "is_card_number",
    "is_iban",
    "is_sensitive_key",
    "luhn_valid",
    "mapping_args",
    "normalize_key",
    "parse_masking",
]
