"""Loopback HTTPS emulators of the Datadog logs intake and the New Relic Log API.

Each is a :class:`support.http_faults.Recorder` (so the fault queue works: fail,
fail_for, reset, hang) serving TLS with a throwaway self-signed certificate
(``tls_cert`` makes it; handlers trust it through ``ca_certs``), answering as
the real endpoint documents: the auth header checked (403 when wrong), the
body gunzipped and parsed, its shape validated (400), the published limits
enforced (413), and the entries kept for the test to read back.

Datadog (docs.datadoghq.com, "Send logs", v2): POST /api/v2/logs, header
DD-API-KEY, a JSON array of entries (or one object), at most 1,000 entries and
5 MB uncompressed, 202 on success. New Relic (docs.newrelic.com, "Introduction
to the Log API"): POST /log/v1, header X-License-Key or Api-Key, a JSON array
of {"common", "logs"} blocks (or one log object), at most 10^6 bytes per POST
(compressed), 202 with a requestId.

Only 127.0.0.1.
"""

from __future__ import annotations

import json
import ssl
import subprocess
import sys
import threading
import uuid
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Tuple

from .http_faults import Answer, Recorder, Request


def tls_cert(directory: Path) -> Tuple[str, str]:
    """A self-signed certificate for 127.0.0.1 (and localhost): (cert path, key path)."""
    cert, key = directory / "cert.pem", directory / "key.pem"
    if not cert.exists():
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key),
                        "-out", str(cert), "-days", "2", "-subj", "/CN=localhost",
                        "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"],
                       check=True, capture_output=True)  # fmt: skip
    return str(cert), str(key)


def server_context(cert: str, key: str) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    return context


def _json_answer(status: int, obj: Any) -> Answer:
    return status, {"Content-Type": "application/json"}, json.dumps(obj).encode()


class _Intake:
    path = "/"
    max_request_bytes = 0

    def __init__(self, cert: Optional[str], key: Optional[str]) -> None:  # no cert: plain HTTP
        self.recorder = Recorder(tls_context=server_context(cert, key) if cert and key else None)
        self.ca_certs = cert
        self.base = self.recorder.url
        self.url = self.recorder.url + self.path
        self._lock = threading.Lock()
        self._chunks: List[Callable[[], List[Dict[str, Any]]]] = []  # flattened when read: serving stays cheap
        self.count = 0
        self.rejections: List[Tuple[int, str]] = []
        self.before: Optional[Callable[[Request], Optional[Answer]]] = None
        self.recorder.respond_with(self._answer)

    def _answer(self, request: Request) -> Answer:
        if request.method == "GET" and request.path == "/_count":  # for a benchmark in another process
            return _json_answer(200, {"count": self.count})
        if self.before is not None:
            answer = self.before(request)
            if answer is not None:
                return answer
        answer = self.answer(request)
        if answer[0] >= 400:
            with self._lock:
                self.rejections.append((answer[0], answer[2].decode("utf-8", "replace")))
        return answer

    def answer(self, request: Request) -> Answer:
        raise NotImplementedError

    def wait(self, count: int, timeout: float = 20.0) -> List[Dict[str, Any]]:
        self.recorder.wait_for(lambda: self.count >= count, timeout)
        return self.snapshot()

    def snapshot(self) -> List[Dict[str, Any]]:
        """Every entry accepted so far, in order."""
        with self._lock:
            chunks = list(self._chunks)
        return [entry for chunk in chunks for entry in chunk()]

    def _keep(self, count: int, chunk: Callable[[], List[Dict[str, Any]]]) -> None:
        with self._lock:
            self._chunks.append(chunk)
            self.count += count

    def close(self) -> None:
        self.recorder.close()


