"""Builders and waits for Kuantum's custom resources in integration tests."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from kubernetes import client
from kubernetes.client.rest import ApiException

from tests.support.kube import wait_for
from tests.support.operator import OperatorProcess

GROUP, VERSION = "kuantum.dev", "v1alpha1"
FINAL = ("Succeeded", "Failed", "Cancelled")


def custom(api_client: client.ApiClient) -> client.CustomObjectsApi:
    return client.CustomObjectsApi(api_client)


def create(api_client: client.ApiClient, namespace: str, plural: str, body: dict[str, Any]) -> dict[str, Any]:
    body = {"apiVersion": f"{GROUP}/{VERSION}", **body}
    return dict(custom(api_client).create_namespaced_custom_object(GROUP, VERSION, namespace, plural, body))


def get(api_client: client.ApiClient, namespace: str, plural: str, name: str) -> dict[str, Any] | None:
    try:
        return dict(custom(api_client).get_namespaced_custom_object(GROUP, VERSION, namespace, plural, name))
    except ApiException as e:
        if e.status == 404:
            return None
        raise


def patch(api_client: client.ApiClient, namespace: str, plural: str, name: str, body: dict[str, Any]) -> None:
    custom(api_client).patch_namespaced_custom_object(GROUP, VERSION, namespace, plural, name, body,
                                                      _content_type="application/merge-patch+json")


def storage_secret(core: client.CoreV1Api, namespace: str, connection_string: str, name: str = "storage") -> None:
    core.create_namespaced_secret(namespace, {"metadata": {"name": name},  # type: ignore[arg-type]
                                              "stringData": {"connectionString": connection_string}})


def workspace(api_client: client.ApiClient, namespace: str, name: str = "ws", secret: str = "storage",
              key: str = "connectionString") -> dict[str, Any]:
    return create(api_client, namespace, "quantumworkspaces", {
        "kind": "QuantumWorkspace", "metadata": {"name": name},
        "spec": {"storage": {"connectionStringSecretRef": {"name": secret, "key": key}}}})


def provider(api_client: client.ApiClient, namespace: str, name: str, provider_id: str, workspace: str = "ws",
             limits: dict[str, Any] | None = None, targets: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    spec: dict[str, Any] = {"workspace": workspace, "providerId": provider_id,
                            "billingPlan": {"name": "test", "limits": limits or {}}}
    if targets:
        spec["targets"] = targets
    return create(api_client, namespace, "providers", {"kind": "Provider", "metadata": {"name": name}, "spec": spec})


ISING = {"cost_function": {"version": "1.0", "type": "ising", "terms": [
    {"c": -1, "ids": [0, 1]}, {"c": -1, "ids": [1, 2]}, {"c": 1, "ids": [2, 3]}, {"c": -2, "ids": [0]}]}}


def sa_job(api_client: client.ApiClient, namespace: str, name: str | None = None, sweeps: int = 50,
           workspace: str = "ws", **spec: Any) -> dict[str, Any]:
    body = {
        "workspace": workspace, "provider": "microsoft-qio", "target": "microsoft.simulatedannealing.cpu",
        "inputParams": {"params": {"sweeps": sweeps, "seed": 7, "restarts": 1}}, "input": {"inline": ISING},
    }
    body.update(spec)
    return create(api_client, namespace, "quantumjobs", {
        "kind": "QuantumJob", "metadata": {"name": name or f"job-{uuid.uuid4().hex[:6]}"}, "spec": body})


def long_job(api_client: client.ApiClient, namespace: str, name: str, **spec: Any) -> dict[str, Any]:
    """A job that runs for minutes unless stopped (an enormous sweep count on a small problem)."""
    return sa_job(api_client, namespace, name, sweeps=1_000_000_000, **spec)


def job_status(api_client: client.ApiClient, namespace: str, name: str) -> dict[str, Any]:
    job = get(api_client, namespace, "quantumjobs", name)
    return dict((job or {}).get("status") or {})


def wait_state(api_client: client.ApiClient, namespace: str, name: str, states: tuple[str, ...] | str,
               timeout: float = 120) -> dict[str, Any]:
    wanted = (states,) if isinstance(states, str) else states

    def probe() -> dict[str, Any] | None:
        status = job_status(api_client, namespace, name)
        return status if status.get("state") in wanted else None

    return wait_for(probe, timeout=timeout, what=f"job {name} in {wanted}")


def condition(status: dict[str, Any], kind: str) -> dict[str, Any] | None:
    return next((c for c in status.get("conditions") or [] if c["type"] == kind), None)


def events_for(core: client.CoreV1Api, namespace: str, name: str) -> list[tuple[str, str, str]]:
    events = core.list_namespaced_event(namespace, field_selector=f"involvedObject.name={name}").items
    return [(e.type or "", e.reason or "", e.message or "") for e in events]


def wait_for_events(core: client.CoreV1Api, namespace: str, name: str, *reasons: str,
                    timeout: float = 30) -> list[str]:
    """The reasons of obj's Events once all of `reasons` are among them. The operator records an Event
    right after the status write it reports, so a test that saw the status may be a moment early."""
    def recorded() -> list[str] | None:
        found = [r for _, r, _ in events_for(core, namespace, name)]
        return found if set(reasons) <= set(found) else None

    return wait_for(recorded, timeout=timeout, what=f"events {', '.join(reasons)} on {name}")


def delete_all_jobs(api_client: client.ApiClient, namespace: str, timeout: float = 60) -> None:
    """Deletes the namespace's jobs, then its workspaces, while the operator still runs: both carry its
    finalizer (a workspace's deletion waits for its jobs), which would otherwise hold the namespace."""
    api = custom(api_client)
    for plural in ("quantumjobs", "quantumworkspaces"):
        with contextlib.suppress(ApiException):
            api.delete_collection_namespaced_custom_object(GROUP, VERSION, namespace, plural)
        with contextlib.suppress(AssertionError):
            wait_for(lambda plural=plural: not api.list_namespaced_custom_object(GROUP, VERSION, namespace,
                                                                                  plural)["items"],
                     timeout=timeout, what=f"{plural} deleted")


FINALIZED = ("quantumjobs", "quantumworkspaces")  # the kinds that carry the operator's finalizer


def finalized(api_client: client.ApiClient, namespace: str) -> list[tuple[str, str]]:
    """(plural, name) of the namespace's objects that still carry a finalizer."""
    api, found = custom(api_client), []
    with contextlib.suppress(ApiException):
        for plural in FINALIZED:
            items = api.list_namespaced_custom_object(GROUP, VERSION, namespace, plural, _request_timeout=60)["items"]
            found += [(plural, i["metadata"]["name"]) for i in items if i["metadata"].get("finalizers")]
    return found


def strip_finalizers(api_client: client.ApiClient, namespace: str, plural: str, name: str) -> None:
    """The object's finalizers removed: what a user does once no operator is left to release them."""
    with contextlib.suppress(ApiException):
        custom(api_client).patch_namespaced_custom_object(
            GROUP, VERSION, namespace, plural, name, {"metadata": {"finalizers": None}}, _request_timeout=30,
            _content_type="application/merge-patch+json")


@contextlib.contextmanager
def operator_for(kubeconfig: str, api_client: client.ApiClient, namespace: str, log_dir: Path,
                 env: dict[str, str] | None = None) -> Iterator[OperatorProcess]:
    """A Kuantum operator watching the namespace; at the end its jobs and workspaces deleted while it still runs
    (so their finalizers are released), then it is stopped by PID."""
    proc = OperatorProcess(kubeconfig, namespace, log_dir, env=env).start()
    try:
        yield proc
    finally:
        try:
            if proc.proc and proc.proc.poll() is None:
                delete_all_jobs(api_client, namespace)
        finally:
            proc.stop()
