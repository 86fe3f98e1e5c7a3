"""QuantumSession: a group of jobs on one target, with a failure policy, as Azure Quantum's sessions."""

from __future__ import annotations

from enum import StrEnum

from pydantic import Field

from .common import Condition, Model
from .job import ErrorData, Priority

UUID_PATTERN = r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"


class SessionState(StrEnum):
    """Azure's SessionStatus, spelled as its REST API spells it."""

    WAITING = "Waiting"
    EXECUTING = "Executing"
    SUCCEEDED = "Succeeded"
    FAILED = "Failed"
    FAILURES = "Failure(s)"
    TIMED_OUT = "TimedOut"


FINAL_SESSION_STATES = frozenset({SessionState.SUCCEEDED, SessionState.FAILED, SessionState.TIMED_OUT})


class JobFailurePolicy(StrEnum):
    ABORT = "Abort"
    CONTINUE = "Continue"


class QuantumSessionSpec(Model):
    workspace: str = Field(min_length=1, description="QuantumWorkspace in this namespace.")
    provider: str = Field(min_length=1, description="Provider id (e.g. ionq) or Provider object name.")
    target: str = Field(min_length=1, description="Target id; every job of the session runs on it.")
    name: str | None = Field(default=None, description="Display name (default: the object's name).")
    jobFailurePolicy: JobFailurePolicy = Field(
        default=JobFailurePolicy.ABORT,
        description="Abort: the first failed job ends the session Failed, its waiting jobs are cancelled and "
                    "later jobs refused. Continue: jobs go on; the session shows Failure(s) and ends Failed "
                    "when closed.")
    priority: Priority = Field(default=Priority.STANDARD, description="Standard or High (as Azure records it).")
    tags: list[str] = Field(default_factory=list, description="Free-form tags.")
    close: bool = Field(default=False, description="Set true to close the session: it accepts no new jobs and "
                                                   "ends once its jobs are final.")
    idleTimeoutSeconds: int | None = Field(
        default=None, ge=1,
        description="A session without a new or active job for this long ends TimedOut (default: the "
                    "operator's, 600 s as in Azure Quantum).")
    id: str | None = Field(default=None, pattern=UUID_PATTERN,
                           description="The session's id (a UUID), chosen by the client as Azure Quantum clients "
                                       "do; immutable. Default: derived from the object's uid.")


class QuantumSessionStatus(Model):
    id: str | None = Field(default=None, description="Session id (UUID), unique in the workspace.")
    state: SessionState | None = Field(
        default=None, description="Waiting, Executing, Failure(s), Succeeded, Failed or TimedOut.")
    observedGeneration: int | None = None
    conditions: list[Condition] = Field(default_factory=list)
    creationTime: str | None = None
    beginExecutionTime: str | None = Field(default=None, description="When its first job began executing.")
    endExecutionTime: str | None = Field(default=None, description="When the session ended.")
    closeTime: str | None = Field(
        default=None, description="When the session stopped accepting jobs (closed, failed or timed out): jobs "
                                  "created later are refused.")
    jobCounts: dict[str, int] = Field(default_factory=dict, description="Number of its jobs by state.")
    errorData: ErrorData | None = Field(default=None, description="Why the session failed.")
