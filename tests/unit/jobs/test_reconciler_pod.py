"""The job reconciler's pod backend path, over the World of tests/support/job_world.py.

The launch (a SAS Secret with a bounded read token and a write-only one, then the solver Job, a local simulator
for an emulated remote target, a failed create left queued); what the solver Job and its pod say (succeeded
with or without output, failed with the solver's termination message or an exit code, the Job gone, the pod
killed at its deadline, a surplus pod); cancel and deletion of an executing pod job (stop the pod first, or ask
once on a target that cannot be cancelled); and the clean-up of the SAS Secret, the solver Job and orphaned
pods, across restarts of the operator.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from kuantum.catalog import IONQ, KUANTUM, QIO, targets_of
from kuantum.execution.pod import builders
from kuantum.execution.pod.backend import STOP_POLL_SECONDS
from kuantum.models.common import LABEL_JOB_ID
from kuantum.runtime.timeutil import format_time, now_iso, parse
from kuantum.storage.blobs import INPUT_BLOB, OUTPUT_BLOB, container_name

from tests.support.fake_storage import BLOB_BASE
from tests.support.job_world import ARIA, NS, SA, SOLVER_IMAGE, World, _condition, _events, _hours_ago, _started_pod_job


# ----------------------------------------------------------------------------------------------------- launch
def _sas_query(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


@pytest.mark.parametrize("timeout", [None, 120])
async def test_admitted_pod_job_gets_a_sas_secret_and_a_solver_job_and_nothing_else(timeout: int | None) -> None:
    w = World()
    extra = {"timeoutSeconds": timeout} if timeout else {}
    w.qio_job("j", inputParams={"params": {"sweeps": 10}}, **extra)
    job_id = w.job_id("j")

    p = await w.reconcile("j")

    # Children first, then the reconcile's one status write (Waiting, queued) and its Event.
    assert p.writes() == ["patch_meta", "create_secret", "create_job", "patch_status", "event"]
    lifetime = builders.sas_lifetime(timeout, w.settings)
    assert lifetime < timedelta(days=2), "bounded, never a 10-year token"
    sas = w.storage.sas_requests
    assert [(r.container, r.blob, r.write, r.valid_for) for r in sas] == [
        (container_name(job_id), INPUT_BLOB, False, lifetime),
        (container_name(job_id), OUTPUT_BLOB, True, lifetime)]

    secret = p.of("create_secret")[0].args["body"]
    job = w.job("j")
    assert secret == builders.sas_secret(job, job_id, sas[0].url, sas[1].url, {"params": {"sweeps": 10}})
    input_query = _sas_query(secret["stringData"][builders.INPUT_URL_KEY])
    output_query = _sas_query(secret["stringData"][builders.OUTPUT_URL_KEY])
    assert input_query["sp"] == "r", "the solver may only read its input"
    assert "r" not in output_query["sp"] and set(output_query["sp"]) == {"c", "w"}, "and only write its output"
    for query in (input_query, output_query):
        start, expiry = parse(query["st"]), parse(query["se"])
        assert abs((expiry - start) - (lifetime + timedelta(minutes=5))) <= timedelta(seconds=2)

    target = targets_of(QIO)[SA]
    expected = builders.solver_job(job, job_id, target, SOLVER_IMAGE, "microsoft.qio.v2",
                                   target.output_format_for("microsoft.qio.v2"), timeout, target.default_cpu,
                                   target.default_memory, None)
    assert p.of("create_job")[0].args["body"] == expected
    assert expected["spec"].get("activeDeadlineSeconds") == timeout
    assert w.journal.index(lambda c: c.method == "create_secret") < w.journal.index(lambda c: c.method == "create_job")
    assert not w.api.calls


async def test_emulated_remote_target_runs_the_local_simulator_in_a_pod() -> None:
    w = World()
    w.add_provider("ionq", IONQ, targets=[{"id": ARIA, "backend": "local", "memory": "2Gi"}])
    w.ionq_job("j", target=ARIA)
    p = await w.reconcile("j")
    body = p.of("create_job")[0].args["body"]
    simulator = targets_of(KUANTUM)["kuantum.simulator"]
    assert body == builders.solver_job(w.job("j"), w.job_id("j"), simulator, SOLVER_IMAGE, "ionq.circuit.v1",
                                       "ionq.quantum-results.v1", None, simulator.default_cpu, "2Gi", None)
    assert not w.api.calls and not w.api_credentials, "emulation never talks to the provider"


async def test_a_solver_job_create_that_failed_leaves_the_job_queued_not_lost() -> None:
    """The API server went away mid-create: the job is admitted again, never ExecutionLost."""
    w = World()
    w.qio_job("j")
    w.kube.fail_next["create_job"] = [ConnectionError("connection refused")]
    with pytest.raises(ConnectionError):
        await w.reconcile("j")
    assert not w.dispatcher.has_child(w.store.jobs[f"{NS}/j"])
    await w.reconcile("j")
    assert w.status("j")["state"] == "Waiting" and len(w.kube.batch_jobs) == 1


# --------------------------------------------------------------------------------- the solver Job and its pod
async def test_pod_succeeded_with_output_is_one_write_to_succeeded() -> None:
    w = World()
    w.qio_job("j")
    await w.reconcile("j")
    w.deliver_children()
    job_id = w.job_id("j")
    base = datetime.now(UTC).replace(microsecond=0)
    started, finished = format_time(base - timedelta(seconds=360)), format_time(base - timedelta(seconds=180))
    w.pod("j", "Succeeded", started=started, finished=finished)
    w.storage.put_blob(container_name(job_id), OUTPUT_BLOB, b'{"solutions": []}')

    p = await w.reconcile("j")

    assert p.writes() == ["patch_status", "event", "event"]
    assert _events(p) == ["Executing", "Succeeded"]
    patch = p.of("patch_status")[0].args["patch"]
    assert patch[0] == {"op": "test", "path": "/status/state", "value": "Waiting"}
    status = w.status("j")
    assert status["state"] == "Succeeded"
    assert status["outputDataUri"] == f"{BLOB_BASE}/{container_name(job_id)}/{OUTPUT_BLOB}"
    assert (status["beginExecutionTime"], status["endExecutionTime"]) == (started, finished)
    assert status["usage"] == {"executionSeconds": 180.0}
    assert "errorData" not in status
    assert (w.storage.blobs[(container_name(job_id), OUTPUT_BLOB)].data == b'{"solutions": []}'), "never rewritten"


async def test_pod_succeeded_without_output_fails_output_missing() -> None:
    w = World()
    await _started_pod_job(w)
    w.pod("j", "Succeeded", started=_hours_ago(0.1), finished=_hours_ago(0.05))
    p = await w.reconcile("j")
    assert p.status_writes == 1
    assert w.status("j")["errorData"]["code"] == "OutputMissing"


async def test_pod_failed_with_the_solvers_termination_message_fails_with_its_code() -> None:
    w = World()
    await _started_pod_job(w)
    finished = _hours_ago(0.05)
    w.pod("j", "Failed", started=_hours_ago(0.1), finished=finished, exit_code=2,
          message='solver log line\n{"code": "InvalidInputData", "message": "term 3 names variable -1"}\n')
    p = await w.reconcile("j")
    assert p.writes() == ["patch_status", "event"]
    status = w.status("j")
    assert status["state"] == "Failed"
    assert status["errorData"] == {"code": "InvalidInputData", "message": "term 3 names variable -1"}
    assert status["endExecutionTime"] == finished
    assert _condition(status, "Stalled")["reason"] == "InvalidInputData"  # type: ignore[index]
    assert p.of("event")[0].args["warning"] is True


async def test_pod_failed_without_a_message_names_the_exit_code() -> None:
    w = World()
    await _started_pod_job(w)
    w.pod("j", "Failed", started=_hours_ago(0.1), finished=_hours_ago(0.05), exit_code=137, message="Killed")
    await w.reconcile("j")
    error = w.status("j")["errorData"]
    assert error["code"] == "SolverFailed" and "137" in error["message"]


async def test_a_solver_killed_at_its_memory_limit_fails_out_of_memory_naming_the_limit() -> None:
    w = World()
    await _started_pod_job(w)
    w.pod("j", "Failed", started=_hours_ago(0.1), finished=_hours_ago(0.05), exit_code=137, reason="OOMKilled",
          memory_limit="512Mi")
    await w.reconcile("j")
    error = w.status("j")["errorData"]
    assert error["code"] == "OutOfMemory"
    assert "memory limit of 512Mi" in error["message"] and "OOMKilled" in error["message"]


async def test_launched_job_whose_batch_job_vanished_fails_execution_lost() -> None:
    w = World()
    w.qio_job("j")
    await w.reconcile("j")
    w.kube.batch_jobs.clear()  # deleted by someone else before the watch ever showed it
    p = await w.reconcile("j")
    assert p.of("job_exists"), "confirmed with the API server first"
    assert w.status("j")["errorData"]["code"] == "ExecutionLost"


async def test_a_pod_killed_at_its_deadline_before_it_was_seen_running_is_a_timeout() -> None:
    w = World()
    w.qio_job("j", timeoutSeconds=3)
    await w.reconcile("j")
    job_id = w.job_id("j")
    for body in w.kube.batch_jobs.values():
        body["status"] = {"startTime": _hours_ago(0.01)}  # started 36 s ago, its deadline 3 s
    w.deliver_children()
    w.pod("j", "Pending")
    pod = next(iter(w.store.pods[job_id].values()))
    w.store.put_child("Pod", pod, deleted=True)  # the Job controller deleted it at activeDeadlineSeconds
    await w.reconcile("j")
    status = w.status("j")
    assert status["state"] == "Failed" and status["errorData"]["code"] == "Timeout", status


async def test_a_surplus_pod_deleted_beside_the_running_one_is_not_the_jobs_deletion() -> None:
    """After an API server restart the Job controller may create a second pod and delete it again."""
    w = World()
    job_id = await _started_pod_job(w)
    surplus = {"metadata": {"name": f"kuantum-{job_id}-zzzzz", "namespace": NS, "labels": {LABEL_JOB_ID: job_id},
                            "creationTimestamp": "2023-12-31T00:00:00Z"}, "status": {"phase": "Pending"}}
    w.store.put_child("Pod", surplus, deleted=False)
    w.store.put_child("Pod", surplus, deleted=True)
    await w.reconcile("j")
    assert w.status("j")["state"] == "Executing", "its pod runs on"
    w.store.pods.pop(job_id)  # now the job's own pod is gone too, and nothing runs in its place
    await w.reconcile("j")
    assert w.status("j")["state"] == "Failed" and w.status("j")["errorData"]["code"] == "PodDeleted"


# ------------------------------------------------------------------------------------------- cancel, deletion
async def test_cancel_while_executing_on_a_non_cancellable_target_asks_once_and_runs_on() -> None:
    w = World()
    w.add_provider("ionq", IONQ, targets=[{"id": ARIA, "backend": "local"}])  # the pod backend, emulating
    w.ionq_job("j", target=ARIA)
    await w.reconcile("j")
    w.deliver_children()
    w.pod("j", "Running", started=_hours_ago(0.1))
    await w.reconcile("j")
    assert w.status("j")["state"] == "Executing"

    w.edit_spec("j", cancel=True)
    p = await w.reconcile("j")
    assert p.writes() == ["patch_status", "event"]
    status = w.status("j")
    assert status["state"] == "Executing"
    cond = _condition(status, "CancelRequested")
    assert cond is not None and cond["status"] == "True" and cond["reason"] == "NotCancellableWhileExecuting"
    assert p.of("event")[0].args["reason"] == "CancelRequested"
    assert not p.of("delete_job") and w.kube.batch_jobs

    again = await w.reconcile("j")
    assert again.writes() == [], "the condition and its Event come once"

    w.pod("j", "Succeeded", started=_hours_ago(0.1), finished=_hours_ago(0.05))
    w.storage.put_blob(container_name(w.job_id("j")), OUTPUT_BLOB, b"{}")
    await w.reconcile("j")
    assert w.status("j")["state"] == "Succeeded", "the job ran to completion"


async def test_cancel_while_executing_stops_the_pod_then_cancels_and_deletes_the_secret() -> None:
    w = World()
    job_id = await _started_pod_job(w)
    w.edit_spec("j", cancel=True)
    p = await w.reconcile("j")
    # The pod still runs: the state stays; the one status write records that the cancel (a new generation)
    # was seen (observedGeneration, which kstatus reads).
    assert p.writes() == ["delete_job", "patch_status"]
    assert w.status("j")["state"] == "Executing"
    assert w.status("j")["observedGeneration"] == w.job("j")["metadata"]["generation"]
    assert p.of("delete_job")[0].args == {"namespace": NS, "name": builders.child_name(job_id)}
    assert any(key == f"{NS}/j" for key, _ in w.enqueued_after)

    w.pod("j", "Failed", started=_hours_ago(0.1), finished=_hours_ago(0.01), exit_code=143, message="")
    p = await w.reconcile("j")
    assert not p.of("delete_job"), "deleted once"
    assert p.status_writes == 1
    status = w.status("j")
    assert status["state"] == "Cancelled"
    assert "errorData" not in status, "stopping the pod for the cancel is not a failure"
    assert status["usage"]["executionSeconds"] > 0

    p = await w.reconcile("j")  # final: cleanup
    assert p.writes() == ["delete_secret"]
    assert p.of("delete_secret")[0].args == {"namespace": NS, "name": builders.secret_name(job_id)}


async def test_deleting_an_executing_pod_job_stops_the_pod_first() -> None:
    w = World()
    job_id = await _started_pod_job(w)
    await w.kube.delete_custom("QuantumJob", NS, "j")
    w.store.put("QuantumJob", w.job("j"))
    p = await w.reconcile("j")
    assert p.writes() == ["delete_job"], "the finalizer stays while the pod runs"
    w.pod("j", "Failed", started=_hours_ago(0.1), finished=_hours_ago(0.01), exit_code=143)
    p = await w.reconcile("j")
    assert p.writes() == ["event", "delete_secret", "patch_meta"]
    assert p.of("delete_secret")[0].args["name"] == builders.secret_name(job_id)
    assert w.kube.get("QuantumJob", NS, "j") is None


async def test_a_job_cancelled_after_a_restart_whose_solver_job_the_old_process_deleted_loses_its_secret() -> None:
    w = World()
    job_id = await _started_pod_job(w)
    w.edit_spec("j", cancel=True)
    await w.reconcile("j")  # the old process deletes the solver Job ...
    assert w.status("j")["state"] == "Executing"
    w.restart()  # ... and is killed before it saw the pod stop
    w.store.forget_job_children(job_id)
    p = await w.reconcile("j")
    assert w.status("j")["state"] == "Cancelled"
    p = await w.reconcile("j")
    assert [c.args["name"] for c in p.of("delete_secret")] == [builders.secret_name(job_id)]


async def test_a_cancelled_job_whose_solver_job_is_gone_has_its_orphaned_pod_deleted_once() -> None:
    """The old process deleted the solver Job and was killed; the garbage collector has not yet taken the pod
    (it lags after an API server restart): the new process deletes the pod itself, once, and the job is
    Cancelled when the pod has stopped."""
    w = World()
    job_id = await _started_pod_job(w)
    w.edit_spec("j", cancel=True)
    await w.reconcile("j")
    w.restart()
    w.store.batch_jobs.pop(job_id, None)  # the watch delivered the solver Job's deletion; its pod runs on
    p = await w.reconcile("j")
    assert [c.args for c in p.of("delete_pod")] == [{"namespace": NS, "name": f"kuantum-{job_id}-abcde"}]
    assert not p.of("delete_job"), "no solver Job left to delete"
    assert w.status("j")["state"] == "Executing", "cancelled only when the pod has stopped"
    assert (f"{NS}/j", STOP_POLL_SECONDS) in w.enqueued_after
    p = await w.reconcile("j")
    assert not p.of("delete_pod"), "deleted once"
    w.pod("j", "Failed", started=_hours_ago(0.1), finished=_hours_ago(0.0), exit_code=143)
    await w.reconcile("j")
    assert w.status("j")["state"] == "Cancelled"


async def test_a_pod_whose_solver_job_the_store_has_not_seen_yet_is_not_deleted() -> None:
    """After a restart the pod watch may deliver before the Job watch: a pod deleted under a live solver Job would
    be replaced by the Job controller (a second run), so the API server is asked first."""
    w = World()
    job_id = await _started_pod_job(w)
    w.restart()
    w.store.batch_jobs.pop(job_id, None)  # not relisted yet; the API server still has it
    w.edit_spec("j", cancel=True)
    p = await w.reconcile("j")
    assert not p.of("delete_pod")
    assert [c.args["name"] for c in p.of("job_exists")] == [builders.child_name(job_id)]


async def test_a_cancelled_job_with_its_solver_job_alive_leaves_the_pod_to_it() -> None:
    w = World()
    await _started_pod_job(w)
    w.edit_spec("j", cancel=True)
    p = await w.reconcile("j")
    p = await w.reconcile("j")
    assert not p.of("delete_pod"), "the solver Job's deletion stops its pod"


async def test_a_job_whose_launch_a_killed_process_left_half_done_loses_its_secret_when_cancelled() -> None:
    """SIGKILLed between creating the SAS Secret and the solver Job (seen in the component-fault test): the new
    process sees a waiting job with no child; cancelled, it must not leave the Secret (a 24 h write token)."""
    w = World()
    w.qio_job("j")
    w.kube.fail_next["create_job"] = [ConnectionError("killed")]
    with pytest.raises(ConnectionError):
        await w.reconcile("j")
    job_id = w.job_id("j")
    assert (NS, builders.secret_name(job_id)) in w.kube.secrets
    w.restart()
    w.edit_spec("j", cancel=True)
    await w.reconcile("j")
    assert w.status("j")["state"] == "Cancelled"
    await w.reconcile("j")
    assert (NS, builders.secret_name(job_id)) not in w.kube.secrets


# ------------------------------------------------------------------------------------------------------ final
async def test_final_job_deletes_its_sas_secret_once() -> None:
    w = World()
    w.qio_job("j")
    await w.reconcile("j")
    job_id = w.job_id("j")
    assert (NS, builders.secret_name(job_id)) in w.kube.secrets
    w.deliver_children()
    w.pod("j", "Succeeded", started=_hours_ago(0.1), finished=_hours_ago(0.05))
    w.storage.put_blob(container_name(job_id), OUTPUT_BLOB, b"{}")
    await w.reconcile("j")
    p = await w.reconcile("j")
    # It ended minutes ago, past child_retention_seconds: the solver Job (and so its pod) goes too, once.
    assert p.writes() == ["delete_secret", "delete_job"]
    assert p.of("delete_job")[0].args["name"] == builders.child_name(job_id)
    assert not w.kube.secrets
    w.kube.batch_jobs.clear()
    w.store.batch_jobs.pop(job_id, None)  # as the watch delivers the deletion
    assert (await w.reconcile("j")).writes() == []


async def test_a_just_finished_jobs_solver_job_is_kept_for_its_logs_then_deleted() -> None:
    w = World()
    w.qio_job("j")
    await w.reconcile("j")
    job_id = w.job_id("j")
    w.deliver_children()
    w.pod("j", "Succeeded", started=_hours_ago(0.001), finished=now_iso())
    w.storage.put_blob(container_name(job_id), OUTPUT_BLOB, b"{}")
    await w.reconcile("j")
    p = await w.reconcile("j")
    assert p.writes() == ["delete_secret"], "the SAS Secret goes at once"
    later = [delay for key, delay in w.enqueued_after if key == f"{NS}/j"]
    assert later and 0 < max(later) <= w.settings.child_retention_seconds + 1


async def test_final_job_after_a_restart_still_deletes_its_sas_secret() -> None:
    w = World()
    w.qio_job("j")
    await w.reconcile("j")
    w.deliver_children()
    w.pod("j", "Failed", started=_hours_ago(0.1), finished=_hours_ago(0.05), message='{"code": "X", "message": "y"}')
    await w.reconcile("j")
    w.restart()  # the new process knows only what the watch lists
    p = await w.reconcile("j")
    assert p.of("delete_secret")
