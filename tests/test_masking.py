"""Masking of secrets and personal data (issue 5): detectors, styles, configuration,
where it applies (fields, context, exceptions, stdlib records), and its guarantees
(no mutation of the caller's dicts, bounded time on hostile input, never raises)."""

from __future__ import annotations

import dataclasses
import json
import logging
import re
import threading
from typing import Any, Dict, Iterator, List

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import micktrace
from conftest import run_python
from micktrace import masking
from micktrace.formatters import JSONFormatter, LogfmtFormatter, TextFormatter
from micktrace.handlers import MemoryHandler
from micktrace.masking import Masker, is_card_number, is_iban, is_sensitive_key, luhn_valid
from micktrace.testing import capture_logs

R = "[REDACTED]"
GH = "ghp_" + "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8"
JWT = (
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4ifQ"
    ".SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c"
)
CARD = "4111 1111 1111 1111"


@pytest.fixture
def outputs() -> Iterator[Dict[str, MemoryHandler]]:
    """One memory handler per format, all fed by the same records."""
    handlers = {
        "json": MemoryHandler(formatter=JSONFormatter()),
        "logfmt": MemoryHandler(formatter=LogfmtFormatter()),
        "text": MemoryHandler(formatter=TextFormatter()),
    }
    micktrace.configure(level="DEBUG", handlers=list(handlers.values()))
    yield handlers


def all_lines(handlers: Dict[str, MemoryHandler]) -> str:
    return "\n".join(line for h in handlers.values() for line in h.lines)


def masked(value: Any, **options: Any) -> Any:
    return Masker(**options).mask(value)


# ---------------------------------------------------------------------------
# detectors


@pytest.mark.parametrize(
    "name",
    [
        "password",
        "PASSWORD",
        "db_password",
        "userPassword",
        "password_confirmation",
        "passwd",
        "pwd",
        "secret",
        "client_secret",
        "clientSecret",
        "token",
        "access_token",
        "refresh-token",
        "X-Auth-Token",
        "api_key",
        "apiKey",
        "X-API-KEY",
        "authorization",
        "Proxy-Authorization",
        "auth",
        "cookie",
        "Set-Cookie",
        "session",
        "session_id",
        "private_key",
        "credit_card",
        "card_number",
        "cvv",
        "ssn",
        "aws_secret_access_key",
        "credentials",
    ],
)
def test_sensitive_key_names(name: str) -> None:
    assert is_sensitive_key(name)
    assert masked({name: "s3cr3t-value"}) == {name: R}


@pytest.mark.parametrize(
    "name",
    ["user_id", "author", "token_count", "max_tokens", "session_count", "passenger", "bypass", "keyboard", "path"],
)
def test_ordinary_key_names_are_left_alone(name: str) -> None:
    assert not is_sensitive_key(name)
    assert masked({name: "plain value"}) == {name: "plain value"}


def test_values_under_sensitive_keys_are_masked_whatever_their_type() -> None:
    out = masked({"cvv": 123, "credentials": {"user": "bob", "pw": "x"}, "tokens": ["a"], "pin": 4321})
    assert out == {"cvv": R, "credentials": R, "tokens": ["a"], "pin": R}
    # nothing to hide: None, booleans and "" stay (an empty password is worth seeing)
    assert masked({"password": None, "token": "", "secret": True}) == {"password": None, "token": "", "secret": True}


