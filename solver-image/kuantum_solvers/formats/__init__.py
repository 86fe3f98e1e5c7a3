"""What the operator shares with the solver: input readers, gate tables, result formats, the target catalog with
its parameter checks, and the pod contract. Light by rule: numpy, openqasm3 (with its ANTLR runtime) and pyqir,
never an engine (numba, the simulator, qutip, the QDK, cupy)."""
