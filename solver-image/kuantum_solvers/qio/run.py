"""Entry point for QIO targets: decode the problem, pick the solver, build the result document."""

from __future__ import annotations

import importlib
import json
from typing import Any

import numpy as np

from kuantum_solvers.errors import invalid_input
from kuantum_solvers.qio.problem import parse_problem
from kuantum_solvers.qio.solvers.common import Context, SolveResult, build_output
from kuantum_solvers.targets import get_target, is_parameter_free

_MODULES = {
    "sa": "kuantum_solvers.qio.solvers.sa",
    "pt": "kuantum_solvers.qio.solvers.pt",
    "tabu": "kuantum_solvers.qio.solvers.tabu",
    "pa": "kuantum_solvers.qio.solvers.pa",
    "qmc": "kuantum_solvers.qio.solvers.qmc",
    "ssmc": "kuantum_solvers.qio.solvers.ssmc",
}


def decode_json(data: bytes) -> Any:
    try:
        return json.loads(data.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise invalid_input(f"input is not UTF-8 text: {exc}") from exc
    except json.JSONDecodeError as exc:
        raise invalid_input(f"input is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from exc


def run_qio(target: str, data: bytes, params: dict[str, Any], ctx: Context | None = None) -> dict[str, Any]:
    problem = parse_problem(decode_json(data))
    if problem.n == 0:  # only constant terms: nothing to search
        return build_output(problem, SolveResult([np.zeros(0, dtype=np.int8)], dict(params)))
    # Import lazily: each solver's numba kernels load (from cache) only when used.
    module = importlib.import_module(_MODULES[get_target(target)["algorithm"]])
    result = module.solve(problem, params, ctx or Context(), is_parameter_free(target))
    return build_output(problem, result)