@pytest.mark.parametrize(
    ("text", "secret"),
    [
        (f"card {CARD} declined", CARD),
        ("card 4111-1111-1111-1111 declined", "4111-1111-1111-1111"),
        ("pan=5500005555555559", "5500005555555559"),
        ("amex 378282246310005", "378282246310005"),
        ("key AKIAIOSFODNN7EXAMPLE used", "AKIAIOSFODNN7EXAMPLE"),
        ("aws wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY ok", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"),
        (f"token {GH}", GH),
        ("github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyzABCDEFGHIJ", "github_pat_11ABCDEFG0123456789"),
        ("gl glpat-xYz12345678901234567", "glpat-xYz12345678901234567"),
        ("slack xoxb-123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx", "xoxb-123456789012"),
        ("hook https://hooks.slack.com/services/T0000/B0000/XXXXXXXXXXXXXXXXXXXXXXXX", "XXXXXXXXXXXXXXXXXXXXXXXX"),
        ("stripe sk_live_4eC39HqLyjWDarjtT1zdp7dc", "sk_live_4eC39HqLyjWDarjtT1zdp7dc"),
        ("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"),
        ("g AIzaSyDdI0hCZtE6vySjMm-WEfRq3CPzqKqqsHI", "AIzaSyDdI0hCZtE6vySjMm-WEfRq3CPzqKqqsHI"),
        ("oauth ya29.a0AfH6SMBx3jK9pQ2rT5uV8wY1zA4bC7dE0fG", "ya29.a0AfH6SMBx3jK9pQ2rT5uV8wY1zA4bC7dE0fG"),
        (f"jwt {JWT}", JWT),
        ("Authorization: Bearer abc123def456ghi789", "abc123def456ghi789"),
        ("auth=Basic dXNlcjpodW50ZXIy", "dXNlcjpodW50ZXIy"),
        ("postgres://app:hunter2pw@db.internal:5432/app", "hunter2pw"),
        ("Server=db;User Id=sa;Password=Sup3rS3cret!;Encrypt=true", "Sup3rS3cret!"),
        ('payload {"password": "p@ss w0rd", "user": "bob"}', "p@ss w0rd"),
        ("repr {'api_key': 'k-998877'}", "k-998877"),
        ("GET /cb?access_token=tok998877&state=1", "tok998877"),
        ('escaped {\\"secret\\": \\"xyz-12345\\"}', "xyz-12345"),
        ("ssn 078-05-1121 on file", "078-05-1121"),
        ("iban GB82 WEST 1234 5698 7654 32", "GB82 WEST 1234 5698 7654 32"),
        ("iban DE89370400440532013000", "DE89370400440532013000"),
        ("mail bob.smith+tag@example.co.uk now", "bob.smith+tag@example.co.uk"),
        ("call +1 415 555 0132", "+1 415 555 0132"),
        ("call (415) 555-0132", "(415) 555-0132"),
        ("call 415.555.0132", "415.555.0132"),
        ("call +44 20 7946 0958", "+44 20 7946 0958"),
        ("id-123 4111 1111 1111 1111", "4111 1111 1111 1111"),
        ("v1.2 078-05-1121", "078-05-1121"),
    ],
)
def test_value_patterns(text: str, secret: str) -> None:
    out = masked(text)
    assert secret not in out
    assert R in out


def test_private_key_blocks() -> None:
    body = "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7\nVJTUt9Us8cKjMzEfYyjiWA4R4/M2bS1GB4t7NXp98C3SC6dV"
    pem = f"-----BEGIN RSA PRIVATE KEY-----\n{body}\n-----END RSA PRIVATE KEY-----"
    out = masked(f"key:\n{pem}\nafter")
    assert out == f"key:\n{R}\nafter"
    # a truncated block is masked to the end
    assert "MIIE" not in masked("-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkq")


@pytest.mark.parametrize(
    "text",
    [
        "4111 1111 1111 1112",  # Luhn fails
        "1234567812345670",  # Luhn ok, no issuer starts with 1
        "order 112-4567890-1234567",
        "version 1.4.111111111111111",
        "000-12-3456",  # SSN area 000 is never issued
        "123-456-7890",  # area code 123 does not exist
        "GB82 WEST 1234 5698 7654 33",  # IBAN checksum fails
        "basic information about bearer authentication",
        "id 550e8400-e29b-41d4-a716-446655440000",
        "sha1 da39a3ee5e6b4b0d3255bfef95601890afd80709",
        "path /usr/local/lib/python3.11/site-packages/Abc1/xyz",
        "ip 192.168.100.200 and 10.0.0.1",
        "at 2024-01-15 10:24:33.123456+00:00",
        "token_count=5 max_tokens: 100",
    ],
)
def test_lookalikes_are_not_masked(text: str) -> None:
    assert masked(text) == text


FRAGMENTS = [
    *"0123456789 -+().@=:\"'_/\n",
    "4111",
    "1111",
    "415",
    "555",
    "0132",
    "078",
    "05",
    "1121",
    "example.com",
    "bob",
    "password",
    "token",
    "api_key",
    "Bearer ",
    "Basic ",
    "dXNlcjpwYXNz",
    "eyJhbGciOiJIUzI1NiJ9",
    "eyJzdWIiOiIxIn0",
    "sig_abc123",
    "ghp_",
    "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8",
    "glpat-",
    "xoxb-",
    "AKIA",
    "IOSFODNN7EXAMPLE",
    "AIza",
    "SyDdI0hCZtE6vySjMm-WEfRq3CPzqKqqsHI",
    "ya29.",
    "-----BEGIN PRIVATE KEY-----",
    "-----END PRIVATE KEY-----",
    "MIIEvQIBADANBgkq",
    "GB82",
    "WEST",
    "12345698765432",
    "postgres://",
    "u:pw@host",
    "sk_live_",
    "whsec_",
    "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    "hooks.slack.com/services/",
]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(FRAGMENTS), max_size=14).map("".join))
def test_the_quick_checks_never_hide_a_match(text: str) -> None:
    # the substring and digit-run checks only decide which patterns run: every
    # pattern run on every string must give the same result
    masker = Masker()
    ungated = text
    for rule in masker._rules:
        ungated = rule.apply(ungated)
    assert masker._scan(text) == ungated


