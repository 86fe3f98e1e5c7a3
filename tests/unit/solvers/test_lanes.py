"""Quadratic problems in spin form and the replica-lane kernels: the spin rewrite is exact, lanes and
scalar replicas make identical decisions, incremental state matches recomputation, and a fixed
temperature samples the Boltzmann distribution."""

from __future__ import annotations

import itertools
import json
from typing import Any

import numpy as np
import pytest
from kuantum_solvers.formats.targets import validate_params
from kuantum_solvers.qio.lane_kernels import exp2, hash32, local_fields, neg_beta_log2e, uniform
from kuantum_solvers.qio.problem import Problem, parse_problem
from kuantum_solvers.qio.quadratic import Layout, ReplicaSet, choose_layout, quadratic_model
from kuantum_solvers.qio.run import run_qio
from kuantum_solvers.qio.solvers.common import random_bits
from numba import njit

from .conftest import brute_force, cost_of


def quadratic_doc(kind: str, n: int, seed: int, integer: bool = True, density: float = 0.4) -> dict[str, Any]:
    rng = np.random.default_rng(seed)
    terms = []
    for i in range(n):
        c = int(rng.integers(-3, 4)) if integer else float(np.round(rng.normal(), 4))
        terms.append({"c": c, "ids": [i]})
    for a, b in itertools.combinations(range(n), 2):
        if rng.random() < density:
            c = int(rng.choice([-2, -1, 1, 2])) if integer else float(np.round(rng.normal(), 4))
            terms.append({"c": c, "ids": [a, b]})
    terms.append({"c": 1.5, "ids": []})
    return {"cost_function": {"version": "1.0", "type": kind, "terms": terms}}


def problem_of(doc: dict[str, Any]) -> Problem:
    return parse_problem(json.loads(json.dumps(doc)))


@pytest.mark.parametrize("kind", ["ising", "pubo"])
@pytest.mark.parametrize("integer", [True, False])
def test_spin_form_reproduces_every_flip_cost(kind: str, integer: bool) -> None:
    p = problem_of(quadratic_doc(kind, 9, seed=3, integer=integer))
    q = quadratic_model(p)
    assert q is not None
    assert q.dtype == (np.float32 if integer else np.float64)
    bits = random_bits(5, 6, p.n, None)
    spins = (1.0 - 2.0 * bits.astype(np.float64)).T[None, :, :].copy()
    fields = np.empty_like(spins)
    local_fields(q.ptr, q.idx, q.couplings, q.fields, spins, fields)
    for r in range(bits.shape[0]):
        for v in range(p.n):
            flipped = bits[r].copy()
            flipped[v] ^= 1
            expected = p.energy(flipped) - p.energy(bits[r])
            assert -2.0 * spins[0, v, r] * fields[0, v, r] == pytest.approx(expected, abs=1e-9)


def test_k_local_problems_have_no_spin_form() -> None:
    doc = {"cost_function": {"version": "1.0", "type": "pubo", "terms": [{"c": 1, "ids": [0, 1, 2]}]}}
    assert quadratic_model(problem_of(doc)) is None


def test_large_or_fractional_coefficients_use_float64() -> None:
    big = {"cost_function": {"version": "1.0", "type": "ising", "terms": [
        {"c": 2.0**23, "ids": [0, 1]}, {"c": 1, "ids": [0, 2]}]}}  # 2·(2^23 + 1) needs 25 bits
    quarter = {"cost_function": {"version": "1.0", "type": "pubo", "terms": [{"c": 0.5, "ids": [0, 1]}]}}
    tenth = {"cost_function": {"version": "1.0", "type": "ising", "terms": [{"c": 0.1, "ids": [0, 1]}]}}
    for doc, expected in ((big, np.float64), (quarter, np.float32), (tenth, np.float64)):
        q = quadratic_model(problem_of(doc))
        assert q is not None and q.dtype == expected


