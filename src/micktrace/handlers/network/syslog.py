"""The ``syslog`` handler: RFC 5424 messages over UDP, TCP, TLS or a local socket.

Holds :class:`SyslogHandler` and :func:`encode_message` (one record as an RFC 5424
message). Standard library only. Framing: UDP and unix datagram sockets carry
one message per datagram; TCP and TLS use RFC 6587 octet counting
(``LEN SP MSG``), a whole batch in one ``sendall``; a unix stream socket gets
newline-terminated messages (what syslog daemons read from ``/dev/log``).

Severity (RFC 5424 section 6.2.1): CRITICAL -> 2 (crit), ERROR -> 3 (err),
WARNING -> 4 (warning), INFO -> 6 (info), DEBUG and TRACE -> 7 (debug).
PRI = facility * 8 + severity.

May import: handlers.network, record, levels.
"""

from __future__ import annotations

import datetime
import json
import os
import select
import socket
import ssl
import sys
import time
from typing import TYPE_CHECKING, Any, Dict, List, Optional, Tuple, Union

from ...errors import ConfigError
from .batching import BatchLimits, Item
from .engine import BatchResult, NetworkHandler

if TYPE_CHECKING:
    from ...record import LogRecord

FACILITIES: Dict[str, int] = {
    "kern": 0, "user": 1, "mail": 2, "daemon": 3, "auth": 4, "syslog": 5, "lpr": 6, "news": 7,
    "uucp": 8, "cron": 9, "authpriv": 10, "ftp": 11, "ntp": 12, "security": 13, "console": 14,
    "solaris-cron": 15, "local0": 16, "local1": 17, "local2": 18, "local3": 19, "local4": 20,
    "local5": 21, "local6": 22, "local7": 23,
}  # fmt: skip
PROTOCOLS = ("udp", "tcp", "tls", "unix")
BOM = b"\xef\xbb\xbf"
_EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)
_BAD_NAME = frozenset('= ]"')
_INF = float("inf")


def severity(level: int) -> int:
    """The syslog severity of a micktrace level number."""
    if level >= 50:
        return 2
    if level >= 40:
        return 3
    if level >= 30:
        return 4
    if level >= 20:
        return 6
    return 7


def header_token(text: str, limit: int) -> str:
    """*text* as an RFC 5424 header field: printable ASCII, at most *limit* chars, ``-`` when empty."""
    out = "".join(c for c in text if 33 <= ord(c) <= 126)[:limit]
    return out or "-"


def param_name(name: str) -> str:
    """*name* as a PARAM-NAME: 1-32 printable ASCII without ``= ] " SP`` (others become ``_``)."""
    out = "".join(c if 33 <= ord(c) <= 126 and c not in _BAD_NAME else "_" for c in name)[:32]
    return out or "_"


def param_value(value: Any) -> str:
    """*value* as an escaped PARAM-VALUE: strings as they are, others as JSON."""
    vtype = type(value)
    text: str
    if vtype is str:
        text = value
    elif vtype is int:
        return str(value)
    elif vtype is bool:
        return "true" if value else "false"
    elif value is None:
        return "null"
    elif vtype is float and value == value and value not in (_INF, -_INF):
        return repr(value)  # what json.dumps writes for a finite float
    else:
        text = json.dumps(value, default=str, ensure_ascii=False)
    if "\\" in text or '"' in text or "]" in text:
        return text.replace("\\", "\\\\").replace('"', '\\"').replace("]", "\\]")
    return text


