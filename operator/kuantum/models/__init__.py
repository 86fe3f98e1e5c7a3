"""pydantic models: the single source of truth for the CRD schemas and the status the operator writes."""

from .common import API_GROUP, API_VERSION, Condition, KeyRef
from .job import ErrorData, JobInput, JobState, Priority, QuantumJobSpec, QuantumJobStatus
from .provider import BillingPlan, PlanLimits, ProviderSpec, ProviderStatus, TargetOverride, TargetStatus
from .session import JobFailurePolicy, QuantumSessionSpec, QuantumSessionStatus, SessionState
from .workspace import QuantumWorkspaceSpec, QuantumWorkspaceStatus, StorageSpec

__all__ = [
    "API_GROUP", "API_VERSION", "BillingPlan", "Condition", "ErrorData", "JobFailurePolicy", "JobInput", "JobState",
    "KeyRef", "PlanLimits", "Priority", "ProviderSpec", "ProviderStatus", "QuantumJobSpec", "QuantumJobStatus",
    "QuantumSessionSpec", "QuantumSessionStatus", "QuantumWorkspaceSpec", "QuantumWorkspaceStatus", "SessionState",
    "StorageSpec", "TargetOverride", "TargetStatus",
]
