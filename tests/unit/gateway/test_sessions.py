"""Sessions, job updates and top-level items through kuantum-gateway, driven by the real azure-quantum 3.13 SDK
(its requests as it sends them: `open_session`, `close_session`, `list_sessions`, `list_session_jobs`,
`list_top_level_items`, `update_job`) against the in-memory gateway of test_app.py (no cluster)."""

from __future__ import annotations

import asyncio
import copy
import uuid
from collections.abc import Callable
from typing import Any, TypeVar

import pytest
from azure.core.credentials import AzureKeyCredential
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError
from azure.quantum import Job, Session, Workspace
from azure.quantum.target import Target
from kuantum.gateway.cache import JOBS, SESSIONS

from tests.unit.gateway.test_app import BODY, KEY, NS, WS, Env, job

T = TypeVar("T")


def workspace(e: Env) -> Workspace:
    return Workspace(subscription_id="00000000-0000-0000-0000-000000000000", resource_group=NS, name=WS,
                     location="eastus", credential=AzureKeyCredential(KEY),
                     _quantum_endpoint=str(e.client.make_url("/")), _from_connection_string=True)


async def sdk(fn: Callable[[], T]) -> T:
    """The SDK is synchronous: it runs in a thread while the gateway serves on this loop."""
    return await asyncio.to_thread(fn)


def operator_writes(e: Env, plural: str, name: str, status: dict[str, Any]) -> None:
    """What the operator would write, delivered to the gateway's cache as its watch would."""
    obj = e.api.objects[(NS, name)]
    obj["status"] = copy.deepcopy(status)
    e.cache.put(plural, e.api._stamp(obj))


def ionq(ws: Workspace) -> Target:
    return Target(ws, "ionq.simulator", provider_id="ionq", input_data_format="ionq.circuit.v1",
                  output_data_format="ionq.quantum-results.v1")


async def test_open_session_creates_a_quantumsession_named_by_its_id_and_jobs_join_it(env: Env) -> None:
    ws = workspace(env)
    target = ionq(ws)
    session = await sdk(lambda: target.open_session(name="loop", job_failure_policy="Continue"))
    sid = session.id
    created = env.api.objects[(NS, sid)]
    assert created["kind"] == "QuantumSession" and created["spec"] == {
        "id": sid, "workspace": WS, "provider": "ionq", "target": "ionq.simulator", "jobFailurePolicy": "Continue",
        "priority": "Standard", "tags": [], "name": "loop"}
    assert session.details.status == "Waiting" and session.details.job_failure_policy == "Continue"
    # A job PUT with sessionId joins it (spec.session names the object), and reads back with the id.
    job_id = str(uuid.uuid1())
    status, details = await env.call("PUT", f"/jobs/{job_id}", {**BODY, "providerId": "ionq",
                                                                "target": "ionq.simulator", "sessionId": sid})
    assert status == 201 and details["sessionId"] == sid
    assert env.api.objects[(NS, job_id)]["spec"]["session"] == sid
    listed = await sdk(session.list_jobs)
    assert [j.id for j in listed] == [job_id]
    assert [s.id for s in await sdk(ws.list_sessions)] == [sid]
    operator_writes(env, SESSIONS, sid, {"id": sid, "state": "Executing", "creationTime": "2026-11-28T09:00:00Z",
                                         "beginExecutionTime": "2026-11-28T09:00:01Z"})
    refreshed = await sdk(lambda: ws.get_session(sid))
    assert refreshed.details.status == "Executing" and refreshed.details.name == "loop"
    # Closing sets spec.close; the SDK's with-block closes on exit the same way.
    await sdk(session.close)
    assert env.api.objects[(NS, sid)]["spec"]["close"] is True
    status, err = await env.call("PUT", f"/jobs/{uuid.uuid1()}", {**BODY, "providerId": "ionq",
                                                                  "target": "ionq.simulator", "sessionId": sid})
    assert status == 409 and err["error"]["code"] == "SessionClosed" and sid in err["error"]["message"]