def test_validators() -> None:
    assert luhn_valid("4111111111111111") and not luhn_valid("4111111111111112")
    assert is_card_number("4111-1111-1111-1111") and not is_card_number("4111-1111 1111-1111")
    assert is_iban("GB82 WEST 1234 5698 7654 32") and not is_iban("GB82 WEST 1234 5698 7654")


def test_int_card_numbers_are_masked() -> None:
    assert masked({"n": 4111111111111111}) == {"n": R}
    assert masked({"n": 4111111111111112, "m": 10**15}) == {"n": 4111111111111112, "m": 10**15}


def test_keys_that_are_secrets_themselves() -> None:
    out = masked({"bob@example.com": 3, "alice@example.com": 4, "n": 1})
    assert list(out.values()) == [3, 4, 1]
    assert not any("@example.com" in str(k) for k in out)
    assert set(out) == {R, R + "#2", "n"}


# ---------------------------------------------------------------------------
# styles


def test_partial_styles() -> None:
    m = Masker(style="partial")
    assert m.mask_text(f"card {CARD}") == "card **** **** **** 1111"
    assert m.mask_text("mail bob@example.com") == "mail ***@example.com"
    assert m.mask_text("ssn 078-05-1121") == "ssn ***-**-1121"
    assert m.mask_text("call +1 415 555 0132") == "call +* *** *** 0132"
    assert m.mask_text("iban GB82 WEST 1234 5698 7654 32") == "iban GB** **** **** **** **54 32"
    assert m.mask_text(f"t {GH}") == "t ghp_***"
    assert m.mask_text("Bearer abc123def456ghi789") == "Bearer " + R  # nothing to keep
    assert m.mask({"password": "hunter2"}) == {"password": R}


def test_hash_style_correlates_without_revealing() -> None:
    m = Masker(style="hash", salt="pepper")
    a = m.mask_text("mail bob@example.com")
    b = Masker(style="hash", salt="pepper").mask_text("from bob@example.com")
    c = m.mask_text("mail eve@example.com")
    other_salt = Masker(style="hash", salt="other").mask_text("mail bob@example.com")
    digest = re.search(r"sha256:[0-9a-f]{12}", a)
    assert digest is not None and "bob" not in a
    assert digest.group() in b  # same secret, same salt: same digest
    assert digest.group() not in c and digest.group() not in other_salt
    # without a salt: a random one per process, stable within it
    assert Masker(style="hash").mask_text("x bob@example.com") == Masker(style="hash").mask_text("x bob@example.com")


