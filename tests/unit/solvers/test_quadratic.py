"""Spin form and replica sets (kuantum_solvers/qio/quadratic.py).

When float32 kernels are exact (and so chosen) and when they are not, and population annealing's
resampling, which must move a replica's whole state (spins, local fields, energy) and nothing else.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest
from kuantum_solvers.qio.lane_kernels import local_fields
from kuantum_solvers.qio.problem import Problem, parse_problem
from kuantum_solvers.qio.quadratic import Layout, ReplicaSet, quadratic_model
from kuantum_solvers.qio.solvers.common import random_bits

from .test_lanes import quadratic_doc


def _problem(kind: str, terms: list[tuple[float, list[int]]]) -> Problem:
    return parse_problem({"cost_function": {"version": "1.0", "type": kind,
                                            "terms": [{"c": c, "ids": ids} for c, ids in terms]}})


def _exact_in_float32(values: np.ndarray) -> bool:
    return bool(np.array_equal(values.astype(np.float32).astype(np.float64), values))


def test_twelve_fraction_bits_still_run_in_float32() -> None:
    """The documented range: multiples of 2^-12 (PUBO's rewriting adds two bits to its coefficients)."""
    for kind, c in (("ising", 2.0**-12), ("pubo", 2.0**-10)):
        q = quadratic_model(_problem(kind, [(c, [0, 1]), (1.0, [1])]))
        assert q is not None and q.dtype == np.float32, (kind, c)
    q = quadratic_model(_problem("ising", [(2.0**-13, [0, 1]), (1.0, [1])]))
    assert q is not None and q.dtype == np.float64


def test_a_fraction_whose_move_costs_float32_cannot_hold_runs_in_float64() -> None:
    c = 2.0**12 + 2.0**-12  # a multiple of 2^-12, but 25 significant bits: float32 would round it
    q = quadratic_model(_problem("ising", [(c, [0, 1]), (1.0, [0])]))
    assert q is not None and q.dtype == np.float64
    assert float(np.float32(2 * c)) != 2 * c


@pytest.mark.parametrize(("seed", "exponent"), [(1, -12), (2, 0), (3, 17)])
def test_float32_is_chosen_when_every_move_cost_is_exact_in_it(seed: int, exponent: int) -> None:
    doc: dict[str, Any] = quadratic_doc("ising", 8, seed=seed, integer=True, density=0.6)
    for term in doc["cost_function"]["terms"]:
        term["c"] = float(term["c"]) * 2.0**exponent
    p = parse_problem(json.loads(json.dumps(doc)))
    q = quadratic_model(p)
    assert q is not None and q.dtype == np.float32
    bits = random_bits(seed, 64, p.n, None)
    spins = (1.0 - 2.0 * bits.astype(np.float64)).T[None, :, :].copy()
    fields = np.empty_like(spins)
    local_fields(q.ptr, q.idx, q.couplings, q.fields, spins, fields)
    assert _exact_in_float32(q.couplings) and _exact_in_float32(q.fields)
    assert _exact_in_float32(2.0 * fields), "every move cost is exact in the float32 kernels"


@pytest.mark.parametrize("layout", [Layout(7, 1, 7), Layout(1, 8, 7), Layout(2, 4, 7)])
def test_resampling_copies_whole_replicas_and_keeps_seeds_and_best_states(layout: Layout) -> None:
    p = parse_problem(json.loads(json.dumps(quadratic_doc("pubo", 12, seed=5, integer=False, density=0.4))))
    q = quadratic_model(p)
    assert q is not None
    bits = random_bits(3, layout.replicas, p.n, None)
    rs = ReplicaSet(q, layout, bits, seed=4)
    seeds, best = rs.seeds.copy(), [b.copy() for b in rs.best_bits()]
    order = np.array([6, 6, 0, 3, 2, 1, 6])
    rs.resample(order)
    assert [b.tolist() for b in rs.bits()] == [bits[r].tolist() for r in order]
    for r, state in enumerate(rs.bits()):
        assert rs.energies()[r] == pytest.approx(p.energy(state) - p.offset, abs=1e-9)
    exact = np.empty(rs.spins.shape)
    local_fields(q.ptr, q.idx, q.couplings, q.fields, rs.spins.astype(np.float64), exact)
    np.testing.assert_allclose(rs.local, exact, atol=1e-9, err_msg="local fields follow their spins")
    np.testing.assert_array_equal(rs.seeds, seeds)
    assert [b.tolist() for b in rs.best_bits()] == [b.tolist() for b in best]
    rs.anneal(np.full(3, -1.0, dtype=np.float32), 0)  # the copies go on from the copied state, consistently
    for r, state in enumerate(rs.bits()):
        assert rs.energies()[r] == pytest.approx(p.energy(state) - p.offset, abs=1e-9)
