"""kuantum-gateway's HTTP surface against an in-memory cache and a fake API server (no cluster)."""

from __future__ import annotations

import copy
import json
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from kuantum.gateway import sas
from kuantum.gateway.app import build_app, new_gateway
from kuantum.gateway.auth import Secrets
from kuantum.gateway.cache import JOBS, PROVIDERS, WORKSPACES, Cache
from kuantum.runtime import tracing
from kubernetes.client.rest import ApiException
from yarl import URL

from tests.support.otlp import Receiver

NS, WS, KEY = "team-a", "demo", "s3cret-key"
BASE = (f"/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/{NS}"
        f"/providers/Microsoft.Quantum/workspaces/{WS}")
ACCOUNT_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
STORAGE = (f"DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey={ACCOUNT_KEY};"
           "BlobEndpoint=http://127.0.0.1:10000/devstoreaccount1;")
H = {"x-ms-quantum-api-key": KEY}


class FakeApi:
    """Create/get/patch/delete of QuantumJobs as the API server answers them (the cache is fed separately)."""

    def __init__(self) -> None:
        self.objects: dict[tuple[str, str], dict[str, Any]] = {}
        self.version = 100
        self.reject: ApiException | None = None

    def _stamp(self, obj: dict[str, Any]) -> dict[str, Any]:
        self.version += 1
        obj["metadata"]["resourceVersion"] = str(self.version)
        return copy.deepcopy(obj)

    async def create(self, plural: str, namespace: str, body: dict[str, Any]) -> dict[str, Any]:
        if self.reject:
            raise self.reject
        key = (namespace, body["metadata"]["name"])
        if key in self.objects:
            raise ApiException(status=409, reason="Conflict")
        obj = copy.deepcopy(body)
        obj["metadata"].update(namespace=namespace, uid=str(uuid.uuid4()), creationTimestamp="2026-11-28T09:00:00Z")
        self.objects[key] = obj
        return self._stamp(obj)

    async def get(self, plural: str, namespace: str, name: str) -> dict[str, Any] | None:
        obj = self.objects.get((namespace, name))
        return copy.deepcopy(obj) if obj else None

    async def merge_patch(self, plural: str, namespace: str, name: str, patch: dict[str, Any]
                          ) -> dict[str, Any] | None:
        obj = self.objects.get((namespace, name))
        if obj is None:
            return None
        obj["spec"].update(patch.get("spec") or {})
        return self._stamp(obj)

    async def delete(self, plural: str, namespace: str, name: str) -> bool:
        return self.objects.pop((namespace, name), None) is not None


def workspace(name: str = WS, secret: str | None = "api-key", namespace: str = NS) -> dict[str, Any]:
    spec: dict[str, Any] = {"storage": {"connectionStringSecretRef": {"name": "storage", "key": "conn"}}}
    if secret:
        spec["gateway"] = {"apiKeySecretRef": {"name": secret, "key": "key"}}
    return {"metadata": {"name": name, "namespace": namespace, "resourceVersion": "1"}, "spec": spec}


def job(name: str, job_id: str, state: str | None = "Succeeded", **spec: Any) -> dict[str, Any]:
    status: dict[str, Any] = {"id": job_id, "creationTime": "2026-11-28T08:00:00Z"}
    if state:
        status["state"] = state
    if state == "Succeeded":
        status["outputDataUri"] = f"http://127.0.0.1:10000/devstoreaccount1/job-{job_id}/outputData"
    if state == "Failed":
        status["errorData"] = {"code": "InvalidInputData", "message": "bad input"}
    return {"metadata": {"name": name, "namespace": NS, "resourceVersion": "5",
                         "creationTimestamp": "2026-11-28T08:00:00Z"},
            "spec": {"workspace": WS, "provider": "microsoft-qio", "target": "microsoft.simulatedannealing.cpu",
                     "input": {"inline": {}}, **spec},
            "status": status}


class Env:
    def __init__(self, client: TestClient, cache: Cache, api: FakeApi) -> None:
        self.client, self.cache, self.api = client, cache, api

    async def call(self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None,
                   api_version: str = "2026-01-15-preview", **params: str) -> tuple[int, Any]:
        query = {"api-version": api_version, **params}
        resp = await self.client.request(method, path if path.startswith(("/subscriptions", "http")) else BASE + path,
                                         params=query, json=body, headers=H if headers is None else headers)
        text = await resp.text()
        return resp.status, (json.loads(text) if text else None)