async def test_unknown_sessions_are_404_and_a_job_for_one_is_refused(env: Env) -> None:
    ws = workspace(env)
    with pytest.raises(ResourceNotFoundError, match="SessionNotFound"):
        await sdk(lambda: ws.get_session(str(uuid.uuid1())))
    status, err = await env.call("PUT", f"/jobs/{uuid.uuid1()}", {**BODY, "sessionId": str(uuid.uuid1())})
    assert status == 404 and err["error"]["code"] == "SessionNotFound"
    status, err = await env.call("POST", f"/sessions/{uuid.uuid1()}:close")
    assert status == 404 and err["error"]["code"] == "SessionNotFound"


async def test_a_job_on_another_target_than_its_session_is_400(env: Env) -> None:
    session = await sdk(lambda: ionq(workspace(env)).open_session())
    status, err = await env.call("PUT", f"/jobs/{uuid.uuid1()}", {**BODY, "sessionId": session.id})
    assert status == 400 and "ionq.simulator" in err["error"]["message"]


async def test_reopening_with_the_same_details_is_200_and_with_others_409(env: Env) -> None:
    sid = str(uuid.uuid1())
    body = {"name": "s", "providerId": "ionq", "target": "ionq.simulator", "itemType": "Session",
            "jobFailurePolicy": "Abort"}
    assert (await env.call("PUT", f"/sessions/{sid}", body))[0] == 201
    assert (await env.call("PUT", f"/sessions/{sid}", body))[0] == 200
    status, err = await env.call("PUT", f"/sessions/{sid}", {**body, "jobFailurePolicy": "Continue"})
    assert status == 409 and err["error"]["code"] == "Conflict"
    for bad in ({**body, "itemType": "Job"}, {**body, "jobFailurePolicy": "Sometimes"}, {"name": "x"}):
        assert (await env.call("PUT", f"/sessions/{uuid.uuid1()}", bad))[0] == 400
    assert (await env.call("PUT", "/sessions/not-a-uuid", body))[0] == 400


async def test_top_level_items_are_sessions_and_the_jobs_of_no_session(env: Env) -> None:
    ws = workspace(env)
    session = await sdk(lambda: ionq(ws).open_session(name="loop"))
    lone, inside = str(uuid.uuid1()), str(uuid.uuid1())
    env.cache.put(JOBS, job("lone", lone))
    env.cache.put(JOBS, job("inside", inside, session=session.id))
    items = await sdk(ws.list_top_level_items)
    kinds = sorted((type(i).__name__, i.id) for i in items)
    assert kinds == sorted([("Session", session.id), ("Job", lone)])
    sessions_only = await sdk(lambda: ws.list_top_level_items(item_type=["Session"]))
    assert [i.id for i in sessions_only] == [session.id] and isinstance(sessions_only[0], Session)
    # Every job is still in the jobs list, the session's with its sessionId.
    by_id = {j.id: j for j in await sdk(ws.list_jobs)}
    assert set(by_id) == {lone, inside} and by_id[inside].details.session_id == session.id


async def test_update_job_renames_reprioritises_and_retags(env: Env) -> None:
    ws = workspace(env)
    job_id = str(uuid.uuid1())
    assert (await env.call("PUT", f"/jobs/{job_id}", BODY))[0] == 201
    azure_job = await sdk(lambda: ws.get_job(job_id))
    updated: Job = await sdk(lambda: ws.update_job(azure_job, name="renamed", priority="High", tags=["x", "y"]))
    assert updated.details.name == "renamed" and updated.details.priority == "High"
    assert updated.details.tags == ["x", "y"]
    spec = env.api.objects[(NS, job_id)]["spec"]
    assert (spec["name"], spec["priority"], spec["tags"]) == ("renamed", "High", ["x", "y"])  # the spec changed
    only_tags = await sdk(lambda: ws.update_job(updated, tags=[]))
    assert only_tags.details.tags == [] and only_tags.details.name == "renamed"  # left out: left unchanged
    for bad in ({"priority": "Urgent"}, {"target": "x"}, {}, {"tags": "x"}):
        assert (await env.call("PATCH", f"/jobs/{job_id}", bad))[0] == 400, bad
    with pytest.raises(HttpResponseError, match="JobNotFound"):
        await sdk(lambda: ws.update_job(Job(ws, azure_job.details.__class__(
            id=str(uuid.uuid1()), name="x", provider_id="ionq", target="t", container_uri="u",
            input_data_format="f")), name="y"))
