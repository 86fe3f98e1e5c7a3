"""Checks of Rigetti's `inputParams` beyond the catalog's types: the shape of `substitutions`.

As azure-quantum 3.13 sends them (azure/quantum/target/rigetti/target.py, InputParams):
`{"shots": N, "skipQuilc": bool, "substitutions": {"<region>": [[value per element] per run]}}`; every
region gives the same number of rows, and row k of every region makes run k. Light: no engine imported.
"""

from __future__ import annotations

from typing import Any

from kuantum_solvers.formats.errors import invalid_params
from kuantum_solvers.formats.numbers import finite_float, show

MAX_ROWS = 10_000


def check_params(target: str, params: dict[str, Any]) -> None:
    subs = params.get("substitutions")
    if subs is None:
        return
    params["substitutions"] = check_substitutions(subs)


def check_substitutions(subs: Any) -> dict[str, list[list[float]]]:
    """The substitutions with every value a float; InvalidParameters naming what is wrong."""
    if not isinstance(subs, dict):
        raise invalid_params(f"parameter 'substitutions' must be an object {{\"<region>\": [[values] per run]}}, "
                             f"got {show(subs)}")
    rows: int | None = None
    out: dict[str, list[list[float]]] = {}
    for name, table in subs.items():
        where = f"substitutions[{name!r}]"
        if not isinstance(table, list) or not table:
            raise invalid_params(f"{where} must be a non-empty list of rows (one list of values per run), "
                                 f"got {show(table)}")
        if len(table) > MAX_ROWS:
            raise invalid_params(f"{where} has {len(table)} rows; at most {MAX_ROWS}")
        if rows is None:
            rows = len(table)
        elif len(table) != rows:
            raise invalid_params(f"every region in 'substitutions' needs the same number of rows (runs): "
                                 f"{where} has {len(table)}, an earlier region {rows}")
        checked: list[list[float]] = []
        for k, row in enumerate(table):
            if not isinstance(row, list) or not row:
                raise invalid_params(f"{where}[{k}] must be a non-empty list of numbers, got {show(row)}")
            values = []
            for j, v in enumerate(row):
                number = finite_float(v)
                if number is None:
                    raise invalid_params(f"{where}[{k}][{j}] must be a finite number, got {show(v)}")
                values.append(v if isinstance(v, int) else number)
            checked.append(values)
        out[str(name)] = checked
    return out