@pytest.fixture
async def env(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Env]:
    secrets_data = {(NS, "api-key"): {"key": KEY}, (NS, "other-key"): {"key": "other"},
                    (NS, "storage"): {"conn": STORAGE}}

    async def read(namespace: str, name: str) -> dict[str, str] | None:
        return secrets_data.get((namespace, name))

    monkeypatch.setattr(sas, "_create_container", lambda storage, container: None)
    cache = Cache()
    cache.mark_all_synced()
    cache.put(WORKSPACES, workspace())
    cache.put(WORKSPACES, workspace("other", "other-key"))
    cache.put(WORKSPACES, workspace("closed", None))
    api = FakeApi()
    client = TestClient(TestServer(build_app(new_gateway(cache, api, Secrets(read)), max_body=4096)))
    await client.start_server()
    try:
        yield Env(client, cache, api)
    finally:
        await client.close()


BODY = {"name": "bell", "containerUri": "http://127.0.0.1:10000/devstoreaccount1/job-x?sv=1&sig=abc",
        "inputDataUri": "http://127.0.0.1:10000/devstoreaccount1/job-x/inputData", "inputDataFormat": "ionq.circuit.v1",
        "outputDataFormat": "ionq.quantum-results.v1", "providerId": "Kuantum", "target": "kuantum.simulator",
        "inputParams": {"shots": 100}, "itemType": "Job", "metadata": {"num_qubits": "2"}, "tags": ["t"]}


async def test_put_creates_the_job_named_by_its_id(env: Env) -> None:
    job_id = str(uuid.uuid1())
    status, details = await env.call("PUT", f"/jobs/{job_id}", BODY)
    assert status == 201, details
    created = env.api.objects[(NS, job_id)]
    assert created["spec"] == {
        "id": job_id, "workspace": WS, "provider": "kuantum", "target": "kuantum.simulator",
        "input": {"blobUri": BODY["inputDataUri"]}, "inputParams": {"shots": 100}, "priority": "Standard",
        "tags": ["t"], "name": "bell", "inputDataFormat": "ionq.circuit.v1",
        "outputDataFormat": "ionq.quantum-results.v1"}
    assert details["id"] == job_id and details["providerId"] == "Kuantum" and details["status"] == "Waiting"
    assert details["itemType"] == "Job" and details["jobType"] == "QuantumComputing"
    assert details["metadata"] == {"num_qubits": "2"} and details["name"] == "bell"
    # Readable at once (before any watch event) and the same PUT again is 200; a different one 409.
    status, got = await env.call("GET", f"/jobs/{job_id}")
    assert status == 200 and got["id"] == job_id
    assert (await env.call("PUT", f"/jobs/{job_id}", BODY))[0] == 200
    status, err = await env.call("PUT", f"/jobs/{job_id}", {**BODY, "target": "microsoft.paralleltempering.cpu"})
    assert status == 409 and err["error"]["code"] == "Conflict"


async def test_put_when_the_cache_lags_still_compares_with_the_api_server(env: Env) -> None:
    job_id = str(uuid.uuid4())
    assert (await env.call("PUT", f"/jobs/{job_id}", BODY))[0] == 201
    job = env.cache.job(NS, WS, job_id)
    assert job is not None
    env.cache.remove(JOBS, job)  # not seen yet by this replica's informer
    assert (await env.call("PUT", f"/jobs/{job_id}", BODY))[0] == 200
    assert (await env.call("PUT", f"/jobs/{job_id}", {**BODY, "name": "other"}))[0] == 409


async def test_put_input_uri_defaults_to_the_container_and_never_keeps_a_sas(env: Env) -> None:
    job_id = str(uuid.uuid4())
    body = {k: v for k, v in BODY.items() if k != "inputDataUri"}
    assert (await env.call("PUT", f"/jobs/{job_id}", body))[0] == 201
    assert env.api.objects[(NS, job_id)]["spec"]["input"]["blobUri"] == \
        "http://127.0.0.1:10000/devstoreaccount1/job-x/inputData"


@pytest.mark.parametrize(("body", "message"), [
    ([1], "JSON object"), ({**BODY, "providerId": None}, "providerId"), ({**BODY, "inputParams": [1]}, "inputParams"),
    ({**BODY, "tags": "x"}, "tags"), ({**BODY, "priority": "Urgent"}, "priority"),
    ({k: v for k, v in BODY.items() if k not in ("containerUri", "inputDataUri")}, "containerUri"),
    ({**BODY, "itemType": "Session"}, "itemType")])
