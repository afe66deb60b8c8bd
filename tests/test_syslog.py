"""The syslog handler against a real rsyslogd (UDP, TCP octet counting, unix socket) and a Python TLS server."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path
from typing import Any, Dict, Iterator, List

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import micktrace
from micktrace.errors import ConfigError
from micktrace.handlers.network.syslog import SyslogHandler, param_name, param_value
from micktrace.testing import check_handler

_MSG = re.compile(r"^<(\d+)>1 (\S+) (\S+) (\S+) (\S+) (\S+) (-|(?:\[.*?(?<!\\)\])+) ?(.*)$", re.S)
_ELEMENT = re.compile(r'\[(\S+?)((?: [^=\s]+="(?:[^"\\]|\\.)*")*)\]')
_PARAM = re.compile(r' ([^=\s]+)="((?:[^"\\]|\\.)*)"')


def parse(raw: str) -> Dict[str, Any]:
    """One RFC 5424 message as a dict, the structured data parsed back (values as JSON when they are)."""
    m = _MSG.match(raw)
    assert m, raw
    pri, ts, host, app, procid, msgid, sd, msg = m.groups()
    fields: Dict[str, Any] = {}
    level = None
    for sd_id, params in _ELEMENT.findall(sd):
        for name, value in _PARAM.findall(params):
            value = re.sub(r"\\(.)", r"\1", value)
            if sd_id.startswith("level@"):
                level = value
                continue
            try:
                fields[name] = json.loads(value)
            except ValueError:
                fields[name] = value
    return {"pri": int(pri), "timestamp": ts, "hostname": host, "app_name": app, "procid": procid,
            "msgid": msgid, "sd": sd, "level": level, "message": msg, "fields": fields}  # fmt: skip


def _port(kind: int) -> int:
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Rsyslog:
    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.udp = _port(socket.SOCK_DGRAM)
        self.tcp = _port(socket.SOCK_STREAM)
        self.sock = str(tmp / "log.sock")
        self.out = tmp / "out.log"
        self.conf = tmp / "rsyslog.conf"
        self.conf.write_text(f"""
