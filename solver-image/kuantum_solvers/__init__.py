"""Kuantum's solver package: its formats (`formats/`, which the operator imports too) and its engines (QIO
solvers, statevector circuit simulator, Rigetti, Pasqal and resource-estimator targets, behind `kuantum-solve`)."""

__version__ = "0.1.0"
