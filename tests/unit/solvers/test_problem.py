"""Parsing `microsoft.qio.v2` problems (kuantum_solvers/qio/problem.py): terms, the costs they give, grouped
(squared) terms with coefficients other than ±1, the documented limits (coefficient magnitudes, variable ids,
grouped-term expansion), and variables named only by the initial configuration."""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np
import pytest
from kuantum_solvers.formats.errors import INVALID_INPUT_DATA, SolverError
from kuantum_solvers.qio import problem
from kuantum_solvers.qio.problem import MAX_COEFFICIENT, MIN_COEFFICIENT, parse_problem

from .conftest import cost_of, random_problem


def _doc(kind: str, terms: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    return {"cost_function": {"version": "1.0", "type": kind, "terms": terms, **extra}}


def test_ising_repeated_ids_square_to_one() -> None:
    p = parse_problem(_doc("ising", [{"c": 2.0, "ids": [5, 5]}, {"c": 1.0, "ids": [5, 7, 5]}]))
    assert p.offset == 2.0
    assert p.n_terms == 1 and list(p.ids) == [5, 7]


def test_pubo_repeated_ids_are_idempotent() -> None:
    p = parse_problem(_doc("pubo", [{"c": 3.0, "ids": [4, 4]}, {"c": -1.0, "ids": [4]}]))
    assert p.n_terms == 1 and p.term_coef[0] == 2.0


@pytest.mark.parametrize("kind", ["ising", "pubo"])
def test_energy_matches_direct_evaluation(kind: str) -> None:
    doc = random_problem(kind, 9, seed=4)
    p = parse_problem(doc)
    rng = np.random.default_rng(0)
    for _ in range(20):
        state = rng.integers(0, 2, p.n).astype(np.int8)
        assert p.energy(state) == pytest.approx(cost_of(doc, p.configuration(state)), abs=1e-9)


@pytest.mark.parametrize("kind", ["ising", "pubo"])
def test_energies_of_many_rows_equal_each_row_alone(kind: str) -> None:
    p = parse_problem(random_problem(kind, 12, seed=7))
    rows = np.random.default_rng(3).integers(0, 2, size=(37, p.n), dtype=np.int8)
    alone = [p.energy(row) for row in rows]
    np.testing.assert_allclose(p.energies(rows, rows_per_pass=5), alone, rtol=0, atol=1e-9)
    assert p.energies(rows[:0]).shape == (0,)


def test_grouped_terms_expand_squares() -> None:
    # 2 * (x0 - x1)^2 on pubo is 2 when they differ, 0 otherwise.
    doc = _doc("pubo_grouped", [], terms_slc=[{"c": 2, "terms": [{"c": 1, "ids": [0]}, {"c": -1, "ids": [1]}]}])
    p = parse_problem(doc)
    energies = {(a, b): p.energy(np.array([a, b], dtype=np.int8)) for a in (0, 1) for b in (0, 1)}
    assert energies == {(0, 0): 0.0, (0, 1): 2.0, (1, 0): 2.0, (1, 1): 0.0}


def test_initial_configuration() -> None:
    doc = _doc("ising", [{"c": 1, "ids": [3, 9]}], initial_configuration={"3": -1, "9": 1})
    doc["cost_function"]["version"] = "1.1"
    p = parse_problem(doc)
    assert p.initial is not None and p.configuration(p.initial) == {"3": -1, "9": 1}


@pytest.mark.parametrize(
    ("doc", "fragment"),
    [
        ([], "problem must be a JSON object"),
        ({}, "missing or invalid 'cost_function'"),
        (_doc("qubo", [{"c": 1, "ids": [0]}]), "cost_function.type must be one of"),
        ({"cost_function": {"version": "9", "type": "ising", "terms": []}}, "cost_function.version"),
        (_doc("ising", []), "has no terms"),
        (_doc("ising", [{"c": 1, "ids": [0]}, {"c": 1, "ids": [0, 1]}, {"c": 1, "ids": [2, 3]},
                        {"c": 1, "ids": [0, "a"]}]), "term 3: ids must be integers, got 'a'"),
        (_doc("ising", [{"c": "x", "ids": [0]}]), "term 0: coefficient 'c' must be a number"),
        (_doc("ising", [{"c": float("inf"), "ids": [0]}]), "term 0: coefficient 'c' must be finite"),
        (_doc("ising", [{"c": 1, "ids": [-1]}]), "non-negative"),
        (_doc("ising", [{"ids": [1]}]), "term 0: missing coefficient 'c'"),
        (_doc("ising", [{"c": 1}]), "term 0: missing 'ids'"),
        (_doc("ising", [{"c": 1, "ids": [1]}], initial_configuration={"1": 0}), "must be one of [1, -1]"),
    ],
)
def test_invalid_problems(doc: Any, fragment: str) -> None:
    with pytest.raises(SolverError) as info:
        parse_problem(doc)
    assert info.value.code == INVALID_INPUT_DATA
    assert fragment in info.value.message


def test_dimod_agrees_on_energies() -> None:
    dimod = pytest.importorskip("dimod")
    for kind, vartype in (("ising", "SPIN"), ("pubo", "BINARY")):
        doc = random_problem(kind, 10, seed=11)
        p = parse_problem(doc)
        poly: dict[tuple[int, ...], float] = {}
        for t in doc["cost_function"]["terms"]:
            key = tuple(sorted(set(t["ids"])))
            poly[key] = poly.get(key, 0.0) + t["c"]
        bp = dimod.BinaryPolynomial(poly, vartype)
        rng = np.random.default_rng(1)
        for _ in range(10):
            state = rng.integers(0, 2, p.n).astype(np.int8)
            sample = {int(k): v for k, v in p.configuration(state).items()}
            assert p.energy(state) == pytest.approx(bp.energy(sample), abs=1e-9)


# ---------------------------------------------------------------------------------- limits and grouped terms
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


def test_a_pubo_initial_configuration_takes_0_and_1() -> None:
    doc = _doc("pubo", [{"c": 1, "ids": [3, 9]}], initial_configuration={"3": 1, "9": 0})
    p = parse_problem(doc)
    assert p.initial is not None and p.configuration(p.initial) == {"3": 1, "9": 0}
    for value in (-1, 2, True, "1"):
        _invalid(_doc("pubo", [{"c": 1, "ids": [3]}], initial_configuration={"3": value}), "must be one of [0, 1]")


def test_the_variable_limit_counts_every_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(problem, "MAX_VARIABLES", 3)
    assert parse_problem(_doc("ising", [{"c": 1, "ids": [1, 2, 3]}])).n == 3
    _invalid(_doc("ising", [{"c": 1, "ids": [1, 2, 3]}], initial_configuration={"4": 1}),
             "problem has 4 variables; at most 3 are supported")
    _invalid(_doc("ising", [{"c": 1, "ids": [1, 2, 3, 4, 5]}]), "problem has 5 variables; at most 3 are supported")
