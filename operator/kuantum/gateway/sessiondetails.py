"""QuantumSession <-> Azure Quantum SessionDetails (azure-quantum 3.13: `_client/models/_models.py` SessionDetails).

The SDK's `open_session` PUTs `{name, providerId, target, itemType: "Session", jobFailurePolicy, priority?, tags?}`
(no id: it is in the URL) and reads back SessionDetails with `id`, `status` and the times. The provider id as
the client spelled it is kept in an annotation, as for jobs, so a session reads back as it was opened.
"""

from __future__ import annotations

from typing import Any

from ..models.common import ANNOTATION_CREATED_BY, API_GROUP, API_VERSION, GATEWAY
from ..objects import SessionObject
from .errors import bad_request
from .jobdetails import ANN_PROVIDER_ID, PRIORITIES, optional_str, provider_of

POLICIES = {"abort": "Abort", "continue": "Continue"}


def requested(body: Any) -> dict[str, Any]:
    """The PUT body's meaning, validated (ApiError 400) and normalized: the same request gives the same dict."""
    if not isinstance(body, dict):
        raise bad_request("the request body must be a JSON object (SessionDetails)")
    if body.get("itemType") not in (None, "Session"):
        raise bad_request(f"itemType {body.get('itemType')!r} is not a Session")
    provider_id, target = optional_str(body, "providerId"), optional_str(body, "target")
    if not provider_id or not target:
        raise bad_request("providerId and target are required")
    policy = optional_str(body, "jobFailurePolicy") or "Abort"
    if policy.lower() not in POLICIES:
        raise bad_request(f"jobFailurePolicy {policy!r} is not Abort or Continue")
    priority = optional_str(body, "priority") or "Standard"
    if priority.lower() not in PRIORITIES:
        raise bad_request(f"priority {priority!r} is not Standard or High")
    tags = body.get("tags")
    if tags is not None and (not isinstance(tags, list) or not all(isinstance(t, str) for t in tags)):
        raise bad_request("tags must be a list of strings")
    return {"name": optional_str(body, "name"), "providerId": provider_id, "target": target,
            "jobFailurePolicy": POLICIES[policy.lower()], "priority": PRIORITIES[priority.lower()],
            "tags": tags or []}


def quantum_session(namespace: str, workspace: str, session_id: str, req: dict[str, Any]) -> dict[str, Any]:
    """The QuantumSession a PUT creates, named by its id."""
    spec: dict[str, Any] = {"id": session_id, "workspace": workspace, "provider": provider_of(req["providerId"]),
                            "target": req["target"], "jobFailurePolicy": req["jobFailurePolicy"],
                            "priority": req["priority"], "tags": req["tags"]}
    if req["name"]:
        spec["name"] = req["name"]
    return {"apiVersion": f"{API_GROUP}/{API_VERSION}", "kind": "QuantumSession",
            "metadata": {"name": session_id, "namespace": namespace,
                         "annotations": {ANN_PROVIDER_ID: req["providerId"], ANNOTATION_CREATED_BY: GATEWAY}},
            "spec": spec}


def request_of(session: SessionObject) -> dict[str, Any]:
    """The request a session answers, in `requested`'s form (for the 409 check of a repeated PUT)."""
    spec = session.body.get("spec") or {}
    return {"name": spec.get("name") or None,
            "providerId": session.meta.annotations.get(ANN_PROVIDER_ID) or spec.get("provider") or "",
            "target": spec.get("target"), "jobFailurePolicy": spec.get("jobFailurePolicy") or "Abort",
            "priority": spec.get("priority") or "Standard", "tags": spec.get("tags") or []}


def same_request(a: dict[str, Any], b: dict[str, Any]) -> bool:
    def norm(r: dict[str, Any]) -> dict[str, Any]:
        return {**r, "providerId": provider_of(r["providerId"])}
    return norm(a) == norm(b)


def details(session: SessionObject) -> dict[str, Any]:
    """SessionDetails as the SDK reads it: always id, itemType, providerId, target, jobFailurePolicy, status."""
    spec, status = session.body.get("spec") or {}, session.status
    session_id = session.session_id
    out: dict[str, Any] = {
        "id": session_id,
        "itemType": "Session",
        "name": spec.get("name") or (f"session-{session_id}" if session.meta.name == session_id
                                     else session.meta.name),
        "providerId": session.meta.annotations.get(ANN_PROVIDER_ID) or spec.get("provider") or "unknown",
        "target": spec.get("target"),
        "jobFailurePolicy": spec.get("jobFailurePolicy") or "Abort",
        "status": str(status.state) if status.state else "Waiting",
        "creationTime": status.creationTime or session.meta.created or None,
        "beginExecutionTime": status.beginExecutionTime,
        "endExecutionTime": status.endExecutionTime,
        "priority": spec.get("priority") or "Standard",
        "tags": spec.get("tags") or [],
        "errorData": status.errorData.model_dump() if status.errorData else None,
    }
    return {k: v for k, v in out.items() if v is not None}
