"""Where the process runs, and what that means for the zero-config defaults.

Holds :func:`detect` (the platform, from each platform's documented
environment variables and marker files, with the resource fields it exposes)
and :class:`Environment`. ``configure()`` uses it when neither an argument nor
``MICKTRACE_FORMAT`` chose a format: readable text on a TTY, JSON when stderr
is not a TTY on a detected platform (a container, Kubernetes, AWS Lambda, ECS,
Cloud Run, Cloud Functions, Azure Functions); and it adds the platform's
resource fields (OpenTelemetry semantic-convention names such as
``faas.name``, ``k8s.pod.name``) to every record, below ``service``/``fields``
given to ``configure()``. ``MICKTRACE_DETECT=0`` turns detection off.

Imports nothing of micktrace (the bottom layer): it reads ``os.environ``, two
marker files and whether stderr is a TTY.
"""

from __future__ import annotations

import os
import sys
from typing import Any, Callable, Dict, List, Mapping, Optional, Tuple

ENV_DETECT = "MICKTRACE_DETECT"
#: files a container runtime leaves (Docker, Podman)
CONTAINER_MARKERS = ("/.dockerenv", "/run/.containerenv")
K8S_NAMESPACE_FILE = "/var/run/secrets/kubernetes.io/serviceaccount/namespace"

Fields = Dict[str, Any]


class Environment:
    """What :func:`detect` found: ``platform`` (None when nothing was
    recognised), ``fields`` (resource fields for every record), ``tty``
    (stderr is a terminal) and ``evidence`` (the variables or files seen)."""

    __slots__ = ("evidence", "fields", "platform", "tty")

    def __init__(self, platform: Optional[str], fields: Fields, tty: bool, evidence: List[str]) -> None:
        self.platform = platform
        self.fields = fields
        self.tty = tty
        self.evidence = evidence

    @property
    def wants_json(self) -> bool:
        """JSON by default: on a recognised platform, with stderr not a terminal."""
        return self.platform is not None and not self.tty

    def as_dict(self) -> Dict[str, Any]:
        fields, evidence = dict(self.fields), list(self.evidence)
        return {"platform": self.platform, "tty": self.tty, "fields": fields, "evidence": evidence}


def _pick(env: Mapping[str, str], fields: Fields, pairs: Tuple[Tuple[str, str], ...]) -> None:
    for field, name in pairs:
        value = env.get(name)
        if value:
            fields[field] = value


def _lambda(env: Mapping[str, str]) -> Optional[Fields]:
    if not env.get("AWS_LAMBDA_FUNCTION_NAME"):
        return None
    fields: Fields = {"cloud.provider": "aws", "cloud.platform": "aws_lambda"}
    _pick(
        env,
        fields,
        (
            ("faas.name", "AWS_LAMBDA_FUNCTION_NAME"),
            ("faas.version", "AWS_LAMBDA_FUNCTION_VERSION"),
            ("cloud.region", "AWS_REGION"),
            ("faas.instance", "AWS_LAMBDA_LOG_STREAM_NAME"),
        ),
    )
    return fields


def _ecs(env: Mapping[str, str]) -> Optional[Fields]:
    uri = env.get("ECS_CONTAINER_METADATA_URI_V4") or env.get("ECS_CONTAINER_METADATA_URI")
    if not uri:
        return None
    fields: Fields = {"cloud.provider": "aws", "cloud.platform": "aws_ecs"}
    _pick(env, fields, (("cloud.region", "AWS_REGION"),))
    return fields


def _cloud_functions(env: Mapping[str, str]) -> Optional[Fields]:
    # 2nd gen (on Cloud Run): K_SERVICE + FUNCTION_TARGET; 1st gen: FUNCTION_NAME + FUNCTION_REGION
    if not (env.get("FUNCTION_TARGET") or (env.get("FUNCTION_NAME") and env.get("FUNCTION_REGION"))):
        return None
    fields: Fields = {"cloud.provider": "gcp", "cloud.platform": "gcp_cloud_functions"}
    _pick(
        env,
        fields,
        (
            ("faas.name", "FUNCTION_NAME"),
            ("faas.name", "K_SERVICE"),
            ("faas.version", "K_REVISION"),
            ("cloud.region", "FUNCTION_REGION"),
            ("cloud.account.id", "GCP_PROJECT"),
        ),
    )
    return fields


