"""Every QIO target finds the brute-force ground state of small k-local problems."""

from __future__ import annotations

import json
from typing import Any

import pytest
from kuantum_solvers.formats.targets import TARGETS, validate_params
from kuantum_solvers.qio.quadratic import quadratic_model
from kuantum_solvers.qio.run import run_qio

from .conftest import brute_force, cost_of

QIO_TARGETS = sorted(t for t, spec in TARGETS.items() if spec["kind"] == "solver")

# Small but non-trivial budgets so the whole matrix runs in seconds on 2 cores.
_BUDGETS: dict[str, dict[str, Any]] = {
    "microsoft.simulatedannealing.cpu": {"sweeps": 200, "restarts": 4},
    "microsoft.paralleltempering.cpu": {"sweeps": 200, "replicas": 6},
    "microsoft.tabu.cpu": {"sweeps": 300, "restarts": 4},
    "microsoft.populationannealing.cpu": {"sweeps": 50, "population": 32},
    "microsoft.qmc.cpu": {"sweeps": 200, "trotter_number": 8, "restarts": 2},
    "microsoft.substochasticmontecarlo.cpu": {"step_limit": 100, "target_population": 32, "steps_per_walker": 4},
}


def _params(target: str, seed: int) -> dict[str, Any]:
    inner = {"seed": seed, **_BUDGETS.get(target, {})}
    if "-parameterfree" in target:
        inner = {"seed": seed, "timeout": 5}
    return validate_params(target, {"params": inner})


def _solve(target: str, doc: dict[str, Any], seed: int = 7) -> dict[str, Any]:
    return run_qio(target, json.dumps(doc).encode(), _params(target, seed))


@pytest.mark.parametrize("target", QIO_TARGETS)
@pytest.mark.parametrize(("kind", "seed"), [("ising", 1), ("pubo", 2)])
def test_finds_ground_state(problem_factory: Any, target: str, kind: str, seed: int) -> None:
    doc, problem = problem_factory(kind, 10, seed, max_order=4)
    out = _solve(target, doc)
    assert out["version"] == "1.0"
    assert out["cost"] == pytest.approx(brute_force(problem), abs=1e-9)
    # Reported costs are the true costs of the reported configurations.
    assert cost_of(doc, out["configuration"]) == pytest.approx(out["cost"], abs=1e-9)
    for sol in out["solutions"]:
        assert cost_of(doc, sol["configuration"]) == pytest.approx(sol["cost"], abs=1e-9)
    assert set(out["configuration"]) == {str(i) for i in problem.ids}
    allowed = {-1, 1} if kind == "ising" else {0, 1}
    assert set(out["configuration"].values()) <= allowed
    assert out["parameters"]["seed"] == 7


@pytest.mark.parametrize("target", ["microsoft.simulatedannealing.cpu", "microsoft.tabu.cpu",
                                    "microsoft.paralleltempering.cpu", "microsoft.populationannealing.cpu",
                                    "microsoft.qmc.cpu", "microsoft.substochasticmontecarlo.cpu"])
def test_seeded_runs_are_reproducible(problem_factory: Any, target: str) -> None:
    doc, problem = problem_factory("ising", 12, 5, max_order=3)
    first, second = _solve(target, doc, seed=42), _solve(target, doc, seed=42)
    assert first["solutions"] == second["solutions"]
    assert first["parameters"] == second["parameters"]
    # What is reproduced is a correct answer: the ground state, with true costs.
    assert first["cost"] == pytest.approx(brute_force(problem), abs=1e-9)
    for sol in first["solutions"]:
        assert cost_of(doc, sol["configuration"]) == pytest.approx(sol["cost"], abs=1e-9)
    # And the seed drives the run: with the smallest budget (the answer is mostly the random start),
    # another seed gives another run.
    tiny = {"sweeps": 1, "restarts": 1, "replicas": 2, "population": 2, "trotter_number": 2, "step_limit": 1,
            "target_population": 2}
    known = set(TARGETS[target]["params"])

    def short(seed: int) -> Any:
        params = validate_params(target, {"params": {"seed": seed, **{k: v for k, v in tiny.items() if k in known}}})
        return run_qio(target, json.dumps(doc).encode(), params)["solutions"]

    assert short(42) == short(42)
    assert short(42) != short(43)


def test_three_and_four_local_pubo_larger(problem_factory: Any) -> None:
    doc, problem = problem_factory("pubo", 14, 9, max_order=4, n_terms=40)
    out = _solve("microsoft.simulatedannealing.cpu", doc)
    assert out["cost"] == pytest.approx(brute_force(problem), abs=1e-9)


def test_dwave_sampler_agrees_on_energies(problem_factory: Any) -> None:
    dimod = pytest.importorskip("dimod")
    pytest.importorskip("dwave.samplers")
    from dwave.samplers import SimulatedAnnealingSampler

    # Quadratic instance so dwave-samplers can solve it too.
    doc, _ = problem_factory("ising", 12, 3, max_order=2)
    h: dict[int, float] = {}
    j: dict[tuple[int, int], float] = {}
    for t in doc["cost_function"]["terms"]:
        ids = t["ids"]
        if len(ids) == 1:
            h[ids[0]] = h.get(ids[0], 0.0) + t["c"]
        elif len(ids) == 2:
            j[(ids[0], ids[1])] = j.get((ids[0], ids[1]), 0.0) + t["c"]
    offset = sum(t["c"] for t in doc["cost_function"]["terms"] if not t["ids"])
    bqm = dimod.BinaryQuadraticModel.from_ising(h, j, offset)
    ours = _solve("microsoft.simulatedannealing.cpu", doc)
    theirs = SimulatedAnnealingSampler().sample(bqm, num_reads=20, seed=1).first
    assert ours["cost"] == pytest.approx(theirs.energy, abs=1e-9)
    sample = {int(k): v for k, v in ours["configuration"].items()}
    assert bqm.energy(sample) == pytest.approx(ours["cost"], abs=1e-9)


def test_timeout_stops_early(problem_factory: Any) -> None:
    """10^9 sweeps would take hours; the 0.5 s timeout ends the run with a correct result. (A solver
    ignoring its timeout is caught within a hard limit by test_annealing's subprocess test.)"""
    doc, problem = problem_factory("ising", 10, 1)
    params = validate_params("microsoft.simulatedannealing.cpu", {"params": {"sweeps": 10**9, "timeout": 0.5,
                                                                              "seed": 1}})
    out = run_qio("microsoft.simulatedannealing.cpu", json.dumps(doc).encode(), params)
    assert out["parameters"]["timeout"] == 0.5
    assert set(out["configuration"]) == {str(i) for i in problem.ids}
    assert cost_of(doc, out["configuration"]) == pytest.approx(out["cost"], abs=1e-9)
    assert out["cost"] == pytest.approx(brute_force(problem), abs=1e-9)  # 0.5 s is plenty for 10 variables


@pytest.mark.parametrize("seed", [21, 22])
def test_quadratic_ising_fast_path(problem_factory: Any, seed: int) -> None:
    """Ising problems with only 1- and 2-variable terms run on the spin-form (local field) kernels."""
    doc, problem = problem_factory("ising", 12, seed, max_order=2, n_terms=30)
    assert quadratic_model(problem) is not None
    out = _solve("microsoft.simulatedannealing.cpu", doc)
    assert out["cost"] == pytest.approx(brute_force(problem), abs=1e-9)
    assert cost_of(doc, out["configuration"]) == pytest.approx(out["cost"], abs=1e-9)