def test_styles_per_category_and_group_and_replacement_text() -> None:
    m = Masker(styles={"card": "partial", "pii": "hash"}, replacement="<{category}>")
    out = m.mask_text(f"{CARD} bob@example.com ghp_{'x' * 36}")
    assert out.startswith("**** **** **** 1111 sha256:")
    assert out.endswith("<github>")
    assert Masker(replacement="***").mask({"token": "abc"}) == {"token": "***"}


# ---------------------------------------------------------------------------
# configuration


def test_on_by_default_and_off_with_false(outputs: Dict[str, MemoryHandler]) -> None:
    log = micktrace.get_logger("cfg")
    log.info("login", password="hunter2")
    assert "hunter2" not in all_lines(outputs)
    micktrace.configure(masking=False)
    log.info("login", password="hunter2")
    assert "hunter2" in outputs["json"].lines[-1]
    micktrace.configure(masking=True)
    log.info("login", password="hunter2")
    assert "hunter2" not in outputs["json"].lines[-1]


def test_masking_is_the_first_processor() -> None:
    seen: List[Any] = []
    cfg = micktrace.configure(processors=[lambda r: seen.append(r.data) or r])
    assert isinstance(cfg.processors[0], Masker)
    micktrace.get_logger("p").info("x", token="abc")
    assert seen == [{"token": R}]


def test_configure_options(outputs: Dict[str, MemoryHandler]) -> None:
    micktrace.configure(
        masking={
            "keys": ["employee_ref"],
            "allow_keys": ["session_id"],
            "patterns": {"order_secret": r"ORDSEC-\d{6}", "pin_code": r"pin (?P<secret>\d{4})"},
            "disable": ["pii"],
        }
    )
    micktrace.get_logger("cfg").info(
        "ORDSEC-123456 and pin 9876 for bob@example.com",
        employee_ref="E-1",
        session_id="sess-42",
        other="call +1 415 555 0132",
    )
    record = json.loads(outputs["json"].lines[-1])
    assert record["message"] == f"{R} and pin {R} for bob@example.com"
    assert record["employee_ref"] == R
    assert record["session_id"] == "sess-42"  # allow-listed
    assert record["other"] == "call +1 415 555 0132"  # pii is off


@pytest.mark.parametrize(
    ("masking", "key"),
    [
        ({"patterns": {"bad": "("}}, "masking.patterns.bad"),
        ({"patterns": {"empty": "x*"}}, "masking.patterns.empty"),
        ({"patterns": {"card": "x"}}, "masking.patterns.card"),
        ({"disable": ["nope"]}, "masking.disable"),
        ({"styles": {"card": "blur"}}, "masking.styles.card"),
        ({"styles": {"nope": "full"}}, "masking.styles"),
        ({"style": "blur"}, "masking.style"),
        ({"replacement": 3}, "masking.replacement"),
        ({"salt": 3}, "masking.salt"),
        ({"max_depth": 0}, "masking.max_depth"),
        ({"keys": [""]}, "masking.keys"),
        ({"colour": "red"}, "masking.colour"),
        ("yes", "masking"),
    ],
)
def test_invalid_configuration_raises_naming_the_key(masking: Any, key: str) -> None:
    before = micktrace.configure()
    with pytest.raises(micktrace.ConfigError) as info:
        micktrace.configure(masking=masking)
    assert info.value.key == key
    assert key in str(info.value)
    assert micktrace.configure().settings.get("masking") == before.settings.get("masking")


def test_settings_survive_export(outputs: Dict[str, MemoryHandler]) -> None:
    micktrace.configure(masking={"keys": ["employee_ref"]})
    settings = micktrace.configure().settings
    assert settings["masking"] == {"keys": ["employee_ref"]}


