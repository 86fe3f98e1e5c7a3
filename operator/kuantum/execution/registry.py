"""Which backend runs a job: the catalog names each target's backend; a Provider may emulate a hardware
target locally (`spec.targets[].backend: local`). Adding a provider is a folder and a line here.

What runs where: solver and simulator targets and the resource estimator in solver pods (pod/); IonQ's and
Quantinuum's targets through their APIs (providers/), or in pods where a Provider emulates them; Rigetti's and
Pasqal's QPU targets only in pods, emulated: Kuantum has no adapter for their hardware, so without
`backend: local` such a target is unavailable (`unavailable_reason`) and its jobs fail saying so."""

from __future__ import annotations

from ..catalog import Target
from ..jobs.validation import JobInvalid
from ..objects import ProviderObject
from ..runtime.settings import Settings
from ..runtime.writer import Kube
from .base import Backend, ProbesAvailability, Slots
from .pod.backend import Children, PodBackend, target_override
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


class Backends:
    def __init__(self, children: Children, kube: Kube, settings: Settings, slots: Slots) -> None:
        self.pod = PodBackend(children, kube, settings, slots)
        self._by_name: dict[str, Backend] = {"pod": self.pod, "ionq": ionq.backend(kube),
                                             "quantinuum": quantinuum.backend(kube)}

    def for_target(self, target: Target, provider: ProviderObject | None) -> Backend:
        """The backend that runs the target's jobs; JobInvalid(TargetUnavailable) where none does."""
        if emulated(target, provider):
            return self.pod
        if target.backend is None:
            name = provider.meta.name if provider is not None else target.provider
            raise JobInvalid(TARGET_UNAVAILABLE, str(unavailable_reason(target, name, False)))
        return self._by_name[target.backend]

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
