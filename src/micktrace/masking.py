"""Automatic masking of secrets and personal data, before any handler sees a record.

:class:`Masker` is a processor (``record -> record``) that ``configure()`` puts
first in the processor chain unless ``masking=False``. It looks at the message,
the fields (bound, ``extra=`` and keyword), the context, the static fields,
nested dicts/lists/tuples/sets, objects the JSON writer would expand
(dataclasses, pydantic models, exceptions), the exception (message and
traceback text, chained causes included) and ``stack_info``.

Two detectors:

* **key names**: a value stored under a sensitive key (``password``,
  ``api_key``, ``Authorization``, ``card_number``...) is replaced whatever it is.
  Names are compared lower-cased with separators removed, so ``apiKey``,
  ``API-KEY`` and ``api_key`` are one name.
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

from .errors import ConfigError

if TYPE_CHECKING:
    from .record import LogRecord

__all__ = [
    "CATEGORIES",
    "DEFAULT_REPLACEMENT",
    "GROUPS",
    "STYLES",
    "Masker",
    "build_masker",
    "is_card_number",
    "is_iban",
    "is_sensitive_key",
    "luhn_valid",
    "normalize_key",
    "parse_masking",
]

#: The text of the ``full`` style; ``{category}`` is replaced by the category name.
DEFAULT_REPLACEMENT = "[REDACTED]"
#: Masking styles: the whole secret replaced, part of it kept, or a keyed hash.
STYLES = ("full", "partial", "hash")
#: Deepest nesting walked into; anything deeper is checked as its ``repr`` text.
DEFAULT_MAX_DEPTH = 8

#: Every built-in category: name -> (group, what it matches, what ``partial`` keeps).
#: All are on by default.
CATEGORIES: Dict[str, Tuple[str, str, str]] = {
    "keys": (
        "secrets",
        "any value under a sensitive key name (password, token, api_key, authorization, cookie, "
        "session, card_number, cvv, ssn, ...), in fields, context, nested dicts",
        "nothing (same as full)",
    ),
    "assignment": (
        "secrets",
        'sensitive key/value pairs inside text: password=..., "token": "...", '
        "Password=...; in connection strings, api_key=... in query strings",
        "nothing (same as full)",
    ),
    "url_credentials": ("secrets", "the password in scheme://user:password@host", "nothing (same as full)"),
    "private_key": ("secrets", "PEM private key blocks (-----BEGIN ... PRIVATE KEY----- ...)", "nothing"),
    "jwt": ("secrets", "JSON Web Tokens (eyJ....eyJ....sig)", "the eyJ prefix"),
    "auth_header": ("secrets", "Bearer and Basic credentials (the scheme word is kept)", "nothing"),
    "aws": ("secrets", "AWS access key ids (AKIA/ASIA...) and 40-character secret access keys", "the AKIA/ASIA prefix"),
    "github": ("secrets", "GitHub tokens (ghp_, gho_, ghu_, ghs_, ghr_, github_pat_)", "the token prefix"),
    "gitlab": ("secrets", "GitLab personal access tokens (glpat-)", "the token prefix"),
    "slack": ("secrets", "Slack tokens (xoxb-, xoxp-, ...) and webhook URLs", "the token prefix"),
    "stripe": ("secrets", "Stripe secret and restricted keys (sk_live_, rk_test_, ...) and webhook secrets", "prefix"),
    "google": ("secrets", "Google API keys (AIza...) and OAuth access tokens (ya29.)", "the token prefix"),
    "card": ("financial", "payment card numbers, Luhn-checked, known issuer prefixes, spaces or dashes", "last 4"),
    "iban": ("financial", "IBANs, country length and mod-97 checked, with or without spaces", "country, last 4"),
    "ssn": ("identity", "US social security numbers (123-45-6789, valid ranges only)", "last 4 digits"),
    "email": ("pii", "email addresses", "the domain"),
    "phone": ("pii", "phone numbers: +international and North American formats", "last 4 digits"),
}
#: Group names usable wherever a category name is: ``disable=["pii"]``.
GROUPS: Dict[str, Tuple[str, ...]] = {
    "pii": ("email", "phone"),
    "financial": ("card", "iban"),
    "identity": ("ssn",),
    "tokens": ("jwt", "auth_header", "aws", "github", "gitlab", "slack", "stripe", "google"),
    "secrets": tuple(name for name, info in CATEGORIES.items() if info[0] == "secrets"),
    "all": tuple(CATEGORIES),
}

_OPTION_KEYS = (
    "enabled",
    "keys",
    "allow_keys",
    "patterns",
    "disable",
    "styles",
    "style",
    "replacement",
    "salt",
    "max_depth",
)

# ---------------------------------------------------------------------------
# key names

#: normalised names that are sensitive on their own
_KEY_EXACT = frozenset(
    (
        "pw",
        "pwd",
        "pass",
        "passwd",
        "password",
        "secret",
        "token",
        "auth",
        "session",
        "sid",
        "cookie",
        "jwt",
        "otp",
        "pin",
        "pincode",
        "ssn",
        "cvv",
        "cvc",
        "cvv2",
        "cvc2",
        "iban",
        "apikey",
        "card",
    )
)
#: a normalised name ending with one of these is sensitive (``db_password``, ``github_token``)
_KEY_SUFFIXES = (
    "password",
    "passwd",
    "passphrase",
    "pwd",
    "secret",
    "token",
    "apikey",
    "accesskey",
    "secretkey",
    "privatekey",
    "signingkey",
    "encryptionkey",
    "masterkey",
    "authorization",
    "auth",
    "cookie",
    "sessionid",
    "sessionkey",
    "credential",
    "credentials",
    "creditcard",
    "cardnumber",
    "cardno",
    "ccnumber",
    "cvv",
    "cvc",
    "ssn",
    "socialsecuritynumber",
    "iban",
    "accountnumber",
    "authheader",
    "jwt",
    "otp",
)
#: a normalised name containing one of these is sensitive (``password_confirmation``)
_KEY_PARTS = (
    "password",
    "passwd",
    "passphrase",
    "secret",
    "apikey",
    "privatekey",
    "accesstoken",
    "refreshtoken",
    "creditcard",
    "cardnumber",
    "authorization",
)
_KEY_SEPARATORS = re.compile(r"[^0-9a-z]+")


def normalize_key(name: str) -> str:
    """*name* lower-cased without separators: ``"X-Api-Key"`` -> ``"xapikey"``."""
    return _KEY_SEPARATORS.sub("", name.lower())


def is_sensitive_key(name: str) -> bool:
    """True when the default rules treat a value stored under *name* as a secret."""
    return _default_sensitive(normalize_key(name))


def _default_sensitive(norm: str) -> bool:
    if not norm:
        return False
    if norm in _KEY_EXACT or norm.endswith(_KEY_SUFFIXES):
        return True
    return any(part in norm for part in _KEY_PARTS)


class _Lazy:
    """A regular expression compiled on first use: compiling them all costs ~3 ms,
    and most are needed only when a string holds what they look for."""

    __slots__ = ("_compiled", "pattern")

    def __init__(self, pattern: str) -> None:
        self.pattern = pattern
        self._compiled: Optional[Pattern[str]] = None

    def get(self) -> Pattern[str]:
        compiled = self._compiled
        if compiled is None:
            compiled = self._compiled = re.compile(self.pattern)
        return compiled


# ---------------------------------------------------------------------------
# value patterns. Every pattern is linear: repetitions are bounded, or made of
# character classes that cannot overlap with what follows them.

# What the number categories (card, SSN, phone, IBAN) need, checked before
# running them: a run of digits and separators holding 9 digits, not the tail
# of a UUID or version ("-" or "." before it), or a "+" or dotted phone. A
# single-class search is the fastest the regex engine does; the rare runs it
# finds are checked in Python.
_NUMBER_RUN = re.compile(r"[0-9][0-9 \-()/]{7,}[0-9]")
_PLUS_PHONE = _Lazy(r"\+[0-9][0-9 .\-()/]{7,}[0-9]")
_DOTTED_PHONE = _Lazy(r"[0-9]{3}\.[0-9]{3}\.[0-9]{4}")


def _numbers_possible(s: str) -> bool:
    if _NUMBER_RUN.search(s) is not None:
        for match in _NUMBER_RUN.finditer(s):
            run = match.group()
            start = match.start()
            if start and s[start - 1] in "-.":
                # the first group continues a UUID or a version: only what
                # follows it can be a number on its own
                cut = len(run) - len(run.lstrip("0123456789"))
                run = run[cut:]
            if sum(map(str.isdigit, run)) >= 9:
                return True
    if "+" in s and _PLUS_PHONE.get().search(s) is not None:
        return True
    return len(s) >= 12 and "." in s and _DOTTED_PHONE.get().search(s) is not None


_PEM = _Lazy(
    r"-----BEGIN[A-Z0-9 ]{0,40} PRIVATE KEY(?: BLOCK)?-----"
    r"[\s\S]*?(?:-----END[A-Z0-9 ]{0,40} PRIVATE KEY(?: BLOCK)?-----|\Z)"
)
# key and separator: `password=`, `"token": `, `Password = `, `\"secret\": `.
# A key starts where no key character precedes it, so a long word is tried
# once, not at each of its characters. The key is checked with the same rules
# as field names; only a sensitive key has its value matched (anchored, right
# after the separator), and the scan goes on after the separator, so
# `note="api_key=x"` finds the inner pair.
_ASSIGNMENT_KEY = _Lazy(
    r"(?<![A-Za-z0-9_.\-])(?P<key>[A-Za-z0-9_][A-Za-z0-9_.\-]*)(?P<sep>(?:\\?[\"'])?[ \t]{0,3}(?:=>|=|:)[ \t]{0,3})"
)
# quoted (escapes allowed; unrolled so it stays linear), quoted inside a
# string, unterminated quote (to the end of the line), or a bare word,
# optionally after an authorization scheme
_ASSIGNMENT_VALUE = _Lazy(
    r"\"[^\"\\\n]*(?:\\.[^\"\\\n]*)*\"|'[^'\\\n]*(?:\\.[^'\\\n]*)*'"
    r"|\\[\"'][^\"'\n]*[\"']|[\"'][^\n]*"
    r"|(?:(?:[Bb]earer|BEARER|[Bb]asic|BASIC|[Tt]oken|[Dd]igest)[ \t]+)?[^\s\"',;&<>(){}\[\]]+"
)
_URL_CREDENTIALS = _Lazy(
    r"(?P<pre>\b[A-Za-z][A-Za-z0-9+.\-]{0,30}://[^\s:/?#@\[\]]{0,256}:)(?P<secret>[^\s/?#@]{1,256})(?=@)"
)
_JWT = _Lazy(r"\beyJ[A-Za-z0-9_\-]{5,4096}\.[A-Za-z0-9_\-]{5,8192}\.[A-Za-z0-9_\-]{0,4096}")
_AUTH_HEADER = _Lazy(r"\b(?P<scheme>[Bb]earer|BEARER|[Bb]asic|BASIC)[ \t]+(?P<secret>[A-Za-z0-9\-._~+/]{6,8192}=*)")
_GITHUB = _Lazy(r"\b(?P<prefix>gh[pousr]_|github_pat_)[A-Za-z0-9_]{30,255}\b")
_GITLAB = _Lazy(r"\b(?P<prefix>glpat-)[A-Za-z0-9_\-]{20,64}")
_SLACK = _Lazy(
    r"\b(?P<prefix>xox[abposre]-)[A-Za-z0-9\-]{10,255}"
    r"|(?P<prefix2>https://hooks\.slack\.com/services/)[A-Za-z0-9_/]{10,255}"
)
_STRIPE = _Lazy(r"\b(?P<prefix>(?:sk|rk)_(?:live|test)_|whsec_)[A-Za-z0-9]{10,255}")
_GOOGLE = _Lazy(r"\b(?P<prefix>AIza)[0-9A-Za-z_\-]{35}|\b(?P<prefix2>ya29\.)[0-9A-Za-z_\-]{20,2048}")
_AWS_KEY_ID = _Lazy(r"\b(?P<prefix>AKIA|ASIA)[A-Z0-9]{16}\b")
_AWS_SECRET = _Lazy(r"[A-Za-z0-9/+]{40,}")
# the number categories in one pass; each alternative is validated by the callback
_NUMBERS = _Lazy(
    r"(?P<card>(?<![\w.\-])[0-9](?:[ \-]?[0-9]){12,18}(?![\w\-]))"
    r"|(?P<ssn>(?<![\w.\-])[0-9]{3}(?P<ssnsep>[\- ])[0-9]{2}(?P=ssnsep)[0-9]{4}(?![\w\-]))"
    r"|(?P<phone>(?<![\w+])\+[0-9](?:[ .\-()]{0,2}[0-9]){6,14}(?![\w])"
    r"|(?<![\w.\-+])(?:\([2-9][0-9]{2}\)[ .\-]?|[2-9][0-9]{2}[ .\-])[2-9][0-9]{2}[ .\-][0-9]{4}(?![\w])(?![.\-][0-9]))"
    r"|(?P<iban>\b[A-Z]{2}[0-9]{2}(?: ?[A-Z0-9]){11,30}\b)"
)
_EMAIL = _Lazy(r"[A-Za-z0-9._%+\-]{1,64}@[A-Za-z0-9\-]{1,63}(?:\.[A-Za-z0-9\-]{1,63}){0,8}\.[A-Za-z]{2,24}\b")
_SCHEMES = frozenset(("bearer", "basic", "token", "digest"))


_IBAN_LENGTHS = {
    "AD": 24, "AE": 23, "AL": 28, "AT": 20, "AZ": 28, "BA": 20, "BE": 16, "BG": 22, "BH": 22, "BR": 29,
    "BY": 28, "CH": 21, "CR": 22, "CY": 28, "CZ": 24, "DE": 22, "DK": 18, "DO": 28, "EE": 20, "EG": 29,
    "ES": 24, "FI": 18, "FO": 18, "FR": 27, "GB": 22, "GE": 22, "GI": 23, "GL": 18, "GR": 27, "GT": 28,
    "HR": 21, "HU": 28, "IE": 22, "IL": 23, "IQ": 23, "IS": 26, "IT": 27, "JO": 30, "KW": 30, "KZ": 20,
    "LB": 28, "LC": 32, "LI": 21, "LT": 20, "LU": 20, "LV": 21, "LY": 25, "MC": 27, "MD": 24, "ME": 22,
    "MK": 19, "MR": 27, "MT": 31, "MU": 30, "NL": 18, "NO": 15, "PK": 24, "PL": 28, "PS": 29, "PT": 25,
    "QA": 29, "RO": 24, "RS": 22, "SA": 24, "SC": 31, "SD": 18, "SE": 24, "SI": 19, "SK": 24, "SM": 27,
    "ST": 25, "SV": 28, "TL": 23, "TN": 24, "TR": 26, "UA": 29, "VA": 22, "VG": 24, "XK": 20,
}  # fmt: skip


def luhn_valid(digits: str) -> bool:
    """The Luhn checksum of a string of digits."""
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = ord(ch) - 48
        if i & 1:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def _card_issuer_ok(d: str) -> bool:
    """A known issuer prefix with a length that issuer uses: rules out most
    Luhn-valid order numbers and timestamps."""
    n = len(d)
    first = d[0]
    if first == "4":
        return n in (16, 19)  # 13-digit Visa numbers are long retired; EAN-13 barcodes are not
    p2 = int(d[:2])
    p3 = int(d[:3])
    p4 = int(d[:4])
    if 51 <= p2 <= 55 or 2221 <= p4 <= 2720:
        return n == 16
    if p2 in (34, 37):
        return n == 15
    if p4 == 6011 or 644 <= p3 <= 649 or p2 == 65 or p2 == 62:
        return 16 <= n <= 19
    if 3528 <= p4 <= 3589:
        return 16 <= n <= 19
    if 300 <= p3 <= 305 or p2 in (36, 38, 39):
        return 14 <= n <= 19
    if p2 in (50, 56, 57, 58, 67):
        return 16 <= n <= 19
    return False


def is_card_number(text: str) -> bool:
    """True for a payment card number (digits with optional spaces or dashes)."""
    digits = text.replace(" ", "").replace("-", "")
    if not digits.isdigit() or not 13 <= len(digits) <= 19:
        return False
    separators = {ch for ch in text if ch in " -"}
    if len(separators) > 1:
        return False
    if separators:
        # printed cards group digits 4-4-4-4(-3), or 4-6-4 / 4-6-5 (Diners, Amex);
        # other groupings are order numbers and the like
        groups = [len(group) for group in text.split(separators.pop())]
        if groups not in ([4, 6, 4], [4, 6, 5]) and any(n != 4 for n in groups[:-1]):
            return False
    return _card_issuer_ok(digits) and luhn_valid(digits)


def is_iban(text: str) -> bool:
    """True for an IBAN with the right length for its country and a valid checksum."""
    compact = text.replace(" ", "")
    if _IBAN_LENGTHS.get(compact[:2]) != len(compact):
        return False
    moved = compact[4:] + compact[:4]
    try:
        number = int("".join(str(int(ch, 36)) for ch in moved))
    except ValueError:
        return False
    return number % 97 == 1


def _ssn_valid(text: str) -> bool:
    area, group, serial = text[:3], text[4:6], text[7:]
    return area != "000" and area != "666" and area[0] != "9" and group != "00" and serial != "0000"


def _phone_valid(text: str) -> bool:
    digits = sum(ch.isdigit() for ch in text)
    if text.startswith("+"):
        return 9 <= digits <= 15
    return digits == 10


def _aws_secret_valid(text: str) -> bool:
    # exactly 40 characters of mixed case with a digit; paths (which share the
    # alphabet) start with "/" or hold several slashes
    return (
        len(text) == 40
        and not text.startswith("/")
        and text.count("/") < 3
        and any(c.isdigit() for c in text)
        and any(c.isupper() for c in text)
        and any(c.islower() for c in text)
    )


# what a string may hold, as bits; each rule runs only when its bit is set
_T_AT = 1
_T_ASSIGN = 2
_T_UNDERSCORE = 4
_T_PEM = 8
_T_JWT = 16
_T_AUTH = 32
_T_GITLAB = 64
_T_SLACK = 128
_T_GOOGLE = 256
_T_AWS_ID = 512
_T_LONG = 1024
_T_NUMBERS = 2048
_T_ALWAYS = 4096


def _triggers(s: str) -> int:
    """Which built-in rules could match *s*. Substring tests run at C speed and
    are skipped for strings too short to hold what they look for, so most clean
    strings are ruled out without running any regular expression."""
    bits = 0
    if "@" in s:
        bits = _T_AT
    if "=" in s or ":" in s:
        bits |= _T_ASSIGN
    if "_" in s:
        bits |= _T_UNDERSCORE
    size = len(s)
    if size >= 10:  # the shortest: "Bearer abcdef", "+123456789", "123-45-6789"
        if (" " in s or "\t" in s) and ("earer" in s or "EARER" in s or "asic" in s or "ASIC" in s):
            bits |= _T_AUTH
        if size >= 15:
            if "eyJ" in s:
                bits |= _T_JWT
            if "xox" in s or "hooks.slack" in s:
                bits |= _T_SLACK
            if size >= 20:
                if "-----" in s:
                    bits |= _T_PEM
                if "glpat" in s:
                    bits |= _T_GITLAB
                if "AIza" in s or "ya29." in s:
                    bits |= _T_GOOGLE
                if "AKIA" in s or "ASIA" in s:
                    bits |= _T_AWS_ID
                if size >= 40:
                    bits |= _T_LONG
        if _numbers_possible(s):
            bits |= _T_NUMBERS
    return bits


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


class Masker:
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

    # -- rules ---------------------------------------------------------------
    def _build_rules(self) -> Tuple[_Rule, ...]:
        span = self._mask_span
        on = self._on
        rules: List[_Rule] = []

        def add(
            category: str, regex: Union[_Lazy, Pattern[str]], bit: int, replace: Callable[[re.Match[str]], str]
        ) -> None:
            if category in on:
                rules.append(_Rule(bit, _substitution(regex, replace)))

        def whole(category: str) -> Callable[[re.Match[str]], str]:
            return lambda m: span(category, m.group())

        def prefixed(category: str) -> Callable[[re.Match[str]], str]:
            def replace(m: re.Match[str]) -> str:
                groups = m.groupdict()
                return span(category, m.group(), groups.get("prefix") or groups.get("prefix2") or "")

            return replace

        def url(m: re.Match[str]) -> str:
            return m.group("pre") + span("url_credentials", m.group("secret"))

        def auth(m: re.Match[str]) -> str:
            secret = m.group("secret")
            if not _credential_like(m.group("scheme"), secret):
                return m.group()
            return m.group("scheme") + " " + span("auth_header", secret)

        def aws_secret(m: re.Match[str]) -> str:
            text = m.group()
            return span("aws", text) if _aws_secret_valid(text) else text

        # user patterns first: they are specific by intent
        for name, regex in self.custom.items():
            add(name, regex, _T_ALWAYS, self._custom_replace(name, regex))
        # then the most specific: a private key or a token inside `key=value`
        # must be found whole before the pair is
        add("private_key", _PEM, _T_PEM, whole("private_key"))
        add("jwt", _JWT, _T_JWT, lambda m: span("jwt", m.group(), "eyJ"))
        add("auth_header", _AUTH_HEADER, _T_AUTH, auth)
        add("github", _GITHUB, _T_UNDERSCORE, prefixed("github"))
        add("gitlab", _GITLAB, _T_GITLAB, prefixed("gitlab"))
        add("slack", _SLACK, _T_SLACK, prefixed("slack"))
        add("stripe", _STRIPE, _T_UNDERSCORE, prefixed("stripe"))
        add("google", _GOOGLE, _T_GOOGLE, prefixed("google"))
        add("aws", _AWS_KEY_ID, _T_AWS_ID, prefixed("aws"))
        add("aws", _AWS_SECRET, _T_LONG, aws_secret)
        add("url_credentials", _URL_CREDENTIALS, _T_AT, url)
        if "assignment" in on:
            rules.append(_Rule(_T_ASSIGN, self._mask_assignments))
        if on.intersection(("card", "ssn", "phone", "iban")):
            rules.append(_Rule(_T_NUMBERS, _substitution(_NUMBERS, self._number_replace)))
        add("email", _EMAIL, _T_AT, whole("email"))
        return tuple(rules)

    def _custom_replace(self, name: str, regex: Pattern[str]) -> Callable[[re.Match[str]], str]:
        span = self._mask_span
        if "secret" in regex.groupindex:

            def replace_group(m: re.Match[str]) -> str:
                start, end = m.span("secret")
                text = m.group()
                if start < 0:
                    return text
                base = m.start()
                return text[: start - base] + span(name, text[start - base : end - base]) + text[end - base :]

            return replace_group
        return lambda m: span(name, m.group())

    def _number_replace(self, m: re.Match[str]) -> str:
        text = m.group()
        category = m.lastgroup
        if category == "ssnsep":
            category = "ssn"
        if category not in self._on:
            return text
        if category == "card":
            valid = is_card_number(text)
        elif category == "ssn":
            valid = _ssn_valid(text)
        elif category == "phone":
            valid = _phone_valid(text)
        else:
            valid = is_iban(text)
        return self._mask_span(category, text) if valid else text

    def _mask_assignments(self, text: str) -> str:
        """*text* with the values of sensitive ``key=value`` pairs masked."""
        parts: List[str] = []
        done = 0  # text[:done] is settled
        pos = 0
        search = _ASSIGNMENT_KEY.get().search
        value_at = _ASSIGNMENT_VALUE.get().match
        while True:
            m = search(text, pos)
            if m is None:
                break
            pos = m.end()
            key = m.group("key")
            if self._key_kind(key[-256:].rstrip(".-")) != _SENSITIVE:
                continue
            value = value_at(text, pos)
            if value is None:
                continue
            masked = self._mask_value_text(value.group())
            if masked is None:
                continue
            parts.append(text[done:pos])
            parts.append(masked)
            done = pos = value.end()
        if not parts:
            return text
        parts.append(text[done:])
        return "".join(parts)

    def _mask_value_text(self, value: str) -> Optional[str]:
        """The masked form of the value of a sensitive pair, quotes and an
        authorization scheme kept; None when there is nothing to mask."""
        head = ""
        if value[0] == "\\":  # \"...\": a quoted string inside another string
            head, value = "\\", value[1:]
        quote = value[0] if value[0] in "\"'" else ""
        closed = bool(quote) and len(value) > 1 and value.endswith(quote)
        inner = value[len(quote) : len(value) - 1 if closed else len(value)]
        tail = quote if closed else ""
        if head and inner.endswith("\\"):
            inner, tail = inner[:-1], "\\" + tail
        if not inner or inner in self._masks or inner.startswith("sha256:") or inner.lower() in _SCHEMES:
            return None
        scheme = ""
        word, _, rest = inner.partition(" ")
        if rest and word.lower() in _SCHEMES:
            scheme, inner = word + " ", rest.lstrip(" \t")
        return head + quote + scheme + self._mask_span("assignment", inner) + tail

    def _mask_span(self, category: str, secret: str, prefix: str = "") -> str:
        """The replacement for *secret* in the style chosen for *category*."""
        style = self.styles.get(category, "full")
        if style == "hash":
            return self._hash(secret)
        if style == "partial":
            partial = _PARTIAL.get(category)
            if partial is not None:
                return partial(secret)
            if prefix and category in _PREFIXED:
                return prefix + "***"
        return self._full.get(category, self.replacement)

    def _hash(self, secret: str) -> str:
        import hashlib
        import hmac

        salt = self._salt if self._salt is not None else _default_salt()
        digest = hmac.new(salt, secret.encode("utf-8", "surrogatepass"), hashlib.sha256).hexdigest()
        return "sha256:" + digest[:12]

    # -- text ----------------------------------------------------------------
    def mask_text(self, text: str) -> str:
        """*text* with every secret the enabled value patterns find masked
        (the same object when nothing was found)."""
        if len(text) < self._min_text or text in self._clean:
            return text
        return self._scan(text)

    def _scan(self, s: str) -> str:
        bits = _triggers(s) | self._always
        if not bits:
            self._remember_clean(s)
            return s
        out = s
        for rule in self._rules:
            if rule.bit & bits:
                out = rule.apply(out)
        if out == s:
            self._remember_clean(s)
            return s
        return out

    def _remember_clean(self, s: str) -> None:
        if len(s) <= _CACHE_MAX_LEN:
            clean = self._clean
            if len(clean) >= _CACHE_LIMIT:
                clean.clear()
            clean.add(s)

    # -- keys ----------------------------------------------------------------
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
        from .serialize import json_default, safe_str

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
        from .serialize import safe_repr

        text = safe_repr(value, 1_000_000)
        masked = self.mask_text(text)
        return value if masked == text else masked

    # -- records -------------------------------------------------------------
    def __call__(self, record: LogRecord) -> LogRecord:
        # The common record holds nothing to mask and was seen before in parts:
        # its field pairs, context, static fields and message are all cached as
        # clean. Checking that costs a few C-level lookups; anything else takes
        # the full path.
        try:
            data = record.data
            if data and not self._all_clean(data):
                return self._mask_record(record)
            ctx = record.context
            if ctx:
                cached = self._ctx_cache
                if cached[0] is not ctx or cached[1] is not ctx or cached[3] != len(ctx):
                    return self._mask_record(record)
            static = record.static
            if static:
                cached = self._static_cache
                if cached[0] is not static or cached[1] is not static or cached[3] != len(static):
                    return self._mask_record(record)
            message = record.message
            if type(message) is not str or (message not in self._clean and len(message) >= self._min_text):
                return self._mask_record(record)
            if record.exc_info is not None or record.stack_info:
                return self._mask_record(record)
            return record
        except Exception as exc:
            return self._withhold(record, exc)

    def mask_batch(self, records: List[LogRecord], skip: Sequence[int] = ()) -> None:
        """Mask every record of *records* in place (``records[i] = self(records[i])``),
        but those at the indexes in *skip* (already masked). With the compiled
        speedup, one C call picks the records the fast path of :meth:`__call__`
        would pass unchanged, and only the others are looked at in Python."""
        fast = self._clean_records
        indexes: Iterable[int] = range(len(records))
        mask = self.__call__
        if fast is not None:
            ctx, static = self._ctx_cache, self._static_cache
            try:
                indexes = fast(
                    records,
                    self._clean_values,
                    self._clean,
                    self._min_text,
                    ctx[0] if ctx[1] is ctx[0] else None,
                    ctx[3],
                    static[0] if static[1] is static[0] else None,
                    static[3],
                )
            except Exception:
                pass  # every record through __call__
            else:
                # what __call__ would check first was just checked: straight
                # to the full path (which withholds what it cannot mask)
                mask = self._mask_record
        if skip:
            done = set(skip)
            indexes = [i for i in indexes if i not in done]
        for i in indexes:
            records[i] = mask(records[i])

    def _mask_record(self, record: LogRecord) -> LogRecord:
        try:
            echoes: Optional[List[str]] = None
            data = record.data
            if data:
                masked_data = self._dict(data, 0)
                if masked_data is not data:
                    record.data = masked_data
                    echoes = []
                    self._echoes(data, echoes)
            ctx = record.context
            if ctx:
                src, masked, found, size = self._ctx_cache
                if src is not ctx or size != len(ctx):
                    masked, found = self._shared_dict(ctx)
                    self._ctx_cache = (ctx, masked, found, len(ctx))
                if masked is not ctx:
                    record.context = masked
                    if found:
                        echoes = [*echoes, *found] if echoes else list(found)
            static = record.static
            if static:
                src, masked, found, size = self._static_cache
                if src is not static or size != len(static):
                    masked, found = self._shared_dict(static)
                    self._static_cache = (static, masked, found, len(static))
                if masked is not static:
                    record.static = masked
                    if found:
                        echoes = [*echoes, *found] if echoes else list(found)
            message = record.message
            if type(message) is not str:
                message = record.message = _plain_text(message)
            if len(message) >= self._min_text and message not in self._clean:
                record.message = self._scan(message)
            if echoes:
                record.message = self._echo(record.message, echoes)
            if record.exc_info is not None:
                view = record.exception
                if view is not None:
                    masked_view = self._exception(view, echoes)
                    if masked_view is not view:
                        record.exception = masked_view
            if record.stack_info:
                record.stack_info = self._echo(self.mask_text(record.stack_info), echoes)
            return record
        except Exception as exc:
            return self._withhold(record, exc)

    def _shared_dict(self, d: Dict[str, Any]) -> Tuple[Any, Tuple[str, ...]]:
        masked = self._dict(d, 0)
        if masked is d:
            return d, ()
        found: List[str] = []
        self._echoes(d, found)
        return masked, tuple(found)

    def _echo(self, text: str, echoes: Optional[List[str]]) -> str:
        """*text* with the values masked under sensitive keys masked where they recur."""
        if echoes:
            for secret in echoes:
                if secret in text:
                    text = text.replace(secret, self._mask_span("keys", secret))
        return text

    def _exception(self, view: Dict[str, Any], echoes: Optional[List[str]], depth: int = 0) -> Dict[str, Any]:
        out: Optional[Dict[str, Any]] = None
        for key in ("message", "traceback"):
            text = view.get(key)
            if isinstance(text, str):
                masked = self._echo(self.mask_text(text), echoes)
                if masked != text:
                    if out is None:
                        out = dict(view)
                    out[key] = masked
        for key in ("cause", "context"):
            inner = view.get(key)
            if isinstance(inner, dict) and depth < 32:
                masked_inner = self._exception(inner, echoes, depth + 1)
                if masked_inner is not inner:
                    if out is None:
                        out = dict(view)
                    out[key] = masked_inner
        return view if out is None else out

    def _withhold(self, record: LogRecord, exc: BaseException) -> LogRecord:
        """Masking failed: report it and let the record through without its
        content, rather than leak it or drop it."""
        from ._report import report

        report("masking", exc)
        withheld = "[withheld: masking failed]"
        record.message = withheld
        record.data = {"masking_error": type(exc).__name__}
        record.context = {}
        record.static = {}
        record.stack_info = None
        if record.exc_info is not None:
            record.exception = {"type": "Exception", "message": withheld, "traceback": withheld, "frames": []}
        return record


def _plain_text(value: Any) -> str:
    if isinstance(value, (str, int, float)):
        return str(value)
    from .serialize import safe_str

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


def _fields_clean() -> Optional[Callable[[Dict[Any, Any], Dict[Any, set[Any]]], bool]]:
    """The compiled form of ``d.items() <= clean_pairs`` (micktrace._speedups), or None."""
    from . import _native

    return _native.fields_clean


def _native_unknown() -> Optional[Callable[[Dict[Any, Any], Dict[Any, set[Any]]], List[Any]]]:
    """The compiled unknown-keys check (micktrace._speedups.unknown_keys), or None."""
    from . import _native

    return _native.unknown_keys


def _native_scan() -> Optional[Callable[..., Optional[List[Any]]]]:
    """The compiled per-field check (micktrace._speedups.scan_fields), or None."""
    from . import _native

    return _native.scan_fields


def _clean_records() -> Optional[Callable[..., List[int]]]:
    """The compiled batch check (micktrace._speedups.clean_records), or None.
    It reads the records' slots where the logger's compiled record builder
    told it they are, so it is used only when that builder was set up."""
    from . import _native

    return _native.clean_records if _native.records_ready() else None


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
