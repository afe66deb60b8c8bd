"""How a masked value is written: the partial styles (last digits, IBAN, email),
the hash style's salt, and the small building blocks the masker's rules are
made of (key kinds, value kinds, cache limits, :class:`_Rule`).

May import: errors, masking.rules.
"""

from __future__ import annotations

import re
from typing import (
    TYPE_CHECKING,
    Any,
    Callable,
    Dict,
    Optional,
    Pattern,
    Union,
)

from .rules import (
    _Lazy,
)

if TYPE_CHECKING:
    pass



# ---------------------------------------------------------------------------
# partial styles


def _keep_last_digits(text: str, keep: int = 4) -> str:
    total = sum(ch.isdigit() for ch in text)
    out = []
    seen = 0
    for ch in text:
        if ch.isdigit():
            seen += 1
            out.append(ch if seen > total - keep else "*")
        else:
            out.append(ch)
    return "".join(out)


def _partial_iban(text: str) -> str:
    total = sum(ch.isalnum() for ch in text)
    out = []
    seen = 0
    for ch in text:
        if ch.isalnum():
            seen += 1
            out.append(ch if seen <= 2 or seen > total - 4 else "*")
        else:
            out.append(ch)
    return "".join(out)


def _partial_email(text: str) -> str:
    return "***@" + text.rsplit("@", 1)[-1]


_PARTIAL: Dict[str, Callable[[str], str]] = {
    "card": _keep_last_digits,
    "ssn": _keep_last_digits,
    "phone": _keep_last_digits,
    "iban": _partial_iban,
    "email": _partial_email,
}
#: categories whose partial style keeps a non-secret prefix (the token type)
_PREFIXED = frozenset(("jwt", "aws", "github", "gitlab", "slack", "stripe", "google"))

_process_salt: Optional[bytes] = None


def _default_salt() -> bytes:
    """One random salt per process: hashes correlate within a process and cannot
    be reversed by hashing guesses; set ``salt`` to correlate across processes."""
    global _process_salt
    if _process_salt is None:
        import os

        _process_salt = os.urandom(16)
    return _process_salt


# ---------------------------------------------------------------------------
# the masker

# what the cache of key names holds for a key
_PLAIN = 0  # not sensitive, nothing to mask in the name
_SENSITIVE = 1  # the value is masked whatever it is
_ALLOWED = 2  # allow-listed: left alone entirely
_RENAME = 3  # the key text itself holds a secret (an email used as a key...)
_CONNECTION = 4  # a connection setting: a bare value is masked, a URL or DSN through the patterns

# what the cache of value types holds for a type
_SAFE = 0
_MAPPING = 1
_LIST = 2
_TUPLE = 3
_SET = 4
_STR = 5
_INT = 6
_BYTES = 7
_OTHER = 8
_ENUM = 9
_NAMEDTUPLE = 10

_CACHE_LIMIT = 4096
_CACHE_MAX_LEN = 512
#: a value masked under a sensitive key at least this long is also masked where
#: it recurs in the record's message, exception and stack text
_ECHO_MIN = 6
#: shortest string a built-in pattern can match (``pw=x``)
_MIN_TEXT = 4
#: ints from here up may be card numbers
_CARD_INT_MIN = 10**12
_SAFE_MODULES = frozenset(("datetime", "uuid", "decimal", "fractions", "ipaddress"))


class _Rule:
    __slots__ = ("apply", "bit")

    def __init__(self, bit: int, apply: Callable[[str], str]) -> None:
        self.bit = bit  # the _triggers() bit that lets it run
        self.apply = apply  # text -> masked text


def _substitution(regex: Union[_Lazy, Pattern[str]], replace: Callable[[re.Match[str]], str]) -> Callable[[str], str]:
    compiled: Optional[Pattern[str]] = regex if isinstance(regex, re.Pattern) else None

    def apply(text: str) -> str:
        nonlocal compiled
        if compiled is None:
            compiled = regex.get()  # type: ignore[union-attr]
        return compiled.sub(replace, text)

    return apply



def _plain_text(value: Any) -> str:
    if isinstance(value, (str, int, float)):
        return str(value)
    from ..serialize import safe_str

    return safe_str(value)


def _credential_like(scheme: str, secret: str) -> bool:
    """Whether the word after Bearer/Basic looks like a credential, not prose
    ("basic information", "bearer authentication")."""
    if scheme.lower() == "basic":
        import base64
        import binascii

        try:
            decoded = base64.b64decode(secret + "=" * (-len(secret) % 4), validate=True)
        except (binascii.Error, ValueError):
            return False
        return b":" in decoded
    if len(secret) < 8:
        return False
    if any(c.isdigit() or c in "-._~+/" for c in secret):
        return True
    return len(secret) >= 16 and any(c.isupper() for c in secret) and any(c.islower() for c in secret)


