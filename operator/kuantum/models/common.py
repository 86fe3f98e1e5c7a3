"""Pieces shared by the kinds."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

API_GROUP = "kuantum.dev"
API_VERSION = "v1alpha1"
FINALIZER = "kuantum.dev/cleanup"
# Who created a QuantumJob, when it was a client with Azure Quantum's expectations (the REST gateway):
# such a job fails at once where a GitOps-applied one waits for what is missing (e.g. its Provider).
ANNOTATION_CREATED_BY = f"{API_GROUP}/created-by"
GATEWAY = "kuantum-gateway"
# When the gateway accepted a job, to the microsecond: creationTimestamp has whole seconds, and Azure runs a
# client's jobs in the order it submitted them, also within one second (objects.JobObject.queue_time).
ANNOTATION_SUBMITTED_AT = f"{API_GROUP}/submitted-at"
LABEL_WORKSPACE = "kuantum.dev/workspace"
LABEL_PROVIDER = "kuantum.dev/provider"
LABEL_TARGET = "kuantum.dev/target"
LABEL_JOB_ID = "kuantum.dev/job-id"
LABEL_POOL = "kuantum.dev/pool"  # a solver pool's workers (execution/pool/)


class Model(BaseModel):
    """Base: camelCase field names on the wire (they are the Kubernetes field names), unknown keys kept out."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True, use_enum_values=True)


class KeyRef(Model):
    """A key of a Secret or ConfigMap in the same namespace."""

    name: str = Field(min_length=1, description="Name of the object, in the same namespace.")
    key: str = Field(min_length=1, description="Key within the object's data.")


class Condition(Model):
    """A kstatus-style condition (Ready, Reconciling, Stalled and kind-specific types)."""

    type: str = Field(description="Condition type, e.g. Ready, Reconciling, Stalled, Queued.")
    status: Literal["True", "False", "Unknown"] = Field(description="True, False or Unknown.")
    reason: str = Field(default="", description="CamelCase reason, stable for automation.")
    message: str = Field(default="", description="Human-readable explanation.")
    lastTransitionTime: str | None = Field(default=None, description="When status last changed (RFC 3339).")
    observedGeneration: int | None = Field(default=None, description="Generation the condition was set for.")
