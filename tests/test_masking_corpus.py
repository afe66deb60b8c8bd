"""The masking corpus (issue 5's definition of done).

* Planted: more than 300 secrets across every category, each logged in every
  placement (message, %-argument, field, nested structure, bound field,
  context, ``extra=``, exception message, chained cause) and written in every
  format (text, JSON, logfmt), in each masking style: not one may appear in
  the output.
* Benign: more than 1,000 realistic values (UUIDs, timestamps, order and
  invoice numbers, versions, digests, IP addresses, paths, prices, phone-like
  product codes...): fewer than 1% may be masked by the default rules.

The corpora are generated from a fixed seed, so a failure is reproducible.
"""

from __future__ import annotations

import base64
import collections
import enum
import json
import random
import string
import uuid
from typing import Any, Callable, Dict, Iterator, List, Tuple

import pytest

import micktrace
from micktrace.formatters import JSONFormatter, LogfmtFormatter, TextFormatter
from micktrace.handlers import MemoryHandler
from micktrace.masking import CATEGORIES, Masker, luhn_valid

ALNUM = string.ascii_letters + string.digits
B64 = ALNUM + "+/"
URLSAFE = ALNUM + "-_"


def rnd(rng: random.Random, n: int, alphabet: str = ALNUM) -> str:
    return "".join(rng.choice(alphabet) for _ in range(n))


def rnd_secret(rng: random.Random, n: int, alphabet: str = ALNUM) -> str:
    """Random, with a digit, an upper- and a lower-case letter (like real keys)."""
    while True:
        text = rnd(rng, n, alphabet)
        if any(c.isdigit() for c in text) and any(c.isupper() for c in text) and any(c.islower() for c in text):
            return text


# ---------------------------------------------------------------------------
# planted secrets: (category, text to log, substrings that must never be output)

Planted = Tuple[str, str, List[str]]


def card_number(rng: random.Random, prefix: str, length: int) -> str:
    body = prefix + "".join(rng.choice(string.digits) for _ in range(length - len(prefix) - 1))
    for check in string.digits:
        if luhn_valid(body + check):
            return body + check
    raise AssertionError("unreachable")


def iban(rng: random.Random, country: str, bban_len: int) -> str:
    bban = "".join(rng.choice(string.digits) for _ in range(bban_len))
    if country in ("GB", "NL"):
        bban = rnd(rng, 4, string.ascii_uppercase) + bban[4:]
    numeric = "".join(str(int(c, 36)) for c in bban + country + "00")
    return f"{country}{98 - int(numeric) % 97:02d}{bban}"


