"""Which backend runs a job: the catalog names each target's backend; a Provider may emulate a remote
target locally (`spec.targets[].backend: local`). Adding a provider is a folder and a line here."""

from __future__ import annotations

from ..catalog import Target
from ..objects import ProviderObject
from ..runtime.settings import Settings
from ..runtime.writer import Kube
from .base import Backend, ProbesAvailability, Slots
from .pod.backend import Children, PodBackend, target_override
from .providers.ionq import backend as ionq
from .providers.quantinuum import backend as quantinuum

LOCAL = "local"


class Backends:
    def __init__(self, children: Children, kube: Kube, settings: Settings, slots: Slots) -> None:
        self.pod = PodBackend(children, kube, settings, slots)
        self._by_name: dict[str, Backend] = {"pod": self.pod, "ionq": ionq.backend(kube),
                                             "quantinuum": quantinuum.backend(kube)}

    def for_target(self, target: Target, provider: ProviderObject | None) -> Backend:
        if provider is not None and target_override(provider, target.id).backend == LOCAL:
            return self.pod
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
