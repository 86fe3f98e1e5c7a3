"""kuantum-gateway: Azure Quantum's data-plane REST API over QuantumJobs, for the unmodified azure-quantum SDK."""
