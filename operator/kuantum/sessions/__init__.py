"""Azure Quantum sessions: the policy of a session (pure), what it means for its jobs, its reconciler."""
