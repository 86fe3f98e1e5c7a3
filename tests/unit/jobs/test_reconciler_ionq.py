"""The job reconciler's remote backend path with IonQ, over the World of tests/support/job_world.py (no HTTP).

The submit: its attempt recorded before anything is sent, sent exactly once, an unclear outcome searched for
(also after a restart) and adopted, never sent twice; credentials rejected (the key never leaks), absent from
the Provider, or their Secret missing; the poll (only when due) and what the provider's job state writes
(Executing, Succeeded with the output uploaded first, Failed with the provider's code, unknown); cancel at the
provider (waiting, a simulator, a QPU that runs on, a job never sent) and a deleted job's finalizer.
"""

from __future__ import annotations

import base64
import json

import pytest
from kuantum.catalog import IONQ
from kuantum.controller import Controller
from kuantum.execution.providers.api import CredentialsRejected, ProviderUnavailable, RemoteState
from kuantum.runtime.timeutil import parse
from kuantum.runtime.writer import ObjectGone
from kuantum.storage.blobs import OUTPUT_BLOB, container_name
from kubernetes import client

from tests.support.fake_storage import BLOB_BASE
from tests.support.job_world import (
    API_KEY,
    ARIA,
    BELL,
    IONQ_SIM,
    NS,
    World,
    _admitted_remote,
    _condition,
    _events,
    _submitted,
)


# ----------------------------------------------------------------------------------------------------- submit
async def test_remote_submit_time_is_recorded_before_any_submit() -> None:
    w = World()
    first = await _admitted_remote(w)
    assert not w.api.of("submit"), "the first pass only records the attempt"
    status = w.status("j")
    assert status["providerSubmitTime"]
    assert "providerJobId" not in status
    assert (f"{NS}/j", 0.0) in w.enqueued_after
    assert not first.of("create_job") and not first.of("create_secret"), "no pod for a remote target"
    assert w.api_credentials == [{"apiKey": API_KEY}]

    second = await w.reconcile("j")
    assert len(w.api.of("submit")) == 1
    submit = w.journal.index(lambda c: c.source == "api" and c.method == "submit")
    recorded = w.journal.index(lambda c: c.method == "patch_status" and "providerSubmitTime" in
                               json.dumps(c.args["patch"]))
    assert recorded < submit
    program = w.api.of("submit")[0].args["program"]
    assert program.marker == w.job_id("j") and w.job_id("j") in program.name
    assert program.target == IONQ_SIM and program.shots == 100
    assert program.body == {"gateset": "qis", **BELL}
    assert second.status_writes == 1
    assert w.status("j")["providerJobId"] == "remote-1"
    assert w.status("j")["state"] == "Waiting"
    assert not w.api.of("find"), "this process sent nothing before: no search needed"

    third = await w.reconcile("j")
    assert len(w.api.of("submit")) == 1, "exactly once"
    assert third.writes() == []
    assert [c.args for c in w.api.of("get")] == [{"remote_id": "remote-1"}]


async def test_remote_first_pass_writes_status_once() -> None:
    w = World()
    first = await _admitted_remote(w)
    assert first.status_writes <= 1


async def test_submit_with_an_unclear_outcome_is_found_and_adopted_not_sent_twice() -> None:
    w = World()
    await _admitted_remote(w)
    w.api.accept_then_fail.append(ProviderUnavailable("connection dropped after the request was sent"))
    p = await w.reconcile("j")
    assert len(w.api.of("submit")) == 1
    assert p.writes() == [], "an unclear answer is no failure"
    assert "providerJobId" not in w.status("j")
    assert w.status("j")["state"] == "Waiting"

    p = await w.reconcile("j")
    calls = [c.method for c in w.api.calls if c.method in ("submit", "find")]
    assert calls == ["submit", "find"], "searched for, and not sent again"
    find = w.api.of("find")[0].args
    assert find["marker"] == w.job_id("j")
    assert find["not_before"] <= parse(w.status("j")["providerSubmitTime"])
    assert w.status("j")["providerJobId"] == "remote-1"
    assert len(w.api.jobs) == 1
    assert p.status_writes == 1


async def test_submit_that_never_arrived_is_searched_for_then_sent_once_more() -> None:
    w = World()
    await _admitted_remote(w)
    w.api.fail_next["submit"] = [ProviderUnavailable("503 from the load balancer")]
    await w.reconcile("j")
    await w.reconcile("j")
    calls = [c.method for c in w.api.calls if c.method in ("submit", "find")]
    assert calls == ["submit", "find", "submit"]
    assert len(w.api.jobs) == 1
    assert w.status("j")["providerJobId"] in w.api.jobs


async def test_after_a_restart_an_attempted_submit_is_searched_for_first() -> None:
    w = World()
    await _admitted_remote(w)
    w.api.accept_then_fail.append(ProviderUnavailable("timeout"))
    await w.reconcile("j")
    w.restart()
    await w.reconcile("j")
    assert [c.method for c in w.api.calls if c.method in ("submit", "find")] == ["submit", "find"]
    assert w.status("j")["providerJobId"] == "remote-1"


