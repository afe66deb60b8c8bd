"""Masking of the shapes an adversarial pass found leaking (issue 14): namedtuples,
Enum members, lists of (name, value) pairs (ASGI headers), ``%(name)s`` mapping
arguments, key names the old normalisation missed (``db_pass``, ``priv_key``,
``auth-key``, ``signature``, ``p@ssword``), signature and token parameters of
presigned URLs, a logger name, connection settings holding a bare secret; and
an object's ``__str__``/``__repr__`` running once per record.

Every case is logged through the real pipeline in the caller (sync dispatch),
in the background worker (which masks batches, with the compiled clean check),
and on the pure-Python path (``MICKTRACE_NO_SPEEDUPS=1``, in a subprocess), and
written in JSON, text and logfmt."""

from __future__ import annotations

import collections
import enum
import json
import logging
import sys
import types
import typing
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List, Mapping, Tuple

import pytest

import micktrace
from conftest import run_python
from micktrace.config import current_config
from micktrace.formatters import JSONFormatter, LogfmtFormatter, TextFormatter
from micktrace.handlers import MemoryHandler
from micktrace.masking import Masker, is_sensitive_key

R = "[REDACTED]"
JWT = (
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4ifQ"
    ".SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c"
)
STRIPE = "sk_live_4eC39HqLyjWDarjtT1zdp7dc"
PRESIGNED = (
    "https://bucket.s3.amazonaws.com/report.csv?X-Amz-Algorithm=AWS4-HMAC-SHA256"
    "&X-Amz-Credential=AKIDEXAMPLE%2F20240101%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20240101T000000Z"
    "&X-Amz-Expires=3600&X-Amz-SignedHeaders=host&X-Amz-Security-Token=IQoJb3JpZ2luX2VjEJr"
    "&X-Amz-Signature=fe5f80f77d5fa3beca038a248ff027d0445342fe2855ddc963176630326f1024"
)
GCS = "https://storage.googleapis.com/b/o?X-Goog-Algorithm=GOOG4-RSA-SHA256&X-Goog-Signature=8a7bd1f3c9e2d4"
AZURE = "https://acct.blob.core.windows.net/c/b?sv=2021-08-06&se=2024-01-01&sp=r&sig=Zm9vYmFyYmF6cXV4MTIz%3D"
CLOUDFRONT = "https://d111111abcdef8.cloudfront.net/img.png?Expires=1700000000&Signature=nitfHRCrtziwO2HwPfWw~yYDhUF5&Key-Pair-Id=K2J"

Creds = collections.namedtuple("Creds", "user password")


class TypedCreds(typing.NamedTuple):
    user: str
    api_token: str


