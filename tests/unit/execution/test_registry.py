"""The backends the registry holds, the optional capabilities each offers, and a backend that offers none:
the job reconciler drives it through the Backend interface alone."""

from __future__ import annotations

from kuantum.catalog import IONQ
from kuantum.execution.base import (
    Cancellation,
    DeferredSubmit,
    ExecutionClock,
    Observation,
    ProbesAvailability,
    Run,
    StopsWithoutRun,
)
from kuantum.jobs.statemachine import Completed, Started
from kuantum.models import QuantumJobStatus
from kuantum.objects import JobObject
from kuantum.runtime.timeutil import now_iso

from tests.support.job_world import IONQ_SIM, NS, World


def test_each_backend_offers_the_capabilities_it_implements() -> None:
    w = World()
    pod, remote = w.backends.pod, w.remote
    assert isinstance(pod, ExecutionClock) and isinstance(pod, StopsWithoutRun)
    assert not isinstance(pod, DeferredSubmit) and not isinstance(pod, ProbesAvailability)
    assert isinstance(remote, DeferredSubmit) and isinstance(remote, ProbesAvailability)
    assert not isinstance(remote, ExecutionClock) and not isinstance(remote, StopsWithoutRun)
    assert w.backends.prober(IONQ) is not None
    assert w.backends.prober("microsoft-qio") is None, "local targets have no provider to ask"


class Plain:
    """Only what every backend does: no capability."""

    name = "plain"

    def __init__(self) -> None:
        self.calls: list[str] = []
        self.done = False

    async def submit(self, run: Run) -> Observation:
        self.calls.append("submit")
        return Observation((Started(now_iso()),), recheck_after=7.0)

    async def observe(self, run: Run) -> Observation:
        self.calls.append("observe")
        if self.done:
            return Observation((Completed(f"{run.storage.blob_url(run.job_id, 'outputData')}", now_iso(),
                                          {"executionSeconds": 1.0}),))
        return Observation((), recheck_after=7.0)

    async def cancel(self, run: Run) -> Cancellation:
        self.calls.append("cancel")
        return Cancellation(True)

    async def cleanup(self, job: JobObject, status: QuantumJobStatus) -> float | None:
        self.calls.append("cleanup")
        return None


async def test_a_backend_without_capabilities_is_driven_through_the_interface_alone() -> None:
    w = World()
    plain = Plain()
    w.backends._by_name[IONQ] = plain
    w.add_provider("ionq", IONQ)
    w.ionq_job("j", target=IONQ_SIM)
    p = await w.reconcile("j")
    assert plain.calls == ["submit"] and w.status("j")["state"] == "Executing"
    assert p.result.requeue_after == 7.0, "the backend's Observation says when to look again"
    plain.done = True
    await w.reconcile("j")
    assert plain.calls[-1] == "observe" and w.status("j")["state"] == "Succeeded"
    await w.reconcile("j")
    assert "cleanup" in plain.calls


async def test_a_cancel_without_capabilities_observes_first_then_cancels() -> None:
    """Without DeferredSubmit a job is observed before it is cancelled (nothing could send it twice)."""
    w = World()
    plain = Plain()
    w.backends._by_name[IONQ] = plain
    w.add_provider("ionq", IONQ)
    w.ionq_job("j", target=IONQ_SIM)
    await w.reconcile("j")
    w.edit_spec("j", cancel=True)
    await w.reconcile("j")
    assert plain.calls[-2:] == ["observe", "cancel"]
    assert w.status("j")["state"] == "Cancelled"
    assert w.store.jobs[f"{NS}/j"].status.state == "Cancelled"
