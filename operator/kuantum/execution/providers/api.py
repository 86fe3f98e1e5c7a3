"""What every provider API client offers the execution backends, and the errors it raises.

A provider client speaks one provider's public HTTP API and nothing else: no Kubernetes, no blob
storage. The backends (operator/kuantum/execution/) turn what it reports into lifecycle events.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, Protocol


class RemoteState(StrEnum):
    """A provider job's status, mapped onto Azure Quantum's states."""

    WAITING = "Waiting"
    EXECUTING = "Executing"
    SUCCEEDED = "Succeeded"
    FAILED = "Failed"
    CANCELLED = "Cancelled"


@dataclass(frozen=True)
class RemoteJob:
    """One job as the provider reports it."""

    id: str
    state: RemoteState
    created: datetime | None = None  # the provider's creation time (timezone-aware UTC)
    marker: str | None = None  # the Kuantum job id found in the job's name or metadata
    failure_code: str | None = None
    failure_message: str | None = None
    raw: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)


@dataclass(frozen=True)
class Program:
    """What to run: the program in the provider's own language, ready for its submit call."""

    target: str  # the Azure target id, e.g. ionq.simulator or quantinuum.sim.h2-1sc
    body: Any  # IonQ: the JSON circuit {"qubits", "circuit", "gateset"}; Quantinuum: OpenQASM 2 text
    shots: int
    name: str  # carries the marker
    marker: str  # the Kuantum job id: put in the provider job's name and metadata, found again by find()
    registers: dict[str, int] = field(default_factory=dict)  # classical registers (name -> width), for results
    source: bytes = field(default=b"", repr=False)  # the job's input as submitted (QIR results map back onto it)


class ProviderError(Exception):
    """A call to a provider failed. `retryable` is False only for answers that will not change by asking again."""

    def __init__(self, code: str, message: str, status: int | None = None, retryable: bool = True) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.status = status
        self.retryable = retryable


class CredentialsRejected(ProviderError):
    """401/403, a missing key, or a login the provider refused. Never retried until the Secret changes."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__("CredentialsRejected", message, status, retryable=False)


class RequestRejected(ProviderError):
    """Another 4xx: the provider refuses this request as it is (bad program, unknown target). Never retried."""

    def __init__(self, code: str, message: str, status: int | None = None) -> None:
        super().__init__(code, message, status, retryable=False)


class ProviderUnavailable(ProviderError):
    """Retries ran out (connection errors, 5xx, 429, malformed answers, the call's deadline).

    For a submit the outcome is unclear: the job may exist. The caller looks for it with find() first.
    """

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__("ProviderUnavailable", message, status, retryable=True)


class ProviderApi(Protocol):
    """One provider's API, as the remote execution backend uses it."""

    async def submit(self, program: Program) -> str:
        """POSTs the job; returns the provider's job id. Raises ProviderUnavailable when the outcome is unclear."""

    async def find(self, marker: str, not_before: datetime) -> RemoteJob | None:
        """The provider's job carrying marker, created at or after not_before (pages the job list), or None."""

    async def get(self, remote_id: str) -> RemoteJob:
        """The job's current status."""

    async def cancel(self, remote_id: str) -> None:
        """Asks the provider to cancel; an already final job is not an error."""

    async def results(self, remote_id: str, program: Program) -> bytes:
        """The finished job's results as the output blob, in the target's Azure output format."""

    async def availability(self) -> dict[str, str]:
        """Azure target id -> Available | Degraded | Unavailable, from the provider's status endpoint."""

    async def aclose(self) -> None:
        """Closes the connection pool."""
