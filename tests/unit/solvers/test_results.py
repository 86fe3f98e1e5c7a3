"""Azure Quantum's QIR result formats (`microsoft.quantum-results.v2` and `.v1`), from output records to the wire:
each record kind's Python value, nesting, the SDK's tuple objects, histogram order and shot order."""

from __future__ import annotations

from typing import Any

import pytest
from kuantum_solvers.formats.errors import INVALID_INPUT_DATA, SolverError
from kuantum_solvers.formats.results import V1, V2, build_outcome, display, format_results, from_counts, to_wire


def _exactly(value: Any) -> Any:
    """The value with every leaf's type beside it: `True == 1` and `2 == 2.0` must not pass for each other."""
    if isinstance(value, tuple | list):
        return type(value)(_exactly(v) for v in value)
    return (type(value).__name__, value)


def test_each_record_kind_keeps_its_own_type() -> None:
    records = [("tuple", 5), ("result", 1), ("bool", 1), ("int", 5), ("double", 2.5), ("result", 0)]
    assert _exactly(build_outcome(records)) == (("int", 1), ("bool", True), ("int", 5), ("float", 2.5), ("int", 0))


@pytest.mark.parametrize(("records", "expected"), [
    ([("int", 7)], 7),
    ([("double", 3)], 3.0),
    ([("bool", 0)], False),
    ([("result", 1)], 1),
])
def test_a_single_record_is_the_outcome_itself(records: list[tuple[str, Any]], expected: Any) -> None:
    assert _exactly(build_outcome(records)) == _exactly(expected)


def test_arrays_are_lists_tuples_are_tuples_and_they_nest() -> None:
    records = [("tuple", 2), ("array", 2), ("result", 0), ("result", 1), ("tuple", 2), ("int", -3), ("bool", 1)]
    assert _exactly(build_outcome(records)) == _exactly(([0, 1], (-3, True)))


def test_records_side_by_side_at_the_top_are_a_tuple() -> None:
    assert _exactly(build_outcome([("result", 1), ("array", 1), ("result", 0), ("double", 0.25)])) == \
        _exactly((1, [0], 0.25))


def test_an_empty_array_is_an_empty_list() -> None:
    assert build_outcome([("array", 0), ("result", 1)]) == ([], 1)


@pytest.mark.parametrize("kind", ["array", "tuple"])
def test_a_group_with_too_few_records_after_it_is_invalid_input(kind: str) -> None:
    with pytest.raises(SolverError) as info:
        build_outcome([(kind, 3), ("result", 0), ("result", 1)])
    assert info.value.code == INVALID_INPUT_DATA
    assert info.value.message == f"output record {kind}_record_output(3) is followed by only 2 records"


def test_the_records_left_are_counted_from_the_group() -> None:
    with pytest.raises(SolverError, match=r"array_record_output\(5\) is followed by only 3 records"):
        build_outcome([("array", 5), ("result", 0), ("result", 1), ("result", 1)])


def test_no_records_is_an_empty_tuple() -> None:
    assert build_outcome([]) == ()


def test_kinds_and_formats_read_at_run_time_are_matched_by_value() -> None:
    """Record kinds come from the program's text and formats from the job: equal strings, not the same objects."""
    def fresh(text: str) -> str:
        return "".join(list(text))

    records = [(fresh("tuple"), 4), (fresh("result"), 1), (fresh("bool"), 0), (fresh("int"), 3), (fresh("double"), 1)]
    assert _exactly(build_outcome(records)) == (("int", 1), ("bool", False), ("int", 3), ("float", 1.0))
    assert format_results([[1]], [0], fresh(V1)) == {"Histogram": ["[1]", 1.0]}
    assert format_results([[1]], [0], fresh(V2))["DataFormat"] == V2


def test_a_group_with_exactly_enough_records_is_whole() -> None:
    assert build_outcome([("array", 2), ("result", 0), ("result", 1)]) == [0, 1]


def test_tuples_go_on_the_wire_as_item_objects_and_lists_stay_lists() -> None:
    assert to_wire((0, [1, (2, 3.5)], True)) == {"Item1": 0, "Item2": [1, {"Item1": 2, "Item2": 3.5}], "Item3": True}
    assert to_wire([(1,), []]) == [{"Item1": 1}, []]
    assert to_wire(4) == 4


def test_display_is_the_python_literal_the_sdk_parses() -> None:
    assert display((0, [1, 0])) == "(0, [1, 0])"
    assert display([True, 2.5]) == "[True, 2.5]"


def test_v2_histogram_is_sorted_by_display_and_shots_keep_their_order() -> None:
    outcomes = [[1, 1], [0, 0], [0, 1]]
    results = format_results(outcomes, [0, 1, 1, 0, 0], V2)
    assert results == {"DataFormat": V2, "Results": [{
        "Histogram": [{"Outcome": [0, 0], "Display": "[0, 0]", "Count": 2},
                      {"Outcome": [1, 1], "Display": "[1, 1]", "Count": 3}],
        "Shots": [[1, 1], [0, 0], [0, 0], [1, 1], [1, 1]]}]}


def test_v2_is_the_default_and_tuples_are_item_objects_in_outcomes_and_shots() -> None:
    results = format_results([(0, 1)], [0, 0])
    assert results["DataFormat"] == V2
    only = results["Results"][0]
    assert only["Histogram"] == [{"Outcome": {"Item1": 0, "Item2": 1}, "Display": "(0, 1)", "Count": 2}]
    assert only["Shots"] == [{"Item1": 0, "Item2": 1}] * 2


def test_v1_is_a_flat_histogram_of_display_and_probability() -> None:
    assert format_results([[1], [0]], [0, 1, 1, 1], V1) == {"Histogram": ["[0]", 0.75, "[1]", 0.25]}


@pytest.mark.parametrize("output_format", ["microsoft.quantum-results.v3", "microsoft.quantum-results.v0",
                                           "microsoft.quantum-results.v1.1", ""])
def test_an_unknown_result_format_is_invalid_input_naming_both(output_format: str) -> None:
    with pytest.raises(SolverError) as info:
        format_results([[0]], [0], output_format)
    assert info.value.code == INVALID_INPUT_DATA
    assert V1 in info.value.message and V2 in info.value.message and repr(output_format) in info.value.message


def test_counts_expand_in_histogram_order_and_zero_counts_are_left_out() -> None:
    results = from_counts([([1], 2), ([0], 0), ([0, 1], 1)])
    only = results["Results"][0]
    assert only["Shots"] == [[1], [1], [0, 1]]
    assert only["Histogram"] == [{"Outcome": [0, 1], "Display": "[0, 1]", "Count": 1},
                                 {"Outcome": [1], "Display": "[1]", "Count": 2}]
    assert from_counts([([1], 1), ([0], 3)], V1) == {"Histogram": ["[0]", 0.75, "[1]", 0.25]}


@pytest.mark.parametrize("counts", [[], [([0], 0)]])
def test_no_shots_at_all_is_invalid_input(counts: list[tuple[Any, int]]) -> None:
    with pytest.raises(SolverError, match="no shots to report"):
        from_counts(counts)
