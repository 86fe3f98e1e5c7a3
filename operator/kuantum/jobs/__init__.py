"""QuantumJobs: the state machine, validation, inputs, and the reconciler that moves a job along."""
