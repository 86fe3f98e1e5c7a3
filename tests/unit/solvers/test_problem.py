from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from kuantum_solvers.formats.errors import INVALID_INPUT_DATA, SolverError
from kuantum_solvers.qio.problem import parse_problem

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
