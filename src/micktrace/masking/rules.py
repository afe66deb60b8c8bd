"""The built-in detectors: sensitive key names, the value patterns (tokens, JWTs,
keys, URLs with credentials, cards, IBANs, SSNs, emails, phones) with their
validators, and the trigger bits (which rules could match a string, by cheap
substring tests). The categories and groups users configure are named here.

May import: errors, masking.keys.
"""

from __future__ import annotations

import re
from typing import (
    TYPE_CHECKING,
    Dict,
    Optional,
    Pattern,
    Tuple,
)

if TYPE_CHECKING:
    pass



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
# key names: masking.keys (re-exported here, where the rules are looked up)

from .keys import KEY_CONNECTION as KEY_CONNECTION  # noqa: E402
from .keys import KEY_PLAIN as KEY_PLAIN  # noqa: E402
from .keys import KEY_SENSITIVE as KEY_SENSITIVE  # noqa: E402
from .keys import classify_key as classify_key  # noqa: E402
from .keys import is_sensitive_key as is_sensitive_key  # noqa: E402
from .keys import normalize_key as normalize_key  # noqa: E402


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
# The pair may also be written as a tuple's repr, `('password', 'x')` or
# `(b'authorization', b'Token x')`: a quoted key, a comma, a quoted value. A
# bytes value's `b` prefix is part of the separator.
_ASSIGNMENT_KEY = _Lazy(
    r"(?<![A-Za-z0-9_.\-])(?P<key>[A-Za-z0-9_][A-Za-z0-9_.\-]*)"
    r"(?P<sep>(?:\\?[\"'])?[ \t]{0,3}(?:=>|=|:)[ \t]{0,3}(?:b(?=[\"']))?|[\"'],[ \t]{0,3}b?(?=[\"']))"
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
# the user part of scheme://user@host (no password): masked under a connection key
_URL_USERINFO = _Lazy(r"(?P<pre>\b[A-Za-z][A-Za-z0-9+.\-]{0,30}://)(?P<user>[^\s:/?#@\[\]]{1,256})(?=@)")
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
    if "=" in s or ":" in s or "'," in s or '",' in s:
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


