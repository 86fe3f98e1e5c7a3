"""Compile every numba kernel once (run at image build time so pods start from a warm cache)."""

from __future__ import annotations

import json
from typing import Any

from kuantum_solvers.circuits.run import run_circuit
from kuantum_solvers.formats.targets import TARGETS, validate_params
from kuantum_solvers.qio.run import run_qio
from kuantum_solvers.qio.solvers.common import Context

_ISING: dict[str, Any] = {"cost_function": {"version": "1.0", "type": "ising", "terms": [
    {"c": 1, "ids": [0, 1]}, {"c": -1, "ids": [1, 2]}, {"c": 0.5, "ids": [0]}]}}
# Coefficients off the power-of-two grid: the float64 variants of the quadratic kernels.
_ISING_REAL: dict[str, Any] = {"cost_function": {"version": "1.0", "type": "ising", "terms": [
    {"c": 0.1, "ids": [0, 1]}, {"c": -0.3, "ids": [1, 2]}, {"c": 0.7, "ids": [0]}]}}
_KLOCAL: dict[str, Any] = {"cost_function": {"version": "1.0", "type": "pubo", "terms": [
    {"c": 1, "ids": [0, 1, 2]}, {"c": -1, "ids": [1, 2]}, {"c": -0.5, "ids": [0]}]}}
_CIRCUIT: dict[str, Any] = {"qubits": 3, "circuit": [
    {"gate": "h", "target": 0}, {"gate": "cnot", "control": 0, "target": 1}, {"gate": "x", "target": 2},
    {"gate": "rz", "target": 1, "rotation": 0.3}, {"gate": "swap", "targets": [0, 2]},
    {"gate": "t", "target": 0}, {"gate": "s", "target": 1}, {"gate": "rz", "control": 0, "target": 2, "rotation": 1},
]}
_NATIVE: dict[str, Any] = {"qubits": 2, "gateset": "native", "circuit": [
    {"gate": "gpi2", "target": 0, "phase": 0.1}, {"gate": "ms", "targets": [0, 1], "phases": [0, 0.2]}]}
_QASM = 'OPENQASM 2.0;\ninclude "qelib1.inc";\nqreg q[2];\ncreg c[2];\nh q[0];\nmeasure q[0] -> c[0];\n' \
        "if (c==1) x q[1];\nmeasure q[1] -> c[1];\n"


def main() -> None:
    quiet = Context(progress=lambda _line: None)
    for target, spec in TARGETS.items():
        if spec["kind"] != "solver":
            continue
        inner = {"seed": 1, "timeout": 0.2} if "-parameterfree" in target else {"seed": 1}
        for doc in (_ISING, _ISING_REAL, _KLOCAL):
            run_qio(target, json.dumps(doc).encode(), validate_params(target, {"params": inner}), quiet)
    for doc in (_CIRCUIT, _NATIVE):
        run_circuit("ionq.circuit.v1", json.dumps(doc).encode(), {})
    run_circuit("honeywell.openqasm.v1", _QASM.encode(), {"shots": 5, "seed": 1})
    run_circuit("honeywell.openqasm.v1", _QASM.replace("if (c==1) x q[1];\n", "").encode(), {"shots": 5, "seed": 1})


if __name__ == "__main__":
    main()
