"""Parsing `microsoft.qio.v2` problems (kuantum_solvers/qio/problem.py): what a mutation run found untested.

Grouped (squared) terms with coefficients other than ±1, the documented limits (coefficient magnitudes,
variable ids, grouped-term expansion), and variables named only by the initial configuration.
"""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np
import pytest
from kuantum_solvers.formats.errors import INVALID_INPUT_DATA, SolverError
from kuantum_solvers.qio import problem
from kuantum_solvers.qio.problem import MAX_COEFFICIENT, MIN_COEFFICIENT, parse_problem


def _doc(kind: str, terms: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    return {"cost_function": {"version": "1.0", "type": kind, "terms": terms, **extra}}


def _invalid(doc: dict[str, Any], fragment: str) -> None:
    with pytest.raises(SolverError) as info:
        parse_problem(doc)
    assert info.value.code == INVALID_INPUT_DATA
    assert fragment in info.value.message


@pytest.mark.parametrize("kind", ["pubo_grouped", "ising_grouped"])
def test_a_grouped_term_is_its_coefficient_times_the_square_of_its_sum(kind: str) -> None:
    inner = [{"c": 2.0, "ids": [0]}, {"c": 3.0, "ids": [1]}, {"c": -0.5, "ids": [2, 0]}]
    doc = _doc(kind, [{"c": 1.0, "ids": [1, 2]}], terms_slc=[{"c": 1.5, "terms": inner}])
    p = parse_problem(doc)
    values = (0, 1) if kind.startswith("pubo") else (1, -1)
    for x in itertools.product(values, repeat=3):
        expected = 1.0 * x[1] * x[2] + 1.5 * (2.0 * x[0] + 3.0 * x[1] - 0.5 * x[2] * x[0]) ** 2
        bits = np.array([int(v == -1) if kind.startswith("ising") else v for v in x], dtype=np.int8)
        assert p.energy(bits) == pytest.approx(expected), x


def test_a_group_without_a_coefficient_counts_once() -> None:
    doc = _doc("pubo_grouped", [], terms_slc=[{"terms": [{"c": 2.0, "ids": [0]}, {"c": 1.0, "ids": []}]}])
    p = parse_problem(doc)
    assert [p.energy(np.array([b], dtype=np.int8)) for b in (0, 1)] == [1.0, 9.0]


def test_coefficients_outside_the_supported_magnitudes_are_refused() -> None:
    for c in (MAX_COEFFICIENT * 10, -MAX_COEFFICIENT * 10, MIN_COEFFICIENT / 10):
        _invalid(_doc("ising", [{"c": c, "ids": [0, 1]}]), "outside the supported magnitude range")
    _invalid(_doc("ising", [{"c": 1.0, "ids": [0, 1]}, {"c": MAX_COEFFICIENT * 10, "ids": []}]), "constant term")
    for c in (MAX_COEFFICIENT, -MIN_COEFFICIENT):
        assert parse_problem(_doc("ising", [{"c": c, "ids": [0, 1]}])).term_coef.tolist() == [c]
    cancelled = parse_problem(_doc("ising", [{"c": 1.0, "ids": [0, 1]}, {"c": -1.0, "ids": [1, 0]},
                                             {"c": 2.0, "ids": [1]}]))
    assert cancelled.term_coef.tolist() == [2.0], "terms that cancel out are dropped, not refused"


def test_variable_ids_must_lie_below_two_to_the_62() -> None:
    _invalid(_doc("pubo", [{"c": 1.0, "ids": [2**62]}]), "below 2**62")
    assert parse_problem(_doc("pubo", [{"c": 1.0, "ids": [2**62 - 1, 3.0]}])).ids.tolist() == [3, 2**62 - 1]
    _invalid(_doc("pubo", [{"c": 1.0, "ids": [1.5]}]), "ids must be integers")
    _invalid(_doc("pubo", [{"c": 1.0, "ids": [True]}]), "ids must be integers")


def test_grouped_terms_that_expand_past_the_limit_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(problem, "MAX_EXPANDED_TERMS", 8)
    three = [{"c": 1.0, "ids": [i]} for i in range(3)]
    _invalid(_doc("pubo_grouped", [], terms_slc=[{"c": 1.0, "terms": three}]), "expand to more than 8 terms")
    two = three[:2]
    assert parse_problem(_doc("pubo_grouped", [], terms_slc=[{"c": 1.0, "terms": two},
                                                             {"c": 1.0, "terms": two}])).n == 2, "2·2² = 8"
    _invalid(_doc("pubo_grouped", [], terms_slc=[{"c": 1.0, "terms": two}, {"c": 1.0, "terms": two},
                                                 {"c": 1.0, "terms": three[:1]}]), "terms_slc 2")


def test_a_variable_named_only_by_the_initial_configuration_is_a_variable() -> None:
    doc = _doc("ising", [{"c": 1.0, "ids": [3, 7]}], initial_configuration={"3": 1, "99": -1, "7": -1})
    p = parse_problem(doc)
    assert p.ids.tolist() == [3, 7, 99]
    assert p.initial is not None and p.configuration(p.initial) == {"3": 1, "7": -1, "99": -1}
    _invalid(_doc("ising", [{"c": 1.0, "ids": [3]}], initial_configuration={"x": 1}), "ids must be integers")


def test_a_missing_version_or_null_term_lists_are_accepted() -> None:
    p = parse_problem({"cost_function": {"type": "pubo", "terms": [{"c": 1.0, "ids": [0]}], "terms_slc": None}})
    assert p.n == 1
    p = parse_problem({"cost_function": {"type": "pubo_grouped", "terms": None,
                                         "terms_slc": [{"c": 1.0, "terms": [{"c": 1.0, "ids": [0]}]}]}})
    assert p.n == 1