async def test_malformed_put_bodies_are_400(env: Env, body: Any, message: str) -> None:
    status, err = await env.call("PUT", f"/jobs/{uuid.uuid4()}", body)
    assert status == 400 and message in err["error"]["message"]


async def test_put_rejects_ids_that_are_not_uuids_and_invalid_json(env: Env) -> None:
    assert (await env.call("PUT", "/jobs/not-a-uuid", BODY))[0] == 400
    resp = await env.client.put(f"{BASE}/jobs/{uuid.uuid4()}", data=b"{nope", headers=H)
    assert resp.status == 400 and (await resp.json())["error"]["code"] == "BadRequest"


async def test_api_server_validation_errors_are_400(env: Env) -> None:
    env.api.reject = ApiException(status=422, reason="Unprocessable")
    env.api.reject.body = json.dumps({"message": "spec.priority: Unsupported value"})
    status, err = await env.call("PUT", f"/jobs/{uuid.uuid4()}", BODY)
    assert status == 400 and "spec.priority" in err["error"]["message"]


async def test_body_limit_is_413(env: Env) -> None:
    status, err = await env.call("PUT", f"/jobs/{uuid.uuid4()}", {**BODY, "inputParams": {"x": "y" * 5000}})
    assert status == 413 and err["error"]["code"] == "RequestEntityTooLarge"


async def test_get_and_list_from_the_cache(env: Env) -> None:
    ids = [str(uuid.UUID(int=i)) for i in range(1, 6)]
    for i, job_id in enumerate(ids):
        obj = job(f"kubectl-job-{i}", job_id, "Succeeded" if i % 2 else "Failed")
        obj["status"]["creationTime"] = f"2026-11-2{i}T08:00:00Z"
        env.cache.put(JOBS, obj)
    env.cache.put(JOBS, {**job("elsewhere", str(uuid.uuid4())), "spec": {**job("x", "y")["spec"], "workspace": "w2"}})
    status, got = await env.call("GET", f"/jobs/{ids[1]}")
    assert status == 200 and got["name"] == "kubectl-job-1" and got["providerId"] == "microsoft-qio"
    assert got["jobType"] == "Optimization" and got["outputDataUri"].endswith(f"job-{ids[1]}/outputData")
    assert got["containerUri"].endswith(f"job-{ids[1]}")
    status, failed = await env.call("GET", f"/jobs/{ids[0]}")
    assert failed["status"] == "Failed" and failed["errorData"] == {"code": "InvalidInputData", "message": "bad input"}

    status, page = await env.call("GET", "/jobs", top="2")
    assert status == 200 and [d["id"] for d in page["value"]] == [ids[4], ids[3]]  # newest first
    assert "skip=2" in page["nextLink"] and "top=2" in page["nextLink"]
    next_url = URL(page["nextLink"])
    resp = await env.client.get(next_url.path_qs, headers=H)
    assert [d["id"] for d in (await resp.json())["value"]] == [ids[2], ids[1]]
    _, everything = await env.call("GET", "/jobs", filter="State eq 'Failed' and startswith(Name, 'kubectl')",
                                   orderby="CreationTime asc")
    assert [d["id"] for d in everything["value"]] == [ids[0], ids[2], ids[4]] and everything["nextLink"] is None
    _, items = await env.call("GET", "/topLevelItems", filter="ItemType eq 'Job'")
    assert len(items["value"]) == 5
    status, err = await env.call("GET", "/jobs", filter="Bogus eq 1")
    assert status == 400 and err["error"]["code"] == "InvalidFilter"


async def test_unknown_jobs_and_paths_are_404_with_azure_bodies(env: Env) -> None:
    status, err = await env.call("GET", f"/jobs/{uuid.uuid4()}")
    assert status == 404 and err["error"]["code"] == "JobNotFound"
    for method, path in (("GET", "/nothing/here"), ("POST", "/sessions"), ("GET", f"/jobs/{uuid.uuid4()}/x")):
        status, err = await env.call(method, path)
        assert status == 404 and err["error"]["code"] == "NotFound", (method, path)
    status, err = await env.call("PATCH", f"/jobs/{uuid.uuid4()}", {"name": "x"})
    assert status == 404 and err["error"]["code"] == "JobNotFound"
    status, err = await env.call("GET", f"/sessions/{uuid.uuid4()}")
    assert status == 404 and err["error"]["code"] == "SessionNotFound"
    resp = await env.client.get("/subscriptions/x")
    assert resp.status == 404 and (await resp.json())["error"]["code"] == "NotFound"


