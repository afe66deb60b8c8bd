"""Where a process runs on Google Cloud, as a Cloud Logging monitored resource.

Holds :func:`detect_platform` (which platform the documented environment
variables, or the DMI product name of a Compute Engine VM, say this process
runs on: no network), :func:`resource_for` (the monitored resource of that
platform, with the labels only the metadata server knows fetched then) and
:func:`metadata` (one value from the metadata server, at
``GCE_METADATA_HOST`` as google-auth reads it, else ``metadata.google.internal``).

===================  ===========================================================  =====================
platform             detected from                                                resource type
===================  ===========================================================  =====================
Cloud Functions      ``FUNCTION_TARGET`` + ``FUNCTION_SIGNATURE_TYPE`` +           ``cloud_function``
                     ``K_SERVICE``, or ``FUNCTION_NAME`` + ``FUNCTION_REGION`` +
                     ``ENTRY_POINT`` (1st gen, older runtimes)
Cloud Run service    ``K_SERVICE`` + ``K_REVISION`` + ``K_CONFIGURATION``          ``cloud_run_revision``
Cloud Run job        ``CLOUD_RUN_JOB`` + ``CLOUD_RUN_EXECUTION``                   ``cloud_run_job``
App Engine           ``GAE_SERVICE`` + ``GAE_VERSION`` + ``GAE_INSTANCE``          ``gae_app``
GKE                  ``KUBERNETES_SERVICE_HOST`` on a Compute Engine VM            ``k8s_container``
Compute Engine       ``/sys/class/dmi/id/product_name`` starts with ``Google``     ``gce_instance``
anywhere else                                                                     ``global``
===================  ===========================================================  =====================

May import: nothing of micktrace (the standard library only).
"""

from __future__ import annotations

import os
import urllib.request
from typing import Any, Callable, Dict, Mapping, Optional

#: the DMI product name of a Compute Engine VM (google-auth reads the same file)
DMI_PRODUCT_NAME = "/sys/class/dmi/id/product_name"
#: the namespace file Kubernetes mounts in every pod with a service account
K8S_NAMESPACE_FILE = "/var/run/secrets/kubernetes.io/serviceaccount/namespace"
METADATA_HOST = "metadata.google.internal"


def _all_set(env: Mapping[str, str], *names: str) -> bool:
    return all(env.get(name) for name in names)


def on_compute_engine() -> bool:
    """True on a Compute Engine VM (GKE nodes and the serverless platforms' sandboxes included)."""
    try:
        with open(DMI_PRODUCT_NAME, encoding="utf-8", errors="replace") as f:
            return f.read().strip().startswith("Google")
    except OSError:
        return False


def detect_platform(env: Optional[Mapping[str, str]] = None) -> str:
    """The resource type of the platform this process runs on (``"global"`` off Google Cloud)."""
    env = os.environ if env is None else env
    if _all_set(env, "FUNCTION_TARGET", "FUNCTION_SIGNATURE_TYPE", "K_SERVICE") or _all_set(
        env, "FUNCTION_NAME", "FUNCTION_REGION", "ENTRY_POINT"
    ):
        return "cloud_function"
    if _all_set(env, "K_SERVICE", "K_REVISION", "K_CONFIGURATION"):
        return "cloud_run_revision"
    if _all_set(env, "CLOUD_RUN_JOB", "CLOUD_RUN_EXECUTION"):
        return "cloud_run_job"
    if _all_set(env, "GAE_SERVICE", "GAE_VERSION", "GAE_INSTANCE"):
        return "gae_app"
    gce = on_compute_engine()
    if env.get("KUBERNETES_SERVICE_HOST") and gce:
        return "k8s_container"
    return "gce_instance" if gce else "global"


def metadata(path: str, timeout: float = 1.0) -> Optional[str]:
    """The metadata server's value at *path* (``instance/zone``...), or None when it cannot say."""
    host = os.environ.get("GCE_METADATA_HOST") or os.environ.get("GCE_METADATA_ROOT") or METADATA_HOST
    request = urllib.request.Request(f"http://{host}/computeMetadata/v1/{path}", headers={"Metadata-Flavor": "Google"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            if response.headers.get("Metadata-Flavor") != "Google":
                return None
            value = response.read().decode("utf-8", "replace").strip()
    except Exception:
        return None
    return value or None


def _last(value: Optional[str]) -> str:
    """``projects/123/zones/us-central1-a`` -> ``us-central1-a``."""
    return value.rsplit("/", 1)[-1] if value else ""


def _namespace(env: Mapping[str, str]) -> str:
    if env.get("POD_NAMESPACE"):
        return env["POD_NAMESPACE"]
    try:
        with open(K8S_NAMESPACE_FILE, encoding="utf-8") as f:
            return f.read().strip()
    except OSError:
        return ""


def resource_for(
    kind: str,
    project: str,
    env: Optional[Mapping[str, str]] = None,
    lookup: Callable[[str], Optional[str]] = metadata,
) -> Dict[str, Any]:
    """The monitored resource (``{"type", "labels"}``) of platform *kind*; *lookup* asks the metadata server."""
    env = os.environ if env is None else env
    labels: Dict[str, str] = {"project_id": project}
    if kind == "cloud_function":
        labels["function_name"] = env.get("K_SERVICE") or env.get("FUNCTION_NAME") or ""
        labels["region"] = env.get("FUNCTION_REGION") or _last(lookup("instance/region"))
    elif kind == "cloud_run_revision":
        labels["service_name"] = env.get("K_SERVICE", "")
        labels["revision_name"] = env.get("K_REVISION", "")
        labels["configuration_name"] = env.get("K_CONFIGURATION", "")
        labels["location"] = _last(lookup("instance/region"))
    elif kind == "cloud_run_job":
        labels["job_name"] = env.get("CLOUD_RUN_JOB", "")
        labels["location"] = _last(lookup("instance/region"))
    elif kind == "gae_app":
        labels["module_id"] = env.get("GAE_SERVICE", "")
        labels["version_id"] = env.get("GAE_VERSION", "")
        labels["zone"] = _last(lookup("instance/zone"))
    elif kind == "k8s_container":
        labels["cluster_name"] = lookup("instance/attributes/cluster-name") or ""
        labels["location"] = lookup("instance/attributes/cluster-location") or ""
        labels["namespace_name"] = _namespace(env)
        labels["pod_name"] = env.get("POD_NAME") or env.get("HOSTNAME", "")
        labels["container_name"] = env.get("CONTAINER_NAME", "")
    elif kind == "gce_instance":
        labels["instance_id"] = lookup("instance/id") or ""
        labels["zone"] = _last(lookup("instance/zone"))
    return {"type": kind, "labels": labels}


def job_labels(kind: str, env: Optional[Mapping[str, str]] = None) -> Dict[str, str]:
    """The entry labels the Cloud Run jobs console reads (execution, task index and attempt)."""
    env = os.environ if env is None else env
    if kind != "cloud_run_job":
        return {}
    names = (("run.googleapis.com/execution_name", "CLOUD_RUN_EXECUTION"),
             ("run.googleapis.com/task_index", "CLOUD_RUN_TASK_INDEX"),
             ("run.googleapis.com/task_attempt", "CLOUD_RUN_TASK_ATTEMPT"))  # fmt: skip
    return {label: env[name] for label, name in names if env.get(name)}