class DatadogIntake(_Intake):
    path = "/api/v2/logs"
    max_request_bytes = 5_000_000
    max_entries = 1_000
    max_entry_bytes = 1_000_000

    def __init__(self, cert: str, key: str, api_key: str = "dd-test-api-key-0123") -> None:
        self.api_key = api_key
        self.oversized = 0
        super().__init__(cert, key)

    def answer(self, request: Request) -> Answer:
        if request.method != "POST" or request.path.split("?", 1)[0] != self.path:
            return _json_answer(404, {"errors": ["Not found"]})
        if request.headers.get("dd-api-key") != self.api_key:
            return _json_answer(403, {"errors": ["Forbidden"]})
        if len(request.body) > self.max_request_bytes:
            return _json_answer(413, {"errors": ["Payload too large"]})
        try:
            data = json.loads(request.body)
        except ValueError:
            return _json_answer(400, {"errors": ["Bad request: not JSON"]})
        entries = data if isinstance(data, list) else [data]
        if len(entries) > self.max_entries:
            return _json_answer(413, {"errors": ["Too many entries"]})
        for entry in entries:
            if not isinstance(entry, dict) or not isinstance(entry.get("message", ""), str):
                return _json_answer(400, {"errors": ["Bad request: an entry is not a log object"]})
            for name in ("ddsource", "ddtags", "hostname", "service", "status"):
                if name in entry and not isinstance(entry[name], str):
                    return _json_answer(400, {"errors": [f"Bad request: {name} must be a string"]})
            if len(request.body) > self.max_entry_bytes and len(json.dumps(entry).encode()) > self.max_entry_bytes:
                self.oversized += 1  # Datadog would truncate it
        self._keep(len(entries), lambda: entries)
        return _json_answer(202, {})


class NewRelicIntake(_Intake):
    path = "/log/v1"
    max_request_bytes = 1_000_000

    def __init__(
        self, cert: str, key: str, license_key: str = "nr-test-license-key-0123", api_key: str = "NRAK-test-0123"
    ) -> None:
        self.license_key = license_key
        self.api_key = api_key
        self.common: List[Dict[str, Any]] = []
        super().__init__(cert, key)

    def answer(self, request: Request) -> Answer:
        if request.method != "POST" or request.path.split("?", 1)[0] != self.path:
            return _json_answer(404, {"error": "Not found"})
        if request.headers.get("x-license-key") != self.license_key and request.headers.get("api-key") != self.api_key:
            return _json_answer(403, {"error": "Forbidden"})
        if len(request.raw) > self.max_request_bytes:  # the limit holds for what is sent, compressed or not
            return _json_answer(413, {"error": "Payload too large"})
        try:
            data = json.loads(request.body)
        except ValueError:
            return _json_answer(400, {"error": "Bad request: not JSON"})
        blocks = data if isinstance(data, list) else [{"logs": [data]}]
        commons: List[Dict[str, Any]] = []
        count = 0
        for block in blocks:
            if not isinstance(block, dict) or not isinstance(block.get("logs"), list):
                return _json_answer(400, {"error": "Bad request: a block without logs"})
            common = block.get("common", {}).get("attributes", {})
            if not isinstance(common, dict):
                return _json_answer(400, {"error": "Bad request: common.attributes is not an object"})
            commons.append(common)
            for log in block["logs"]:
                if not isinstance(log, dict) or type(log.get("timestamp", 0)) is not int:
                    return _json_answer(400, {"error": "Bad request: a log is not an object with an integer timestamp"})
                if type(log.get("attributes", {})) is not dict:
                    return _json_answer(400, {"error": "Bad request: attributes"})
            count += len(block["logs"])

        def flat() -> List[Dict[str, Any]]:  # each log with its block's common attributes, as New Relic stores it
            rows = []
            for block, common in zip(blocks, commons):
                for log in block["logs"]:
                    row = dict(common)
                    row.update(log.get("attributes", {}))
                    row.update({k: v for k, v in log.items() if k != "attributes"})
                    rows.append(row)
            return rows

        with self._lock:
            self.common.extend(commons)
        self._keep(count, flat)
        return _json_answer(202, {"requestId": str(uuid.uuid4())})


def serve(kind: str, directory: str) -> None:
    """``python -m support.intakes datadog|newrelic DIR`` (from tests/): serve until stdin closes (for the
    benchmarks, which keep the emulator out of the measured process). Prints the intake's URL,
    the key, the CA file and the base URL, one a line."""
    cert, key = tls_cert(Path(directory))
    intake: _Intake = DatadogIntake(cert, key) if kind == "datadog" else NewRelicIntake(cert, key)
    secret = intake.api_key if isinstance(intake, DatadogIntake) else intake.license_key  # type: ignore[attr-defined]
    print(intake.url, secret, cert, intake.base, sep="\n", flush=True)
    sys.stdin.read()
    intake.close()


if __name__ == "__main__":
    serve(sys.argv[1], sys.argv[2])