async def test_cancel_sets_spec_cancel_and_delete_depends_on_the_api_version(env: Env) -> None:
    job_id = str(uuid.uuid4())
    assert (await env.call("PUT", f"/jobs/{job_id}", BODY))[0] == 201
    status, details = await env.call("POST", f"/jobs/{job_id}:cancel")
    assert status == 200 and details["id"] == job_id
    assert env.api.objects[(NS, job_id)]["spec"]["cancel"] is True
    # The old SDK's DELETE cancels; today's deletes (204 both, as the SDKs require).
    other = str(uuid.uuid4())
    assert (await env.call("PUT", f"/jobs/{other}", BODY))[0] == 201
    assert (await env.call("DELETE", f"/jobs/{other}", api_version="2022-09-12-preview"))[0] == 204
    assert env.api.objects[(NS, other)]["spec"]["cancel"] is True
    assert (await env.call("DELETE", f"/jobs/{other}"))[0] == 204
    assert (NS, other) not in env.api.objects
    assert (await env.call("GET", f"/jobs/{other}"))[0] == 404
    assert (await env.call("POST", f"/jobs/{uuid.uuid4()}:cancel"))[0] == 404


async def test_cancel_of_a_finished_job_changes_nothing(env: Env) -> None:
    job_id = str(uuid.uuid4())
    env.cache.put(JOBS, job("done", job_id))
    status, details = await env.call("POST", f"/jobs/{job_id}:cancel")
    assert status == 200 and details["status"] == "Succeeded" and not env.api.objects


@pytest.mark.parametrize(("workspace_name", "headers"), [
    (WS, {}), (WS, {"x-ms-quantum-api-key": "wrong"}), ("other", H), ("closed", H), ("missing", H)])
async def test_keys_open_only_their_own_workspace(env: Env, workspace_name: str, headers: dict[str, str]) -> None:
    path = BASE.replace(f"/workspaces/{WS}", f"/workspaces/{workspace_name}") + "/jobs"
    status, err = await env.call("GET", path, headers=headers)
    assert status == 401 and err["error"]["code"] == "Unauthorized"
    assert KEY not in json.dumps(err) and "other" not in err["error"]["message"].replace(workspace_name, "")


async def test_sas_uri_only_for_job_containers(env: Env) -> None:
    job_id, theirs = str(uuid.uuid4()), str(uuid.uuid4())
    status, got = await env.call("POST", "/storage/sasUri", {"containerName": f"job-{job_id}"})
    assert status == 200 and got["sasUri"].startswith(f"http://127.0.0.1:10000/devstoreaccount1/job-{job_id}?")
    assert "sp=cw" in got["sasUri"] and ACCOUNT_KEY not in got["sasUri"]
    # Reading needs the job to be this workspace's.
    read = {"containerName": f"job-{job_id}", "blobName": "outputData"}
    assert (await env.call("POST", "/storage/sasUri", read))[0] == 404
    env.cache.put(JOBS, job("mine", job_id))
    status, got = await env.call("POST", "/storage/sasUri", read)
    assert status == 200 and f"/job-{job_id}/outputData?" in got["sasUri"] and "sp=r" in got["sasUri"]
    # Another workspace's job (the same storage account): neither read nor write.
    env.cache.put(JOBS, {**job("theirs", theirs), "spec": {**job("x", "y")["spec"], "workspace": "other"}})
    for body in ({"containerName": f"job-{theirs}"}, {"containerName": f"job-{theirs}", "blobName": "outputData"}):
        assert (await env.call("POST", "/storage/sasUri", body))[0] == 403
    assert (await env.call("POST", "/storage/sasUri", {"containerName": "secrets"}))[0] == 403
    assert (await env.call("POST", "/storage/sasUri", {}))[0] == 400


