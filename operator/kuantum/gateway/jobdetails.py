"""QuantumJob <-> Azure Quantum JobDetails.

The name is spec.name (Azure's job update changes it), the session spec.session (the QuantumSession's name; the
SDK's sessionId is that session's id). What JobDetails has and a QuantumJob spec has not (the provider id as the
client spelled it, metadata) is kept in annotations, so a job reads back exactly as it was submitted and
kubectl-created jobs read naturally (their name is the object name).
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Any

from .. import catalog
from ..models.common import ANNOTATION_CREATED_BY, ANNOTATION_SUBMITTED_AT, API_GROUP, API_VERSION, GATEWAY
from ..runtime.timeutil import format_time
from .errors import bad_request

ANN_NAME = "kuantum.dev/name"  # read only: jobs created before spec.name existed kept their name here
ANN_PROVIDER_ID = "kuantum.dev/provider-id"
ANN_METADATA = "kuantum.dev/metadata"
ANN_SESSION = "kuantum.dev/session-id"  # read only: the session id of jobs created before spec.session existed
ANN_CREATED_BY = ANNOTATION_CREATED_BY
INPUT_BLOB = "inputData"
UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
PRIORITIES = {"standard": "Standard", "high": "High"}


def plain(uri: str | None) -> str | None:
    """The URI without its query (a SAS token is never stored nor answered)."""
    return uri.split("?", 1)[0] if uri else uri


def optional_str(body: dict[str, Any], field: str) -> str | None:
    value = body.get(field)
    if value is not None and not isinstance(value, str):
        raise bad_request(f"{field} must be a string")
    return value or None


def requested(body: Any, job_id: str) -> dict[str, Any]:
    """The PUT body's meaning, validated (ApiError 400) and normalized: the same request gives the same dict."""
    if not isinstance(body, dict):
        raise bad_request("the request body must be a JSON object (JobDetails)")
    if body.get("itemType") not in (None, "Job"):
        raise bad_request(f"itemType {body.get('itemType')!r} is not supported here (only Job)")
    provider_id, target = optional_str(body, "providerId"), optional_str(body, "target")
    if not provider_id or not target:
        raise bad_request("providerId and target are required")
    container, input_uri = optional_str(body, "containerUri"), optional_str(body, "inputDataUri")
    if not input_uri and not container:
        raise bad_request("containerUri or inputDataUri is required")
    params = body.get("inputParams")
    if params is not None and not isinstance(params, dict):
        raise bad_request("inputParams must be a JSON object")
    tags = body.get("tags")
    if tags is not None and (not isinstance(tags, list) or not all(isinstance(t, str) for t in tags)):
        raise bad_request("tags must be a list of strings")
    metadata = body.get("metadata")
    if metadata is not None and not isinstance(metadata, dict):
        raise bad_request("metadata must be a JSON object")
    priority = optional_str(body, "priority") or "Standard"
    if priority.lower() not in PRIORITIES:
        raise bad_request(f"priority {priority!r} is not Standard or High")
    return {
        "name": optional_str(body, "name") or job_id,
        "providerId": provider_id,
        "target": target,
        "inputDataUri": plain(input_uri) or f"{plain(container)}/{INPUT_BLOB}",
        "inputDataFormat": optional_str(body, "inputDataFormat"),
        "outputDataFormat": optional_str(body, "outputDataFormat"),
        "inputParams": params or {},
        "priority": PRIORITIES[priority.lower()],
        "tags": tags or [],
        "metadata": metadata or None,
        "sessionId": (optional_str(body, "sessionId") or "").lower() or None,
    }


UPDATABLE = ("name", "priority", "tags")


def update_of(body: Any, job_id: str) -> dict[str, Any]:
    """The spec merge patch for a job update (JobUpdateOptions: name, priority, tags; null removes a value)."""
    if not isinstance(body, dict):
        raise bad_request("the request body must be a JSON object (JobUpdateOptions)")
    others = sorted(k for k in body if k not in UPDATABLE and not (k == "id" and str(body[k]).lower() == job_id))
    if others:
        raise bad_request(f"{', '.join(others)} cannot be updated; only name, priority and tags can")
    changes: dict[str, Any] = {}
    if "name" in body:
        changes["name"] = optional_str(body, "name")
    if "priority" in body:
        priority = optional_str(body, "priority")
        if priority is not None and priority.lower() not in PRIORITIES:
            raise bad_request(f"priority {priority!r} is not Standard or High")
        changes["priority"] = PRIORITIES[priority.lower()] if priority else None
    if "tags" in body:
        tags = body["tags"]
        if tags is not None and (not isinstance(tags, list) or not all(isinstance(t, str) for t in tags)):
            raise bad_request("tags must be a list of strings")
        changes["tags"] = tags
    if not changes:
        raise bad_request("nothing to update: give name, priority or tags")
    return changes


def provider_of(provider_id: str) -> str:
    """spec.provider for an Azure provider id: our canonical id (aliases, any case), else the id as given."""
    return catalog.canonical_provider_id(provider_id) or provider_id


def same_request(a: dict[str, Any], b: dict[str, Any]) -> bool:
    """Whether two requests (from `requested` / `request_of`) ask for the same job."""
    def norm(r: dict[str, Any]) -> dict[str, Any]:
        return {**r, "providerId": provider_of(r["providerId"])}
    return norm(a) == norm(b)


