"""QuantumJob: one job, with Azure Quantum's fields and states."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from pydantic import Field, model_validator
from pydantic.json_schema import JsonDict

from .common import Condition, KeyRef, Model

# Inline inputs are either a JSON object or a string (OpenQASM text); neither has a fixed schema.
_ANY_JSON: JsonDict = {"x-kubernetes-preserve-unknown-fields": True}


class JobState(StrEnum):
    WAITING = "Waiting"
    EXECUTING = "Executing"
    SUCCEEDED = "Succeeded"
    FAILED = "Failed"
    CANCELLED = "Cancelled"


FINAL_STATES = frozenset({JobState.SUCCEEDED, JobState.FAILED, JobState.CANCELLED})


class Priority(StrEnum):
    STANDARD = "Standard"
    HIGH = "High"


class JobInput(Model):
    """Exactly one source of the job's input data."""

    inline: Any = Field(default=None, json_schema_extra=_ANY_JSON,
                        description="The input itself: a JSON object, or a string such as OpenQASM text.")
    configMapKeyRef: KeyRef | None = Field(default=None, description="A ConfigMap key holding the input.")
    secretKeyRef: KeyRef | None = Field(default=None, description="A Secret key holding the input.")
    blobUri: str | None = Field(default=None, description="URI of a blob already uploaded to the workspace storage.")

    @model_validator(mode="after")
    def _exactly_one(self) -> JobInput:
        given = [n for n in ("inline", "configMapKeyRef", "secretKeyRef", "blobUri") if getattr(self, n) is not None]
        if len(given) != 1:
            raise ValueError(
                "spec.input needs exactly one of inline, configMapKeyRef, secretKeyRef, blobUri"
                + (f" (got {', '.join(given)})" if given else ""))
        return self


class QuantumJobSpec(Model):
    workspace: str = Field(min_length=1, description="QuantumWorkspace in this namespace.")
    provider: str = Field(min_length=1, description="Provider id (e.g. microsoft-qio) or Provider object name.")
    target: str = Field(min_length=1, description="Target id, e.g. microsoft.simulatedannealing.cpu.")
    input: JobInput = Field(description="The job's input data.")
    inputDataFormat: str | None = Field(default=None, description="Input format; defaults to the target's first.")
    outputDataFormat: str | None = Field(default=None, description="Output format; defaults to the target's.")
    inputParams: dict[str, Any] = Field(default_factory=dict, json_schema_extra=_ANY_JSON,
                                        description='Target parameters as Azure Quantum takes them, '
                                                    'e.g. {"params": {"sweeps": 100}} or {"shots": 100}.')
    priority: Priority = Field(default=Priority.STANDARD,
                               description="Standard or High (High runs first); may change while the job waits.")
    cancel: bool = Field(default=False, description="Set true to cancel the job.")
    timeoutSeconds: int | None = Field(default=None, ge=1, description="Execution time limit.")
    ttlSecondsAfterFinished: int | None = Field(
        default=None, ge=0, description="Delete the QuantumJob this long after it finished.")
    tags: list[str] = Field(default_factory=list, description="Free-form tags (may change).")
    name: str | None = Field(default=None, description="Display name, as Azure Quantum's job name (default: the "
                                                       "object's name); may change.")
    session: str | None = Field(default=None, min_length=1,
                                description="The QuantumSession (its name, in this namespace) the job belongs to; "
                                            "immutable. Its jobs run on the session's target, ahead of standalone "
                                            "jobs of the same priority.")
    id: str | None = Field(
        default=None, pattern=r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$",
        description="The job's id (a UUID), chosen by the client as Azure Quantum clients do; immutable. "
                    "Default: derived from the object's uid.")


class ErrorData(Model):
    code: str
    message: str


class CostEstimate(Model):
    currencyCode: str = "USD"
    estimatedTotal: float = 0.0


class QuantumJobStatus(Model):
    id: str | None = Field(default=None, description="Job id (UUID), unique in the workspace.")
    state: JobState | None = Field(default=None, description="Waiting, Executing, Succeeded, Failed or Cancelled.")
    observedGeneration: int | None = None
    conditions: list[Condition] = Field(default_factory=list)
    queuePosition: int | None = Field(default=None, description="1-based position while waiting.")
    inputDataUri: str | None = None
    outputDataUri: str | None = None
    logsUri: str | None = Field(
        default=None, description="The solver's log (its last MiB) in the job's container (job-<id>/logs), kept after "
                                  "its pod is gone: `kuantum logs JOB`.")
    errorData: ErrorData | None = None
    creationTime: str | None = None
    beginExecutionTime: str | None = None
    endExecutionTime: str | None = None
    duration: str | None = Field(default=None, description="Execution time of a finished job, e.g. 12s (printed).")
    cancellationTime: str | None = None
    providerJobId: str | None = Field(default=None, description="The job's id at a remote provider.")
    providerSubmitTime: str | None = Field(
        default=None, description="When the job was first sent to a remote provider (it is searched for there "
                                  "from this time on after an unclear answer, so it is never submitted twice).")
    usage: dict[str, float] | None = Field(default=None, description="Provider-defined usage, e.g. executionSeconds.")
    costEstimate: CostEstimate | None = None
