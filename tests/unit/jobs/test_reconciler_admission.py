"""The job reconciler's admission of a new job, over the fakes of tests/support/job_world.py (its World).

What the first pass writes (labels, finalizer, the accepted spec, one status write, the input upload, gzip for
QIO and as it is for IonQ); what keeps a job waiting with a reason (no storage Secret, storage found unreachable,
an unknown Provider) or fails it (an unknown Provider named by the gateway); and the queue in front of a target:
the plan's concurrent-job limit, the waiting job started when a slot frees, queue positions, and the monthly job
and execution-seconds quotas.
"""

from __future__ import annotations

import copy
import gzip
import json
from typing import Any

import pytest
from kuantum import accepted_spec
from kuantum.accepted_spec import ANNOTATION as ACCEPTED_SPEC
from kuantum.catalog import IONQ
from kuantum.execution.pod import builders
from kuantum.models.common import FINALIZER, LABEL_JOB_ID, LABEL_PROVIDER, LABEL_TARGET, LABEL_WORKSPACE
from kuantum.objects import job_id_for
from kuantum.runtime.timeutil import now_iso
from kuantum.storage.blobs import INPUT_BLOB, OUTPUT_BLOB, container_name

from tests.support.fake_storage import BLOB_BASE
from tests.support.job_world import (
    BELL,
    NS,
    QIO_INPUT,
    SA,
    WS,
    World,
    _condition,
    _events,
    _hours_ago,
    _status_body,
    _uid,
)


# ------------------------------------------------------------------------------------------------- acceptance
async def test_new_qio_job_gets_metadata_then_one_status_write_and_a_gzip_upload() -> None:
    w = World(qio_limits={"maxConcurrentJobs": 1})
    w.qio_job("other", status={"id": "id-other", "state": "Executing", "creationTime": now_iso()})
    w.dispatcher.claim(w.store.jobs[f"{NS}/other"])  # the only slot is taken: this pass stops at the queue
    spec: dict[str, Any] = {"provider": "microsoft-qio", "target": SA, "input": {"inline": QIO_INPUT},
            "inputParams": {"params": {"sweeps": 10}}, "tags": ["a"], "cancel": False}
    w.add_job("j", **spec)
    job_id = w.job_id("j")
    assert job_id == job_id_for(_uid("j"))

    p = await w.reconcile("j")

    assert p.writes() == ["patch_meta", "patch_status", "event"]
    meta_patch = p.of("patch_meta")[0].args["patch"]["metadata"]
    assert meta_patch["labels"] == {LABEL_JOB_ID: job_id, LABEL_WORKSPACE: WS, LABEL_PROVIDER: "microsoft-qio",
                                    LABEL_TARGET: SA}
    assert meta_patch["finalizers"] == [FINALIZER]
    annotation = meta_patch["annotations"][ACCEPTED_SPEC]
    assert meta_patch["annotations"] == {ACCEPTED_SPEC: accepted_spec.encode({"workspace": WS, **spec})}
    assert accepted_spec.accepted_spec(accepted_spec.decode(annotation), {"workspace": WS, **spec}) == \
        {"workspace": WS, **spec}, "the annotation gives back the spec as accepted"
    assert not set(accepted_spec.MUTABLE_FIELDS) & set(accepted_spec.decode(annotation))
    assert meta_patch["resourceVersion"] is not None, "the metadata write must not build on a stale spec"

    status_call = p.of("patch_status")[0]
    assert status_call.args["json_patch"] is False  # the first write: a merge patch
    status = _status_body(status_call)
    uri = f"{BLOB_BASE}/{container_name(job_id)}/{INPUT_BLOB}"
    assert status["id"] == job_id
    assert status["state"] == "Waiting"
    assert status["inputDataUri"] == uri
    assert status["queuePosition"] == 1
    assert status["observedGeneration"] == 1
    queued = _condition(status, "Queued")
    assert queued is not None and queued["status"] == "True" and queued["reason"] == "Queued"
    assert w.status("j") == status, "what was written is what the API server holds"

    uploads = w.storage.uploads()
    assert len(uploads) == 1
    upload = uploads[0].args
    assert (upload["container"], upload["blob"]) == (container_name(job_id), INPUT_BLOB)
    assert upload["data"][:2] == b"\x1f\x8b", "microsoft.qio.v2 is uploaded gzip-compressed"
    assert gzip.decompress(upload["data"]) == json.dumps(QIO_INPUT, separators=(",", ":")).encode()
    assert upload["content_encoding"] == "gzip"
    assert upload["content_type"] == "application/json"
    assert w.journal.index(lambda c: c.method == "upload") < w.journal.index(lambda c: c.method == "patch_status"), \
        "inputDataUri is written only after the blob exists"

    event = p.of("event")[0].args
    assert event["reason"] == "Queued" and not event["warning"] and job_id in event["message"]
    assert not w.kube.secrets and not w.kube.batch_jobs