def quantum_job(namespace: str, workspace: str, job_id: str, req: dict[str, Any], session: str | None = None,
                submitted_at: datetime | None = None) -> dict[str, Any]:
    """The QuantumJob a PUT creates: named by its id, input read from the blob the client uploaded; `session` is
    the name of the QuantumSession its sessionId names; `submitted_at` (now if not given) orders it in its queue
    among jobs created in the same second."""
    annotations = {ANN_PROVIDER_ID: req["providerId"], ANN_CREATED_BY: GATEWAY,
                   ANNOTATION_SUBMITTED_AT: format_time(submitted_at or datetime.now(UTC))}
    if req["metadata"] is not None:
        annotations[ANN_METADATA] = json.dumps(req["metadata"], sort_keys=True, separators=(",", ":"))
    spec: dict[str, Any] = {
        "id": job_id, "workspace": workspace, "provider": provider_of(req["providerId"]), "target": req["target"],
        "input": {"blobUri": req["inputDataUri"]}, "inputParams": req["inputParams"], "priority": req["priority"],
        "tags": req["tags"], "name": req["name"]}
    if session:
        spec["session"] = session
    for field in ("inputDataFormat", "outputDataFormat"):
        if req[field]:
            spec[field] = req[field]
    return {"apiVersion": f"{API_GROUP}/{API_VERSION}", "kind": "QuantumJob",
            "metadata": {"name": job_id, "namespace": namespace, "annotations": annotations}, "spec": spec}


def _metadata(annotations: dict[str, str]) -> Any:
    text = annotations.get(ANN_METADATA)
    if not text:
        return None
    try:
        return json.loads(text)
    except ValueError:
        return None


def name_of(job: dict[str, Any]) -> str | None:
    meta, spec = job.get("metadata") or {}, job.get("spec") or {}
    return spec.get("name") or (meta.get("annotations") or {}).get(ANN_NAME) or meta.get("name")


def request_of(job: dict[str, Any], session_id: str | None = None) -> dict[str, Any]:
    """The request a job answers, in `requested`'s form (for the 409 check of a repeated PUT)."""
    meta, spec = job.get("metadata") or {}, job.get("spec") or {}
    ann = meta.get("annotations") or {}
    return {
        "name": name_of(job),
        "providerId": ann.get(ANN_PROVIDER_ID) or spec.get("provider") or "",
        "target": spec.get("target"),
        "inputDataUri": plain((spec.get("input") or {}).get("blobUri")),
        "inputDataFormat": spec.get("inputDataFormat"),
        "outputDataFormat": spec.get("outputDataFormat"),
        "inputParams": spec.get("inputParams") or {},
        "priority": spec.get("priority") or "Standard",
        "tags": spec.get("tags") or [],
        "metadata": _metadata(ann),
        "sessionId": session_id or ann.get(ANN_SESSION),
    }


def job_type(provider: str, target: str | None) -> str:
    found = catalog.targets_of(catalog.canonical_provider_id(provider) or provider).get(target or "")
    if found is None:
        return "Unknown"
    return "Optimization" if found.kind == "solver" else "QuantumComputing"


def _container(uri: str | None) -> str | None:
    uri = plain(uri)
    return uri.rsplit("/", 1)[0] if uri and "/" in uri else None


def details(job: dict[str, Any], job_id: str, session_id: str | None = None) -> dict[str, Any]:
    """JobDetails as the SDK reads it: always providerId and status (Azure's spelling), never a SAS token.
    `session_id`: the id of the job's session (spec.session names the object)."""
    meta, spec, status = job.get("metadata") or {}, job.get("spec") or {}, job.get("status") or {}
    ann = meta.get("annotations") or {}
    input_uri = plain(status.get("inputDataUri") or (spec.get("input") or {}).get("blobUri"))
    output_uri = plain(status.get("outputDataUri"))
    provider_id = ann.get(ANN_PROVIDER_ID) or spec.get("provider") or "unknown"
    out: dict[str, Any] = {
        "id": job_id,
        "itemType": "Job",
        "name": name_of(job),
        "providerId": provider_id,
        "target": spec.get("target"),
        "jobType": job_type(provider_id, spec.get("target")),
        "status": status.get("state") or "Waiting",
        "creationTime": status.get("creationTime") or meta.get("creationTimestamp"),
        "beginExecutionTime": status.get("beginExecutionTime"),
        "endExecutionTime": status.get("endExecutionTime"),
        "cancellationTime": status.get("cancellationTime"),
        "containerUri": _container(output_uri) or _container(input_uri),
        "inputDataUri": input_uri,
        "outputDataUri": output_uri,
        "inputDataFormat": spec.get("inputDataFormat"),
        "outputDataFormat": spec.get("outputDataFormat"),
        "inputParams": spec.get("inputParams") or {},
        "priority": spec.get("priority") or "Standard",
        "tags": spec.get("tags") or [],
        "metadata": _metadata(ann),
        "sessionId": session_id or ann.get(ANN_SESSION),
        "errorData": status.get("errorData"),
        "costEstimate": status.get("costEstimate"),
        "usage": status.get("usage"),
    }
    return {k: v for k, v in out.items() if v is not None}
