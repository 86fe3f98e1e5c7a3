"""Target catalog: what each target accepts and which parameters it takes.

Kept as plain data (dicts/lists of JSON-compatible values) so the operator can import it or
serialise it into `Provider.status.targets` without depending on solver internals.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from kuantum_solvers.formats.errors import UNKNOWN_TARGET, SolverError, invalid_params
from kuantum_solvers.formats.numbers import is_number, show
from kuantum_solvers.formats.params import circuit, estimator, rigetti

QIO_INPUT = "microsoft.qio.v2"
QIO_OUTPUT = "microsoft.qio-results.v2"
IONQ_INPUT = "ionq.circuit.v1"
IONQ_OUTPUT = "ionq.quantum-results.v1"
HONEYWELL_QASM = "honeywell.openqasm.v1"
QUANTINUUM_QASM = "quantinuum.openqasm.v1"
HONEYWELL_OUTPUT = "honeywell.quantum-results.v1"
QIR_INPUT = "qir.v1"  # QIR bitcode (or LLVM IR text), as the QDK / azure-quantum submit Q# programs
QIR_OUTPUT = "microsoft.quantum-results.v2"
QIR_OUTPUT_V1 = "microsoft.quantum-results.v1"

SIMULATOR = "kuantum.simulator"

# Rigetti, Pasqal and the resource estimator (issue 27). Formats as azure-quantum 3.13's target classes
# send them: azure/quantum/target/rigetti/target.py, azure/quantum/target/pasqal/target.py.
RIGETTI_QUIL = "rigetti.quil.v1"  # Quil text, content type text/plain
RIGETTI_QIR = "rigetti.qir.v1"
RIGETTI_OUTPUT = "rigetti.quil-results.v1"  # {"<register>": [[...] per shot]}
PASQAL_INPUT = "pasqal.pulser.v1"  # {"sequence_builder": <pulser abstract representation>}
PASQAL_OUTPUT = "pasqal.pulser-results.v1"  # {"counter": {"<bitstring>": count}}
ESTIMATOR_OUTPUT = "microsoft.resource-estimates.v1"

RIGETTI_QVM = "rigetti.sim.qvm"
RIGETTI_CEPHEUS = "rigetti.qpu.cepheus-1-108q"
PASQAL_EMU_SV = "pasqal.sim.emu-sv"
PASQAL_FRESNEL = "pasqal.qpu.fresnel"
ESTIMATOR = "microsoft.estimator"

# The blob content type azure-quantum 3.13 uploads each input format with (its target classes' content_type;
# a QIR program's is the format's name). Kuantum uploads inline inputs the same way.
CONTENT_TYPES: dict[str, str] = {
    QIO_INPUT: "application/json",  # gzip-compressed (Content-Encoding: gzip)
    IONQ_INPUT: "application/json",
    HONEYWELL_QASM: "application/qasm",
    QUANTINUUM_QASM: "application/qasm",
    QIR_INPUT: "qir.v1",
    RIGETTI_QUIL: "text/plain",
    RIGETTI_QIR: "qir.v1",
    PASQAL_INPUT: "application/json",
}

# Parameter spec: {"type": int|float|schedule|float_list, "default": value or None (= chosen
# automatically from the problem), "min"/"max" (inclusive unless "min_exclusive"), "description"}.
ParamSpec = dict[str, Any]

_MAX_INT = 2**31 - 1


def _int(default: int | None, lo: int, hi: int, description: str) -> ParamSpec:
    return {"type": "int", "default": default, "min": lo, "max": hi, "description": description}


def _float(default: float | None, lo: float, hi: float, description: str, *, lo_excl: bool = False) -> ParamSpec:
    spec: ParamSpec = {"type": "float", "default": default, "min": lo, "max": hi, "description": description}
    if lo_excl:
        spec["min_exclusive"] = True
    return spec


def _schedule(description: str) -> ParamSpec:
    return {"type": "schedule", "default": None, "min": 0.0, "max": 1e9, "description": description}


SEED = _int(None, 0, 2**32 - 1, "random seed; the same seed reproduces the same result")
TIMEOUT = _float(None, 0.0, 86400.0, "wall-clock budget in seconds (the solver stops early when reached)")
TIMEOUT_PF = _float(5.0, 0.0, 86400.0, "wall-clock budget in seconds for the parameter-free search")
SWEEPS = _int(1000, 1, 10**9, "Monte Carlo sweeps (one sweep = one update attempt per variable)")
RESTARTS = _int(None, 1, 100_000, "independent runs (default: one per available core)")

_SA = {
    "sweeps": SWEEPS,
    "beta_start": _float(None, 0.0, 1e9, "initial inverse temperature (default: from the problem)", lo_excl=True),
    "beta_stop": _float(None, 0.0, 1e9, "final inverse temperature (default: from the problem)", lo_excl=True),
    "restarts": RESTARTS,
    "seed": SEED,
    "timeout": TIMEOUT,
}
_PT = {
    "sweeps": SWEEPS,
    "replicas": _int(8, 2, 4096, "number of replicas (temperatures)"),
    "all_betas": {"type": "float_list", "default": None, "min": 0.0, "max": 1e9,
                  "description": "inverse temperatures, one per replica (sets replicas)"},
    "seed": SEED,
    "timeout": TIMEOUT,
}
_TABU = {
    "sweeps": _int(1000, 1, 10**9, "tabu iterations (single-variable moves) per restart"),
    "tabu_tenure": _int(None, 0, _MAX_INT, "iterations a flipped variable stays tabu (default: from size)"),
    "restarts": RESTARTS,
    "seed": SEED,
    "timeout": TIMEOUT,
}
_PA = {
    "sweeps": _int(100, 1, 10**8, "annealing steps (one resampling + one sweep each)"),
    "population": _int(None, 2, 1_000_000, "population size (default: 64 per core)"),
    "alpha": _float(2.0, 1.0, 1e6, "resample when the effective population falls below population/alpha",
                    lo_excl=True),
    "beta": _schedule("inverse temperature schedule (increasing; default from the problem)"),
    "seed": SEED,
    "timeout": TIMEOUT,
}
_QMC = {
    "sweeps": SWEEPS,
    "trotter_number": _int(16, 2, 4096, "number of imaginary-time slices"),
    "transverse_field_start": _float(10.0, 0.0, 1e9, "initial transverse field Γ"),
    "transverse_field_stop": _float(0.01, 0.0, 1e9, "final transverse field Γ"),
    "beta_start": _float(None, 0.0, 1e9, "inverse temperature (default: from the problem)", lo_excl=True),
    "restarts": RESTARTS,
    "seed": SEED,
}
_SSMC = {
    "step_limit": _int(1000, 1, 10**9, "number of population steps"),
    "steps_per_walker": _int(1, 1, 10**6, "random-walk attempts per walker per step"),
    "target_population": _int(None, 2, 1_000_000, "number of walkers (default: 64 per core)"),
    "alpha": _schedule("random-walk probability schedule (decreasing, values in [0, 1])"),
    "beta": _schedule("birth/death rate schedule (increasing; default from the problem)"),
    "seed": SEED,
    "timeout": TIMEOUT,
}
_PARAMFREE = {"timeout": TIMEOUT_PF, "seed": SEED}
_CIRCUIT = {
    "shots": _int(100, 1, 10_000_000, "number of shots (OpenQASM and QIR results); ignored for exact histograms"),
    "seed": SEED,
    # QIR jobs (qir.v1), as azure-quantum's Target.submit sends them
    "entryPoint": {"type": "string", "default": None,
                   "description": "QIR entry point function (default: the only one)"},
    "arguments": {"type": "list", "default": None, "description": "entry point arguments (QIR entry points take none)"},
    "targetCapability": {"type": "string", "default": None,
                         "description": "QIR profile the program was compiled for (deprecated spelling)"},
    "target_profile": {"type": "string", "default": None,
                       "description": "QIR profile: Base refuses programs that branch on measurements; "
                                      "Adaptive_RI/Adaptive_RIF/Unrestricted run them"},
    # QIR batches, as azure-quantum's qiskit backends send every QIR job (formats/params/circuit.py)
    "items": {"type": "json", "default": None,
              "description": "QIR batch: [{\"entryPoint\", \"arguments\"}] per circuit, each run with the job's "
                             "shots; the results hold one entry per item"},
}


def _qio(algorithm: str, params: dict[str, ParamSpec], description: str) -> dict[str, Any]:
    return {
        "kind": "solver",
        "provider": "microsoft-qio",
        "algorithm": algorithm,
        "input_formats": [QIO_INPUT],
        "output_format": QIO_OUTPUT,
        "hardware": "cpu",
        "cancellable_while_executing": True,
        "description": description,
        "params": params,
    }


_QIR_PARAMS = {k: _CIRCUIT[k] for k in ("entryPoint", "arguments", "targetCapability", "target_profile")}
_RIGETTI = {
    "shots": _int(1, 1, 10_000_000, "shots per run (per substitution row); the SDK's InputParams.count"),
    "seed": SEED,
    "skipQuilc": {"type": "bool", "default": False,
                  "description": "Azure: do not compile with quilc. The emulator runs the program as written "
                                 "either way (quilc's rewriting does not change an ideal simulator's distribution)"},
    "substitutions": {"type": "substitutions", "default": None,
                      "description": "{\"<REAL/INTEGER/BIT region>\": [[values per element] per run]}: one run "
                                     "of `shots` shots per row, results concatenated in row order"},
    **_QIR_PARAMS,
}
_PASQAL = {
    "shots": _int(1, 1, 1_000_000, "number of runs (samples of the final state); the SDK's InputParams.runs"),
    "seed": SEED,
}
_ESTIMATOR = {
    "errorBudget": {"type": "json", "default": None,
                    "description": "total error budget in (0, 1), or {\"logical\", \"tStates\", \"rotations\"}"},
    "qubitParams": {"type": "json", "default": None,
                    "description": "{\"name\": qubit_gate_ns_e3 | qubit_gate_ns_e4 | qubit_gate_us_e3 | "
                                   "qubit_gate_us_e4 | qubit_maj_ns_e4 | qubit_maj_ns_e6} or a custom model"},
    "qecScheme": {"type": "json", "default": None, "description": "{\"name\": surface_code | floquet_code} "
                                                                  "or a custom scheme"},
    "constraints": {"type": "json", "default": None,
                    "description": "logicalDepthFactor, maxTFactories, maxDuration, maxPhysicalQubits"},
    "distillationUnitSpecifications": {"type": "json", "default": None, "description": "T-factory units"},
    "estimateType": {"type": "json", "default": None, "description": "singlePoint (default) or frontier"},
    "profiling": {"type": "json", "default": None,
                  "description": "{\"callStackDepth\", \"inlineFunctions\"}: accepted; base-profile QIR "
                                 "carries no call stack, so no profile is reported"},
    "items": {"type": "json", "default": None,
              "description": "batch estimation: a list of parameter sets (each overrides the top level); "
                             "the result is a list"},
    "resumeAfterFailedItem": {"type": "bool", "default": True,
                              "description": "batch: a failing item reports its error and the others go on"},
    **_QIR_PARAMS,
}


def _rigetti(kind: str, qubits: int, description: str) -> dict[str, Any]:
    return {
        "kind": kind,
        "provider": "rigetti",
        "engine": "rigetti",
        "algorithm": "statevector",
        "input_formats": [RIGETTI_QUIL, RIGETTI_QIR, QIR_INPUT],
        "output_format": RIGETTI_OUTPUT,
        # Azure returns Q# (QIR) programs' results in its QIR result format, whatever the provider.
        "output_formats": {RIGETTI_QUIL: RIGETTI_OUTPUT, RIGETTI_QIR: QIR_OUTPUT, QIR_INPUT: QIR_OUTPUT},
        "alternative_output_formats": {RIGETTI_QIR: [QIR_OUTPUT_V1], QIR_INPUT: [QIR_OUTPUT_V1]},
        "hardware": "cpu",
        "qubits": qubits,
        "emulated": kind == "qpu",  # a QPU id run on the local simulator (Provider backend: local)
        "cancellable_while_executing": True,
        "description": description,
        "params": _RIGETTI,
    }


def _pasqal(kind: str, device: str, max_atoms: int, description: str) -> dict[str, Any]:
    return {
        "kind": kind,
        "provider": "pasqal",
        "engine": "pasqal",
        "algorithm": "pulser-simulation (QutipEmulator)",
        "input_formats": [PASQAL_INPUT],
        "output_format": PASQAL_OUTPUT,
        "hardware": "cpu",
        "device": device,  # "" = the sequence's own device; else pulser.devices.<name> limits apply too
        "qubits": max_atoms,
        "emulated": kind == "qpu",
        "cancellable_while_executing": True,
        "description": description,
        "params": _PASQAL,
    }


# Every target, by id: Microsoft's QIO solvers, Kuantum's simulator, and Azure's Rigetti, Pasqal and Microsoft
# Quantum Computing targets. QPU ids are emulated (`emulated: true`): the operator runs them only where a
# Provider asks for it (`backend: local`).
TARGETS: dict[str, dict[str, Any]] = {
    "microsoft.simulatedannealing.cpu": _qio("sa", _SA, "simulated annealing"),
    "microsoft.simulatedannealing-parameterfree.cpu": _qio("sa", _PARAMFREE, "simulated annealing, parameter-free"),
    "microsoft.paralleltempering.cpu": _qio("pt", _PT, "parallel tempering"),
    "microsoft.paralleltempering-parameterfree.cpu": _qio("pt", _PARAMFREE, "parallel tempering, parameter-free"),
    "microsoft.tabu.cpu": _qio("tabu", _TABU, "tabu search"),
    "microsoft.tabu-parameterfree.cpu": _qio("tabu", _PARAMFREE, "tabu search, parameter-free"),
    "microsoft.populationannealing.cpu": _qio("pa", _PA, "population annealing"),
    "microsoft.populationannealing-parameterfree.cpu": _qio("pa", _PARAMFREE, "population annealing, parameter-free"),
    "microsoft.qmc.cpu": _qio("qmc", _QMC, "path-integral quantum Monte Carlo"),
    "microsoft.substochasticmontecarlo.cpu": _qio("ssmc", _SSMC, "substochastic Monte Carlo"),
    "microsoft.substochasticmontecarlo-parameterfree.cpu": _qio("ssmc", _PARAMFREE,
                                                               "substochastic Monte Carlo, parameter-free"),
    SIMULATOR: {
        "kind": "simulator",
        "provider": "kuantum",
        "algorithm": "statevector",
        "input_formats": [IONQ_INPUT, HONEYWELL_QASM, QUANTINUUM_QASM, QIR_INPUT],
        "output_format": IONQ_OUTPUT,
        # Output format depends on the input format (IonQ histogram vs Quantinuum shots).
        "output_formats": {
            IONQ_INPUT: IONQ_OUTPUT,
            HONEYWELL_QASM: HONEYWELL_OUTPUT,
            QUANTINUUM_QASM: HONEYWELL_OUTPUT,
            QIR_INPUT: QIR_OUTPUT,
        },
        # Output formats a job may ask for instead of the default one.
        "alternative_output_formats": {QIR_INPUT: [QIR_OUTPUT_V1]},
        "hardware": "cpu",
        "cancellable_while_executing": True,
        "description": "exact statevector simulator",
        "params": _CIRCUIT,
    },
    # Rigetti, Pasqal and the resource estimator
    RIGETTI_QVM: _rigetti("simulator", 20, "Rigetti QVM: Quil on the statevector simulator"),
    RIGETTI_CEPHEUS: _rigetti("qpu", 108, "Rigetti Cepheus-1 108q, emulated: ideal statevector simulation "
                                          "(no noise, no topology), qubit indices 0-107"),
    PASQAL_EMU_SV: _pasqal("simulator", "", 20, "Pasqal EMU-SV: pulser sequence, state vector emulation"),
    PASQAL_FRESNEL: _pasqal("qpu", "AnalogDevice", 20,
                            "Pasqal Fresnel, emulated: the sequence must fit pulser's AnalogDevice (Fresnel's "
                            "public specification); state vector emulation"),
    ESTIMATOR: {
        "kind": "estimator",
        "provider": "microsoft-qc",
        "engine": "estimator",
        "algorithm": "resource estimation (QDK estimator, PSSPC layout)",
        "input_formats": [QIR_INPUT],
        "output_format": ESTIMATOR_OUTPUT,
        "hardware": "cpu",
        "emulated": False,
        "cancellable_while_executing": True,
        "description": "Microsoft resource estimator: logical counts of a QIR program, physical estimates",
        "params": _ESTIMATOR,
    },
}

# Legacy parameter spellings accepted on input and renamed.
_ALIASES: dict[str, dict[str, str]] = {
    SIMULATOR: {"count": "shots"},
    RIGETTI_QVM: {"count": "shots", "skip_quilc": "skipQuilc"},
    RIGETTI_CEPHEUS: {"count": "shots", "skip_quilc": "skipQuilc"},
    PASQAL_EMU_SV: {"runs": "shots"},
    PASQAL_FRESNEL: {"runs": "shots"},
}

# Deep checks of a provider's parameters, beyond their types.
_DEEP_CHECKS: dict[str, Callable[[str, dict[str, Any]], None]] = {
    "rigetti": rigetti.check_params, "microsoft-qc": estimator.check_params, "kuantum": circuit.check_params}


def get_target(target: str) -> dict[str, Any]:
    try:
        return TARGETS[target]
    except KeyError:
        known = ", ".join(sorted(TARGETS))
        raise SolverError(UNKNOWN_TARGET, f"unknown target {target!r}; known targets: {known}") from None


def is_parameter_free(target: str) -> bool:
    return "-parameterfree." in target


def default_output_format(target: str, input_format: str) -> str:
    spec = get_target(target)
    formats: dict[str, str] = spec.get("output_formats", {})
    return formats.get(input_format, spec["output_format"])


def output_formats(target: str, input_format: str) -> list[str]:
    """Every output format the target writes for `input_format`, the default first."""
    spec = get_target(target)
    alternatives: dict[str, list[str]] = spec.get("alternative_output_formats", {})
    return [default_output_format(target, input_format), *alternatives.get(input_format, [])]


def _range_text(spec: ParamSpec) -> str:
    lo = "(" if spec.get("min_exclusive") else "["
    return f"{lo}{spec['min']}, {spec['max']}]"


def _check_number(name: str, value: Any, spec: ParamSpec) -> float:
    if not is_number(value):
        raise invalid_params(f"parameter {name!r} must be a number, got {show(value)}")
    if isinstance(value, float) and not math.isfinite(value):
        raise invalid_params(f"parameter {name!r} must be finite, got {value!r}")
    # int/float comparisons are exact in Python, so a 400-digit int is simply out of range
    lo, hi = spec["min"], spec["max"]
    below = value <= lo if spec.get("min_exclusive") else value < lo
    if below or value > hi:
        raise invalid_params(f"parameter {name!r}={show(value)} is out of range; allowed range {_range_text(spec)}")
    return float(value)


def _check_value(name: str, value: Any, spec: ParamSpec) -> Any:
    kind = spec["type"]
    if kind == "string":
        if not isinstance(value, str) or len(value) > 1024:
            raise invalid_params(f"parameter {name!r} must be a string (at most 1024 characters), got {show(value)}")
        return value
    if kind == "list":
        if not isinstance(value, list):
            raise invalid_params(f"parameter {name!r} must be a list, got {show(value)}")
        return value
    if kind == "bool":
        if not isinstance(value, bool):
            raise invalid_params(f"parameter {name!r} must be true or false, got {show(value)}")
        return value
    if kind in ("json", "substitutions"):  # checked by the provider's own module (_DEEP_CHECKS)
        return value
    if kind == "int":
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int):
            raise invalid_params(f"parameter {name!r} must be an integer in {_range_text(spec)}, got {show(value)}")
        _check_number(name, value, spec)
        return value
    if kind == "float":
        return _check_number(name, value, spec)
    if kind == "float_list":
        if not isinstance(value, list) or not value:
            raise invalid_params(f"parameter {name!r} must be a non-empty list of numbers, got {show(value)}")
        return [_check_number(f"{name}[{i}]", v, spec) for i, v in enumerate(value)]
    if kind == "schedule":
        return _check_schedule(name, value, spec)
    raise AssertionError(f"unknown parameter type {kind}")


def _check_schedule(name: str, value: Any, spec: ParamSpec) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise invalid_params(
            f"parameter {name!r} must be a schedule {{\"type\": \"linear\"|\"geometric\", \"initial\": x, "
            f"\"final\": y}}, got {show(value)}"
        )
    unknown = set(value) - {"type", "initial", "final"}
    if unknown:
        raise invalid_params(f"parameter {name!r}: unknown schedule field(s) {sorted(unknown)}")
    kind = value.get("type", "linear")
    if kind not in ("linear", "geometric"):
        raise invalid_params(f"parameter {name!r}: schedule type must be 'linear' or 'geometric', got {kind!r}")
    for key in ("initial", "final"):
        if key not in value:
            raise invalid_params(f"parameter {name!r}: schedule needs {key!r}")
    initial = _check_number(f"{name}.initial", value["initial"], spec)
    final = _check_number(f"{name}.final", value["final"], spec)
    if kind == "geometric" and (initial <= 0 or final <= 0):
        raise invalid_params(f"parameter {name!r}: a geometric schedule needs initial and final > 0")
    return {"type": kind, "initial": initial, "final": final}


def validate_params(target: str, input_params: Any) -> dict[str, Any]:
    """Validate a job's `inputParams` (as Azure Quantum sends them) for `target`.

    QIO targets take `{"params": {...}}` (a flat dict is accepted too); circuit targets take
    `{"shots": N}` (legacy `{"count": N}`). Returns every parameter of the target, defaults filled
    in; `None` means "chosen automatically". Raises SolverError(InvalidParameters) otherwise.
    """
    spec = get_target(target)
    schema: dict[str, ParamSpec] = spec["params"]
    if input_params is None:
        input_params = {}
    if not isinstance(input_params, dict):
        raise invalid_params(f"inputParams must be a JSON object, got {type(input_params).__name__}")
    raw = dict(input_params)
    if spec["kind"] == "solver" and "params" in raw:
        nested = raw.pop("params")
        if nested is None:
            nested = {}
        if not isinstance(nested, dict):
            raise invalid_params(f"inputParams.params must be a JSON object, got {type(nested).__name__}")
        if raw:
            raise invalid_params(f"unknown parameter(s) {sorted(raw)} next to 'params' for target {target!r}")
        raw = dict(nested)
    for old, new in _ALIASES.get(target, {}).items():
        if old in raw:
            if new in raw and raw[new] != raw[old]:
                raise invalid_params(f"parameters {old!r} and {new!r} disagree ({raw[old]!r} vs {raw[new]!r})")
            raw[new] = raw.pop(old)
    unknown = sorted(set(raw) - set(schema))
    if unknown:
        raise invalid_params(
            f"unknown parameter(s) {unknown} for target {target!r}; allowed: {sorted(schema)}"
        )
    result: dict[str, Any] = {}
    for name, pspec in schema.items():
        value = raw.get(name)
        result[name] = pspec["default"] if value is None else _check_value(name, value, pspec)
    if target.startswith("microsoft.paralleltempering") and result.get("all_betas") is not None:
        # Azure: all_betas sets the number of replicas.
        result["replicas"] = len(result["all_betas"])
    deep = _DEEP_CHECKS.get(spec["provider"])
    if deep is not None:
        deep(target, result)
    return result