async def test_a_second_pass_over_a_queued_job_writes_nothing() -> None:
    w = World(qio_limits={"maxConcurrentJobs": 1})
    w.qio_job("other", status={"id": "id-other", "state": "Executing", "creationTime": now_iso()})
    w.dispatcher.claim(w.store.jobs[f"{NS}/other"])
    w.qio_job("j")
    await w.reconcile("j")
    again = await w.reconcile("j")
    assert again.writes() == []
    assert len(w.storage.uploads()) == 1


async def test_ionq_input_is_uploaded_as_it_is() -> None:
    w = World()
    w.add_provider("ionq", IONQ)
    w.ionq_job("j")
    await w.reconcile("j")
    upload = w.storage.uploads()[0].args
    assert upload["data"] == json.dumps(BELL, separators=(",", ":")).encode()
    assert upload["content_encoding"] is None


# ---------------------------------------------------------------------------------------------- prerequisites
async def test_missing_storage_secret_keeps_the_job_waiting_with_a_reason() -> None:
    w = World()
    del w.kube.data_objects[("secret", NS, "storage")]
    w.qio_job("j")
    p = await w.reconcile("j")
    status = w.status("j")
    assert status["state"] == "Waiting"
    queued = _condition(status, "Queued")
    assert queued is not None and queued["status"] == "False" and queued["reason"] == "WorkspaceNotReady"
    assert _events(p) == ["WorkspaceNotReady"]
    assert not w.storage.uploads() and not w.kube.batch_jobs
    assert (f"{NS}/j", 10.0) in w.enqueued_after
    assert p.status_writes == 1


async def test_a_workspace_that_found_its_storage_unreachable_makes_new_jobs_wait_at_once() -> None:
    w = World()
    workspace = copy.deepcopy(w.store.workspaces[f"{NS}/{WS}"].body)
    workspace["status"] = {"conditions": [{"type": "StorageReady", "status": "False", "reason": "StorageUnreachable",
                                           "message": "storage account devstoreaccount1 is not reachable"}]}
    w.store.put("QuantumWorkspace", workspace)
    w.qio_job("j")
    p = await w.reconcile("j")
    status = w.status("j")
    assert status["state"] == "Waiting" and p.status_writes == 1
    queued = _condition(status, "Queued")
    assert queued is not None and queued["reason"] == "WorkspaceNotReady" and "not reachable" in queued["message"]
    assert not w.storage.uploads(), "no connection attempt that could hang the first status"


@pytest.mark.parametrize(("created_by", "state"), [(None, "Waiting"), ("kuantum-gateway", "Failed")])
async def test_an_unknown_provider_waits_for_gitops_but_fails_a_gateway_job(created_by: str | None,
                                                                              state: str) -> None:
    w = World()
    annotations = {"kuantum.dev/created-by": created_by} if created_by else {}
    w._put("QuantumJob", {"apiVersion": "kuantum.dev/v1alpha1", "kind": "QuantumJob",
                          "metadata": {"name": "j", "namespace": NS, "uid": _uid("j"), "generation": 1,
                                       "creationTimestamp": "2024-01-01T00:00:00Z", "annotations": annotations},
                          "spec": {"workspace": WS, "provider": "no-such-provider", "target": SA,
                                   "input": {"inline": QIO_INPUT}}})
    await w.reconcile("j")
    status = w.status("j")
    assert status["state"] == state, status
    if created_by:
        assert status["errorData"]["code"] == "InvalidProvider"
    else:
        assert _condition(status, "Queued")["reason"] == "ProviderNotFound"  # type: ignore[index]


