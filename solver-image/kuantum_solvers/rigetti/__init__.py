"""Rigetti on Azure Quantum: Quil programs (`rigetti.quil.v1`) and Q# programs (`rigetti.qir.v1`, `qir.v1`).

`params` and `quil` read and check jobs without any engine (the operator may import them);
`run` executes them on the statevector simulator.
"""
