"""Environment detection (micktrace.environment, micktrace.config_report): each
platform's documented variables, in a real subprocess with stderr a pipe, and
in a real terminal (a pty) for the TTY case."""

from __future__ import annotations

import json
import os
import pty
import subprocess
import sys
from pathlib import Path
from typing import Any, Dict, Optional

import pytest

SRC = str(Path(__file__).resolve().parents[1] / "src")
IN_CONTAINER = any(os.path.exists(p) for p in ("/.dockerenv", "/run/.containerenv")) or bool(
    os.environ.get("container")
)

SCRIPT = """
import json, sys, micktrace
micktrace.get_logger("env").info("hello", n=1)
micktrace.flush()
print(json.dumps(micktrace.config_report(), default=str))
"""

PLATFORMS = {
    "aws_lambda": (
        {"AWS_LAMBDA_FUNCTION_NAME": "orders", "AWS_LAMBDA_FUNCTION_VERSION": "7", "AWS_REGION": "eu-west-1"},
        {"faas.name": "orders", "faas.version": "7", "cloud.region": "eu-west-1", "cloud.platform": "aws_lambda"},
    ),
    "aws_ecs": (
        {"ECS_CONTAINER_METADATA_URI_V4": "http://169.254.170.2/v4/abc", "AWS_REGION": "us-east-2"},
        {"cloud.platform": "aws_ecs", "cloud.region": "us-east-2"},
    ),
    "gcp_cloud_run": (
        {"K_SERVICE": "shop", "K_REVISION": "shop-00042-xyz", "K_CONFIGURATION": "shop"},
        {"faas.name": "shop", "faas.version": "shop-00042-xyz", "cloud.platform": "gcp_cloud_run"},
    ),
    "gcp_cloud_functions": (
        {
            "K_SERVICE": "resize",
            "K_REVISION": "resize-3",
            "FUNCTION_TARGET": "resize",
            "FUNCTION_SIGNATURE_TYPE": "http",
        },
        {"faas.name": "resize", "faas.version": "resize-3", "cloud.platform": "gcp_cloud_functions"},
    ),
    "azure_functions": (
        {"FUNCTIONS_WORKER_RUNTIME": "python", "WEBSITE_SITE_NAME": "billing", "REGION_NAME": "West Europe"},
        {"faas.name": "billing", "cloud.region": "West Europe", "cloud.platform": "azure_functions"},
    ),
    "kubernetes": (
        {"KUBERNETES_SERVICE_HOST": "10.0.0.1", "HOSTNAME": "api-7d9f-x2", "POD_NAMESPACE": "prod", "NODE_NAME": "n1"},
        {"k8s.pod.name": "api-7d9f-x2", "k8s.namespace.name": "prod", "k8s.node.name": "n1"},
    ),
}


def _env(extra: Dict[str, str]) -> Dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("MICKTRACE_", "AWS_", "K_", "KUBERNETES_", "FUNCTION", "ECS_", "WEBSITE_"))
    }
    env.pop("container", None)
    env["PYTHONPATH"] = SRC
    env.update(extra)
    return env


def _run(extra: Dict[str, str]) -> Any:
    proc = subprocess.run([sys.executable, "-c", SCRIPT], env=_env(extra), capture_output=True, text=True, timeout=30)
    assert proc.returncode == 0, proc.stderr
    return proc


@pytest.mark.parametrize("platform", sorted(PLATFORMS))
def test_each_platform_gets_json_and_its_resource_fields(platform: str) -> None:
    variables, expected = PLATFORMS[platform]
    proc = _run(variables)
    report = json.loads(proc.stdout)
    assert report["platform"] == platform
    assert report["format"] == "json" and "detected" in report["format_from"]
    line = json.loads(proc.stderr.strip().splitlines()[-1])
    assert line["message"] == "hello" and line["n"] == 1
    for key, value in expected.items():
        assert line[key] == value, key
        assert report["static_fields"][key] == value


def test_configure_and_micktrace_format_override_detection() -> None:
    variables, _ = PLATFORMS["kubernetes"]
    proc = _run({**variables, "MICKTRACE_FORMAT": "logfmt"})
    assert json.loads(proc.stdout)["format"] == "logfmt"
    assert "MICKTRACE_FORMAT" in json.loads(proc.stdout)["format_from"]
    script = SCRIPT.replace(
        "import json, sys, micktrace",
        'import json, sys, micktrace\nmicktrace.configure(format="text", fields={"k8s.pod.name": "mine"})',
    )
    proc = subprocess.run(
        [sys.executable, "-c", script], env=_env(variables), capture_output=True, text=True, timeout=30
    )
    report = json.loads(proc.stdout)
    assert report["format"] == "text" and report["static_fields"]["k8s.pod.name"] == "mine"
    assert "INFO" in proc.stderr and "hello" in proc.stderr


def test_detection_off() -> None:
    variables, _ = PLATFORMS["aws_lambda"]
    report = json.loads(_run({**variables, "MICKTRACE_DETECT": "0"}).stdout)
    assert report["platform"] is None and report["format"] == "text" and "faas.name" not in report["static_fields"]


def test_a_plain_process_here() -> None:
    report = json.loads(_run({}).stdout)
    expected: Optional[str] = "container" if IN_CONTAINER else None
    assert report["platform"] == expected
    assert report["format"] == ("json" if IN_CONTAINER else "text")


def test_a_terminal_keeps_readable_text() -> None:
    variables, _ = PLATFORMS["kubernetes"]
    pid, fd = pty.fork()
    if pid == 0:  # the child: stderr (and stdout) is the pty
        os.execve(sys.executable, [sys.executable, "-c", SCRIPT], _env(variables))
    out = b""
    while True:
        try:
            chunk = os.read(fd, 65536)
        except OSError:
            break
        if not chunk:
            break
        out += chunk
    os.waitpid(pid, 0)
    text = out.decode(errors="replace")
    report = json.loads(text.strip().splitlines()[-1])
    assert report["platform"] == "kubernetes" and report["stderr_is_tty"] is True
    assert report["format"] == "text"
    assert "hello" in text and '"message"' not in text.split("{", 1)[0]


def test_lambda_handler_sets_the_request_id_per_invocation_and_flushes(tmp_path: Path) -> None:
    log = tmp_path / "lambda.log"
    script = f"""
import micktrace
from micktrace.integrations.aws_lambda import lambda_handler
micktrace.configure(handlers=[{{"type": "file", "path": {str(log)!r}, "format": "json"}}])

@lambda_handler
def handler(event, context):
    micktrace.get_logger("fn").info("handling", item=event["item"])
    return event["item"]

class Ctx:
    def __init__(self, rid):
        self.aws_request_id = rid

assert handler({{"item": 1}}, Ctx("req-1")) == 1
assert handler({{"item": 2}}, Ctx("req-2")) == 2
# no flush here: the wrapper flushed at each return, as a frozen Lambda needs
print(open({str(log)!r}).read())
import os; os._exit(0)
"""
    proc = subprocess.run([sys.executable, "-c", script], env=_env({}), capture_output=True, text=True, timeout=30)
    assert proc.returncode == 0, proc.stderr
    lines = [json.loads(line) for line in proc.stdout.strip().splitlines()]
    assert [(line["item"], line["request_id"]) for line in lines] == [(1, "req-1"), (2, "req-2")]
