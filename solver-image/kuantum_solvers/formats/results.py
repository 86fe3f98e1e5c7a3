"""Azure Quantum's result formats for QIR programs: `microsoft.quantum-results.v2` and `.v1`.

A shot's outcome is built from the program's output records (QIR output schema): a `tuple`/`array`
record groups the next n records, `result` is 0/1, `bool`/`int`/`double` are themselves. Outcomes
are kept as Python values — tuple for a tuple, list for an array — because that is what the SDK
hands back: `Job.get_results()` keys its histogram by `Display`, and the qiskit plugin reads
`Display` with `ast.literal_eval`, so `Display` is the Python literal ("[0, 1]", "(0, [1, 0])").
On the wire (`Outcome`, `Shots`) tuples are objects {"Item1": .., "Item2": ..}, as the SDK's
`_convert_tuples` expects.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from kuantum_solvers.formats.errors import invalid_input

V1 = "microsoft.quantum-results.v1"
V2 = "microsoft.quantum-results.v2"


def build_outcome(records: Sequence[tuple[str, Any]]) -> Any:
    """(kind, value) records of one shot, in program order → the shot's outcome value."""
    pos = 0

    def item() -> Any:
        nonlocal pos
        kind, value = records[pos]
        pos += 1
        if kind in ("tuple", "array"):
            if pos + value > len(records):
                raise invalid_input(f"output record {kind}_record_output({value}) is followed by only "
                                    f"{len(records) - pos} records")
            items = [item() for _ in range(value)]
            return tuple(items) if kind == "tuple" else items
        if kind == "result":
            return int(value)
        if kind == "bool":
            return bool(value)
        if kind == "int":
            return int(value)
        return float(value)

    top = []
    while pos < len(records):
        top.append(item())
    return top[0] if len(top) == 1 else tuple(top)


def to_wire(value: Any) -> Any:
    """Tuples become {"Item1": ...} objects; lists stay lists."""
    if isinstance(value, tuple):
        return {f"Item{i + 1}": to_wire(v) for i, v in enumerate(value)}
    if isinstance(value, list):
        return [to_wire(v) for v in value]
    return value


def display(value: Any) -> str:
    return repr(value)


def format_results(outcomes: Sequence[Any], shot_index: Sequence[int], output_format: str = V2) -> dict[str, Any]:
    """`outcomes`: the distinct outcomes; `shot_index[k]`: which of them shot k gave (shot order kept)."""
    counts = [0] * len(outcomes)
    for k in shot_index:
        counts[k] += 1
    order = sorted((i for i in range(len(outcomes)) if counts[i]), key=lambda i: display(outcomes[i]))
    shots = len(shot_index)
    if output_format == V1:
        flat: list[Any] = []
        for i in order:
            flat.extend([display(outcomes[i]), counts[i] / shots])
        return {"Histogram": flat}
    if output_format != V2:
        raise invalid_input(f"QIR programs write {V2!r} or {V1!r}, not {output_format!r}")
    wire = [to_wire(o) for o in outcomes]
    histogram = [{"Outcome": wire[i], "Display": display(outcomes[i]), "Count": counts[i]} for i in order]
    return {"DataFormat": V2, "Results": [{"Histogram": histogram, "Shots": [wire[k] for k in shot_index]}]}


def from_counts(outcome_counts: Sequence[tuple[Any, int]], output_format: str = V2) -> dict[str, Any]:
    """Results from a histogram only (hardware that reports counts or probabilities): the `Shots`
    list is the histogram expanded in order, since per-shot order was not reported."""
    outcomes = [o for o, _ in outcome_counts]
    index = [i for i, (_, n) in enumerate(outcome_counts) for _ in range(n)]
    if not index:
        raise invalid_input("no shots to report")
    return format_results(outcomes, index, output_format)