class Headers(Mapping[str, str]):
    """A read-only mapping that is not a dict, like a web framework's headers."""

    def __init__(self, items: Dict[str, str]) -> None:
        self._items = dict(items)

    def __getitem__(self, key: str) -> str:
        return self._items[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __repr__(self) -> str:
        return f"Headers({self._items!r})"


class Secrets(enum.Enum):
    STRIPE = STRIPE
    PLAIN = "plain"


class Level(enum.IntEnum):
    CARD = 4111111111111111


# (name, how it is logged, what must never be written)
Case = Tuple[str, Callable[[micktrace.Logger], None], List[str]]


def _in_context(**values: Any) -> Callable[[micktrace.Logger], None]:
    def emit(log: micktrace.Logger) -> None:
        with micktrace.context(**values):
            log.info("in context")

    return emit


def _in_traceback(text: str) -> Callable[[micktrace.Logger], None]:
    def emit(log: micktrace.Logger) -> None:
        try:
            try:
                raise KeyError(text)
            except KeyError as inner:
                raise RuntimeError(f"failed: {text}") from inner
        except RuntimeError:
            log.exception("request failed")

    return emit


CASES: List[Case] = [
    # 1. namedtuples: masked by their field names
    ("namedtuple field", lambda log: log.info("x", creds=Creds(user="a", password="hunter2-nt")), ["hunter2-nt"]),
    ("typed namedtuple", lambda log: log.info("x", c=TypedCreds("a", "tok-9f8e7d6c")), ["tok-9f8e7d6c"]),
    ("namedtuple nested", lambda log: log.info("x", p={"l": [Creds("a", "hunter2-nn")]}), ["hunter2-nn"]),
    ("namedtuple bound", lambda log: log.bind(c=Creds("a", "hunter2-nb")).info("x"), ["hunter2-nb"]),
    ("namedtuple context", _in_context(c=Creds("a", "hunter2-nc")), ["hunter2-nc"]),
    ("namedtuple %s", lambda log: log.info("got %s", Creds("a", "hunter2-nm")), ["hunter2-nm"]),
    # 2. Enum members: their value is what JSON writes
    ("enum field", lambda log: log.info("x", mode=Secrets.STRIPE), [STRIPE[8:]]),
    ("enum nested", lambda log: log.info("x", modes={"all": [Secrets.STRIPE]}), [STRIPE[8:]]),
    ("enum context", _in_context(mode=Secrets.STRIPE), [STRIPE[8:]]),
    ("int enum card", lambda log: log.info("x", level=Level.CARD), ["4111111111111111"]),
    # 3. (name, value) pairs
    (
        "asgi headers",
        lambda log: log.info("req", headers=[(b"host", b"x"), (b"authorization", b"Token abcdef123456xyz")]),
        ["abcdef123456xyz"],
    ),
    ("str pairs", lambda log: log.info("x", pairs=[("password", "pairs-secret1")]), ["pairs-secret1"]),
    ("list pairs", lambda log: log.info("x", pairs=[["api_key", "pairs-secret2"]]), ["pairs-secret2"]),
    ("pairs nested", lambda log: log.info("x", scope={"headers": (("cookie", "pairs-s3x"),)}), ["pairs-s3x"]),
    ("bytes keys", lambda log: log.info("x", h={b"authorization": b"Token abcdef999"}), ["abcdef999"]),
    ("mapping type", lambda log: log.info("x", h=Headers({"x-api-key": "hdr-secret1"})), ["hdr-secret1"]),
    ("mapping proxy", lambda log: log.info("x", h=types.MappingProxyType({"token": "hdr-s2"})), ["hdr-s2"]),
    ("pairs context", _in_context(headers=[(b"x-api-key", b"pairs-secret4")]), ["pairs-secret4"]),
    ("pairs echo", lambda log: log.info("saw pairs-secret5", h=[("password", "pairs-secret5")]), ["pairs-secret5"]),
    ("pairs repr", lambda log: log.info("headers %s", [(b"authorization", b"Token abcdef654321")]), ["abcdef654321"]),
    ("pairs traceback", _in_traceback(str([("password", "pairs-tb1")])), ["pairs-tb1"]),
    # 4. %(name)s mapping arguments
    (
        "mapping args",
        lambda log: log.info("login %(user)s %(password)s", {"user": "a", "password": "pct-secret1"}),
        ["pct-secret1"],
    ),
    (
        "mapping args nested",
        lambda log: log.info("cfg %(db)s", {"db": {"password": "pct-secret2"}}),
        ["pct-secret2"],
    ),
    ("mapping args dsn", lambda log: log.info("to %(DATABASE_URL)s", {"DATABASE_URL": "pct-bare3"}), ["pct-bare3"]),
    # 5. key names
    ("db_pass", lambda log: log.info("x", db_pass="kn-secret1"), ["kn-secret1"]),
    ("priv_key", lambda log: log.info("x", priv_key="kn-secret2"), ["kn-secret2"]),
    ("auth_key", lambda log: log.info("x", auth_key="kn-secret3"), ["kn-secret3"]),
    ("auth-key", lambda log: log.info("x", extra={"auth-key": "kn-secret4"}), ["kn-secret4"]),
    ("signature", lambda log: log.info("x", signature="kn-secret5"), ["kn-secret5"]),
    ("p@ssword", lambda log: log.info("x", extra={"p@ssword": "kn-secret6"}), ["kn-secret6"]),
    ("pa$$w0rd nested", lambda log: log.info("x", p={"pa$$w0rd": "kn-secret7"}), ["kn-secret7"]),
    ("smtpPass context", _in_context(smtpPass="kn-secret8"), ["kn-secret8"]),
    ("key names in text", lambda log: log.info("db_pass=kn-text1 priv_key: kn-text2"), ["kn-text1", "kn-text2"]),
    ("key names traceback", _in_traceback("auth-key=kn-tb1 signature=kn-tb2"), ["kn-tb1", "kn-tb2"]),
    # 6. presigned URLs
    ("s3 presigned", lambda log: log.info(f"fetch {PRESIGNED}"), ["fe5f80f77d5fa3be", "IQoJb3JpZ2luX2VjEJr"]),
    ("s3 presigned field", lambda log: log.info("x", url=PRESIGNED), ["fe5f80f77d5fa3be", "IQoJb3JpZ2luX2VjEJr"]),
    ("gcs signed", lambda log: log.info("x", links=[GCS]), ["8a7bd1f3c9e2d4"]),
    ("azure sas", _in_context(blob=AZURE), ["Zm9vYmFyYmF6cXV4MTIz"]),
    ("cloudfront", lambda log: log.info("x", url=CLOUDFRONT), ["nitfHRCrtziwO2HwPfWw"]),
    ("presigned traceback", _in_traceback(PRESIGNED), ["fe5f80f77d5fa3be"]),
    # 7. the logger name
    ("jwt logger name", lambda log: micktrace.get_logger("svc." + JWT).info("hi"), [JWT[-40:]]),
    ("token logger name", lambda log: micktrace.get_logger(f"jobs.{STRIPE}").info("hi"), [STRIPE[8:]]),
    # 8. connection settings holding a bare secret
    ("connection_string", lambda log: log.info("x", connection_string="cs-bare1"), ["cs-bare1"]),
    ("DATABASE_URL", lambda log: log.info("x", DATABASE_URL="cs-bare2"), ["cs-bare2"]),
    ("redis_url context", _in_context(redis_url="cs-bare3"), ["cs-bare3"]),
    ("sentry_dsn token", lambda log: log.info("x", sentry_dsn="https://cs4b7e9d@localhost:9000/1"), ["cs4b7e9d"]),
    ("DATABASE_URL text", lambda log: log.info("env DATABASE_URL=cs-bare5 ok"), ["cs-bare5"]),
    ("connection echo", lambda log: log.info("using cs-bare6!", dsn="cs-bare6!"), ["cs-bare6"]),
]
IDS = [case[0] for case in CASES]
FORMATS = {"json": JSONFormatter, "text": TextFormatter, "logfmt": LogfmtFormatter}


def emit_all(dispatch: str) -> Dict[str, Dict[str, List[str]]]:
    """Log every case with a fresh configuration per format: {case: {format: lines}}."""
    out: Dict[str, Dict[str, List[str]]] = {name: {} for name, _, _ in CASES}
    for fmt, formatter in FORMATS.items():
        handler = MemoryHandler(formatter=formatter())
        micktrace.configure(handlers=[handler], dispatch=dispatch)
        log = micktrace.get_logger("shapes")
        for name, emit, _ in CASES:
            before = len(handler.lines)
            emit(log)
            assert micktrace.flush()
            out[name][fmt] = handler.lines[before:]
    return out


def _leaks(out: Dict[str, Dict[str, List[str]]], only: str = "") -> List[str]:
    leaks = []
    for name, _, needles in CASES:
        if only and name != only:
            continue
        for fmt, lines in out[name].items():
            assert len(lines) == 1, (name, fmt, lines)  # no record lost or split
            leaks += [f"{name} ({fmt}): {n!r} in {lines[0][:300]}" for n in needles if n in lines[0]]
    return leaks


_OUTPUTS: Dict[str, Dict[str, Dict[str, List[str]]]] = {}


def _outputs(dispatch: str) -> Dict[str, Dict[str, List[str]]]:
    """Every case logged once per dispatch mode (in the caller, in the worker),
    then looked at case by case."""
    if dispatch not in _OUTPUTS:
        _OUTPUTS[dispatch] = emit_all(dispatch)
        if dispatch == "background":
            assert current_config().dispatcher.masks_in_worker
    return _OUTPUTS[dispatch]


@pytest.mark.parametrize("dispatch", ["sync", "background"])
@pytest.mark.parametrize("name", IDS)
def test_no_shape_leaks(name: str, dispatch: str) -> None:
    assert _leaks(_outputs(dispatch), name) == []


def test_no_shape_leaks_on_the_pure_python_path() -> None:
    code = (
        "import json, sys\n"
        f"sys.path.insert(0, {str(Path(__file__).parent)!r})\n"
        "from micktrace import _native\n"
        "assert _native.scan_fields is None and _native.clean_records is None\n"
        "import test_masking_shapes as t\n"
        "print(json.dumps({d: t.emit_all(d) for d in ('sync', 'background')}))\n"
    )
    result = run_python(code, env={"MICKTRACE_NO_SPEEDUPS": "1", "MICKTRACE_DETECT": "0"}, timeout=120)
    assert result.returncode == 0, result.stderr
    outs = json.loads(result.stdout.strip().splitlines()[-1])
    for dispatch in ("sync", "background"):
        assert _leaks(outs[dispatch]) == [], dispatch


@pytest.mark.parametrize("name", IDS)
def test_the_leak_check_sees_each_secret_unmasked(name: str) -> None:
    # the oracle: with masking off, every case shows its secret
    handler = MemoryHandler(formatter=JSONFormatter())
    micktrace.configure(handlers=[handler], masking=False)
    emit, needles = next((e, n) for case, e, n in CASES if case == name)
    emit(micktrace.get_logger("shapes"))
    assert micktrace.flush()
    assert any(n in handler.lines[-1] for n in needles), handler.lines[-1]


# ---------------------------------------------------------------------------
# what stays visible: the shapes keep their form and their plain values


def test_namedtuples_keep_their_type_and_plain_fields() -> None:
    masked = Masker().mask({"c": Creds(user="alice", password="pw-1"), "t": TypedCreds("bob", "x")})
    assert masked["c"] == Creds(user="alice", password=R) and type(masked["c"]) is Creds
    assert masked["t"] == TypedCreds("bob", R)
    clean = Creds("alice", "")
    assert Masker().mask({"c": clean})["c"] is clean


def test_a_namedtuple_that_refuses_masked_values_becomes_a_dict() -> None:
    class Strict(collections.namedtuple("StrictBase", "user pin")):
        @classmethod
        def _make(cls, iterable: Any) -> Any:
            raise TypeError("ints only")

    assert Masker().mask([Strict("a", 1234)]) == [{"user": "a", "pin": R}]


def test_clean_enums_and_pairs_are_left_as_they_are() -> None:
    headers = [(b"host", b"example.com"), (b"content-type", b"application/json"), ("accept", "*/*")]
    value = {"mode": Secrets.PLAIN, "headers": headers, "words": ["password", "reset"]}
    assert Masker().mask(value) is value


def test_pair_masking_follows_allow_keys_and_keys_options() -> None:
    pairs = [("session_id", "s-42"), ("employee_ref", "E-1")]
    assert Masker(allow_keys=["session_id"], keys=["employee_ref"]).mask(pairs) == [
        ("session_id", "s-42"),
        (
            "employee_ref",
            R,
        ),
    ]


MISSED_BEFORE = ["db_pass", "DbPass", "smtp-pass", "priv_key", "privKey", "auth_key", "auth-key", "ssh_key",
                 "signature", "X-Amz-Signature", "hmac_sig", "p@ssword", "pa$$word", "passw0rd", "s3cr3t",
                 "connection_string", "DATABASE_URL", "redisUrl", "sentry_dsn", "SQLALCHEMY_DATABASE_URI"]
ORDINARY = ["bypass", "passenger", "compass", "first_pass", "public_key", "pub_key", "cache_key", "sort_key", "key",
            "primary_key", "signed_headers", "signature_version", "callback_url", "image_url", "db_host", "db_name",
            "keyboard", "monkey", "author", "token_count"]  # fmt: skip


@pytest.mark.parametrize(("name", "sensitive"), [(n, True) for n in MISSED_BEFORE] + [(n, False) for n in ORDINARY])
def test_key_names(name: str, sensitive: bool) -> None:
    # the names the old rules missed are sensitive; ordinary names close to them are not
    assert is_sensitive_key(name) is sensitive


def test_connection_settings_keep_what_is_not_secret() -> None:
    m = Masker()
    assert m.mask({"database_url": "postgres://db.internal:5432/app"}) == {
        "database_url": "postgres://db.internal:5432/app"
    }
    assert m.mask({"DATABASE_URL": "postgres://app:s3cret@db/app"}) == {"DATABASE_URL": f"postgres://app:{R}@db/app"}
    assert m.mask({"dsn": "host=db user=app password=s3cret"}) == {"dsn": f"host=db user=app password={R}"}
    assert m.mask({"connection_string": "s3cret-bare"}) == {"connection_string": R}
    assert m.mask({"redis_url": "redis://tok123@cache:6379/0"}) == {"redis_url": f"redis://{R}@cache:6379/0"}
    assert m.mask_text("DATABASE_URL=postgres://db/app flag has_signature=true") == (
        "DATABASE_URL=postgres://db/app flag has_signature=true"
    )


def test_presigned_urls_keep_their_other_parameters() -> None:
    out = Masker().mask_text(PRESIGNED)
    assert "X-Amz-Signature=" + R in out and "X-Amz-Security-Token=" + R in out
    assert "X-Amz-Date=20240101T000000Z" in out and "X-Amz-Expires=3600" in out and "X-Amz-SignedHeaders=host" in out


def test_mapping_arguments_from_the_stdlib_bridge_are_masked() -> None:
    handler = MemoryHandler(formatter=JSONFormatter())
    micktrace.configure(handlers=[handler], capture_stdlib=True)
    logging.getLogger("legacy").warning("login %(user)s %(password)s", {"user": "bob", "password": "std-pct-1"})
    assert micktrace.flush()
    line = json.loads(handler.lines[-1])
    assert line["message"] == f"login bob {R}"


def test_mapping_arguments_format_as_before() -> None:
    handler = MemoryHandler(formatter=JSONFormatter())
    micktrace.configure(handlers=[handler])
    log = micktrace.get_logger("fmt")
    log.info("%(n)d items for %(user)r", {"n": 3, "user": "bob"})
    log.info("whole %s", {"a": 1})
    log.info("pin %(pin)s", {"pin": 1234})
    messages = [json.loads(line)["message"] for line in handler.lines]
    assert messages == ["3 items for 'bob'", "whole {'a': 1}", f"pin {R}"]


def test_the_logger_name_is_masked_in_captured_records() -> None:
    with micktrace.testing.capture_logs() as records:
        micktrace.get_logger("svc." + JWT).info("hi")
    assert records[0].logger_name == "svc.[REDACTED]"


# ---------------------------------------------------------------------------
# a value's __repr__/__str__ runs once per record


class Counted:
    calls: List[str] = []

    def __repr__(self) -> str:
        Counted.calls.append("repr")
        return "Counted(token='abc123456')"

    def __str__(self) -> str:
        Counted.calls.append("str")
        return "counted token=abc123456"


class ReprOnly:
    calls: List[str] = []

    def __repr__(self) -> str:
        ReprOnly.calls.append("repr")
        return "ReprOnly(n=1)"


class Failure(Exception):
    calls: List[str] = []

    def __str__(self) -> str:
        Failure.calls.append("str")
        return "failure"


@pytest.mark.parametrize("masking", [True, False])
@pytest.mark.parametrize("dispatch", ["sync", "background"])
@pytest.mark.parametrize("fmt", sorted(FORMATS))
@pytest.mark.parametrize("cls", [Counted, ReprOnly, Failure])
def test_repr_and_str_run_once_per_record(cls: Any, fmt: str, dispatch: str, masking: bool) -> None:
    handler = MemoryHandler(formatter=FORMATS[fmt]())
    micktrace.configure(handlers=[handler], dispatch=dispatch, masking=masking)
    log = micktrace.get_logger("count")
    cls.calls.clear()
    log.info("one", value=cls())
    log.info("two", nested={"items": [cls()]})
    assert micktrace.flush()
    assert len(handler.lines) == 2
    assert len(cls.calls) == 2, cls.calls
    if masking and cls is Counted:
        assert "abc123456" not in "".join(handler.lines)


def test_a_reentrant_repr_writes_its_inner_record_once() -> None:
    handler = MemoryHandler(formatter=JSONFormatter())
    micktrace.configure(handlers=[handler])
    log = micktrace.get_logger("reentrant")

    class Chatty:
        def __repr__(self) -> str:
            log.info("inner")
            return "Chatty()"

    log.info("outer", value=Chatty())
    assert micktrace.flush()
    messages = [json.loads(line)["message"] for line in handler.lines]
    assert sorted(messages) == ["inner", "outer"]


if __name__ == "__main__":  # pragma: no cover - run by hand
    print(_leaks(emit_all(sys.argv[1] if len(sys.argv) > 1 else "sync")))
