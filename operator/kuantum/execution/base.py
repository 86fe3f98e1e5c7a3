"""The execution backend interface: what the job reconciler asks of every way of running a job."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from ..jobs.statemachine import Event
from ..jobs.validation import Resolved
from ..models import QuantumJobSpec, QuantumJobStatus
from ..objects import JobObject, ProviderObject
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


@dataclass(frozen=True)
class Cancellation:
    """What a cancel did: done once nothing of the run is left running (the job is then Cancelled); else when
    to look again (None: an event will come)."""

    done: bool
    recheck_after: float | None = None


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
