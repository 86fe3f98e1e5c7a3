"""Pasqal on Azure Quantum: pulser sequences (`pasqal.pulser.v1`) → `pasqal.pulser-results.v1`.

`sequence` reads and checks a job with pulser-core (no emulator imported); `run` emulates it with
pulser-simulation (qutip). Both need the `engines` extra: pulser-core brings scipy and matplotlib, which the
operator (the formats' other user) has no use for.
"""