def _anneal(p: Problem, layout: Layout, sweeps: int, seed: int = 11) -> ReplicaSet:
    q = quadratic_model(p)
    assert q is not None
    replicas = ReplicaSet(q, layout, random_bits(seed, layout.replicas, p.n, None), seed)
    betas = np.geomspace(0.05, 3.0, sweeps)
    for start in range(0, sweeps, 7):  # in chunks, like the solver's runner
        replicas.anneal(neg_beta_log2e(betas[start:start + 7]), start)
    return replicas


@pytest.mark.parametrize("kind", ["ising", "pubo"])
@pytest.mark.parametrize("integer", [True, False])
def test_lanes_and_scalar_replicas_make_identical_moves(kind: str, integer: bool) -> None:
    p = problem_of(quadratic_doc(kind, 40, seed=8, integer=integer, density=0.15))
    replicas = 11
    results = []
    for layout in (Layout(replicas, 1, replicas), Layout(2, 8, replicas), Layout(1, 16, replicas),
                   Layout(3, 4, replicas)):
        rs = _anneal(p, layout, sweeps=60)
        results.append((np.array(rs.bits()), np.array(rs.best_bits()), rs.energies().copy()))
    for bits, best, energies in results[1:]:
        np.testing.assert_array_equal(bits, results[0][0])
        np.testing.assert_array_equal(best, results[0][1])
        np.testing.assert_array_equal(energies, results[0][2])


@pytest.mark.parametrize("layout", [Layout(5, 1, 5), Layout(1, 8, 5)])
def test_tracked_energies_and_fields_match_recomputation(layout: Layout) -> None:
    p = problem_of(quadratic_doc("pubo", 30, seed=4, integer=False, density=0.2))
    rs = _anneal(p, layout, sweeps=40)
    q = rs.q
    exact = np.empty(rs.spins.shape)
    local_fields(q.ptr, q.idx, q.couplings, q.fields, rs.spins.astype(np.float64), exact)
    np.testing.assert_allclose(rs.local, exact, atol=1e-9)
    for r, bits in enumerate(rs.bits()):
        assert rs.energies()[r] == pytest.approx(p.energy(bits) - p.offset, abs=1e-9)
    best_flat = rs.best_energy.reshape(-1)
    for r, bits in enumerate(rs.best_bits()):
        assert best_flat[r] == pytest.approx(p.energy(bits) - p.offset, abs=1e-9)
        assert best_flat[r] <= rs.energies()[r] + 1e-9


def test_fixed_temperature_samples_the_boltzmann_distribution() -> None:
    doc = quadratic_doc("ising", 4, seed=2, integer=True, density=1.0)
    p = problem_of(doc)
    q = quadratic_model(p)
    assert q is not None
    beta = 0.4
    states = [np.array(s, dtype=np.int8) for s in itertools.product((0, 1), repeat=p.n)]
    weights = np.array([np.exp(-beta * p.energy(s)) for s in states])
    expected = weights / weights.sum()
    layout = Layout(1, 64, 64)
    rs = ReplicaSet(q, layout, random_bits(1, 64, p.n, None), seed=5)
    counts = np.zeros(len(states))
    nb = neg_beta_log2e([beta])
    for sweep in range(3000):
        rs.anneal(nb, sweep)
        if sweep >= 100:
            codes = (rs.spins[0] < 0).T.astype(np.int64) @ (1 << np.arange(p.n - 1, -1, -1))
            counts += np.bincount(codes, minlength=len(states))
    observed = counts / counts.sum()
    assert 0.5 * np.abs(observed - expected).sum() < 0.01


def test_exp2_and_uniform_draws() -> None:
    @njit
    def table(xs: np.ndarray) -> np.ndarray:
        out = np.empty_like(xs)
        for i in range(xs.shape[0]):
            out[i] = exp2(xs[i])
        return out

    @njit
    def draws(key: int, count: int) -> np.ndarray:
        out = np.empty(count, dtype=np.float32)
        for v in range(count):
            out[v] = uniform(np.uint32(key), v)
        return out

    xs = -np.linspace(0.0, 126.0, 200_001).astype(np.float32)
    np.testing.assert_allclose(table(xs), np.exp2(xs.astype(np.float64)), rtol=2e-7, atol=0)
    u = draws(12345, 400_000)
    assert u.min() > 0.0 and u.max() < 1.0
    counts = np.bincount((u * 100).astype(np.int64), minlength=100)
    chi2 = float((((counts - 4000.0) ** 2) / 4000.0).sum())
    assert chi2 < 160.0  # 99.99th percentile of chi-square with 99 degrees of freedom is ~158
    assert len({int(hash32(np.uint32(i))) for i in range(10_000)}) == 10_000