# ------------------------------------------------------------------------------------------------ credentials
async def test_rejected_credentials_fail_the_job_without_leaking_the_key() -> None:
    w = World()
    await _admitted_remote(w)
    w.api.fail_next["submit"] = [CredentialsRejected("401 Unauthorized: invalid API key", 401)]
    p = await w.reconcile("j")
    status = w.status("j")
    assert status["state"] == "Failed"
    assert status["errorData"]["code"] == "CredentialsRejected"
    assert "invalid API key" in status["errorData"]["message"]
    assert _events(p) == ["Failed"]
    everything = json.dumps([c.args for c in w.kube.calls], default=str) + json.dumps(status) + \
        json.dumps(w.kube.events)
    assert API_KEY not in everything
    assert base64.b64encode(API_KEY.encode()).decode() not in everything
    assert len(w.api.of("submit")) == 1, "no retry storm"
    await w.reconcile("j")
    assert len(w.api.of("submit")) == 1


async def test_provider_without_credentials_fails_the_job_before_anything_is_recorded() -> None:
    w = World()
    w.add_provider("ionq", IONQ, credentials=False)
    w.ionq_job("j")
    await w.reconcile("j")
    status = w.status("j")
    assert status["state"] == "Failed" and status["errorData"]["code"] == "CredentialsRejected"
    assert "providerSubmitTime" not in status
    assert not w.api.calls


async def test_missing_credentials_secret_keeps_the_job_waiting() -> None:
    w = World()
    w.add_provider("ionq", IONQ)
    del w.kube.data_objects[("secret", NS, "ionq-creds")]
    w.ionq_job("j")
    await w.reconcile("j")
    status = w.status("j")
    assert status["state"] == "Waiting"
    assert _condition(status, "Queued")["reason"] == "CredentialsNotFound"  # type: ignore[index]
    assert "providerSubmitTime" not in status
    assert not w.api.calls


async def test_missing_credentials_secret_is_one_status_write() -> None:
    w = World()
    w.add_provider("ionq", IONQ)
    del w.kube.data_objects[("secret", NS, "ionq-creds")]
    w.ionq_job("j")
    p = await w.reconcile("j")
    assert p.status_writes <= 1


# ----------------------------------------------------------------------------------------- the provider's job
async def test_provider_job_running_then_completed_writes_the_output_and_succeeds() -> None:
    w = World()
    remote_id = await _submitted(w)
    w.api.set_state(remote_id, RemoteState.EXECUTING)
    p = await w.reconcile("j")
    assert p.status_writes == 1 and w.status("j")["state"] == "Executing"
    assert not w.storage.uploads()[1:], "no output before completion"

    w.api.set_state(remote_id, RemoteState.SUCCEEDED)
    p = await w.reconcile("j")
    job_id = w.job_id("j")
    blob = w.storage.blobs[(container_name(job_id), OUTPUT_BLOB)]
    assert blob.data == w.api.jobs[remote_id].results
    assert blob.content_type == "application/json"
    status = w.status("j")
    assert status["state"] == "Succeeded"
    assert status["outputDataUri"] == f"{BLOB_BASE}/{container_name(job_id)}/{OUTPUT_BLOB}"
    assert p.status_writes == 1
    assert w.journal.index(lambda c: c.method == "upload" and c.args["blob"] == OUTPUT_BLOB) < \
        max(i for i, c in enumerate(w.journal.calls) if c.method == "patch_status"), "output before Succeeded"
    assert (await w.reconcile("j")).status_writes == 0
    assert len([c for c in w.storage.uploads() if c.args["blob"] == OUTPUT_BLOB]) == 1, "written once"


async def test_a_reconcile_before_the_poll_is_due_asks_the_provider_nothing() -> None:
    """Its own status write or a resync wakes the job too: only the poll schedule sends a GET, and a reconcile
    before it asks the work queue to come back when it is due."""
    w = World()
    remote_id = await _submitted(w)
    assert w.remote._poller.waiting(f"{NS}/j"), "the submit scheduled the first poll"
    w.api.set_state(remote_id, RemoteState.EXECUTING)
    p = await w.reconcile("j", poll_due=False)
    assert not w.api.of("get") and p.writes() == []
    assert w.status("j")["state"] == "Waiting"
    left = w.remote._poller.due_in(f"{NS}/j")
    assert p.result.requeue_after is not None and left is not None and 0 < left <= p.result.requeue_after <= 3.0
    p = await w.reconcile("j")  # its poll is due
    assert len(w.api.of("get")) == 1 and w.status("j")["state"] == "Executing"
    assert p.result.requeue_after is not None and p.result.requeue_after > 0, "polled again while it runs"


async def test_provider_job_completed_straight_from_waiting_is_started_and_succeeded_in_one_write() -> None:
    w = World()
    remote_id = await _submitted(w)
    w.api.set_state(remote_id, RemoteState.SUCCEEDED)
    p = await w.reconcile("j")
    assert p.status_writes == 1
    assert _events(p) == ["Executing", "Succeeded"]
    assert w.status("j")["state"] == "Succeeded"