# ---------------------------------------------------------------------------
# where masking applies


def test_everything_a_record_carries_is_masked(outputs: Dict[str, MemoryHandler]) -> None:
    log = micktrace.get_logger("where").bind(bound_tok=GH)
    with micktrace.context(ctx_mail="ctx@example.com", api_key="ctx-key-1"):
        log.info(
            "card %s for %s",
            CARD,
            "arg@example.com",
            extra={"extra_card": "5500-0055-5555-5559"},
            nested={"deep": [{"token": "tok-nested"}, ("t", "mail in@example.com")]},
        )
    text = all_lines(outputs)
    for leak in (GH, "ctx@example.com", "ctx-key-1", "4111", "arg@example.com", "5500-0055", "tok-nested", "in@ex"):
        assert leak not in text
    record = json.loads(outputs["json"].lines[0])
    assert record["message"] == f"card {R} for {R}"
    assert record["nested"] == {"deep": [{"token": R}, ["t", f"mail {R}"]]}


def test_static_fields_are_masked(outputs: Dict[str, MemoryHandler]) -> None:
    micktrace.configure(fields={"ops_contact": "ops@example.com", "region": "eu"})
    micktrace.get_logger("s").info("x")
    micktrace.get_logger("s").info("y")
    lines = outputs["json"].lines
    assert all(json.loads(line)["ops_contact"] == R and json.loads(line)["region"] == "eu" for line in lines)


def _raise_chain(tok: str) -> None:
    try:
        raise KeyError(f"lookup of {tok} failed")
    except KeyError as inner:
        raise ValueError(f"bad token {tok}") from inner


def test_exception_messages_and_tracebacks_are_masked(outputs: Dict[str, MemoryHandler]) -> None:
    log = micktrace.get_logger("exc")
    try:
        _raise_chain(GH)
    except ValueError:
        log.exception("request failed")
    text = all_lines(outputs)
    assert GH not in text
    assert text.count("ValueError") >= 3
    record = json.loads(outputs["json"].lines[0])
    exc = record["exception"]
    assert exc["message"] == f"bad token {R}"
    assert exc["cause"]["message"] == f"'lookup of {R} failed'"
    assert f"ValueError: bad token {R}" in exc["traceback"]
    assert f"KeyError: 'lookup of {R} failed'" in exc["traceback"]
    assert outputs["text"].lines[0].endswith(f"ValueError: bad token {R}")
    assert f'exc_message="bad token {R}"' in outputs["logfmt"].lines[0]


def test_the_live_exception_is_kept(outputs: Dict[str, MemoryHandler]) -> None:
    error = ValueError(f"bad token {GH}")
    with capture_logs() as captured:
        micktrace.get_logger("exc").error("x", exc_info=error)
    record = captured.records[0]
    assert record.exc_info is not None and record.exc_info[1] is error  # for code that inspects it
    assert record.exception is not None and GH not in record.exception["message"]
    assert record.exception_text is not None and GH not in record.exception_text


def test_locals_shown_in_traceback_text_are_masked() -> None:
    # a traceback formatted with locals (as some tools add) shows `name = value`
    text = 'File "app.py", line 3, in login\n    password = \'hunter2\'\n    api_key = "k-123456"'
    out = masked(text)
    assert "hunter2" not in out and "k-123456" not in out


def test_stack_info_is_masked(outputs: Dict[str, MemoryHandler]) -> None:
    api_key = "k-stack-998877"  # noqa: F841 - shown in the stack's source line below
    micktrace.get_logger("st").info("x", stack_info=True, marker="api_key='k-stack-998877'")
    assert "k-stack-998877" not in all_lines(outputs)


def test_values_masked_by_key_are_masked_where_they_recur(outputs: Dict[str, MemoryHandler]) -> None:
    pw = "correct-horse-battery"
    try:
        raise PermissionError(f"login rejected for secret {pw}")
    except PermissionError:
        micktrace.get_logger("echo").exception(f"user typed {pw}", password=pw)
    assert pw not in all_lines(outputs)


