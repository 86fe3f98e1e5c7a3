"""The execution backend interface: what the job reconciler asks of every way of running a job.

`Backend` is what every backend does. A backend may also offer optional capabilities (small protocols below,
as kueue's jobframework asks its integrations): the reconciler asks for one with isinstance and never names a
backend. What a backend is given is narrow too (`Slots`, the store's reads, the kube writer, settings), never
the reconcilers' whole context.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from ..jobs.statemachine import Event
from ..jobs.validation import Resolved
from ..models import QuantumJobSpec, QuantumJobStatus
from ..objects import JobObject, ProviderObject
from ..runtime.timeutil import seconds_between
from ..storage.blobs import WorkspaceStorage


class Pending(Exception):
    """Something the job needs does not exist yet; the job waits with a condition that says what."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


@dataclass(frozen=True)
class Run:
    """One job as a backend sees it: the object, its typed spec and status, its target and its storage."""

    job: JobObject
    spec: QuantumJobSpec
    status: QuantumJobStatus
    resolved: Resolved
    provider: ProviderObject
    storage: WorkspaceStorage

    @property
    def job_id(self) -> str:
        return str(self.status.id)

    @property
    def namespace(self) -> str:
        return self.job.meta.namespace


@dataclass(frozen=True)
class Observation:
    """What a backend saw: lifecycle events to apply (maybe none), and when to look again if nothing will
    wake the job (a watch event does for pods; a remote provider must be polled)."""

    events: tuple[Event, ...] = ()
    recheck_after: float | None = None
    # Other objects (kind, namespace/name) what it saw concerns, to reconcile now: e.g. the Provider whose
    # credentials the provider just refused on a job's call.
    wake: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Cancellation:
    """What a cancel did: done once nothing of the run is left running (the job is then Cancelled); else when
    to look again (None: an event will come)."""

    done: bool
    recheck_after: float | None = None


def usage_between(begin: str | None, end: str | None) -> dict[str, float]:
    """A run's billed usage: its execution seconds."""
    if not begin or not end:
        return {"executionSeconds": 0.0}
    return {"executionSeconds": round(seconds_between(begin, end), 3)}


class Backend(Protocol):
    name: str

    async def submit(self, run: Run) -> Observation:
        """Starts the admitted job. Idempotent: deterministic names, or a submission recorded first."""

    async def observe(self, run: Run) -> Observation:
        """The next lifecycle events of a launched job (Started, Completed, Failed, a submission note)."""

    async def cancel(self, run: Run) -> Cancellation:
        """Stops the job's run; done once nothing of it runs any more (then the job is Cancelled)."""

    async def cleanup(self, job: JobObject, status: QuantumJobStatus) -> float | None:
        """Removes what the run left behind once the job is final or deleted (credentials); idempotent. Returns
        when to look again for what is kept a while (a solver Job kept for its logs), else None."""


# ---------------------------------------------------------------------------------------------- capabilities
@runtime_checkable
class DeferredSubmit(Protocol):
    """A backend whose submit only records the attempt and whose observe sends the job: a job cancelled before
    it was sent is cancelled without being observed (that would send it)."""

    def sent(self, run: Run) -> bool:
        """Whether the job reached the backend's provider (it confirmed the job)."""


@runtime_checkable
class ExecutionClock(Protocol):
    """A backend that knows when a run began before the job's status does (a container's start)."""

    def execution_began(self, job_id: str) -> str | None: ...


@runtime_checkable
class StopsWithoutRun(Protocol):
    """A backend that can stop a job's run from the job alone, when what a Run needs (its Provider, storage,
    target) is gone: a job deleted then is still stopped."""

    async def stop(self, job: JobObject, job_id: str) -> Cancellation: ...


@dataclass(frozen=True)
class Probe:
    """What a provider's status endpoint said: availability per Azure target id (None: unknown), and a
    credentials problem (reason, message) when the provider refused them or they are missing."""

    availability: dict[str, str] | None
    credentials_reason: str | None
    message: str | None


@runtime_checkable
class ProbesAvailability(Protocol):
    """A backend that asks its provider which targets are available and whether it accepts the credentials."""

    probe_seconds: float  # an answer stands this long: the Provider is looked at again after it

    async def probe(self, provider: ProviderObject) -> Probe: ...


# ---------------------------------------------------------------------------------------------- what backends get
class Slots(Protocol):
    """The slot owner, as a backend that launches jobs sees it."""

    def claim(self, job: JobObject) -> None: ...
    def unclaim(self, job: JobObject) -> None: ...
    def claimed(self, job: JobObject) -> bool: ...
    def has_child(self, job: JobObject) -> bool: ...


class SecretReader(Protocol):
    """Reads a Secret or ConfigMap (a provider's credentials)."""

    async def read_data_object(self, kind: str, namespace: str, name: str) -> dict[str, Any] | None: ...