def timestamp(time_ns: int) -> str:
    """RFC 3339 UTC with microseconds."""
    moment = _EPOCH + datetime.timedelta(microseconds=time_ns // 1000)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class Rfc5424Encoder:
    """Records as RFC 5424 messages, with what repeats from record to record
    (the PRI and level element per level, MSGID per logger, PARAM-NAME per key,
    the timestamp's seconds, PROCID per process) computed once and cached."""

    #: entries each cache keeps at most (logger names and field keys can be unbounded)
    CACHE_LIMIT = 4096

    def __init__(self, facility: int, hostname: str, app_name: str, sd_id: str, bom: bool) -> None:
        self.facility = facility
        self.middle = f" {hostname} {app_name} "
        self.sd_open = "[" + sd_id
        self.level_id = "level@" + sd_id.split("@", 1)[-1]
        self.bom = BOM if bom else b""
        self._levels: Dict[int, Tuple[str, str]] = {}
        self._msgids: Dict[str, str] = {}
        self._names: Dict[Any, str] = {}
        self._procids: Dict[Optional[int], str] = {}
        self._second = -1
        self._second_text = ""

    def _level(self, level: int, name: str) -> Tuple[str, str]:
        cached = self._levels.get(level)
        if cached is None:
            cached = (f"<{self.facility * 8 + severity(level)}>1 ", f'[{self.level_id} level="{param_value(name)}"] ')
            if len(self._levels) < self.CACHE_LIMIT:
                self._levels[level] = cached
        return cached

    def _time(self, time_ns: int) -> str:
        micros = time_ns // 1000
        second = micros // 1_000_000
        if second != self._second:
            self._second_text = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
            self._second = second
        return f"{self._second_text}.{micros % 1_000_000:06d}Z"

    def _name(self, key: Any) -> str:
        name = self._names.get(key)
        if name is None:
            name = param_name(str(key))
            if len(self._names) < self.CACHE_LIMIT and type(key) is str:
                self._names[key] = name
        return name

    def encode(self, record: LogRecord, extra: Optional[Dict[str, Any]] = None) -> bytes:
        """*record* as one RFC 5424 message (no framing)."""
        level = int(record.level)
        pri, level_sd = self._level(level, record.level_name)
        logger = record.logger_name or ""
        msgid = self._msgids.get(logger)
        if msgid is None:
            msgid = header_token(logger, 32)
            if len(self._msgids) < self.CACHE_LIMIT:
                self._msgids[logger] = msgid
        procid = self._procids.get(record.process_id)
        if procid is None:
            procid = str(record.process_id or os.getpid())
            self._procids[record.process_id] = procid
        fields = record.data
        if extra or record.context:
            fields = {**(extra or {}), **record.context, **record.data}
        if fields:
            name = self._name
            params = "".join([f' {name(k)}="{param_value(v)}"' for k, v in fields.items()])
            sd = f"{self.sd_open}{params}]{level_sd}"
        else:
            sd = level_sd
        exc = record.exception
        message = record.message
        if exc:
            message += "\n" + str(exc.get("traceback") or exc)
        head = f"{pri}{self._time(record.time_ns)}{self.middle}{procid} {msgid} {sd}"
        return head.encode("utf-8", "replace") + self.bom + message.encode("utf-8", "replace")


def encode_message(
    record: LogRecord,
    facility: int,
    hostname: str,
    app_name: str,
    procid: str,
    sd_id: str,
    bom: bool,
    extra: Optional[Dict[str, Any]] = None,
) -> bytes:
    """*record* as one RFC 5424 message (no framing); *procid* replaces the record's process id.
    A handler keeps one :class:`Rfc5424Encoder`, which caches what repeats."""
    encoder = Rfc5424Encoder(facility, hostname, app_name, sd_id, bom)
    encoder._procids[record.process_id] = procid
    return encoder.encode(record, extra)


def _address(address: Any, protocol: str) -> Union[str, Tuple[str, int]]:
    if isinstance(address, (tuple, list)) and len(address) == 2:
        return (str(address[0]), int(address[1]))
    if isinstance(address, str):
        if protocol == "unix" or address.startswith("/"):
            return address
        host, sep, port = address.rpartition(":")
        if sep and port.isdigit():
            return (host.strip("[]"), int(port))
    raise ConfigError("address", address, '"host:port", (host, port) or a socket path')


class SyslogHandler(NetworkHandler):
    """Send records as RFC 5424 syslog messages.

    Args:
        address: ``"host:port"``, ``(host, port)`` or a unix socket path (default ``"/dev/log"``).
        protocol: ``udp`` (default for host:port), ``tcp``, ``tls`` or ``unix`` (default for a path).
        facility: a name (``user``, ``local0``...) or number (default ``user``).
        app_name: APP-NAME (default: the ``service`` static field, else the process name).
        hostname: HOSTNAME (default: this host's name).
        sd_id: the SD-ID of the fields element (default ``fields@32473``; 32473 is the
            RFC 5612 documentation enterprise number: use your own).
        bom: put a UTF-8 BOM before MSG (RFC 5424; default True).
        max_message_bytes: larger messages are truncated with a visible marker (default 2048
            for UDP and unix, 64 KiB for TCP/TLS).
        ca_certs, verify_certs, certfile, keyfile: TLS options.
    """

    limits = BatchLimits(max_records=1_000, max_bytes=1024 * 1024, max_record_bytes=64 * 1024)

    def __init__(
        self,
        address: Any = "/dev/log",
        protocol: Optional[str] = None,
        facility: Union[str, int] = "user",
        app_name: Optional[str] = None,
        hostname: Optional[str] = None,
        sd_id: str = "fields@32473",
        bom: bool = True,
        max_message_bytes: Optional[int] = None,
        ca_certs: Optional[str] = None,
        verify_certs: bool = True,
        certfile: Optional[str] = None,
        keyfile: Optional[str] = None,
        **kwargs: Any,
    ) -> None:
        if protocol is None:
            protocol = "unix" if isinstance(address, str) and address.startswith("/") else "udp"
        if protocol not in PROTOCOLS:
            raise ConfigError("protocol", protocol, PROTOCOLS)
        self.protocol = protocol
        self.address = _address(address, protocol)
        if isinstance(self.address, str) != (protocol == "unix"):
            raise ConfigError("address", address, "a socket path for unix, host:port otherwise")
        if isinstance(facility, str) and facility.lower() in FACILITIES:
            self.facility = FACILITIES[facility.lower()]
        elif isinstance(facility, int) and not isinstance(facility, bool) and 0 <= facility <= 23:
            self.facility = facility
        else:
            raise ConfigError("facility", facility, sorted(FACILITIES))
        if not isinstance(sd_id, str) or header_token(sd_id, 32) != sd_id or any(c in sd_id for c in _BAD_NAME):
            raise ConfigError("sd_id", sd_id, '1-32 printable ASCII characters without = ] " or space')
        datagram = protocol in ("udp", "unix")
        size = max_message_bytes if max_message_bytes is not None else (2048 if datagram else 64 * 1024)
        if not isinstance(size, int) or isinstance(size, bool) or size < 480:
            raise ConfigError("max_message_bytes", max_message_bytes, "an integer >= 480")
        self.limits = BatchLimits(
            max_records=1 if datagram else 1_000, max_bytes=max(size, 1024 * 1024), max_record_bytes=size
        )
        super().__init__(**kwargs)
        process = os.path.basename(sys.argv[0]) if sys.argv and sys.argv[0] else "python"
        self.app_name = header_token(app_name or process, 48)
        self.hostname = header_token(hostname or socket.gethostname(), 255)
        self.sd_id = sd_id
        self.bom = bool(bom)
        self.encoder = Rfc5424Encoder(self.facility, self.hostname, self.app_name, sd_id, self.bom)
        self.tls: Optional[ssl.SSLContext] = None
        if protocol == "tls":
            try:
                context = ssl.create_default_context(cafile=ca_certs)
            except (OSError, ssl.SSLError):
                raise ConfigError("ca_certs", ca_certs, "a readable PEM CA bundle") from None
            if not verify_certs:
                context.check_hostname = False
                context.verify_mode = ssl.CERT_NONE
            if certfile:
                try:
                    context.load_cert_chain(certfile, keyfile)
                except (OSError, ssl.SSLError):
                    raise ConfigError("certfile", certfile, "a readable PEM certificate (and keyfile)") from None
            self.tls = context
        self.sock: Optional[socket.socket] = None
        self.stream = protocol in ("tcp", "tls")

    def encode(self, record: LogRecord) -> bytes:
        return self.encoder.encode(record)

    def truncated(self, record: LogRecord, max_bytes: int, size: int) -> bytes:
        payload: bytes = super().truncated(record, max_bytes, size)
        return payload[:max_bytes]  # a datagram larger than the limit would be cut (or lost) by the network

    def _connect(self) -> socket.socket:
        if self.protocol == "unix":
            assert isinstance(self.address, str)
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
            try:
                sock.connect(self.address)
            except OSError:
                sock.close()
                sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                sock.settimeout(self.timeout)
                try:
                    sock.connect(self.address)
                except OSError:
                    sock.close()
                    raise
                self.stream = True
                sock.settimeout(self.timeout)
                return sock
            self.stream = False
            sock.settimeout(self.timeout)
            return sock
        assert isinstance(self.address, tuple)
        if self.protocol == "udp":
            info = socket.getaddrinfo(self.address[0], self.address[1], type=socket.SOCK_DGRAM)[0]
            sock = socket.socket(info[0], socket.SOCK_DGRAM)
            sock.settimeout(self.timeout)
            sock.connect(info[4])
            return sock
        sock = socket.create_connection(self.address, timeout=self.timeout)
        if self.tls is not None:
            try:
                sock = self.tls.wrap_socket(sock, server_hostname=self.address[0])
            except BaseException:
                sock.close()
                raise
        return sock

    def _peer_closed(self, sock: socket.socket) -> bool:
        """The server closed a stream socket (a FIN or RST is waiting): sending into it
        would "succeed" into a dead socket's buffer and lose the batch."""
        try:
            readable, _w, _x = select.select([sock], [], [], 0)
            if not readable:
                return False
            return sock.recv(1, socket.MSG_PEEK) == b""
        except (OSError, ValueError):
            return True

    def send(self, batch: List[Item]) -> Optional[BatchResult]:
        if self.sock is not None and self.stream and self.protocol != "tls" and self._peer_closed(self.sock):
            self.reset_connection()
        if self.sock is None:
            self.sock = self._connect()
        try:
            if not self.stream:
                for item in batch:
                    self.sock.send(item.payload)
            elif self.protocol == "unix":
                self.sock.sendall(b"".join(item.payload + b"\n" for item in batch))
            else:
                self.sock.sendall(b"".join(b"%d %s" % (len(item.payload), item.payload) for item in batch))
        except BaseException:
            self.reset_connection()
            raise
        return None

    def reset_connection(self) -> None:
        sock, self.sock = self.sock, None
        if sock is not None:
            try:
                sock.close()
            except OSError:
                pass

    def describe(self) -> str:
        if isinstance(self.address, str):
            return f"unix:{self.address}"
        return f"{self.protocol}://{self.address[0]}:{self.address[1]}"