async def test_provider_status_and_quotas(env: Env) -> None:
    env.cache.put(PROVIDERS, {
        "metadata": {"name": "kuantum", "namespace": NS, "resourceVersion": "3"},
        "spec": {"workspace": WS, "providerId": "kuantum", "billingPlan": {"limits": {"maxJobsPerMonth": 10}}},
        "status": {"providerId": "kuantum", "conditions": [{"type": "Ready", "status": "True"}],
                   "usage": {"period": "2026-11", "jobs": 3},
                   "targets": [{"id": "kuantum.simulator", "availability": "Available", "queueDepth": 2}]}})
    status, got = await env.call("GET", "/providerStatus")
    assert status == 200 and got == {"value": [{"id": "kuantum", "currentAvailability": "Available", "targets": [
        {"id": "kuantum.simulator", "currentAvailability": "Available", "averageQueueTime": 2}]}], "nextLink": None}
    status, got = await env.call("GET", "/quotas")
    assert got["value"] == [{"dimension": "jobs", "scope": "Workspace", "providerId": "kuantum", "utilization": 3.0,
                             "holds": 0.0, "limit": 10.0, "period": "Monthly"}]


async def test_requests_wait_for_the_first_list(env: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    from kuantum.gateway import routes
    monkeypatch.setattr(routes, "SYNC_WAIT", 0.05)
    env.cache.mark_all_synced(False)
    status, err = await env.call("GET", "/jobs")
    assert status == 503 and err["error"]["code"] == "ServiceUnavailable"
    assert (await env.client.get("/readyz")).status == 503
    assert (await env.client.get("/healthz")).status == 200


async def test_requests_are_counted_by_route_template_never_by_job_id(env: Env) -> None:
    from kuantum.gateway import metrics

    job_id = str(uuid.uuid4())
    assert (await env.call("GET", f"/jobs/{job_id}"))[0] == 404
    assert (await env.call("GET", "/no/such/route"))[0] == 404
    text = metrics.generate_latest(metrics.REGISTRY).decode()
    assert job_id not in text
    route = "/subscriptions/{sub}/resourceGroups/{ns}/providers/Microsoft.Quantum/workspaces/{ws}/jobs/{id}"
    counted = metrics.REGISTRY.get_sample_value("kuantum_gateway_requests_total",
                                                {"route": route, "method": "GET", "code": "404"})
    assert counted is not None and counted >= 1
    assert metrics.REGISTRY.get_sample_value("kuantum_gateway_requests_total",
                                             {"route": "unmatched", "method": "GET", "code": "404"})
    # Every route's series exist from the start (rates and ratios read from the first request on).
    assert metrics.REGISTRY.get_sample_value("kuantum_gateway_requests_total",
                                             {"route": route, "method": "PUT", "code": "500"}) is not None
    assert "process_resident_memory_bytes" in text


async def test_metrics_are_served_apart_from_the_api() -> None:
    from kuantum.gateway import metrics

    client = TestClient(TestServer(metrics.metrics_app()))
    await client.start_server()
    try:
        resp = await client.get("/metrics")
        assert resp.status == 200 and "kuantum_gateway_requests_total" in await resp.text()
    finally:
        await client.close()


TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT_ID = "00f067aa0ba902b7"
TRACEPARENT = f"00-{TRACE_ID}-{PARENT_ID}-01"


@pytest.fixture
def traced() -> Iterator[Receiver]:
    """Tracing on, exporting to an OTLP receiver in this process; off again afterwards."""
    with Receiver() as receiver:
        assert tracing.configure("kuantum-test", {"OTEL_EXPORTER_OTLP_ENDPOINT": receiver.endpoint})
        try:
            yield receiver
        finally:
            tracing.shutdown()


async def test_the_gateway_continues_the_callers_trace_and_puts_it_on_the_job(traced: Receiver, env: Env) -> None:
    job_id = str(uuid.uuid4())
    status, _ = await env.call("PUT", f"/jobs/{job_id}", BODY, headers={**H, "traceparent": TRACEPARENT})
    assert status == 201
    annotation = env.api.objects[(NS, job_id)]["metadata"]["annotations"][tracing.ANNOTATION]
    assert annotation.split("-")[1] == TRACE_ID, "the job's context is in the caller's trace"
    tracing.shutdown()  # exports what is left
    spans = traced.of_trace(TRACE_ID)
    assert [(s.service, s.parent_id) for s in spans] == [("kuantum-test", PARENT_ID)], spans
    assert spans[0].name.startswith("PUT ") and spans[0].name.endswith("/jobs/{id}") and job_id not in spans[0].name
    assert spans[0].span_id == annotation.split("-")[2], "the operator continues the gateway's span"
