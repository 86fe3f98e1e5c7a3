"""The provider reconciler: a target's availability changing reaches the jobs already queued for it at once (it
wakes them: the resync revisits queued jobs only every full round); what its CredentialsValid condition and Ready
say without credentials, and after a job's own call was refused or accepted."""

from __future__ import annotations

from typing import Any

from kuantum.catalog import IONQ
from kuantum.execution.providers.api import CredentialsRejected
from kuantum.workspaces.provider_reconciler import ProviderReconciler

from tests.support.job_world import ARIA, IONQ_SIM, NS, SA, World, _condition, _submitted


async def test_jobs_queued_for_a_target_taken_out_of_service_are_revisited_and_wait_with_its_reason() -> None:
    w = World(qio_limits={"maxConcurrentJobs": 1})
    providers = ProviderReconciler(w.ctx, w.backends)
    await w.run(providers, f"{NS}/microsoft-qio")
    for name in ("first", "second"):
        w.qio_job(name)
        await w.reconcile(name)
    assert w.status("second")["state"] == "Waiting"
    assert _condition(w.status("second"), "Queued")["status"] == "True"
    w.enqueued.clear()

    await w.run(providers, f"{NS}/microsoft-qio")
    assert f"{NS}/second" not in w.enqueued, "a counter-only change does not revisit every queued job"

    provider = w.kube.objects[("Provider", NS, "microsoft-qio")]
    provider["spec"]["targets"] = [{"id": SA, "available": False}]
    provider["metadata"]["generation"] = 2
    w.store.put("Provider", w.kube.get("Provider", NS, "microsoft-qio"))
    await w.run(providers, f"{NS}/microsoft-qio")
    assert {t["id"]: t["availability"] for t in w.kube.get("Provider", NS, "microsoft-qio")["status"]["targets"]
            }[SA] == "Unavailable"
    assert f"{NS}/second" in w.enqueued
    w.store.put("Provider", w.kube.get("Provider", NS, "microsoft-qio"))
    await w.reconcile("second")
    queued = _condition(w.status("second"), "Queued")
    assert (queued["status"], queued["reason"]) == ("False", "TargetUnavailable")


# ------------------------------------------------------------------------------------------------ credentials
def _provider_status(w: World, name: str) -> dict[str, Any]:
    return dict(w.kube.get("Provider", NS, name)["status"])


async def test_a_provider_without_credentials_that_emulates_a_target_is_ready_and_says_the_rest_is_unavailable(
        ) -> None:
    w = World()
    w.add_provider("ionq", IONQ, credentials=False, targets=[{"id": IONQ_SIM, "backend": "local"}])
    await w.run(ProviderReconciler(w.ctx, w.backends), f"{NS}/ionq")
    status = _provider_status(w, "ionq")
    assert _condition(status, "Ready")["status"] == "True"
    credentials = _condition(status, "CredentialsValid")
    assert (credentials["status"], credentials["reason"]) == ("False", "NoCredentials")
    assert "no credentialsSecretRef" in credentials["message"]
    availability = {t["id"]: t["availability"] for t in status["targets"]}
    assert availability[IONQ_SIM] == "Available"
    assert availability[ARIA] == "Unavailable"
    assert not w.api.calls, "nothing to ask the provider with"


async def test_a_provider_without_credentials_that_emulates_nothing_is_not_ready() -> None:
    w = World()
    w.add_provider("ionq", IONQ, credentials=False)
    await w.run(ProviderReconciler(w.ctx, w.backends), f"{NS}/ionq")
    ready = _condition(_provider_status(w, "ionq"), "Ready")
    assert (ready["status"], ready["reason"]) == ("False", "NoCredentials")


async def test_credentials_refused_on_a_jobs_call_show_on_the_provider_at_once_and_accepted_ones_clear_it(
        ) -> None:
    """The status endpoint is asked once a probe period; a job's own call refused in between is the provider's
    word too: the job's reconcile wakes the Provider, whose CredentialsValid turns False without waiting."""
    w = World()
    providers = ProviderReconciler(w.ctx, w.backends)
    w.api.availability_map = {IONQ_SIM: "Available"}
    remote_id = await _submitted(w)
    await w.run(providers, f"{NS}/ionq")
    assert _condition(_provider_status(w, "ionq"), "CredentialsValid")["status"] == "True"

    w.enqueued.clear()
    w.api.fail_next["get"] = [CredentialsRejected("401 Unauthorized: key revoked", 401)]
    await w.reconcile("j")
    assert w.status("j")["errorData"]["code"] == "CredentialsRejected"
    assert f"{NS}/ionq" in w.enqueued, "the job's reconcile wakes its Provider"
    w.store.put("Provider", w.kube.get("Provider", NS, "ionq"))
    await w.run(providers, f"{NS}/ionq")
    credentials = _condition(_provider_status(w, "ionq"), "CredentialsValid")
    assert (credentials["status"], credentials["reason"]) == ("False", "CredentialsRejected")
    assert "key revoked" in credentials["message"]

    # The key works again: the next job's accepted call drops the refusal, and the Provider asks again.
    w.ionq_job("k")
    await w.reconcile("k")
    w.enqueued.clear()
    await w.reconcile("k")  # its submit, accepted
    assert remote_id != w.status("k")["providerJobId"]
    assert f"{NS}/ionq" in w.enqueued
    w.store.put("Provider", w.kube.get("Provider", NS, "ionq"))
    await w.run(providers, f"{NS}/ionq")
    assert _condition(_provider_status(w, "ionq"), "CredentialsValid")["status"] == "True"
