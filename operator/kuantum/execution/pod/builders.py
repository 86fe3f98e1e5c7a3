"""Pure builders of the child objects of a QuantumJob: the per-job SAS Secret and the solver batch/v1 Job."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from kuantum_solvers.formats.contract import INPUT_URL_ENV, OUTPUT_URL_ENV, PARAMS_ENV, solver_args, tracing_env

from kuantum.catalog import Target
from kuantum.labels import label_value
from kuantum.models.common import API_GROUP, API_VERSION, LABEL_JOB_ID, LABEL_PROVIDER, LABEL_TARGET, LABEL_WORKSPACE
from kuantum.objects import JobObject, parse_job
from kuantum.runtime.settings import Settings

SOLVER_UID = 10001
INPUT_URL_KEY = "input-url"
OUTPUT_URL_KEY = "output-url"
PARAMS_KEY = "params"
GPU_RESOURCE = "nvidia.com/gpu"
CONTAINER = "solver"  # the solver Job's one container (its log is kept: PodBackend._keep_log)


def sas_lifetime(timeout_seconds: int | None, settings: Settings) -> timedelta:
    """How long a job's SAS URLs stay valid, counted from when its solver Job is created.

    With `timeoutSeconds` the batch Job's activeDeadlineSeconds stops the pod by then (counted from
    the Job's start, so scheduling and image pulls are inside it); `settings.sas_margin_seconds` on
    top covers clock skew between operator, storage and node and the final upload. Without one the
    pod has no deadline, so the URLs last the longest a solver runs by its own budget,
    `settings.sas_default_seconds` (24 h: every solver's `timeout` parameter is at most 86,400 s),
    plus the same margin: bounded, instead of a token that writes `outputData` for ever.
    """
    runtime = timeout_seconds if timeout_seconds and timeout_seconds > 0 else settings.sas_default_seconds
    return timedelta(seconds=runtime + max(0, settings.sas_margin_seconds))


def child_name(job_id: str) -> str:
    """Deterministic, so a restarted operator finds (and never duplicates) what it created."""
    return f"kuantum-{job_id}"


def secret_name(job_id: str) -> str:
    return f"kuantum-{job_id}-sas"


QJob = JobObject | dict[str, Any]  # typed, or a QuantumJob as the API server serves it


def _typed(qjob: QJob) -> JobObject:
    return qjob if isinstance(qjob, JobObject) else parse_job(qjob)


def owner_reference(qjob: QJob) -> dict[str, Any]:
    meta = _typed(qjob).meta
    return {"apiVersion": f"{API_GROUP}/{API_VERSION}", "kind": "QuantumJob", "name": meta.name,
            "uid": meta.uid, "controller": True, "blockOwnerDeletion": True}


def child_labels(qjob: QJob, job_id: str) -> dict[str, str]:
    """Labels of the Job, its pods and the Secret; names from the spec the job runs with, made valid label
    values (`other-ns/ws` or a 300-character name would make the API server refuse the object)."""
    job = _typed(qjob)
    return {
        LABEL_WORKSPACE: label_value(job.workspace),
        LABEL_PROVIDER: label_value(job.provider.lower()),
        LABEL_TARGET: label_value(job.target),
        LABEL_JOB_ID: label_value(job_id),
        "app.kubernetes.io/managed-by": "kuantum",
        "app.kubernetes.io/component": "solver",
    }


def sas_secret(qjob: QJob, job_id: str, input_url: str, output_url: str,
               params: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "type": "Opaque",
        "metadata": {"name": secret_name(job_id), "namespace": _typed(qjob).meta.namespace,
                     "labels": child_labels(qjob, job_id), "ownerReferences": [owner_reference(qjob)]},
        "stringData": {INPUT_URL_KEY: input_url, OUTPUT_URL_KEY: output_url, PARAMS_KEY: json.dumps(params)},
    }


def _secret_env(name: str, secret: str, key: str) -> dict[str, Any]:
    return {"name": name, "valueFrom": {"secretKeyRef": {"name": secret, "key": key}}}


def hardened_container(container: dict[str, Any]) -> dict[str, Any]:
    """A solver image's container as every solver pod runs it: non-root, read-only root filesystem (a writable
    /tmp), no privilege escalation, no capabilities."""
    return {**container,
            "securityContext": {"allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True,
                                "runAsNonRoot": True, "capabilities": {"drop": ["ALL"]}},
            "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}]}


def hardened_pod_spec(containers: list[dict[str, Any]], restart_policy: str) -> dict[str, Any]:
    """The pod of solver containers: no service-account token, no Service links, the solver's user, the runtime's
    default seccomp profile, an emptyDir for /tmp."""
    return {
        "restartPolicy": restart_policy,
        "automountServiceAccountToken": False,
        "enableServiceLinks": False,
        "terminationGracePeriodSeconds": 10,
        "securityContext": {"runAsNonRoot": True, "runAsUser": SOLVER_UID, "runAsGroup": SOLVER_UID,
                            "seccompProfile": {"type": "RuntimeDefault"}},
        "containers": containers,
        "volumes": [{"name": "tmp", "emptyDir": {"sizeLimit": "1Gi"}}],
    }


def solver_job(qjob: QJob, job_id: str, target: Target, image: str, input_format: str,
               output_format: str, timeout_seconds: int | None, cpu: str, memory: str,
               gpus: int | None = None, traceparent: str | None = None, otlp_endpoint: str | None = None
               ) -> dict[str, Any]:
    """A batch/v1 Job running kuantum-solve: no token, non-root, read-only root, no capabilities. With a trace
    context and an OTLP endpoint, the solver reports its phases as spans of that trace (the pod contract)."""
    labels = child_labels(qjob, job_id)
    secret = secret_name(job_id)
    limits: dict[str, str] = {"memory": memory}
    if gpus:
        limits[GPU_RESOURCE] = str(gpus)
    container = hardened_container({
        "name": CONTAINER,
        "image": image,
        "args": solver_args(target.id, input_format, output_format),
        # The solver's environment (the pod contract), filled from the per-job Secret.
        "env": [
            _secret_env(INPUT_URL_ENV, secret, INPUT_URL_KEY),
            _secret_env(OUTPUT_URL_ENV, secret, OUTPUT_URL_KEY),
            _secret_env(PARAMS_ENV, secret, PARAMS_KEY),
            *({"name": k, "value": v} for k, v in tracing_env(traceparent, otlp_endpoint).items()),
        ],
        "resources": {"requests": {"cpu": cpu, "memory": memory}, "limits": limits},
        "terminationMessagePolicy": "FallbackToLogsOnError",
    })
    pod_spec = hardened_pod_spec([container], restart_policy="Never")
    job_spec: dict[str, Any] = {"backoffLimit": 0, "template": {"metadata": {"labels": labels}, "spec": pod_spec}}
    if timeout_seconds:
        job_spec["activeDeadlineSeconds"] = timeout_seconds
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": child_name(job_id), "namespace": _typed(qjob).meta.namespace, "labels": labels,
                     "ownerReferences": [owner_reference(qjob)]},
        "spec": job_spec,
    }