def _cloud_run(env: Mapping[str, str]) -> Optional[Fields]:
    if not (env.get("K_SERVICE") and env.get("K_REVISION")):
        return None
    fields: Fields = {"cloud.provider": "gcp", "cloud.platform": "gcp_cloud_run"}
    _pick(
        env,
        fields,
        (
            ("faas.name", "K_SERVICE"),
            ("faas.version", "K_REVISION"),
            ("gcp.cloud_run.configuration", "K_CONFIGURATION"),
        ),
    )
    return fields


def _azure_functions(env: Mapping[str, str]) -> Optional[Fields]:
    if not env.get("FUNCTIONS_WORKER_RUNTIME"):
        return None
    fields: Fields = {"cloud.provider": "azure", "cloud.platform": "azure_functions"}
    _pick(
        env,
        fields,
        (("faas.name", "WEBSITE_SITE_NAME"), ("cloud.region", "REGION_NAME"), ("faas.instance", "WEBSITE_INSTANCE_ID")),
    )
    return fields


def _kubernetes(env: Mapping[str, str]) -> Optional[Fields]:
    if not env.get("KUBERNETES_SERVICE_HOST"):
        return None
    fields: Fields = {}
    # the downward API exposes these under names the pod spec chooses: the usual ones
    _pick(
        env,
        fields,
        (
            ("k8s.pod.name", "HOSTNAME"),
            ("k8s.pod.name", "POD_NAME"),
            ("k8s.pod.name", "MY_POD_NAME"),
            ("k8s.namespace.name", "POD_NAMESPACE"),
            ("k8s.namespace.name", "MY_POD_NAMESPACE"),
            ("k8s.node.name", "NODE_NAME"),
            ("k8s.node.name", "MY_NODE_NAME"),
        ),
    )
    if "k8s.namespace.name" not in fields:
        try:
            with open(K8S_NAMESPACE_FILE, encoding="utf-8") as f:
                fields["k8s.namespace.name"] = f.read().strip()
        except OSError:
            pass
    return fields


#: checked in this order: the most specific platform first
PLATFORMS: Tuple[Tuple[str, Callable[[Mapping[str, str]], Optional[Fields]]], ...] = (
    ("aws_lambda", _lambda),
    ("gcp_cloud_functions", _cloud_functions),
    ("gcp_cloud_run", _cloud_run),
    ("azure_functions", _azure_functions),
    ("aws_ecs", _ecs),
    ("kubernetes", _kubernetes),
)


def _stderr_is_tty() -> bool:
    stream = sys.stderr or sys.__stderr__
    try:
        return bool(stream is not None and stream.isatty())
    except Exception:
        return False


def detect(env: Optional[Mapping[str, str]] = None) -> Environment:
    """The platform this process runs on (see the module docstring)."""
    env = os.environ if env is None else env
    tty = _stderr_is_tty()
    if (env.get(ENV_DETECT) or "").strip().lower() in ("0", "false", "no", "off"):
        return Environment(None, {}, tty, [f"{ENV_DETECT}={env.get(ENV_DETECT)}"])
    for name, probe in PLATFORMS:
        fields = probe(env)
        if fields is not None:
            evidence = sorted(k for k in env if k.startswith(("AWS_LAMBDA", "K_", "FUNCTION", "ECS_", "KUBERNETES_")))
            return Environment(name, {k: v for k, v in fields.items() if v}, tty, evidence)
    markers = [path for path in CONTAINER_MARKERS if os.path.exists(path)]
    if markers or env.get("container"):
        return Environment("container", {}, tty, markers or [f"container={env.get('container')}"])
    return Environment(None, {}, tty, [])