def test_objects_are_masked_through_what_the_formatters_write(outputs: Dict[str, MemoryHandler]) -> None:
    @dataclasses.dataclass
    class Login:
        user: str
        password: str

    class Opaque:
        def __str__(self) -> str:
            return "opaque token=tok-opaque-1"

    micktrace.get_logger("obj").info(
        "x", login=Login("bob", "hunter2"), opaque=Opaque(), error=ValueError(f"t {GH}"), raw=b"mail b@example.com"
    )
    text = all_lines(outputs)
    for leak in ("hunter2", "tok-opaque-1", GH, "b@example.com"):
        assert leak not in text
    record = json.loads(outputs["json"].lines[0])
    assert record["login"] == {"user": "bob", "password": R}


def test_deep_nesting_is_checked_as_text() -> None:
    value: Any = {"token": "deep-token-1"}
    for _ in range(20):
        value = {"level": value}
    out = Masker(max_depth=5).mask({"v": value})
    assert "deep-token-1" not in json.dumps(out)


def test_cycles_do_not_hang() -> None:
    a: Dict[str, Any] = {"mail": "c@example.com"}
    a["self"] = a
    out = masked({"a": a})
    assert "c@example.com" not in repr(out)


def test_stdlib_records_are_masked(outputs: Dict[str, MemoryHandler]) -> None:
    from micktrace.integrations.stdlib import StdlibHandler

    std = logging.getLogger("legacy.masking")
    handler = StdlibHandler()
    std.addHandler(handler)
    std.propagate = False
    std.setLevel(logging.INFO)
    try:
        std.warning("card %s", CARD, extra={"api_key": "std-key-1"})
        try:
            raise ValueError(f"bad {GH}")
        except ValueError:
            std.exception("boom")
    finally:
        std.removeHandler(handler)
        std.propagate = True
    text = all_lines(outputs)
    assert outputs["json"].lines and "4111" not in text and "std-key-1" not in text and GH not in text


# ---------------------------------------------------------------------------
# guarantees


def test_caller_dicts_are_never_modified_and_clean_records_allocate_nothing() -> None:
    bound = {"token": "tok-bound", "user": "bob"}
    ctx = {"mail": "x@example.com"}
    nested = {"password": "p", "list": ["a@example.com"]}
    with capture_logs() as captured, micktrace.context(**ctx):
        log = micktrace.get_logger("immut").bind(**bound)
        log.info("x", nested=nested)
    assert bound == {"token": "tok-bound", "user": "bob"}
    assert nested == {"password": "p", "list": ["a@example.com"]}
    assert log.bound == bound
    record = captured.records[0]
    assert record.data["token"] == R and record.context["mail"] == R

    m = Masker()
    clean = {"user_id": 1, "path": "/api/x", "tags": ["a", "b"], "when": 1.5}
    assert m.mask(clean) is clean
    assert m.mask(clean["tags"]) is clean["tags"]
    text = "nothing to see here"
    assert m.mask_text(text) is text


def test_repeated_records_give_the_same_result() -> None:
    # the caches must not change what is masked
    m = Masker()
    values = [{"ip": "1.2.3.4", "note": f"card {CARD}"}, {"ip": "1.2.3.4", "note": "fine"}]
    first = [m.mask(v) for v in values]
    for _ in range(40):
        assert [m.mask(v) for v in values] == first
    assert first[0]["note"] == f"card {R}" and first[1]["note"] == "fine"


def test_concurrent_masking_is_consistent() -> None:
    m = Masker()
    errors: List[str] = []

    def work(n: int) -> None:
        for i in range(300):
            secret = f"u{n}x{i}@example.com"
            out = m.mask({"id": i, "mail": secret, "path": f"/p/{i % 7}"})
            if secret in repr(out) or out["path"] != f"/p/{i % 7}":
                errors.append(repr(out))

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []


