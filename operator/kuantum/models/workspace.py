"""QuantumWorkspace: a workspace with its blob storage, like an Azure Quantum workspace."""

from __future__ import annotations

from pydantic import Field

from .common import Condition, KeyRef, Model


class StorageSpec(Model):
    connectionStringSecretRef: KeyRef = Field(
        description="Secret key holding an Azure Storage (or Azurite) connection string.")


class GatewaySpec(Model):
    apiKeySecretRef: KeyRef = Field(
        description="Secret key holding the API key clients send as x-ms-quantum-api-key to the REST gateway.")


class QuantumWorkspaceSpec(Model):
    storage: StorageSpec = Field(description="Blob storage that holds job inputs and outputs.")
    gateway: GatewaySpec | None = Field(
        default=None, description="Serve this workspace through the Azure Quantum REST gateway (kuantum-gateway).")


class WorkspaceProvider(Model):
    name: str = Field(description="Name of the Provider object.")
    providerId: str = Field(description="Canonical provider id.")
    ready: bool = Field(default=False, description="Whether the Provider is Ready.")


class QuantumWorkspaceStatus(Model):
    observedGeneration: int | None = None
    conditions: list[Condition] = Field(default_factory=list)
    storageAccount: str | None = Field(default=None, description="Account name of the connected storage.")
    providers: list[WorkspaceProvider] = Field(default_factory=list, description="Providers of this workspace.")
    jobCounts: dict[str, int] = Field(default_factory=dict, description="Number of jobs by state.")
