"""QuantumWorkspaces and their Providers: the reconcilers that keep their status."""
