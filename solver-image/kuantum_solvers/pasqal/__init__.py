"""Pasqal on Azure Quantum: pulser sequences (`pasqal.pulser.v1`) → `pasqal.pulser-results.v1`.

`sequence` reads and checks a job with pulser-core (no emulator imported: the operator may use it);
`run` emulates it with pulser-simulation (qutip).
"""
