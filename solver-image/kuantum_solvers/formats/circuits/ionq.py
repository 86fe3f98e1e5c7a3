"""`ionq.circuit.v1` → Circuit: IonQ's JSON circuits, "qis" and "native" gate sets, checked gate by gate."""

from __future__ import annotations

from typing import Any

import numpy as np

from kuantum_solvers.formats.circuits import gates as g
from kuantum_solvers.formats.circuits.model import MAX_QUBITS, Circuit, Gate
from kuantum_solvers.formats.errors import invalid_input
from kuantum_solvers.formats.numbers import finite_float, show

# Fixed single-qubit gates of the "qis" gate set.
_FIXED = {
    "x": g.X, "not": g.X, "y": g.Y, "z": g.Z, "h": g.H, "s": g.S, "si": g.SDG, "t": g.T, "ti": g.TDG,
    "v": g.SX, "vi": g.SXDG, "id": g.I2, "i": g.I2,
}
_ROTATIONS = {"rx": g.rx, "ry": g.ry, "rz": g.rz}
# Aliases that qiskit/azure-quantum may emit on the wire.
ALIASES = {"cnot": "x", "cx": "x", "toffoli": "x", "ccx": "x", "mcx": "x", "cz": "z", "cy": "y", "ch": "h",
           "sdg": "si", "tdg": "ti", "sx": "v", "sxdg": "vi", "cv": "v", "crx": "rx", "cry": "ry", "crz": "rz",
           "p": "rz_phase", "cp": "rz_phase", "mcp": "rz_phase", "mcphase": "rz_phase"}


def _qubit(value: Any, n: int, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise invalid_input(f"{where}: qubit indices must be integers, got {show(value)}")
    if not 0 <= value < n:
        raise invalid_input(f"{where}: qubit {value} out of range for a {n}-qubit circuit")
    return value


def _qubits(op: dict[str, Any], single: str, multi: str, n: int, where: str) -> list[int]:
    out: list[int] = []
    if single in op:
        out.append(_qubit(op[single], n, where))
    if multi in op:
        if not isinstance(op[multi], list):
            raise invalid_input(f"{where}: {multi!r} must be a list of qubit indices")
        out.extend(_qubit(q, n, where) for q in op[multi])
    return out


def _angle(op: dict[str, Any], key: str, where: str) -> float:
    if key not in op:
        raise invalid_input(f"{where}: gate {op.get('gate')!r} needs {key!r}")
    value = op[key]
    number = finite_float(value)
    if number is None:
        raise invalid_input(f"{where}: {key!r} must be a finite number, got {show(value)}")
    return number


def parse_circuit(document: Any) -> Circuit:
    if not isinstance(document, dict):
        raise invalid_input("circuit input must be a JSON object with 'qubits' and 'circuit'")
    if "input" in document and isinstance(document["input"], dict):  # IonQ API envelope
        document = document["input"]
    n = document.get("qubits")
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise invalid_input(f"'qubits' must be a positive integer, got {show(n)}")
    if n > MAX_QUBITS:
        raise invalid_input(f"'qubits' is {n}; the simulator supports at most {MAX_QUBITS}")
    gateset = document.get("gateset", "qis")
    if gateset not in ("qis", "native"):
        raise invalid_input(f"'gateset' must be 'qis' or 'native', got {show(gateset)}")
    ops = document.get("circuit")
    if not isinstance(ops, list):
        raise invalid_input("'circuit' must be a list of gate objects")
    circuit = Circuit(n)
    for k, op in enumerate(ops):
        where = f"gate {k}"
        if not isinstance(op, dict) or not isinstance(op.get("gate"), str):
            raise invalid_input(f"{where}: must be an object with a 'gate' name")
        circuit.gates.extend(_gate(op, n, gateset, where))
    return circuit


def _gate(op: dict[str, Any], n: int, gateset: str, where: str) -> list[Gate]:
    """One gate object; a single-qubit gate with several targets acts on each of them."""
    name = op["gate"].lower()
    targets = _qubits(op, "target", "targets", n, where)
    controls = _qubits(op, "control", "controls", n, where)
    if not targets:
        raise invalid_input(f"{where}: gate {name!r} needs 'target' or 'targets'")
    if len(set(targets) | set(controls)) != len(targets) + len(controls):
        raise invalid_input(f"{where}: a qubit appears more than once among targets/controls")
    if name in ("gpi", "gpi2", "ms", "zz"):
        if gateset != "native":
            raise invalid_input(f"{where}: native gate {name!r} needs \"gateset\": \"native\"")
        return [_native(op, name, targets, controls, where)]
    if gateset == "native":
        raise invalid_input(f"{where}: gate {name!r} is not in the native gate set (gpi, gpi2, ms, zz)")
    name = ALIASES.get(name, name)
    if name == "swap":
        if len(targets) != 2:
            raise invalid_input(f"{where}: swap needs exactly 2 targets")
        m = np.array([[1, 0, 0, 0], [0, 0, 1, 0], [0, 1, 0, 0], [0, 0, 0, 1]], dtype=np.complex128)
        return [Gate((targets[0], targets[1]), m, tuple(controls))]
    if name in ("xx", "yy", "zz_qis", "rxx", "ryy", "rzz"):
        fn = {"xx": g.rxx, "rxx": g.rxx, "yy": g.ryy, "ryy": g.ryy, "rzz": g.rzz}.get(name, g.rzz)
        if len(targets) != 2:
            raise invalid_input(f"{where}: {name} needs exactly 2 targets")
        return [Gate((targets[0], targets[1]), fn(_angle(op, "rotation", where)), tuple(controls))]
    if name in _FIXED:
        m = _FIXED[name]
    elif name in _ROTATIONS:
        m = _ROTATIONS[name](_angle(op, "rotation", where))
    elif name == "rz_phase":
        m = g.phase(_angle(op, "rotation", where))
    else:
        raise invalid_input(f"{where}: unknown gate {show(op['gate'])}")
    return [Gate((t,), m, tuple(controls)) for t in targets]


def _native(op: dict[str, Any], name: str, targets: list[int], controls: list[int], where: str) -> Gate:
    if controls:
        raise invalid_input(f"{where}: native gate {name!r} cannot have controls")
    if name in ("gpi", "gpi2"):
        if len(targets) != 1:
            raise invalid_input(f"{where}: {name} takes one target")
        fn = g.gpi if name == "gpi" else g.gpi2
        return Gate((targets[0],), fn(_angle(op, "phase", where)))
    if len(targets) != 2:
        raise invalid_input(f"{where}: {name} needs exactly 2 targets")
    if name == "zz":
        return Gate((targets[0], targets[1]), g.zz(_angle(op, "angle", where)))
    phases = op.get("phases")
    if not isinstance(phases, list) or len(phases) != 2:
        raise invalid_input(f"{where}: ms needs 'phases': [phi0, phi1]")
    p0 = _angle({"p": phases[0]}, "p", where)
    p1 = _angle({"p": phases[1]}, "p", where)
    angle = _angle(op, "angle", where) if "angle" in op else 0.25
    return Gate((targets[0], targets[1]), g.ms(p0, p1, angle))