def jwt(rng: random.Random) -> Tuple[str, List[str]]:
    def part(obj: Dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()

    payload = part({"sub": rnd(rng, 12), "name": rnd(rng, 8, string.ascii_letters), "iat": rng.randrange(10**9)})
    sig = rnd_secret(rng, 43, URLSAFE)
    return part({"alg": "HS256", "typ": "JWT"}) + "." + payload + "." + sig, [payload, sig]


def pem(rng: random.Random) -> Tuple[str, List[str]]:
    kind = rng.choice(["RSA ", "EC ", "", "OPENSSH ", "ENCRYPTED "])
    lines = [rnd_secret(rng, 64, B64) for _ in range(rng.randrange(3, 8))]
    block = f"-----BEGIN {kind}PRIVATE KEY-----\n" + "\n".join(lines) + f"\n-----END {kind}PRIVATE KEY-----"
    return block, lines


def planted_secrets(seed: int = 5) -> List[Planted]:
    rng = random.Random(seed)
    out: List[Planted] = []
    per = 20

    def add(category: str, text: str, needles: List[str]) -> None:
        out.append((category, text, needles))

    for _ in range(per):
        add("keys", "Pw-" + rnd_secret(rng, 14), [])  # logged under sensitive key names, see below
    for i in range(per):
        secret = rnd_secret(rng, 16, ALNUM + "!#%*-")
        forms = [
            f"password={secret}",
            f"api_key: {secret}",
            f'{{"token": "{secret}", "user": "bob"}}',
            f"Server=db.internal;User Id=sa;Password={secret};Encrypt=true",
            f"GET /callback?access_token={secret}&state=1",
            f"client_secret => '{secret}'",
            f"{{'refresh_token': '{secret}'}}",
            f"GET https://b.s3.amazonaws.com/k?X-Amz-Date=20240101T000000Z&X-Amz-Signature={secret}&x=1",
            f"https://acct.blob.core.windows.net/c/b?sv=2021-08-06&sig={secret}",
            f"https://storage.googleapis.com/b/o?X-Goog-Signature={secret}",
            f"headers [(b'host', b'x'), (b'authorization', b'Token {secret}')]",
        ]
        add("assignment", forms[i % len(forms)], [secret])
    for i in range(per):
        secret = rnd_secret(rng, 14, ALNUM + "!~*")
        scheme = ["postgres", "mysql", "redis", "amqp", "https", "mongodb+srv"][i % 6]
        add("url_credentials", f"{scheme}://svc_user:{secret}@db-{i}.internal:5432/app", [secret])
    for _ in range(per):
        block, lines = pem(rng)
        add("private_key", block, lines)
    for _ in range(per):
        token, parts = jwt(rng)
        add("jwt", token, parts)
    for i in range(per):
        if i % 2:
            token = rnd_secret(rng, 32, URLSAFE + ".~")
            add("auth_header", f"Authorization: Bearer {token}", [token])
        else:
            cred = base64.b64encode(f"user{i}:{rnd_secret(rng, 12)}".encode()).decode()
            add("auth_header", f"Basic {cred}", [cred])
    for _ in range(per):
        key_id = rng.choice(["AKIA", "ASIA"]) + rnd(rng, 16, string.ascii_uppercase + "234567")
        add("aws", key_id, [key_id])
        secret = rnd_secret(rng, 40, B64)
        while secret.startswith("/") or secret.count("/") >= 3:
            secret = rnd_secret(rng, 40, B64)
        add("aws", f"aws secret {secret}", [secret])
    for i in range(per):
        token = rng.choice(["ghp_", "gho_", "ghu_", "ghs_", "ghr_"]) + rnd_secret(rng, 36)
        if i % 4 == 0:
            token = "github_pat_" + rnd_secret(rng, 22) + "_" + rnd_secret(rng, 59)
        add("github", token, [token[-30:]])
    for _ in range(per):
        token = "glpat-" + rnd_secret(rng, 20, URLSAFE)
        add("gitlab", token, [token[6:]])
    for i in range(per):
        if i % 2:
            secret = rnd_secret(rng, 24)
            add("slack", f"https://hooks.slack.com/services/T{rnd(rng, 8)}/B{rnd(rng, 8)}/{secret}", [secret])
        else:
            tail = rnd_secret(rng, 24)
            token = f"xox{rng.choice('bpars')}-{rnd(rng, 12, string.digits)}-{rnd(rng, 13, string.digits)}-{tail}"
            add("slack", token, [tail])
    for i in range(per):
        prefix = ["sk_live_", "sk_test_", "rk_live_", "rk_test_", "whsec_"][i % 5]
        token = prefix + rnd_secret(rng, 24)
        add("stripe", token, [token[len(prefix) :]])
    for i in range(per):
        if i % 2:
            token = "AIza" + rnd_secret(rng, 35, URLSAFE)
        else:
            token = "ya29." + rnd_secret(rng, 60, URLSAFE)
        add("google", token, [token[5:]])
    brands = [("4", 16), ("51", 16), ("2223", 16), ("37", 15), ("6011", 16), ("3530", 16), ("36", 14), ("4", 19)]
    for i in range(per):
        prefix, length = brands[i % len(brands)]
        number = card_number(rng, prefix, length)
        if i % 3 == 1:
            number = " ".join(number[j : j + 4] for j in range(0, length, 4))
        elif i % 3 == 2:
            number = "-".join(number[j : j + 4] for j in range(0, length, 4))
        add("card", number, [number])
    countries = [("GB", 18), ("DE", 18), ("FR", 23), ("NL", 14), ("ES", 20), ("IT", 23), ("CH", 17), ("NO", 11)]
    for i in range(per):
        country, bban_len = countries[i % len(countries)]
        number = iban(rng, country, bban_len)
        if i % 2:
            number = " ".join(number[j : j + 4] for j in range(0, len(number), 4))
        add("iban", number, [number, number.replace(" ", "")])
    for i in range(per):
        area = rng.choice([n for n in range(1, 900) if n != 666])
        ssn = f"{area:03d}-{rng.randrange(1, 100):02d}-{rng.randrange(1, 10000):04d}"
        if i % 4 == 3:
            ssn = ssn.replace("-", " ")
        add("ssn", ssn, [ssn])
    domains = ["example.com", "mail.example.org", "corp.example.co.uk", "example.io"]
    for i in range(per):
        user = (
            rnd(rng, 6, string.ascii_lowercase) + rng.choice([".", "_", "+", ""]) + rnd(rng, 4, string.ascii_lowercase)
        )
        email = f"{user}@{domains[i % len(domains)]}"
        add("email", email, [email])
    for i in range(per):
        area, exchange, line = rng.randrange(200, 1000), rng.randrange(200, 1000), rng.randrange(10000)
        phone = [
            f"({area}) {exchange}-{line:04d}",
            f"{area}-{exchange}-{line:04d}",
            f"+1 {area} {exchange} {line:04d}",
            f"{area}.{exchange}.{line:04d}",
            f"+44 20 {rng.randrange(1000, 10000)} {rng.randrange(1000, 10000)}",
            f"+49 30 {rng.randrange(10**7, 10**8)}",
        ][i % 6]
        add("phone", phone, [phone])
    return out


KEY_NAMES = [
    "password",
    "db_password",
    "api_key",
    "apiKey",
    "X-Api-Key",
    "access_token",
    "refresh_token",
    "client_secret",
    "Authorization",
    "session_id",
    "secret",
    "private_key",
    "cookie",
    "Set-Cookie",
    "credit_card",
    "card_number",
    "cvv",
    "ssn",
    "passwd",
    "auth_token",
    "db_pass",
    "priv_key",
    "auth_key",
    "auth-key",
    "signature",
    "p@ssword",
    "X-Amz-Signature",
    "connection_string",
    "DATABASE_URL",
]

Row = collections.namedtuple("Row", "id note")


class Holder:
    """An object the formatters print through its repr."""

    def __init__(self, text: str) -> None:
        self.text = text

    def __repr__(self) -> str:
        return f"Holder({self.text!r})"


def _fields_of(name: str, text: str) -> Any:
    """A namedtuple with *text* in the field *name* (a dict when the name is no identifier)."""
    if name.isidentifier() and not name.startswith("_"):
        return collections.namedtuple("Fields", ["user", name])("bob", text)
    return {"user": "bob", name: text}


def _raise(message: str, cause: str) -> None:
    try:
        raise KeyError(cause)
    except KeyError as inner:
        raise RuntimeError(message) from inner


def placements(category: str, text: str, index: int) -> Iterator[Callable[[micktrace.Logger], None]]:
    """Every way the secret *text* is logged."""
    if category == "keys":
        name = KEY_NAMES[index % len(KEY_NAMES)]
        yield lambda log: log.info("login", **{name: text})
        yield lambda log: log.info("nested", payload={"user": {name: text}, "list": [{name: text}]})
        yield lambda log: log.bind(**{name: text}).info("bound")
        yield lambda log: log.info("extra", extra={name: text})
        yield lambda log: log.info(f"user typed {text}", **{name: text})  # recurs in the message

        def in_context(log: micktrace.Logger) -> None:
            with micktrace.context(**{name: text}):
                log.info("context")

        yield in_context

        def in_exception(log: micktrace.Logger) -> None:
            try:
                _raise(f"rejected {text}", text)
            except RuntimeError:
                log.exception("failed", **{name: text})

        yield in_exception
        yield lambda log: log.info("namedtuple", creds=_fields_of(name, text))
        yield lambda log: log.info("pairs", headers=[("host", "x"), (name, text)])
        yield lambda log: log.info("asgi", headers=[(b"host", b"x"), (name.encode(), text.encode())])
        yield lambda log: log.info(f"mapping %(user)s %({name})s", {"user": "bob", name: text})
        return
    yield lambda log: log.info("event %s", text)
    yield lambda log: log.info("namedtuple", row=Row(1, text))
    yield lambda log: log.info("enum", mode=enum.Enum("Mode", {"VALUE": text}).VALUE)
    yield lambda log: log.info("pairs", headers=[(b"x-note", text.encode()), ("x-ref", text)])
    yield lambda log: log.info("mapping %(note)s", {"note": text})
    yield lambda log: log.info("object", value=Holder(text))
    yield lambda log: micktrace.get_logger(f"svc.{text}").info("named")
    yield lambda log: log.info(f"note: {text} end")
    yield lambda log: log.info("field", note=text)
    yield lambda log: log.info("nested", payload={"items": [{"desc": text}], "meta": ("t", text), "tags": {text}})
    yield lambda log: log.bind(ref=text).info("bound")
    yield lambda log: log.info("extra", extra={"detail": text})

    def in_context(log: micktrace.Logger) -> None:
        with micktrace.context(trace_note=text):
            log.info("context")

    yield in_context

    def in_exception(log: micktrace.Logger) -> None:
        try:
            _raise(f"failed with {text}", f"cause {text}")
        except RuntimeError:
            log.exception("request failed")

    yield in_exception


def strings_in(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for k, v in value.items():
            yield str(k)
            yield from strings_in(v)
    elif isinstance(value, list):
        for item in value:
            yield from strings_in(item)


PLANTED = planted_secrets()


def test_the_planted_corpus_covers_every_category() -> None:
    assert len(PLANTED) >= 300
    assert {category for category, _, _ in PLANTED} == set(CATEGORIES)


@pytest.mark.parametrize("style", ["full", "partial", "hash"])
def test_no_planted_secret_leaks_in_any_format(style: str) -> None:
    handlers = {
        "json": MemoryHandler(formatter=JSONFormatter(), capacity=100_000),
        "logfmt": MemoryHandler(formatter=LogfmtFormatter(), capacity=100_000),
        "text": MemoryHandler(formatter=TextFormatter(), capacity=100_000),
    }
    micktrace.configure(handlers=list(handlers.values()), masking={"style": style, "salt": "corpus"})
    log = micktrace.get_logger("corpus")
    leaks: List[str] = []
    records = 0
    for index, (category, text, needles) in enumerate(PLANTED):
        needles = needles or [text]
        for emit in placements(category, text, index):
            before = len(handlers["json"].lines)
            emit(log)
            records += 1
            for fmt, handler in handlers.items():
                new = handler.lines[before:]
                assert len(new) == 1, (fmt, category, text)  # no record lost or split
                line = new[0]
                found = [n for n in needles if n in line]
                if fmt == "json":
                    found += [n for s in strings_in(json.loads(line)) for n in needles if n in s]
                if found:
                    leaks.append(f"{style} {fmt} {category}: {found[0]!r} in {line[:300]}")
    assert records >= 300 * 7
    assert leaks == [], f"{len(leaks)} leaks, first: {leaks[:3]}"


def test_the_leak_check_sees_unmasked_secrets() -> None:
    # the oracle of the test above: with masking off, every planted secret shows
    handler = MemoryHandler(formatter=JSONFormatter())
    micktrace.configure(handlers=[handler], masking=False)
    log = micktrace.get_logger("corpus")
    for index, (category, text, needles) in enumerate(PLANTED[::15]):
        for emit in placements(category, text, index):
            emit(log)
            line = handler.lines[-1]
            assert any(n in s for s in strings_in(json.loads(line)) for n in needles or [text]), line


# ---------------------------------------------------------------------------
# the benign corpus


def benign_values(seed: int = 11) -> List[str]:
    rng = random.Random(seed)
    d = string.digits
    values: List[str] = []
    for _ in range(120):
        values.append(str(uuid.UUID(int=rng.getrandbits(128), version=4)))
    for _ in range(25):
        y, mo, da = rng.randrange(2000, 2031), rng.randrange(1, 13), rng.randrange(1, 29)
        h, mi, se, us = rng.randrange(24), rng.randrange(60), rng.randrange(60), rng.randrange(10**6)
        values += [
            f"{y}-{mo:02d}-{da:02d}T{h:02d}:{mi:02d}:{se:02d}.{us:06d}Z",
            f"{y}-{mo:02d}-{da:02d} {h:02d}:{mi:02d}:{se:02d},{us // 1000:03d}",
            f"{y}-{mo:02d}-{da:02d}T{h:02d}:{mi:02d}:{se:02d}+02:00",
            f"{da:02d}/Nov/{y}:{h:02d}:{mi:02d}:{se:02d} +0000",
            str(rng.randrange(1_500_000_000, 1_900_000_000)),
            str(rng.randrange(1_500_000_000_000, 1_900_000_000_000)),
        ]
    for _ in range(25):
        values += [
            f"ORD-{rng.randrange(2015, 2031)}-{rng.randrange(10**6):06d}",
            f"INV-{rng.randrange(10**8):08d}",
            f"PO#{rng.randrange(1000, 9999)}-{rng.randrange(10, 99)}",
            f"{rng.randrange(100, 999)}-{rng.randrange(10**6, 10**7)}-{rng.randrange(10**6, 10**7)}",
            str(rng.randrange(10**9, 10**12)),
            f"#{rng.randrange(10**5, 10**6)}",
        ]
    for _ in range(20):
        a, b, c = rng.randrange(20), rng.randrange(40), rng.randrange(100)
        values += [f"{a}.{b}.{c}", f"v{a}.{b}.{c}-rc.{rng.randrange(5)}", f"{a}.{b}.{c}+build.{rng.randrange(10**4)}"]
        values.append(f"20{rng.randrange(10, 30)}.{rng.randrange(1, 13)}.{rng.randrange(1, 29)}")
    for _ in range(25):
        values += [
            rnd(rng, 32, "0123456789abcdef"),
            rnd(rng, 40, "0123456789abcdef"),
            rnd(rng, 64, "0123456789abcdef"),
            rnd(rng, 7, "0123456789abcdef"),
        ]
    for _ in range(25):
        ip = ".".join(str(rng.randrange(256)) for _ in range(4))
        values += [
            ip,
            f"{ip}:{rng.randrange(1, 65536)}",
            f"2001:db8:{rng.randrange(65536):x}::{rng.randrange(65536):x}",
        ]
        values.append(f"{rng.choice(['10', '172.16', '192.168'])}.{rng.randrange(256)}.{rng.randrange(256)}")
    for _ in range(25):
        y, n = rng.randrange(2019, 2031), rng.randrange(10**6)
        values += [
            f"/var/log/app/{y}/{rng.randrange(1, 13):02d}/app-{n:06d}.log",
            f"/home/deploy/releases/{y}{rng.randrange(10**8):08d}/current/config.yaml",
            f"C:\\Users\\svc\\AppData\\Local\\Temp\\tmp{rnd(rng, 8)}.tmp",
            f"s3://bucket-{rng.randrange(1000)}/exports/{y}/part-{n:05d}.parquet",
        ]
    for _ in range(20):
        values += [
            f"${rng.randrange(1, 9)},{rng.randrange(1000):03d}.{rng.randrange(100):02d}",
            f"{rng.randrange(1, 500)}.{rng.randrange(100):02d} EUR",
            f"{rng.randrange(1, 10**6)}.00",
            f"GBP {rng.randrange(1, 10**4)}.{rng.randrange(100):02d}",
        ]
    for _ in range(15):
        values += [
            f"SKU-{rng.randrange(100, 999)}-{rng.randrange(1000, 9999)}",
            f"PN {rng.randrange(1000, 9999)}-{rng.randrange(100, 999)}-{rng.randrange(10, 99)}",
            f"MX-{rng.randrange(100, 999)}-{rng.randrange(1000, 9999)}",
            f"ART. {rng.randrange(1000, 9999):04d}-{rng.randrange(1000, 9999):04d}-{rng.randrange(10, 99)}",
            f"{rng.randrange(100, 999)}-{rng.randrange(1000, 9999)}-{rng.randrange(100, 999)}",
            "EAN " + rnd(rng, 13, d),
            f"ISBN 978-{rng.randrange(10)}-{rng.randrange(10, 99)}-{rng.randrange(10**5, 10**6)}-{rng.randrange(10)}",
            f"1Z{rnd(rng, 6, string.ascii_uppercase + d)}{rnd(rng, 10, d)}",
        ]
    for _ in range(15):
        values += [
            f"{rng.randrange(1, 5000)}ms",
            f"{rng.randrange(1, 24)}h{rng.randrange(60)}m",
            f"{rng.randrange(1, 1024)}.{rng.randrange(10)} GB",
            f"https://api.example.com/v{rng.randrange(1, 4)}/users/{rng.randrange(10**6)}?page={rng.randrange(50)}",
            f"db-{rng.randrange(1, 20):02d}.prod.internal:5432",
            f"api-{rnd(rng, 9, string.ascii_lowercase + d)}-{rnd(rng, 5, string.ascii_lowercase + d)}",
            f"req_{rnd(rng, 20, string.ascii_uppercase + d)}",
            f"cus_{rnd(rng, 14)}",
            f"Processed {rng.randrange(10**5)} records in {rng.randrange(1000) / 10}s",
            f"Retry {rng.randrange(1, 5)} of 5 after {rng.randrange(100, 2000)}ms",
            f"{rng.random() * 180 - 90:.4f}, {rng.random() * 360 - 180:.4f}",
            ":".join(f"{rng.randrange(256):02X}" for _ in range(6)),
            f"Mozilla/5.0 (X11; Linux x86_64) Chrome/{rng.randrange(90, 130)}.0.{rng.randrange(5000)}.1",
            f"user {rng.randrange(10**6)} logged in from {'.'.join(str(rng.randrange(256)) for _ in range(4))}",
            rnd(rng, 24, B64) + "==",
            f"arn:aws:iam::{rnd(rng, 12, d)}:role/svc-{rnd(rng, 6, string.ascii_lowercase)}",
            f"pi_{rnd(rng, 24)}",
            f"refs/heads/feature/{rnd(rng, 6, string.ascii_lowercase)}-{rng.randrange(1000)}",
            f"{rnd(rng, 4, d)} {rnd(rng, 4, d)} {rnd(rng, 4, d)} {rnd(rng, 4, d)}",  # tracking / gift-card-like groups
            f"+{rng.randrange(1, 99)}.{rng.randrange(10)}%",
        ]
    return values


BENIGN = benign_values()


def test_the_benign_corpus_is_rarely_masked(capsys: pytest.CaptureFixture[str]) -> None:
    assert len(BENIGN) >= 1000
    masker = Masker()
    changed = [value for value in BENIGN if masker.mask_text(value) != value]
    fields = masker.mask({f"field{i}": value for i, value in enumerate(BENIGN)})
    assert sum(1 for i, value in enumerate(BENIGN) if fields[f"field{i}"] != value) == len(changed)
    rate = len(changed) / len(BENIGN)
    with capsys.disabled():
        print(f"\nbenign corpus: {len(changed)} of {len(BENIGN)} values masked ({rate:.2%}): {changed[:5]}")
    assert rate < 0.01, changed


def benign_fields(seed: int = 13) -> List[Tuple[str, Any]]:
    """Realistic (field name, value) pairs, many named close to the sensitive
    names (``public_key``, ``cache_key``, ``first_pass``, ``signature_version``,
    ``queue_url``, ``db_host``...) and presigned-URL parameters that are not
    secret."""
    rng = random.Random(seed)
    d = string.digits
    fields: List[Tuple[str, Any]] = []
    for _ in range(12):
        fields += [
            ("user_id", rng.randrange(10**6)),
            ("request_id", str(uuid.UUID(int=rng.getrandbits(128), version=4))),
            ("path", f"/api/v{rng.randrange(1, 4)}/orders/{rng.randrange(10**6)}"),
            ("method", rng.choice(["GET", "POST", "PUT", "DELETE"])),
            ("status_code", rng.choice([200, 201, 204, 301, 404, 500])),
            ("duration_ms", round(rng.random() * 500, 2)),
            ("cache_key", f"user:{rng.randrange(10**6)}:profile"),
            ("sort_key", f"{rng.randrange(2019, 2031)}#{rnd(rng, 6, string.ascii_lowercase)}"),
            ("partition_key", f"tenant-{rng.randrange(1000)}"),
            ("primary_key", rng.randrange(10**9)),
            ("object_key", f"exports/{rng.randrange(2019, 2031)}/part-{rng.randrange(10**5):05d}.parquet"),
            ("public_key_id", f"kid-{rnd(rng, 8, string.ascii_lowercase + d)}"),
            ("key", rng.choice(["theme", "locale", "timezone", "page_size"])),
            ("key_name", rng.choice(["prod-signing", "staging", "backup"])),
            ("first_pass", rng.random() < 0.5),
            ("second_pass", rng.random() < 0.5),
            ("pass_count", rng.randrange(100)),
            ("bypass_cache", rng.random() < 0.5),
            ("passenger_count", rng.randrange(1, 9)),
            ("compass_heading", rng.randrange(360)),
            ("signature_version", rng.choice(["v2", "v4", "s3v4"])),
            ("signature_valid", rng.random() < 0.5),
            ("has_signature", rng.random() < 0.5),
            ("signed_headers", "host;x-amz-date"),
            ("X-Amz-Date", f"2024{rng.randrange(1, 13):02d}{rng.randrange(1, 29):02d}T000000Z"),
            ("X-Amz-Expires", rng.choice([60, 300, 3600])),
            ("X-Amz-Algorithm", "AWS4-HMAC-SHA256"),
            ("queue_url", f"https://sqs.eu-west-1.amazonaws.com/{rnd(rng, 12, d)}/jobs"),
            ("database_url", f"postgres://db-{rng.randrange(1, 20):02d}.prod.internal:5432/app"),
            ("redis_url", f"redis://cache-{rng.randrange(1, 5)}.internal:6379/0"),
            ("db_host", f"db-{rng.randrange(1, 20):02d}.prod.internal"),
            ("db_name", rng.choice(["orders", "billing", "users"])),
            ("db_user", rng.choice(["app", "reporting", "migrations"])),
            ("callback_url", f"https://example.com/hooks/{rng.randrange(10**6)}"),
            ("image_url", f"https://cdn.example.com/img/{rnd(rng, 10, string.ascii_lowercase)}.png"),
            ("author", rng.choice(["alice", "bob", "carol"])),
            ("token_count", rng.randrange(10**5)),
            ("max_tokens", rng.choice([256, 1024, 4096])),
            ("session_count", rng.randrange(1000)),
            ("auth_method", rng.choice(["oauth", "saml", "password"])),
            ("auth_provider", rng.choice(["google", "github", "okta"])),
            ("ssh_port", 22),
            ("tls_version", rng.choice(["TLSv1.2", "TLSv1.3"])),
            ("keyboard_layout", rng.choice(["us", "fr", "de"])),
            ("monkey_patch", rng.random() < 0.5),
            ("content_type", "application/json"),
            ("user_agent", f"Mozilla/5.0 Chrome/{rng.randrange(90, 130)}.0"),
            ("api_version", f"2024-{rng.randrange(1, 13):02d}-01"),
            ("client_id", f"web-{rnd(rng, 6, string.ascii_lowercase)}"),
            ("app_name", rng.choice(["checkout", "search", "admin"])),
        ]
    return fields


BENIGN_FIELDS = benign_fields()


def test_benign_fields_and_shapes_are_rarely_masked(capsys: pytest.CaptureFixture[str]) -> None:
    # field names close to the sensitive ones, and benign values in the shapes
    # masked by name (namedtuples, (name, value) pairs, %(name)s arguments),
    # as Enum values and in logger names
    assert len(BENIGN_FIELDS) >= 600
    masker = Masker()
    changed = [f"{k}={v!r}" for k, v in BENIGN_FIELDS if masker.mask({k: v}) != {k: v}]
    changed += [f"pair {k}" for k, v in BENIGN_FIELDS if masker.mask([(k, v)]) != [(k, v)]]
    changed += [f"%({k})" for k, v in BENIGN_FIELDS if masker.format_arg(k, v) is not v]
    for i, value in enumerate(BENIGN):
        if masker.mask(Row(i, value)) != Row(i, value):
            changed.append(f"namedtuple {value}")
        if masker.mask([(b"x-ref", value.encode())]) != [(b"x-ref", value.encode())]:
            changed.append(f"bytes pair {value}")
        member = enum.Enum("Mode", {"VALUE": value}).VALUE
        if masker.mask(member) is not member:
            changed.append(f"enum {value}")
    total = 3 * len(BENIGN_FIELDS) + 3 * len(BENIGN)
    handler = MemoryHandler(formatter=JSONFormatter())
    micktrace.configure(handlers=[handler])
    names = [f"app.{value}" for value in BENIGN[::4]]
    for name in names:
        micktrace.get_logger(name).info("x")
    changed += [name for name, line in zip(names, handler.lines) if json.loads(line)["logger"] != name]
    total += len(names)
    rate = len(changed) / total
    with capsys.disabled():
        print(f"\nbenign fields and shapes: {len(changed)} of {total} masked ({rate:.2%}): {changed[:5]}")
    assert rate < 0.01, changed
