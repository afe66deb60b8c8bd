"""moto's CloudWatch Logs server in a subprocess on 127.0.0.1, and reading events back from it with boto3.

Used by tests/test_cloudwatch.py and benchmarks/network_cloudwatch.py.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from typing import Any, Dict, List, Optional

import boto3

REGION = "us-east-1"
AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": REGION,
    "AWS_CONFIG_FILE": "/nonexistent/aws-config",
    "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent/aws-credentials",
    "AWS_EC2_METADATA_DISABLED": "true",
}


class MotoServer:
    """``python -m moto.server`` on a free loopback port."""

    def __init__(self) -> None:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = int(s.getsockname()[1])
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.port)],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env={**os.environ, **AWS_ENV},
        )  # fmt: skip
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, self.proc.stderr.read().decode() if self.proc.stderr else "moto exited"
            try:
                urllib.request.urlopen(self.url + "/moto-api/data.json", timeout=1).read()
                return
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise AssertionError("moto's server did not start")

    def client(self) -> Any:
        return boto3.client("logs", region_name=REGION, endpoint_url=self.url, aws_access_key_id="testing",
                            aws_secret_access_key="testing")  # fmt: skip

    def events(self, group: str) -> List[Dict[str, Any]]:
        """Every event of *group*, all streams, in timestamp order (each with its logStreamName)."""
        client = self.client()
        out: List[Dict[str, Any]] = []
        token: Optional[str] = None
        while True:
            kwargs: Dict[str, Any] = {"logGroupName": group, "interleaved": True}
            if token:
                kwargs["nextToken"] = token
            try:
                page = client.filter_log_events(**kwargs)
            except client.exceptions.ResourceNotFoundException:
                return []
            out.extend(page["events"])
            token = page.get("nextToken")
            if not token or not page["events"]:
                return out

    def records(self, group: str) -> List[Dict[str, Any]]:
        return [dict(json.loads(e["message"]), _stream=e["logStreamName"], _ts=e["timestamp"])
                for e in self.events(group)]  # fmt: skip

    def wait(self, group: str, count: int, timeout: float = 20) -> List[Dict[str, Any]]:
        deadline = time.monotonic() + timeout
        got = self.records(group)
        while len(got) < count and time.monotonic() < deadline:
            time.sleep(0.05)
            got = self.records(group)
        return got

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