# ------------------------------------------------------------------------------------------------------ queue
@pytest.mark.parametrize(("limit", "starts"), [(1, False), (2, True)])
async def test_plan_max_concurrent_jobs(limit: int, starts: bool) -> None:
    w = World(qio_limits={"maxConcurrentJobs": limit})
    w.qio_job("first", created="2024-01-01T00:00:00Z")
    await w.reconcile("first")
    assert len(w.kube.batch_jobs) == 1
    w.qio_job("second", created="2024-01-01T00:00:01Z")
    p = await w.reconcile("second")
    assert bool(p.of("create_job")) is starts
    assert bool(p.of("create_secret")) is starts
    assert w.status("second")["state"] == "Waiting"


async def test_the_waiting_job_starts_once_the_running_one_is_final() -> None:
    w = World(qio_limits={"maxConcurrentJobs": 1})
    w.qio_job("first", created="2024-01-01T00:00:00Z")
    await w.reconcile("first")
    w.qio_job("second", created="2024-01-01T00:00:01Z")
    assert not (await w.reconcile("second")).of("create_job")
    w.deliver_children()
    w.pod("first", "Succeeded", started=_hours_ago(0.1), finished=_hours_ago(0.05))
    w.storage.put_blob(container_name(w.job_id("first")), OUTPUT_BLOB, b"{}")
    w.enqueued.clear()
    await w.reconcile("first")  # -> Succeeded
    await w.reconcile("first")  # final: frees the slot, wakes the queue
    assert f"{NS}/second" in w.enqueued
    p = await w.reconcile("second")
    assert [c.args["body"]["metadata"]["name"] for c in p.of("create_job")] == [
        builders.child_name(w.job_id("second"))]


async def test_a_queue_position_is_exact_at_the_front_and_absent_deeper_never_stale() -> None:
    """A status field is true or absent: the front of a queue shows exact places; deeper a number would go stale
    with every start ahead (it read 5, 5, 5 once), so a stale one there is removed, once."""
    w = World(qio_limits={"maxConcurrentJobs": 1})
    w.qio_job("running", status={"id": "id-running", "state": "Executing", "creationTime": now_iso(),
                                 "inputDataUri": f"{BLOB_BASE}/job-id-running/inputData"})
    w.dispatcher.claim(w.store.jobs[f"{NS}/running"])
    for i in range(10):  # queued in this order; every one wrote a position one too high (a job ahead left)
        w.add_job(f"q{i}", provider="microsoft-qio", target=SA, input={"inline": QIO_INPUT},
                  created=f"2024-01-01T00:00:{10 + i}Z",
                  status={"id": f"id-q{i}", "state": "Waiting", "queuePosition": i + 2, "creationTime": now_iso(),
                          "inputDataUri": f"{BLOB_BASE}/job-id-q{i}/inputData",
                          "observedGeneration": 1,
                          "conditions": [{"type": "Queued", "status": "True", "reason": "Queued",
                                          "message": f"queued for {SA} in workspace {WS}"}]})
    front, deep = await w.reconcile("q1"), await w.reconcile("q8")
    assert w.status("q1")["queuePosition"] == 2 and front.status_writes == 1, "exact at the front"
    assert "queuePosition" not in w.status("q8") and deep.status_writes == 1, "the stale number removed"
    again = await w.reconcile("q8")
    assert again.status_writes == 0, "deep in a queue no write per start"


