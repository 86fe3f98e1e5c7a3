"""Azure's resource-estimator parameters (the QDK's `EstimatorParams.as_dict()` names), checked before any
work: a bad value fails with InvalidInputData naming the parameter. Light: no engine imported.

`errorBudget`: a number in (0, 1) or `{"logical", "tStates", "rotations"}` (each >= 0, their sum in (0, 1));
`qubitParams`: `{"name": <predefined>}` (optionally overriding fields) or a custom model with
`instructionSet` (`GateBased` | `Majorana`); `qecScheme`: `{"name": surface_code | floquet_code}` or custom;
`constraints`, `distillationUnitSpecifications`, `estimateType` (`singlePoint` | `frontier`), `profiling`;
`items`: a batch, each item a parameter set that overrides the top level.
"""

from __future__ import annotations

from typing import Any

from kuantum_solvers.formats.errors import invalid_input
from kuantum_solvers.formats.numbers import finite_float, show

QUBIT_MODELS = {"qubit_gate_ns_e3": "GateBased", "qubit_gate_ns_e4": "GateBased", "qubit_gate_us_e3": "GateBased",
                "qubit_gate_us_e4": "GateBased", "qubit_maj_ns_e4": "Majorana", "qubit_maj_ns_e6": "Majorana"}
INSTRUCTION_SETS = {"gatebased": "GateBased", "gate_based": "GateBased", "gate-based": "GateBased",
                    "majorana": "Majorana"}
QEC_SCHEMES = ("surface_code", "floquet_code")
ESTIMATE_TYPES = ("singlePoint", "frontier")
ITEM_KEYS = ("errorBudget", "qubitParams", "qecScheme", "constraints", "distillationUnitSpecifications",
             "estimateType", "profiling")
MAX_ITEMS = 1000


def check_params(target: str, params: dict[str, Any]) -> None:
    check_item(params, "")
    items = params.get("items")
    if items is None:
        _combination(params, "")
        return
    if not isinstance(items, list) or not items or len(items) > MAX_ITEMS:
        raise invalid_input(f"items must be a list of 1 to {MAX_ITEMS} parameter sets, got {show(items)}")
    for k, item in enumerate(items):
        if not isinstance(item, dict):
            raise invalid_input(f"items[{k}] must be an object of estimator parameters, got {show(item)}")
        unknown = sorted(set(item) - set(ITEM_KEYS))
        if unknown:
            raise invalid_input(f"items[{k}]: unknown parameter(s) {unknown}; allowed: {list(ITEM_KEYS)}")
        check_item(item, f"items[{k}].")
        _combination({**{key: params.get(key) for key in ITEM_KEYS}, **item}, f"items[{k}].")


def _instruction_set(qubit_params: Any) -> str:
    if not isinstance(qubit_params, dict):
        return "GateBased"  # the default model, qubit_gate_ns_e3
    iset = qubit_params.get("instructionSet")
    if isinstance(iset, str) and iset.lower() in INSTRUCTION_SETS:
        return INSTRUCTION_SETS[iset.lower()]
    return QUBIT_MODELS.get(str(qubit_params.get("name")), "GateBased")


def _combination(item: dict[str, Any], prefix: str) -> None:
    scheme = item.get("qecScheme")
    if isinstance(scheme, dict) and scheme.get("name") == "floquet_code" \
            and _instruction_set(item.get("qubitParams")) != "Majorana":
        raise invalid_input(f"{prefix}qecScheme.name: floquet_code needs a Majorana qubit model "
                            "(qubitParams qubit_maj_ns_e4 or qubit_maj_ns_e6); the qubit model is gate-based")


def check_item(item: dict[str, Any], prefix: str) -> None:
    if item.get("errorBudget") is not None:
        _error_budget(item["errorBudget"], f"{prefix}errorBudget")
    if item.get("qubitParams") is not None:
        _qubit_params(item["qubitParams"], f"{prefix}qubitParams")
    if item.get("qecScheme") is not None:
        _qec_scheme(item["qecScheme"], f"{prefix}qecScheme")
    for key in ("constraints", "profiling"):
        if item.get(key) is not None and not isinstance(item[key], dict):
            raise invalid_input(f"{prefix}{key} must be an object, got {show(item[key])}")
    units = item.get("distillationUnitSpecifications")
    if units is not None and (not isinstance(units, list) or not all(isinstance(u, dict) for u in units)):
        raise invalid_input(f"{prefix}distillationUnitSpecifications must be a list of objects, got {show(units)}")
    kind = item.get("estimateType")
    if kind is not None and kind not in ESTIMATE_TYPES:
        raise invalid_input(f"{prefix}estimateType must be one of {list(ESTIMATE_TYPES)}, got {show(kind)}")


def _error_budget(value: Any, name: str) -> None:
    if isinstance(value, dict):
        unknown = sorted(set(value) - {"logical", "tStates", "rotations"})
        if unknown:
            raise invalid_input(f"{name}: unknown part(s) {unknown}; the parts are logical, tStates, rotations")
        total = 0.0
        for part, v in value.items():
            number = finite_float(v)
            if number is None or number < 0:
                raise invalid_input(f"{name}.{part} must be a number >= 0, got {show(v)}")
            total += number
        if not 0 < total < 1:
            raise invalid_input(f"{name}: the parts must add up to a value in (0, 1), got {total}")
        return
    number = finite_float(value)
    if number is None or not 0 < number < 1:
        raise invalid_input(f"{name} must be a number in (0, 1) (or {{logical, tStates, rotations}}), "
                            f"got {show(value)}")


def _qubit_params(value: Any, name: str) -> None:
    if not isinstance(value, dict):
        raise invalid_input(f"{name} must be an object ({{\"name\": \"qubit_gate_ns_e3\"}} or a custom model), "
                            f"got {show(value)}")
    model = value.get("name")
    if model is not None and model not in QUBIT_MODELS and "instructionSet" not in value:
        raise invalid_input(f"{name}.name: unknown qubit model {show(model)}; predefined models: "
                            f"{', '.join(QUBIT_MODELS)} (a custom model needs instructionSet)")
    if model is None and "instructionSet" not in value:
        raise invalid_input(f"{name}: give a predefined model's name ({', '.join(QUBIT_MODELS)}) or, for a "
                            "custom model, instructionSet (GateBased or Majorana) and its times and error rates")
    if "instructionSet" in value:
        iset = value["instructionSet"]
        if not isinstance(iset, str) or iset.lower() not in INSTRUCTION_SETS:
            raise invalid_input(f"{name}.instructionSet must be GateBased or Majorana, got {show(iset)}")
        if model in QUBIT_MODELS and QUBIT_MODELS[model] != INSTRUCTION_SETS[iset.lower()]:
            raise invalid_input(f"{name}: model {model} is {QUBIT_MODELS[model]}, not {iset}")


def _qec_scheme(value: Any, name: str) -> None:
    if not isinstance(value, dict):
        raise invalid_input(f"{name} must be an object ({{\"name\": \"surface_code\"}} or a custom scheme), "
                            f"got {show(value)}")
    scheme = value.get("name")
    custom = {"errorCorrectionThreshold", "crossingPrefactor", "logicalCycleTime", "physicalQubitsPerLogicalQubit"}
    if scheme is not None and scheme not in QEC_SCHEMES and not custom <= set(value):
        raise invalid_input(f"{name}.name: unknown QEC scheme {show(scheme)}; predefined: {', '.join(QEC_SCHEMES)} "
                            f"(a custom scheme needs {', '.join(sorted(custom))})")