def test_a_failure_inside_masking_withholds_the_record_content(
    outputs: Dict[str, MemoryHandler], capsys: pytest.CaptureFixture[str]
) -> None:
    class Hostile(dict):  # type: ignore[type-arg]
        def items(self) -> Any:
            raise RuntimeError("boom")

    micktrace.get_logger("fail").info("secret message", weird=Hostile(a=1))
    line = json.loads(outputs["json"].lines[0])
    assert line["message"] == "[withheld: masking failed]"
    assert line["masking_error"] == "RuntimeError"
    assert "masking" in capsys.readouterr().err


# expressions, evaluated in the child (the strings themselves are too long for argv)
ADVERSARIAL = [
    "'1' * 100_000",
    "'@' * 100_000",
    "'a' * 100_000",
    "'a@' * 50_000",
    "'a.' * 50_000",
    "'a=' * 50_000",
    "'password=' * 10_000",
    "'-----BEGIN PRIVATE KEY-----' * 3_000",
    "'4111 ' * 20_000",
    "'+1 ' * 30_000",
    "'x:' + '\"' * 100_000",
    "'eyJ' + 'a' * 50_000 + '.' + 'b' * 50_000",
    "'Bearer ' + 'A' * 100_000",
    "'A' * 39 + '/' + 'a1' * 50_000",
    "'GB82 ' * 20_000",
    "'(' * 50_000 + '1' * 50_000",
    "'key=' + '\\\\' * 100_000",
    "'token=\"' + 'a' * 100_000",
    "'a:b=' * 25_000",
    "'x@y.' * 25_000",
    "'https://u:' * 10_000 + '@'",
    "'a' * 100_000 + '@example.com'",
    "'a@' + 'b.' * 50_000",
    "'eyJ' + 'a.' * 50_000",
    "'a://' + 'b' * 100_000 + ':c'",
    "'1 ' * 50_000",
    "'1-' * 50_000",
    "'+1(' * 30_000",
    "'123-45-' * 15_000",
    "'GB82' + 'A' * 100_000",
    "'-----BEGIN PRIVATE KEY-----' + 'a' * 100_000",
    "'Aa1' * 33_334",
    "'ghp_' + 'a' * 100_000",
    '\'\\"password\\": \\"\' * 10_000',
    "\"'password', \" * 10_000",
    "\"('a', b'\" * 20_000",
    "\"'token', b'\" + 'a' * 100_000",
    "'db://' + 'a' * 100_000 + '@'",
    "'a://' * 30_000 + '@'",
    "'a.' * 50_000 + '4111111111111111'",
]


def test_adversarial_inputs_are_scanned_in_bounded_time() -> None:
    # run in a fresh interpreter with a timeout: a catastrophic backtrack would
    # hang rather than fail; the generous timeout only catches that
    code = (
        "from micktrace.masking import Masker\n"
        "from micktrace.record import LogRecord\n"
        "def make(name):\n"
        "    return LogRecord(0, 20, name, 'm', {}, {}, {}, None, None, 1, 1, None, None, None)\n"
        f"inputs = [{', '.join(ADVERSARIAL)}]\n"
        "m = Masker()\n"
        "for text in inputs:\n"
        "    assert len(text) >= 50_000\n"
        "    m.mask_text(text)\n"
        "    m.mask({'v': text, 'nested': [text], 'database_url': text, 'pairs': [('password', text)]})\n"
        "    m(make(text))\n"
        "print('done', len(inputs))\n"
    )
    result = run_python(code, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"done {len(ADVERSARIAL)}"


def test_category_table_matches_the_code() -> None:
    for group, what, partial in masking.CATEGORIES.values():
        assert group and what and partial
    for members in masking.GROUPS.values():
        assert set(members) <= set(masking.CATEGORIES)
    assert set(masking.GROUPS["pii"]) == {"email", "phone"}


def test_import_stays_cheap() -> None:
    result = run_python("import sys, micktrace; print('micktrace.masking' in sys.modules)")
    assert result.stdout.strip() == "False"
