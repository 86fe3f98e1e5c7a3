"""Quantum-inspired optimization (microsoft.qio.v2) solvers."""
