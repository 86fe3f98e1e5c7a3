"""Pure builders of the child objects of a QuantumJob: the per-job SAS Secret and the solver batch/v1 Job."""

from __future__ import annotations

import json
from typing import Any

from .catalog import Target
from .models.common import API_GROUP, API_VERSION, LABEL_JOB_ID, LABEL_PROVIDER, LABEL_TARGET, LABEL_WORKSPACE

SOLVER_UID = 10001
INPUT_URL_KEY = "input-url"
OUTPUT_URL_KEY = "output-url"
PARAMS_KEY = "params"
GPU_RESOURCE = "nvidia.com/gpu"


def child_name(job_id: str) -> str:
    """Deterministic, so a restarted operator finds (and never duplicates) what it created."""
    return f"kuantum-{job_id}"


def secret_name(job_id: str) -> str:
    return f"kuantum-{job_id}-sas"


def owner_reference(qjob: dict[str, Any]) -> dict[str, Any]:
    meta = qjob["metadata"]
    return {"apiVersion": f"{API_GROUP}/{API_VERSION}", "kind": "QuantumJob", "name": meta["name"],
            "uid": meta["uid"], "controller": True, "blockOwnerDeletion": True}


def child_labels(qjob: dict[str, Any], job_id: str) -> dict[str, str]:
    spec = qjob["spec"]
    return {
        LABEL_WORKSPACE: spec["workspace"],
        LABEL_PROVIDER: spec["provider"].lower(),
        LABEL_TARGET: spec["target"],
        LABEL_JOB_ID: job_id,
        "app.kubernetes.io/managed-by": "kuantum",
        "app.kubernetes.io/component": "solver",
    }


def sas_secret(qjob: dict[str, Any], job_id: str, input_url: str, output_url: str,
               params: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "type": "Opaque",
        "metadata": {"name": secret_name(job_id), "namespace": qjob["metadata"]["namespace"],
                     "labels": child_labels(qjob, job_id), "ownerReferences": [owner_reference(qjob)]},
        "stringData": {INPUT_URL_KEY: input_url, OUTPUT_URL_KEY: output_url, PARAMS_KEY: json.dumps(params)},
    }


def _secret_env(name: str, secret: str, key: str) -> dict[str, Any]:
    return {"name": name, "valueFrom": {"secretKeyRef": {"name": secret, "key": key}}}


def solver_job(qjob: dict[str, Any], job_id: str, target: Target, image: str, input_format: str,
               output_format: str, timeout_seconds: int | None, cpu: str, memory: str,
               gpus: int | None = None) -> dict[str, Any]:
    """A batch/v1 Job running kuantum-solve: no token, non-root, read-only root, no capabilities."""
    labels = child_labels(qjob, job_id)
    secret = secret_name(job_id)
    limits: dict[str, str] = {"memory": memory}
    if gpus:
        limits[GPU_RESOURCE] = str(gpus)
    container = {
        "name": "solver",
        "image": image,
        "args": ["--target", target.id, "--input", "$(KUANTUM_INPUT_URL)", "--output", "$(KUANTUM_OUTPUT_URL)",
                 "--input-format", input_format, "--output-format", output_format],
        "env": [
            _secret_env("KUANTUM_INPUT_URL", secret, INPUT_URL_KEY),
            _secret_env("KUANTUM_OUTPUT_URL", secret, OUTPUT_URL_KEY),
            _secret_env("KUANTUM_PARAMS", secret, PARAMS_KEY),
        ],
        "resources": {"requests": {"cpu": cpu, "memory": memory}, "limits": limits},
        "securityContext": {
            "allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True, "runAsNonRoot": True,
            "capabilities": {"drop": ["ALL"]},
        },
        "terminationMessagePolicy": "FallbackToLogsOnError",
        "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}],
    }
    pod_spec: dict[str, Any] = {
        "restartPolicy": "Never",
        "automountServiceAccountToken": False,
        "enableServiceLinks": False,
        "terminationGracePeriodSeconds": 10,
        "securityContext": {"runAsNonRoot": True, "runAsUser": SOLVER_UID, "runAsGroup": SOLVER_UID,
                            "seccompProfile": {"type": "RuntimeDefault"}},
        "containers": [container],
        "volumes": [{"name": "tmp", "emptyDir": {"sizeLimit": "1Gi"}}],
    }
    job_spec: dict[str, Any] = {"backoffLimit": 0, "template": {"metadata": {"labels": labels}, "spec": pod_spec}}
    if timeout_seconds:
        job_spec["activeDeadlineSeconds"] = timeout_seconds
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": child_name(job_id), "namespace": qjob["metadata"]["namespace"], "labels": labels,
                     "ownerReferences": [owner_reference(qjob)]},
        "spec": job_spec,
    }
