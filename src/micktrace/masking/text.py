"""Masking text: the rules built for one configuration, the ``key=value`` and
pattern substitutions, the styles applied to a span, and the cache of strings
found clean. :class:`TextMasking` is the first layer of the Masker.

May import: errors, masking.rules, masking.styles, masking.state.
"""

from __future__ import annotations

import re
from typing import (
    TYPE_CHECKING,
    Callable,
    List,
    Optional,
    Pattern,
    Tuple,
    Union,
)

from .rules import (
    _ASSIGNMENT_KEY,
    _ASSIGNMENT_VALUE,
    _AUTH_HEADER,
    _AWS_KEY_ID,
    _AWS_SECRET,
    _EMAIL,
    _GITHUB,
    _GITLAB,
    _GOOGLE,
    _JWT,
    _NUMBERS,
    _PEM,
    _SCHEMES,
    _SLACK,
    _STRIPE,
    _T_ALWAYS,
    _T_ASSIGN,
    _T_AT,
    _T_AUTH,
    _T_AWS_ID,
    _T_GITLAB,
    _T_GOOGLE,
    _T_JWT,
    _T_LONG,
    _T_NUMBERS,
    _T_PEM,
    _T_SLACK,
    _T_UNDERSCORE,
    _URL_CREDENTIALS,
    _aws_secret_valid,
    _Lazy,
    _phone_valid,
    _ssn_valid,
    _triggers,
    is_card_number,
    is_iban,
)
from .styles import (
    _CACHE_LIMIT,
    _CACHE_MAX_LEN,
    _CONNECTION,
    _PARTIAL,
    _PREFIXED,
    _SENSITIVE,
    _credential_like,
    _default_salt,
    _Rule,
    _substitution,
)

if TYPE_CHECKING:
    pass

from .state import MaskerState
from .styles import *  # noqa: F403

#: values of a sensitive pair in text that are not a secret: a scheme word
#: alone, and the literals a flag or an unset setting is written with
_NOT_SECRETS = _SCHEMES | frozenset(("true", "false", "none", "null"))


class TextMasking(MaskerState):
    """Masking strings (see the module docstring)."""

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
            kind = self._key_kind(key[-256:].rstrip(".-"))
            if kind != _SENSITIVE and kind != _CONNECTION:
                continue
            value = value_at(text, pos)
            if value is None:
                continue
            if kind == _CONNECTION and ("://" in value.group() or "=" in value.group()):
                continue  # a URL or DSN: the other rules mask its secrets
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
        if not inner or inner in self._masks or inner.startswith("sha256:") or inner.lower() in _NOT_SECRETS:
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

    def _scan(self, s: str, remember: bool = True) -> str:
        bits = _triggers(s) | self._always
        if not bits:
            if remember:
                self._remember_clean(s)
            return s
        out = s
        for rule in self._rules:
            if rule.bit & bits:
                out = rule.apply(out)
        if out == s:
            if remember:
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
