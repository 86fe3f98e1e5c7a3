"""Rigetti on Azure Quantum: Quil programs (`rigetti.quil.v1`) and Q# programs (`rigetti.qir.v1`, `qir.v1`).

`quil` reads and checks a job (quil and numpy, no numba); `run` executes it on the statevector simulator. The
parameter checks are a format (formats/params/rigetti.py), since the catalog's `validate_params` runs them.
"""
