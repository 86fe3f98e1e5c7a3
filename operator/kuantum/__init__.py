"""Kuantum: the Azure Quantum job model as Kubernetes custom resources."""

__version__ = "0.1.0"