def test_layout_prefers_lanes_only_when_they_finish_sooner() -> None:
    f32 = np.dtype(np.float32)
    assert choose_layout(1, 1, f32).lanes == 1
    assert choose_layout(4, 4, f32).lanes == 1
    many = choose_layout(100, 2, f32)
    assert many.lanes > 1 and many.padded >= 100 and many.lanes % 8 == 0
    assert choose_layout(10, 1, f32).padded >= 10


def _solve(target: str, doc: dict[str, Any], inner: dict[str, Any], threads: int = 0) -> dict[str, Any]:
    from kuantum_solvers.qio.solvers.common import Context

    ctx = Context(progress=lambda _line: None, threads=threads)
    return run_qio(target, json.dumps(doc).encode(), validate_params(target, {"params": inner}), ctx)


@pytest.mark.parametrize(("target", "inner"), [
    ("microsoft.simulatedannealing.cpu", {"sweeps": 300, "restarts": 24}),
    ("microsoft.paralleltempering.cpu", {"sweeps": 300, "replicas": 16}),
    ("microsoft.populationannealing.cpu", {"sweeps": 60, "population": 64}),
])
@pytest.mark.parametrize(("kind", "integer"), [("ising", True), ("pubo", False)])
def test_lane_solvers_find_ground_states(target: str, inner: dict[str, Any], kind: str, integer: bool) -> None:
    doc = quadratic_doc(kind, 13, seed=17, integer=integer)
    p = problem_of(doc)
    q = quadratic_model(p)
    assert q is not None
    replicas = next(v for k, v in inner.items() if k != "sweeps")
    assert choose_layout(replicas, 1, q.dtype).lanes > 1  # these budgets run in lanes
    out = _solve(target, doc, {"seed": 3, **inner}, threads=1)
    assert out["cost"] == pytest.approx(brute_force(p), abs=1e-9)


@pytest.mark.parametrize("target", ["microsoft.simulatedannealing.cpu", "microsoft.populationannealing.cpu",
                                    "microsoft.paralleltempering.cpu"])
@pytest.mark.parametrize("replicas", [3, 8])
def test_results_do_not_depend_on_the_core_count(target: str, replicas: int) -> None:
    doc = quadratic_doc("ising", 60, seed=23, integer=True, density=0.1)
    size = {"microsoft.simulatedannealing.cpu": "restarts", "microsoft.populationannealing.cpu": "population",
            "microsoft.paralleltempering.cpu": "replicas"}[target]
    inner = {"sweeps": 30 if "population" in target else 50, size: replicas}
    q = quadratic_model(problem_of(doc))
    assert q is not None
    if replicas == 8:  # one block of SIMD lanes on one core, eight scalar replicas on two
        assert choose_layout(8, 1, q.dtype) != choose_layout(8, 2, q.dtype)
    one = _solve(target, doc, {"seed": 9, **inner}, threads=1)
    two = _solve(target, doc, {"seed": 9, **inner}, threads=2)
    assert one["solutions"] == two["solutions"]
    # The same answer, and a real one: true costs, best first, ending in a local minimum.
    costs = [s["cost"] for s in one["solutions"]]
    assert costs == sorted(costs)
    for sol in one["solutions"]:
        assert cost_of(doc, sol["configuration"]) == pytest.approx(sol["cost"], abs=1e-9)
    best = dict(one["configuration"])
    for v in best:
        flipped = {**best, v: -best[v]}
        assert cost_of(doc, flipped) >= one["cost"] - 1e-9, f"flipping {v} improves the reported best"
