"""Which backend runs a job: the catalog names each target's backend; a Provider may emulate a hardware
target locally (`spec.targets[].backend: local`). Adding a provider is a folder and a line here.

What runs where: solver and simulator targets and the resource estimator in solver pods (pod/), or on a pool's
warm workers where pools are on (pool/; a job already running in a pod stays there); IonQ's and
Quantinuum's targets through their APIs (providers/), or in pods where a Provider emulates them; Rigetti's and
Pasqal's QPU targets only in pods, emulated: Kuantum has no adapter for their hardware, so without
`backend: local` such a target is unavailable (`unavailable_reason`) and its jobs fail saying so."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from ..catalog import Target
from ..jobs.validation import JobInvalid
from ..models import QuantumJobStatus
from ..objects import JobObject, ProviderObject
from ..runtime.result import sooner
from ..runtime.settings import Settings
from ..runtime.writer import Kube
from .base import Backend, ProbesAvailability, SecretReader, Slots
from .pod.backend import Children, PodBackend, target_override
from .pool.backend import PoolBackend, WorkerPods
from .providers.ionq import backend as ionq
from .providers.quantinuum import backend as quantinuum

LOCAL = "local"
TARGET_UNAVAILABLE = "TargetUnavailable"


def emulated(target: Target, provider: ProviderObject | None) -> bool:
    """Whether the Provider runs this hardware target's jobs on a local simulator."""
    return provider is not None and target_override(provider, target.id).backend == LOCAL


def unavailable_reason(target: Target, provider_name: str, emulate: bool) -> str | None:
    """Why nothing runs the target's jobs (None: something does): a QPU that Kuantum reaches no API of, which the
    Provider does not emulate."""
    if target.backend is not None or emulate:
        return None
    return (f"target {target.id} is {target.provider}'s hardware, which Kuantum does not reach (it has no adapter "
            f"for {target.provider}'s API): it runs only emulated, on a local simulator (ideal, no noise). Set "
            f"backend: local for {target.id} in Provider {provider_name}'s spec.targets to run its jobs that way")


class Store(Children, WorkerPods, Protocol):
    """What the backends read of the store."""


class Backends:
    def __init__(self, store: Store, kube: Kube, settings: Settings, slots: Slots, secrets: SecretReader,
                 wake: Callable[[str], None]) -> None:
        self.children = store
        self.pod = PodBackend(store, kube, settings, slots)
        self.pool = PoolBackend(store, kube, settings, slots, secrets, wake)
        self._by_name: dict[str, Backend] = {"pod": self.pod, "pool": self.pool, "ionq": ionq.backend(kube),
                                             "quantinuum": quantinuum.backend(kube)}

    def for_target(self, target: Target, provider: ProviderObject | None, job_id: str | None = None) -> Backend:
        """The backend that runs the target's jobs (the job's, where it runs already); JobInvalid(TargetUnavailable)
        where none does."""
        if emulated(target, provider) or target.backend == "pod":
            return self._local(target, provider, job_id)
        if target.backend is None:
            name = provider.meta.name if provider is not None else target.provider
            raise JobInvalid(TARGET_UNAVAILABLE, str(unavailable_reason(target, name, False)))
        return self._by_name[target.backend]

    def _local(self, target: Target, provider: ProviderObject | None, job_id: str | None) -> Backend:
        """A pool's worker or a pod of its own: where the job runs already, else the pool where it takes the job."""
        if job_id is not None and self.pool.owns(job_id):
            return self.pool
        if job_id is not None and job_id in self.children.batch_jobs:
            return self.pod
        return self.pool if self.pool.takes(target, provider) else self.pod

    async def cleanup(self, job: JobObject, status: QuantumJobStatus) -> float | None:
        """What the job's run left behind, cleaned by every backend that may have run it (a pool's job had no solver
        pod's Secret: nothing to delete for it); when to look again, if any backend keeps something a while."""
        again = None
        skip_pod = bool(status.id) and self.pool.ran(str(status.id))
        for backend in self._by_name.values():
            if backend is not self.pod or not skip_pod:
                again = sooner(again, await backend.cleanup(job, status))
        return again

    def prober(self, provider_id: str) -> ProbesAvailability | None:
        """What asks a hardware provider about its targets (None for providers whose targets run in pods)."""
        backend = self._by_name.get(provider_id)
        return backend if isinstance(backend, ProbesAvailability) else None

    def all(self) -> list[Backend]:
        return list(self._by_name.values())

    async def aclose(self) -> None:
        for backend in self._by_name.values():
            close = getattr(backend, "aclose", None)
            if close is not None:
                await close()