async def test_jobs_that_jump_the_queue_leave_every_shown_place_to_one_job() -> None:
    """Six Standard jobs, then two High ones, behind one executing job: High 1, 2, Standard 3, 4, 5, the rest none,
    once the jobs the High ones moved are reconciled (their reconciles are asked for at once)."""
    w = World(qio_limits={"maxConcurrentJobs": 1})
    w.qio_job("running", status={"id": "id-running", "state": "Executing", "creationTime": now_iso(),
                                 "inputDataUri": f"{BLOB_BASE}/job-id-running/inputData"})
    w.dispatcher.claim(w.store.jobs[f"{NS}/running"])
    names = [f"std-{i}" for i in range(6)] + ["high-0", "high-1"]
    woken: list[str] = []
    for i, name in enumerate(names):
        priority = "High" if name.startswith("high") else "Standard"
        w.qio_job(name, created=f"2024-01-01T00:01:{10 + i}Z", priority=priority)
        woken += [key.split("/")[1] for _kind, key in (await w.reconcile(name)).result.wake]
    for _ in range(3 * len(names)):  # what the work queue does with the wakes (bounded)
        if not woken:
            break
        woken += [key.split("/")[1] for _kind, key in (await w.reconcile(woken.pop(0))).result.wake]
    assert not woken
    shown = {n: w.status(n).get("queuePosition") for n in names}
    assert shown == {"high-0": 1, "high-1": 2, "std-0": 3, "std-1": 4, "std-2": 5, "std-3": None, "std-4": None,
                     "std-5": None}


# ----------------------------------------------------------------------------------------------------- quotas
def _month_job(w: World, name: str, created: str, code: str | None = None) -> None:
    status: dict[str, Any] = {"id": f"id-{name}", "state": "Failed" if code else "Succeeded", "creationTime": created,
                              "inputDataUri": f"{BLOB_BASE}/job-id-{name}/inputData"}
    if code:
        status["errorData"] = {"code": code, "message": "m"}
    w.qio_job(name, status=status)


@pytest.mark.parametrize(("limit", "fails"), [(2, True), (3, False)])
async def test_monthly_job_quota_at_the_limit_fails_and_below_it_does_not(limit: int, fails: bool) -> None:
    w = World(qio_limits={"maxJobsPerMonth": limit})
    _month_job(w, "a", now_iso())
    _month_job(w, "b", now_iso())
    _month_job(w, "last-month", _hours_ago(24 * 40))  # another month: does not count
    _month_job(w, "refused", now_iso(), code="QuotaExceeded")  # never submitted: does not count
    w.qio_job("j")
    p = await w.reconcile("j")
    status = w.status("j")
    if fails:
        assert status["state"] == "Failed"
        assert status["errorData"]["code"] == "QuotaExceeded"
        assert f"allows {limit} jobs per month" in status["errorData"]["message"]
        assert "2 were submitted" in status["errorData"]["message"]
        assert not w.storage.uploads() and not p.of("create_job")
        assert p.status_writes == 1
        assert _events(p) == ["Failed"]
    else:
        assert status["state"] == "Waiting"
        assert "errorData" not in status
        assert len(w.storage.uploads()) == 1 and len(p.of("create_job")) == 1


def _used_seconds(w: World, seconds: float) -> None:
    # Seconds count in the month the execution ended (kuantum.scheduling.usage), as the Provider's status shows them.
    w.qio_job("used", status={"id": "id-used", "state": "Succeeded", "creationTime": now_iso(),
                              "endExecutionTime": now_iso(),
                              "inputDataUri": f"{BLOB_BASE}/job-id-used/inputData",
                              "usage": {"executionSeconds": seconds}})


@pytest.mark.parametrize(("used", "fails"), [(100.0, True), (99.0, False)])
async def test_monthly_execution_seconds_at_the_limit_fail_and_below_start(used: float, fails: bool) -> None:
    w = World(qio_limits={"maxExecutionSecondsPerMonth": 100})
    _used_seconds(w, used)
    w.qio_job("j")
    p = await w.reconcile("j")
    status = w.status("j")
    if fails:
        assert status["state"] == "Failed" and status["errorData"]["code"] == "QuotaExceeded"
        assert not p.of("create_job") and not p.of("create_secret")
    else:
        assert status["state"] == "Waiting" and len(p.of("create_job")) == 1


async def test_execution_seconds_quota_refusal_is_one_status_write() -> None:
    w = World(qio_limits={"maxExecutionSecondsPerMonth": 100})
    _used_seconds(w, 100.0)
    w.qio_job("j")
    p = await w.reconcile("j")
    assert p.status_writes <= 1
