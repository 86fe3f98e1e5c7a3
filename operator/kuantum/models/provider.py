"""Provider: a provider added to a workspace, with one billing plan, like in Azure Quantum."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from .common import Condition, KeyRef, Model


class PlanLimits(Model):
    maxConcurrentJobs: int | None = Field(default=None, ge=1, description="Jobs executing at once.")
    maxJobsPerMonth: int | None = Field(default=None, ge=0, description="Jobs submitted per calendar month.")
    maxExecutionSecondsPerMonth: int | None = Field(
        default=None, ge=0, description="Execution seconds per calendar month.")


class BillingPlan(Model):
    name: str = Field(default="default", description="Plan name, as the provider's offering names it.")
    limits: PlanLimits = Field(default_factory=PlanLimits, description="Limits of the plan; unset means unlimited.")


class TargetOverride(Model):
    id: str = Field(description="Target id, e.g. microsoft.simulatedannealing.cpu.")
    available: bool | None = Field(default=None, description="Set false to take the target out of service.")
    cpu: str | None = Field(default=None, description="CPU request of the target's pods, e.g. 500m.")
    memory: str | None = Field(default=None, description="Memory request and limit of the target's pods, e.g. 1Gi.")
    image: str | None = Field(default=None, description="Solver image for this target.")
    backend: Literal["remote", "local"] | None = Field(
        default=None, description="local: run a hardware target's jobs on a local simulator pod (emulation, "
                                  "same formats); remote (default for hardware targets): the provider's API. "
                                  "Rigetti's and Pasqal's QPU targets run only with local.")
    gpus: int | None = Field(
        default=None, ge=1,
        description="NVIDIA GPUs (nvidia.com/gpu) per pod of the target. The solver image (built with its gpu "
                    "extra) runs quadratic QIO problems with many replicas on a GPU it sees.")


class ProviderSpec(Model):
    workspace: str = Field(min_length=1, description="Name of the QuantumWorkspace in this namespace.")
    providerId: str = Field(min_length=1, description="Provider id (case-insensitive; Azure aliases accepted).")
    billingPlan: BillingPlan = Field(default_factory=BillingPlan, description="The provider's billing plan.")
    credentialsSecretRef: KeyRef | None = Field(default=None, description="Credentials of a remote provider.")
    endpoint: str | None = Field(default=None, description="Override of a remote provider's API URL.")
    targets: list[TargetOverride] = Field(default_factory=list, description="Per-target overrides.")


class TargetStatus(Model):
    id: str
    kind: Literal["solver", "simulator", "qpu", "estimator"]
    inputFormats: list[str] = Field(default_factory=list)
    outputFormat: str
    hardware: Literal["CPU", "GPU", "FPGA", "QPU"]
    cancelWhileExecuting: bool
    availability: Literal["Available", "Degraded", "Unavailable"]
    backend: str | None = Field(default=None, description="What runs its jobs: pod (a solver pod in the job's "
                                                          "namespace) or the provider's API (ionq, quantinuum); "
                                                          "unset where nothing does.")
    emulated: bool | None = Field(default=None, description="True where a hardware target's jobs run on a local "
                                                            "simulator (backend: local).")
    qubits: int | None = Field(default=None, description="The most qubits (atoms) a job may use.")
    message: str | None = Field(default=None, description="Why the target is unavailable, where Kuantum knows.")
    queueDepth: int = 0
    running: int = 0
    queue: list[str] = Field(default_factory=list, description="The first waiting jobs, in the order they run "
                                                                "(names; at most 50): each one's true queue position.")


class ProviderUsage(Model):
    period: str = Field(description="Calendar month the counters are for (YYYY-MM, UTC).")
    jobs: int = 0
    executionSeconds: float = 0.0
    maxJobsPerMonth: int | None = None
    maxExecutionSecondsPerMonth: int | None = None


class ProviderStatus(Model):
    observedGeneration: int | None = None
    providerId: str | None = Field(default=None, description="Canonical provider id.")
    conditions: list[Condition] = Field(default_factory=list)
    targets: list[TargetStatus] = Field(default_factory=list)
    usage: ProviderUsage | None = None
