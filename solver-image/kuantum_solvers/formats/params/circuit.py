"""Checks of the simulator's QIR batch: `inputParams.items`, beyond the catalog's types.

azure-quantum 3.13's qiskit backends (`AzureQirBackend._translate_input`, azure/quantum/qiskit/backends/backend.py)
send every QIR job as a batch: `{"shots": N, "items": [{"entryPoint": "ENTRYPOINT__main", "arguments": []}]}`,
one item per circuit, each naming an entry point of the submitted program. Each item runs with the job's shots;
the results hold one entry per item, in order. Light: no engine imported.
"""

from __future__ import annotations

from typing import Any

from kuantum_solvers.formats.errors import invalid_params
from kuantum_solvers.formats.numbers import show

MAX_ITEMS = 1000
ITEM_FIELDS = ("entryPoint", "arguments")


def check_params(target: str, params: dict[str, Any]) -> None:
    items = params.get("items")
    if items is None:
        return
    params["items"] = check_items(items)


def check_items(items: Any) -> list[dict[str, Any]]:
    """The items with their fields checked; InvalidParameters naming what is wrong."""
    if not isinstance(items, list) or not items:
        raise invalid_params(f"parameter 'items' must be a non-empty list of {{\"entryPoint\", \"arguments\"}} "
                             f"objects, got {show(items)}")
    if len(items) > MAX_ITEMS:
        raise invalid_params(f"parameter 'items' has {len(items)} entries; at most {MAX_ITEMS}")
    out = []
    for k, item in enumerate(items):
        where = f"items[{k}]"
        if not isinstance(item, dict):
            raise invalid_params(f"{where} must be an object {{\"entryPoint\", \"arguments\"}}, got {show(item)}")
        unknown = sorted(set(item) - set(ITEM_FIELDS))
        if unknown:
            raise invalid_params(f"{where}: unknown field(s) {unknown}; allowed: {list(ITEM_FIELDS)}")
        entry = item.get("entryPoint")
        if entry is not None and (not isinstance(entry, str) or not entry):
            raise invalid_params(f"{where}.entryPoint must be a function name, got {show(entry)}")
        arguments = item.get("arguments")
        if arguments is not None and not isinstance(arguments, list):
            raise invalid_params(f"{where}.arguments must be a list, got {show(arguments)}")
        out.append({"entryPoint": entry, "arguments": arguments or []})
    return out