global(workDirectory="{tmp}" parser.escapeControlCharactersOnReceive="off" maxMessageSize="128k")
module(load="imuxsock" SysSock.Use="off")
module(load="imudp")
module(load="imtcp")
input(type="imuxsock" Socket="{self.sock}" useSpecialParser="off" parseHostname="on")
input(type="imudp" address="127.0.0.1" port="{self.udp}")
input(type="imtcp" address="127.0.0.1" port="{self.tcp}")
template(name="raw" type="string" string="%rawmsg:::json%\\n")
action(type="omfile" file="{self.out}" template="raw" flushOnTXEnd="on" asyncWriting="off")
""")
        self.proc: Any = None

    def start(self) -> None:
        exe = shutil.which("rsyslogd") or "/usr/sbin/rsyslogd"
        self.proc = subprocess.Popen([exe, "-n", "-f", str(self.conf), "-i", str(self.tmp / "pid")],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)  # fmt: skip
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.tcp), timeout=0.5).close()
                if os.path.exists(self.sock):
                    return
            except OSError:
                pass
            assert self.proc.poll() is None, self.proc.stderr.read()
            time.sleep(0.05)
        raise AssertionError("rsyslogd did not start")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(10)

    def raw(self) -> List[str]:
        if not self.out.exists():
            return []
        # only whole lines: rsyslogd may be half-way through writing the last one
        complete = self.out.read_text().split("\n")[:-1]
        return [json.loads('"' + line + '"') for line in complete if line]

    def records(self) -> List[Dict[str, Any]]:
        return [parse(r) for r in self.raw()]

    def wait(self, count: int, timeout: float = 10) -> List[Dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            got = self.records()
            if len(got) >= count:
                return got
            time.sleep(0.05)
        return self.records()


@pytest.fixture
def rsyslog(tmp_path: Path) -> Iterator[Rsyslog]:
    server = Rsyslog(tmp_path)
    server.start()
    yield server
    server.stop()


@pytest.fixture(autouse=True)
def _reset() -> Iterator[None]:
    yield
    micktrace.shutdown()


def _targets(server: Rsyslog) -> Dict[str, Dict[str, Any]]:
    return {
        "udp": {"address": f"127.0.0.1:{server.udp}", "protocol": "udp"},
        "tcp": {"address": ("127.0.0.1", server.tcp), "protocol": "tcp"},
        "unix": {"address": server.sock},
    }


@pytest.mark.parametrize("transport", ["udp", "tcp", "unix"])
def test_records_arrive_in_order_with_fields(rsyslog: Rsyslog, transport: str) -> None:
    handler = SyslogHandler(**_targets(rsyslog)[transport], facility="local3", app_name="shop", linger=0.01)
    micktrace.configure(handlers=[handler], level="TRACE")
    log = micktrace.get_logger("orders.api")
    log.info("hello", seq=0, user="ann", weird='a"b]c\\d')
    log.warning("two\nlines", seq=1)
    log.critical("down", seq=2, **{"bad name=x": 1})
    log.trace("fine", seq=3)
    handler.flush()
    got = rsyslog.wait(4)
    assert [r["fields"]["seq"] for r in got] == [0, 1, 2, 3]
    assert [r["pri"] for r in got] == [19 * 8 + 6, 19 * 8 + 4, 19 * 8 + 2, 19 * 8 + 7]
    assert [r["level"] for r in got] == ["INFO", "WARNING", "CRITICAL", "TRACE"]
    assert got[0]["fields"]["user"] == "ann" and got[0]["fields"]["weird"] == 'a"b]c\\d'
    assert got[0]["message"] == "\ufeffhello" and got[1]["message"] == "\ufefftwo\nlines"
    assert got[2]["fields"]["bad_name_x"] == 1
    assert got[0]["msgid"] == "orders.api" and got[0]["app_name"] == "shop"
    assert got[0]["procid"] == str(os.getpid()) and got[0]["hostname"] == socket.gethostname()
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z", got[0]["timestamp"])
    assert "fields@32473" in got[0]["sd"]


def test_options_sd_id_bom_and_udp_truncation(rsyslog: Rsyslog) -> None:
    handler = SyslogHandler(address=f"127.0.0.1:{rsyslog.udp}", sd_id="app@99999", bom=False,
                            max_message_bytes=600, facility=0, hostname="box", linger=0.01)  # fmt: skip
    micktrace.configure(handlers=[handler])
    log = micktrace.get_logger("x" * 40)
    log.info("big " + "y" * 5000, seq=0)
    handler.flush()
    (got,) = rsyslog.wait(1)
    assert got["msgid"] == "x" * 32 and got["hostname"] == "box" and got["pri"] == 6
    assert "[app@99999" in got["sd"] and not got["message"].startswith("\ufeff")
    assert "truncated" in got["message"] and len(rsyslog.raw()[0].encode()) <= 600


def test_spec_configuration(rsyslog: Rsyslog) -> None:
    micktrace.configure(handlers=[{"type": "syslog", "address": f"127.0.0.1:{rsyslog.tcp}", "protocol": "tcp",
                                       "facility": "local0", "app_name": "svc"}])  # fmt: skip
    micktrace.get_logger("spec").error("configured", seq=7)
    micktrace.shutdown()
    (got,) = rsyslog.wait(1)
    assert got["pri"] == 16 * 8 + 3 and got["fields"]["seq"] == 7 and got["app_name"] == "svc"


def test_bad_options() -> None:
    bad: List[Dict[str, Any]] = [{"protocol": "sctp"}, {"facility": "nope"}, {"address": "nohost"}, {"sd_id": "a b"}]
    bad += [{"address": "127.0.0.1:1", "max_message_bytes": 10}, {"address": "/x", "protocol": "tcp"}]
    for kwargs in bad:
        with pytest.raises(ConfigError):
            SyslogHandler(**kwargs)
    assert param_name('a b=c]d"e' + "z" * 40) == "a_b_c_d_e" + "z" * 23
    assert param_value('x"]\\') == 'x\\"\\]\\\\'


@pytest.mark.parametrize("transport", ["tcp", "udp"])
def test_conformance(rsyslog: Rsyslog, transport: str) -> None:
    def read_back() -> List[Dict[str, Any]]:
        return [dict(r["fields"], message=r["message"], level=r["level"]) for r in rsyslog.records()]

    report = check_handler(lambda: SyslogHandler(**_targets(rsyslog)[transport], linger=0.01), read_back)
    assert report.passed and not report.skipped


def test_tcp_restart_mid_stream_then_connection_refused_then_up(rsyslog: Rsyslog) -> None:
    handler = SyslogHandler(address=("127.0.0.1", rsyslog.tcp), protocol="tcp", linger=0.01, timeout=2)
    micktrace.configure(handlers=[handler])
    log = micktrace.get_logger("fault")
    for i in range(20):
        log.info("before", seq=i)
    handler.flush()
    assert len(rsyslog.wait(20)) == 20
    rsyslog.stop()
    for i in range(20, 40):
        log.info("while down", seq=i)
    time.sleep(0.5)
    assert handler.health()["last_error"]
    rsyslog.start()
    handler.flush()
    got = rsyslog.wait(40, timeout=20)
    seqs = [r["fields"]["seq"] for r in got]
    assert seqs[:20] == list(range(20)) and set(range(20, 40)) <= set(seqs)
    assert len(seqs) == len(set(seqs))


def test_hung_tcp_server_times_out() -> None:
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    server.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    handler = SyslogHandler(address=server.getsockname(), protocol="tcp", timeout=0.5, linger=0.01, retries=1,
                            exit_timeout=3)  # fmt: skip
    micktrace.configure(handlers=[handler])
    log = micktrace.get_logger("hung")
    deadline = time.monotonic() + 20
    i = 0
    while time.monotonic() < deadline and not handler.health()["last_error"]:
        log.info("x" * 20000, seq=i)  # until the socket buffers are full and a send times out
        i += 1
        time.sleep(0.001)
    handler.flush()
    row = handler.metrics()
    assert "timed out" in str(handler.health()["last_error"]), handler.health()
    assert row.get("failed") or row.get("fallback") or row.get("dropped") or handler.health()["last_error"]
    micktrace.shutdown()
    server.close()


def _frames(data: bytes) -> List[bytes]:
    out = []
    while data:
        length, _sp, rest = data.partition(b" ")
        out.append(rest[: int(length)])
        data = rest[int(length) :]
    return out


def test_tls_octet_counted_to_a_python_tls_server(tmp_path: Path) -> None:
    """rsyslog-gnutls is not installed here: TLS is checked against a Python ssl server parsing RFC 6587 frames."""
    import ssl
    import threading

    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(cert),
                    "-days", "1", "-subj", "/CN=localhost", "-addext", "subjectAltName=IP:127.0.0.1"],
                   check=True, capture_output=True)  # fmt: skip
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(str(cert), str(key))
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    received: List[bytes] = []

    def serve() -> None:
        conn, _ = server.accept()
        with context.wrap_socket(conn, server_side=True) as tls:
            while True:
                chunk = tls.recv(65536)
                if not chunk:
                    return
                received.append(chunk)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    host, port = server.getsockname()
    handler = SyslogHandler(address=f"{host}:{port}", protocol="tls", ca_certs=str(cert), linger=0.01)
    micktrace.configure(handlers=[handler])
    log = micktrace.get_logger("tls")
    for i in range(50):
        log.info("over tls\nline two", seq=i)
    micktrace.shutdown()
    thread.join(10)
    server.close()
    got = [parse(f.decode()) for f in _frames(b"".join(received))]
    assert [r["fields"]["seq"] for r in got] == list(range(50))
    assert got[0]["message"] == "\ufeffover tls\nline two"
    with pytest.raises(ConfigError):
        SyslogHandler(address="127.0.0.1:1", protocol="tls", certfile=str(tmp_path / "missing.pem"))


_values = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True), st.text(max_size=20),
    st.lists(st.integers(), max_size=3), st.dictionaries(st.text(max_size=5), st.integers(), max_size=2),
)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(
    st.integers(min_value=0, max_value=4_000_000_000_000_000_000),  # time_ns, seconds apart or not
    st.sampled_from([5, 10, 20, 25, 30, 40, 50]),
    st.text(max_size=12),
    st.text(max_size=30),
    st.dictionaries(st.text(max_size=8), _values, max_size=4),
    st.integers(min_value=1, max_value=99999),
), min_size=1, max_size=8))
def test_the_caching_encoder_writes_what_a_fresh_encoding_writes(rows: list) -> None:
    """The encoder a handler keeps caches the timestamp's seconds, PRI, MSGID, names and PROCID:
    every message must be byte for byte what encoding that record alone gives."""
    from micktrace.handlers.network.syslog import Rfc5424Encoder, encode_message, timestamp
    from micktrace.record import LogRecord

    kept = Rfc5424Encoder(16, "host", "app", "fields@32473", True)
    batched = Rfc5424Encoder(16, "host", "app", "fields@32473", True)
    records, alones = [], []
    for time_ns, level, logger, message, data, pid in rows:
        record = LogRecord(0.0, level, logger, message, data, {}, {}, None, None, 1, pid)
        record.time_ns = time_ns
        alone = encode_message(record, 16, "host", "app", str(pid), "fields@32473", True)
        assert kept.encode(record) == alone
        assert (" " + timestamp(time_ns) + " ").encode() in alone
        for key, value in data.items():  # every value as param_value writes it (the encoder inlines some)
            assert f' {param_name(key)}="{param_value(value)}"'.encode("utf-8", "replace") in alone
        records.append(record)
        alones.append(alone)
    assert batched.encode_batch(records) == alones  # one batch, the caches filled within it


def test_exit_with_a_backlog_delivers_it(rsyslog: Rsyslog) -> None:
    import textwrap

    from conftest import run_python

    script = textwrap.dedent(
        f"""
        import micktrace
        micktrace.configure(handlers=[{{"type": "syslog", "address": "127.0.0.1:{rsyslog.tcp}",
                                        "protocol": "tcp", "linger": 5}}])
        log = micktrace.get_logger("exit")
        for i in range(500):
            log.info("e%d" % i, seq=i)
        raise SystemExit(3)
        """
    )
    proc = run_python(script)
    assert proc.returncode == 3, proc.stderr
    assert proc.stderr == ""  # nothing went to the fallback
    got = rsyslog.wait(500)
    assert [r["fields"]["seq"] for r in got] == list(range(500))


def test_stdlib_records_logged_while_sending_do_not_loop(rsyslog: Rsyslog) -> None:
    """With capture_stdlib, a stdlib record made while the sender thread sends (as an SDK would)
    never re-enters the syslog handler: no loop, each application record once."""
    import logging

    from micktrace.handlers.network.syslog import SyslogHandler

    chatter = logging.getLogger("syslog.chatter")

    class Chatty(SyslogHandler):
        def send(self, batch: Any) -> Any:
            chatter.warning("sending %d messages", len(batch))
            return super().send(batch)

    handler = Chatty(address=("127.0.0.1", rsyslog.tcp), protocol="tcp", linger=0.01)
    micktrace.configure(handlers=[handler], capture_stdlib=True)
    log = micktrace.get_logger("app")
    for i in range(50):
        log.info("m", seq=i)
        time.sleep(0.002)
    micktrace.flush(10)
    time.sleep(0.3)
    micktrace.flush(10)
    got = rsyslog.wait(50)
    app = [r for r in got if r["msgid"] == "app"]
    assert [r["fields"]["seq"] for r in app] == list(range(50))
    assert not any(r["msgid"] == "syslog.chatter" for r in got)
    assert handler.counters["feedback_skipped"] >= 1
