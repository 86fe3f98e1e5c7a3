"""Which backend runs a job: the catalog names each target's backend; a Provider may emulate a remote
target locally (`spec.targets[].backend: local`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..catalog import Target
from ..objects import ProviderObject
from .base import Backend
from .pod.backend import PodBackend, target_override
from .providers.backend import RemoteBackend
from .providers.ionq import backend as ionq
from .providers.quantinuum import backend as quantinuum

if TYPE_CHECKING:
    from ..context import Context

LOCAL = "local"


class Backends:
    def __init__(self, ctx: Context) -> None:
        self.pod = PodBackend(ctx)
        self._by_name: dict[str, Backend] = {"pod": self.pod, "ionq": ionq.backend(ctx),
                                             "quantinuum": quantinuum.backend(ctx)}

    def for_target(self, target: Target, provider: ProviderObject | None) -> Backend:
        if provider is not None and target_override(provider, target.id).backend == LOCAL:
            return self.pod
        return self._by_name[target.backend]

    def remote(self, provider_id: str) -> RemoteBackend | None:
        """The HTTP backend of a hardware provider (None for providers whose targets run in pods)."""
        backend = self._by_name.get(provider_id)
        return backend if isinstance(backend, RemoteBackend) else None

    def all(self) -> list[Backend]:
        return list(self._by_name.values())

    async def aclose(self) -> None:
        for backend in self._by_name.values():
            close = getattr(backend, "aclose", None)
            if close is not None:
                await close()
