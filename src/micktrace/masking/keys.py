"""Sensitive key names: how a dict key, a keyword field, the name in a
``(name, value)`` pair or the key of a ``key=value`` pair in text is judged.

A name is compared in two spellings: normalised (lower-cased, every character
other than a-z and 0-9 removed) and with look-alike characters read as the
letters they stand for (``p@ssw0rd`` -> ``password``). It is also split into
words (at separators and camelCase humps) for the rules that need word
boundaries: ``db_pass`` ends with the word ``pass``, ``bypass`` does not.
Names of connection settings (``DATABASE_URL``, ``connection_string``,
``dsn``) are a kind of their own: their value is masked whole when it is a
bare secret, and through the value patterns when it is a URL or a
``key=value`` string.

May import: nothing from micktrace (only the standard library).
"""

from __future__ import annotations

import re
from typing import List

#: what :func:`classify_key` says of a name
KEY_PLAIN = 0
KEY_SENSITIVE = 1
KEY_CONNECTION = 2

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
        "sig",
        "hmac",
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
    "privkey",
    "authkey",
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
    "signature",
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
#: a name of two words or more whose last word is one of these (``db_pass``, ``hmac_sig``)
_LAST_WORDS = frozenset(("pass", "pw", "pwd", "sig", "hmac", "passcode"))
#: ...but not after one of these: ``first_pass``, ``second_pass`` count passes
_ORDINALS = frozenset(
    ("first", "second", "third", "last", "next", "prev", "previous", "single", "multi", "each", "per")
)
#: ``<word> key`` is sensitive when the word is one of these (``priv_key``,
#: ``auth-key``, ``ssh_key``); ``cache_key``, ``public_key``, ``sort_key`` are not
_KEY_QUALIFIERS = frozenset(
    (
        "priv",
        "private",
        "auth",
        "api",
        "secret",
        "access",
        "signing",
        "sign",
        "encryption",
        "encrypt",
        "decryption",
        "enc",
        "crypt",
        "crypto",
        "master",
        "session",
        "client",
        "app",
        "hmac",
        "shared",
        "ssh",
        "pgp",
        "gpg",
        "rsa",
        "aes",
        "ssl",
        "tls",
        "license",
        "licence",
        "webhook",
        "account",
        "service",
        "consumer",
        "subscription",
        "root",
        "admin",
        "token",
        "jwt",
    )
)
#: connection settings: a normalised name ending with one of these
_CONNECTION_SUFFIXES = ("connectionstring", "connstring", "connstr", "connectionuri", "connectionurl", "dsn")
#: ...or whose last word is url/uri after one of these words (``DATABASE_URL``, ``redis_uri``)
_STORE_WORDS = frozenset(
    (
        "database",
        "db",
        "redis",
        "broker",
        "mongo",
        "mongodb",
        "amqp",
        "rabbitmq",
        "rabbit",
        "postgres",
        "postgresql",
        "pg",
        "mysql",
        "mariadb",
        "mssql",
        "sql",
        "sqlalchemy",
        "jdbc",
        "odbc",
        "cache",
        "queue",
        "mq",
        "kafka",
        "elasticsearch",
        "memcached",
        "celery",
        "conn",
        "connection",
        "datasource",
        "storage",
    )
)
_KEY_SEPARATORS = re.compile(r"[^0-9a-z]+")
#: characters written for the letters they look like, in a key name
_LOOKALIKES = str.maketrans("@$013457", "asoieast")
_WORDS = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|[0-9]+")


def normalize_key(name: str) -> str:
    """*name* lower-cased without separators: ``"X-Api-Key"`` -> ``"xapikey"``."""
    return _KEY_SEPARATORS.sub("", name.lower())


def is_sensitive_key(name: str) -> bool:
    """True when the default rules mask a value stored under *name* (a secret
    or a connection setting)."""
    return classify_key(name) != KEY_PLAIN


def classify_key(name: str) -> int:
    """What the default rules make of the key *name*: :data:`KEY_SENSITIVE`,
    :data:`KEY_CONNECTION` or :data:`KEY_PLAIN`."""
    norm = normalize_key(name)
    if _default_sensitive(norm):
        return KEY_SENSITIVE
    lookalike = name.translate(_LOOKALIKES)
    if lookalike != name and _default_sensitive(normalize_key(lookalike)):
        return KEY_SENSITIVE
    words = [w.lower() for w in _WORDS.findall(lookalike)]
    if len(words) >= 2:
        last, before = words[-1], words[-2]
        if (last in _LAST_WORDS and before not in _ORDINALS) or (last == "key" and before in _KEY_QUALIFIERS):
            return KEY_SENSITIVE
    if _is_connection(norm, words):
        return KEY_CONNECTION
    return KEY_PLAIN


def _default_sensitive(norm: str) -> bool:
    if not norm:
        return False
    if norm in _KEY_EXACT or norm.endswith(_KEY_SUFFIXES):
        return True
    return any(part in norm for part in _KEY_PARTS)


def _is_connection(norm: str, words: List[str]) -> bool:
    if norm.endswith(_CONNECTION_SUFFIXES):
        return True
    return len(words) >= 2 and words[-1] in ("url", "uri") and any(w in _STORE_WORDS for w in words[:-1])