async def test_provider_job_failed_fails_with_the_providers_code_and_message() -> None:
    w = World()
    remote_id = await _submitted(w)
    w.api.set_state(remote_id, RemoteState.EXECUTING)
    await w.reconcile("j")
    w.api.set_state(remote_id, RemoteState.FAILED, "QuotaExhausted", "the account has no credit left")
    p = await w.reconcile("j")
    status = w.status("j")
    assert status["state"] == "Failed"
    assert status["errorData"] == {"code": "QuotaExhausted", "message": "the account has no credit left"}
    assert p.status_writes == 1
    assert (container_name(w.job_id("j")), OUTPUT_BLOB) not in w.storage.blobs


async def test_unknown_provider_job_fails_the_job() -> None:
    w = World()
    remote_id = await _submitted(w)
    del w.api.jobs[remote_id]
    await w.reconcile("j")
    assert w.status("j")["errorData"]["code"] == "NotFound"


# ------------------------------------------------------------------------------------------- cancel, deletion
async def test_remote_cancel_while_waiting_cancels_at_the_provider() -> None:
    w = World()
    remote_id = await _submitted(w, target=ARIA)
    w.edit_spec("j", cancel=True)
    p = await w.reconcile("j")
    assert [c.args for c in w.api.of("cancel")] == [{"remote_id": remote_id}]
    assert w.status("j")["state"] == "Cancelled"
    assert p.status_writes == 1


async def test_remote_cancel_while_executing_on_a_qpu_asks_once_and_runs_on() -> None:
    w = World()
    remote_id = await _submitted(w, target=ARIA)
    w.api.set_state(remote_id, RemoteState.EXECUTING)
    await w.reconcile("j")
    w.edit_spec("j", cancel=True)
    p = await w.reconcile("j")
    assert not w.api.of("cancel")
    assert _condition(w.status("j"), "CancelRequested") is not None
    assert w.status("j")["state"] == "Executing"
    assert p.status_writes == 1
    assert (await w.reconcile("j")).writes() == []


async def test_cancel_refused_together_with_start_is_one_status_write() -> None:
    w = World()
    remote_id = await _submitted(w, target=ARIA)
    w.api.set_state(remote_id, RemoteState.EXECUTING)
    w.edit_spec("j", cancel=True)
    p = await w.reconcile("j")
    assert w.status("j")["state"] == "Executing"
    assert _condition(w.status("j"), "CancelRequested") is not None
    assert p.status_writes <= 1


async def test_remote_cancel_while_executing_on_a_simulator_cancels() -> None:
    w = World()
    remote_id = await _submitted(w)
    w.api.set_state(remote_id, RemoteState.EXECUTING)
    await w.reconcile("j")
    w.edit_spec("j", cancel=True)
    await w.reconcile("j")
    assert [c.args for c in w.api.of("cancel")] == [{"remote_id": remote_id}]
    status = w.status("j")
    assert status["state"] == "Cancelled" and status["endExecutionTime"]


async def test_remote_job_cancelled_before_it_was_sent_is_never_sent() -> None:
    w = World()
    await _admitted_remote(w)  # attempt recorded, not sent yet
    w.edit_spec("j", cancel=True)
    await w.reconcile("j")
    assert w.status("j")["state"] == "Cancelled"
    assert not w.api.of("submit")


async def test_deleting_a_remote_job_cancels_it_at_the_provider_and_releases_the_finalizer() -> None:
    w = World()
    remote_id = await _submitted(w)
    await w.kube.delete_custom("QuantumJob", NS, "j")
    w.store.put("QuantumJob", w.job("j"))
    p = await w.reconcile("j")
    assert [c.args for c in w.api.of("cancel")] == [{"remote_id": remote_id}]
    assert p.writes() == ["event", "patch_meta"], "announced Cancelled, no status written for a deleted object"
    assert p.of("event")[0].args["reason"] == "Cancelled"
    assert p.of("patch_meta")[0].args["patch"] == {"metadata": {"finalizers": []}}
    assert w.kube.get("QuantumJob", NS, "j") is None


async def test_a_deleted_job_whose_reconcile_hits_object_gone_is_done_without_error() -> None:
    w = World()
    remote_id = await _submitted(w)
    await w.kube.delete_custom("QuantumJob", NS, "j")
    w.store.put("QuantumJob", w.job("j"))  # the operator saw the deletion start...
    del w.kube.objects[("QuantumJob", NS, "j")]  # ...and the object is gone before the reconcile writes
    with pytest.raises(ObjectGone):
        await w.reconciler.reconcile(f"{NS}/j")
    assert [c.args for c in w.api.of("cancel")] == [{"remote_id": remote_id}], "stopped at the provider first"

    controller = Controller(client.ApiClient(), w.settings, [NS])
    try:
        controller.reconcilers["QuantumJob"] = w.reconciler
        before = len(w.api.calls)
        await controller._handle(f"QuantumJob|{NS}/j")  # ObjectGone: done, not an error, not retried
        assert [c.method for c in w.api.calls[before:] if c.method == "submit"] == []
    finally:
        controller.api_client.close()
