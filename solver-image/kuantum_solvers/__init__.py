"""Kuantum solver/simulator image: QIO solvers and a statevector circuit simulator."""

__version__ = "0.1.0"
