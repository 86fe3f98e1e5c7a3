"""A target's availability changing reaches the jobs already queued for it at once: the provider reconciler,
which writes the availability, wakes them (the resync revisits queued jobs only every full round)."""

from __future__ import annotations

from kuantum.workspaces.provider_reconciler import ProviderReconciler

from tests.support.job_world import NS, SA, World, _condition


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
