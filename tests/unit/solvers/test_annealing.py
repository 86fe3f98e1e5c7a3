"""Annealing, not descent: the solvers leave local minima that single-flip descent cannot leave, and the
user's parameters (beta range, sweeps, restarts, replicas, timeout) change what a run does, measured
on the result rather than read back from the echoed parameters.

The instances are frustrated Ising spin glasses on 18 variables (integer couplings, brute-forced):
one quadratic (the SIMD lane kernels run it) and one with 3-body terms (the term kernels run it).
Every run starts from `initial_configuration` = the deepest non-ground strict local minimum, so a
zero-temperature solver (greedy descent) stays there whatever its number of restarts or replicas.
"""

from __future__ import annotations

import functools
import itertools
import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest
from kuantum_solvers.formats.targets import validate_params
from kuantum_solvers.qio.quadratic import quadratic_model
from kuantum_solvers.qio.run import run_qio
from kuantum_solvers.qio.solvers import common
from kuantum_solvers.qio.solvers.common import Context

from .conftest import cost_of
from .test_lanes import problem_of

N = 18
SA = "microsoft.simulatedannealing.cpu"
PT = "microsoft.paralleltempering.cpu"
PA = "microsoft.populationannealing.cpu"
HOT, COLD = 0.01, 10.0  # a move of cost 50 is taken 60 % of the time at HOT; any move (>= 2) never at COLD


@dataclass(frozen=True)
class Instance:
    doc: dict[str, Any]  # starts in the trap
    energies: npt.NDArray[np.float64]  # of every configuration, index bit i = variable i is -1
    ground: int
    trap: int

    def config(self, index: int) -> dict[str, int]:
        return {str(i): -1 if (index >> i) & 1 else 1 for i in range(N)}

    @property
    def ground_cost(self) -> float:
        return float(self.energies[self.ground])

    @property
    def trap_cost(self) -> float:
        return float(self.energies[self.trap])

    def index_of(self, configuration: dict[str, int]) -> int:
        return sum(1 << i for i in range(N) if configuration[str(i)] == -1)


def _glass_terms(seed: int, cubic: int) -> list[dict[str, Any]]:
    rng = np.random.default_rng(seed)
    terms = [{"c": float(rng.integers(-4, 5)), "ids": [i, j]} for i, j in itertools.combinations(range(N), 2)]
    terms += [{"c": float(rng.integers(-2, 3)), "ids": [i]} for i in range(N)]
    for _ in range(cubic):
        terms.append({"c": float(rng.choice([-2, -1, 1, 2])), "ids": sorted(rng.choice(N, 3, replace=False).tolist())})
    return [t for t in terms if t["c"] != 0]


def _all_energies(terms: list[dict[str, Any]]) -> npt.NDArray[np.float64]:
    index = np.arange(1 << N, dtype=np.int64)
    spins = 1.0 - 2.0 * ((index[:, None] >> np.arange(N)) & 1)
    energies = np.zeros(1 << N)
    for term in terms:
        value = np.full(1 << N, term["c"])
        for i in term["ids"]:
            value = value * spins[:, i]
        energies += value
    return energies


def _strict_local_minima(energies: npt.NDArray[np.float64]) -> npt.NDArray[np.int64]:
    index = np.arange(1 << N)
    strict = np.ones(1 << N, dtype=bool)
    for i in range(N):
        strict &= energies[index ^ (1 << i)] > energies + 1e-9
    return np.nonzero(strict)[0]


@functools.cache
def instance(kind: str) -> Instance:
    terms = _glass_terms(5, cubic=6 if kind == "cubic" else 0)
    energies = _all_energies(terms)
    ground = int(np.argmin(energies))
    trap = int(min((m for m in _strict_local_minima(energies) if m != ground), key=lambda m: energies[m]))
    cost_function: dict[str, Any] = {"version": "1.0", "type": "ising", "terms": terms}
    inst = Instance({"cost_function": cost_function}, energies, ground, trap)
    cost_function["initial_configuration"] = inst.config(trap)
    return inst


def _solve(target: str, doc: dict[str, Any], **inner: Any) -> dict[str, Any]:
    params = validate_params(target, {"params": inner})
    return run_qio(target, json.dumps(doc).encode(), params, Context(progress=lambda _line: None, threads=1))


def _descend(energies: npt.NDArray[np.float64], state: int) -> int:
    """Sequential single-flip descent (what the solvers' sweeps do at zero temperature) to a local minimum."""
    for _ in range(10 * N):  # every pass lowers the cost by >= 1 (integer costs) or stops
        moved = False
        for i in range(N):
            if energies[state ^ (1 << i)] < energies[state]:
                state ^= 1 << i
                moved = True
        if not moved:
            return state
    raise AssertionError("descent did not stop")


# ----------------------------------------------------------------------------------------- the instances
@pytest.mark.parametrize("kind", ["quadratic", "cubic"])
def test_instances_trap_descent(kind: str) -> None:
    inst = instance(kind)
    assert (quadratic_model(problem_of(inst.doc)) is not None) == (kind == "quadratic")  # both kernel families
    assert np.count_nonzero(inst.energies == inst.ground_cost) == 1, "a unique ground state"
    assert inst.trap_cost > inst.ground_cost
    # The start is a strict local minimum: every single flip costs something, so descent never leaves it.
    assert all(inst.energies[inst.trap ^ (1 << i)] > inst.trap_cost for i in range(N))
    # And the landscape is rugged: descent from most random starts ends in some other local minimum.
    rng = np.random.default_rng(0)
    starts = rng.integers(0, 1 << N, size=200)
    reached = sum(_descend(inst.energies, int(s)) == inst.ground for s in starts)
    assert reached < 0.3 * len(starts), reached


# ----------------------------------------------------------------------------------------- annealing
ANNEALERS: dict[str, dict[str, Any]] = {
    SA: {"sweeps": 1000, "restarts": 1},
    PT: {"sweeps": 200, "replicas": 6},
    PA: {"sweeps": 50, "population": 16},
    "microsoft.qmc.cpu": {"sweeps": 1000, "trotter_number": 16, "restarts": 8},
    "microsoft.tabu.cpu": {"sweeps": 300, "restarts": 1},
    "microsoft.simulatedannealing-parameterfree.cpu": {"timeout": 10},
    "microsoft.paralleltempering-parameterfree.cpu": {"timeout": 10},
    "microsoft.populationannealing-parameterfree.cpu": {"timeout": 10},
}


@pytest.mark.parametrize("target", sorted(ANNEALERS))
@pytest.mark.parametrize("kind", ["quadratic", "cubic"])
@pytest.mark.parametrize("seed", [1, 2])
def test_annealers_leave_a_local_minimum_descent_cannot(target: str, kind: str, seed: int) -> None:
    inst = instance(kind)
    out = _solve(target, inst.doc, seed=seed, **ANNEALERS[target])
    assert out["configuration"] == inst.config(inst.ground), (
        f"{target} ended at cost {out['cost']} (trap {inst.trap_cost}, ground {inst.ground_cost}): "
        "it did not leave the local minimum it started in")
    assert out["cost"] == pytest.approx(inst.ground_cost, abs=1e-9)
    assert cost_of(inst.doc, out["configuration"]) == pytest.approx(out["cost"], abs=1e-9)


# ----------------------------------------------------------------------------------------- beta range
@pytest.mark.parametrize("kind", ["quadratic", "cubic"])
def test_sa_cold_beta_range_is_honoured(kind: str) -> None:
    """A user's cold-only range freezes the run in its start: the automatic range would have escaped."""
    inst = instance(kind)
    out = _solve(SA, inst.doc, seed=1, sweeps=300, restarts=4, beta_start=COLD, beta_stop=COLD)
    assert out["configuration"] == inst.config(inst.trap)
    assert [s["cost"] for s in out["solutions"]] == [inst.trap_cost]
    escaped = _solve(SA, inst.doc, seed=1, sweeps=300, restarts=4)
    assert escaped["cost"] < inst.trap_cost


def _is_local_minimum(inst: Instance, configuration: dict[str, int]) -> bool:
    index = inst.index_of(configuration)
    return all(inst.energies[index ^ (1 << i)] >= inst.energies[index] for i in range(N))


@pytest.mark.parametrize("kind", ["quadratic", "cubic"])
def test_sa_beta_start_and_stop_are_not_interchangeable(kind: str) -> None:
    """Hot to cold ends every restart frozen in a local minimum (and finds the ground state); cold to
    hot (the same two values swapped) still accepts uphill moves at the end, so the restarts end in
    configurations that are not even local minima.

    The solutions hold each restart's best and last state; a solution costing more than the start
    (the trap) cannot be a best, so it is a last state."""
    inst = instance(kind)
    annealed = _solve(SA, inst.doc, seed=3, sweeps=1000, restarts=4, beta_start=HOT, beta_stop=COLD)
    assert annealed["cost"] == inst.ground_cost
    last = [s for s in annealed["solutions"] if s["cost"] > inst.trap_cost]
    assert all(_is_local_minimum(inst, s["configuration"]) for s in last), last
    swapped = _solve(SA, inst.doc, seed=3, sweeps=1000, restarts=4, beta_start=COLD, beta_stop=HOT)
    last = [s for s in swapped["solutions"] if s["cost"] > inst.trap_cost]
    hot_ends = [s for s in last if not _is_local_minimum(inst, s["configuration"])]
    assert len(hot_ends) >= 3, swapped["solutions"]


@pytest.mark.parametrize("kind", ["quadratic", "cubic"])
def test_pt_betas_are_honoured(kind: str) -> None:
    inst = instance(kind)
    frozen = _solve(PT, inst.doc, seed=1, sweeps=200, all_betas=[COLD, COLD * 2])
    assert frozen["configuration"] == inst.config(inst.trap)
    tempered = _solve(PT, inst.doc, seed=1, sweeps=200, all_betas=[HOT, 0.1, 0.3, 1.0, COLD])
    assert tempered["configuration"] == inst.config(inst.ground)


@pytest.mark.parametrize("kind", ["quadratic", "cubic"])
def test_pa_beta_schedule_is_honoured(kind: str) -> None:
    inst = instance(kind)
    frozen = _solve(PA, inst.doc, seed=1, sweeps=50, population=16,
                    beta={"type": "geometric", "initial": COLD, "final": COLD})
    assert frozen["configuration"] == inst.config(inst.trap)
    annealed = _solve(PA, inst.doc, seed=1, sweeps=50, population=16,
                      beta={"type": "geometric", "initial": HOT, "final": COLD})
    assert annealed["configuration"] == inst.config(inst.ground)


# ----------------------------------------------------------------------------------------- sweeps, restarts
@pytest.fixture
def steps_run(monkeypatch: pytest.MonkeyPatch) -> list[tuple[int, int]]:
    """(steps asked, steps the Runner actually executed) for every Runner.run of a solve."""
    runs: list[tuple[int, int]] = []
    original = common.Runner.run

    def run(self: common.Runner, total: int, step: Any, unit: str = "sweeps", work: int = 1) -> int:
        done = original(self, total, step, unit, work)
        runs.append((total, done))
        return done

    monkeypatch.setattr(common.Runner, "run", run)
    return runs


@pytest.mark.parametrize(("target", "inner"), [(SA, {"sweeps": 137, "restarts": 2}), (PT, {"sweeps": 137}),
                                               (PA, {"sweeps": 137, "population": 8}),
                                               ("microsoft.tabu.cpu", {"sweeps": 137, "restarts": 2})])
@pytest.mark.parametrize("kind", ["quadratic", "cubic"])
def test_sweeps_run_are_the_sweeps_asked(target: str, inner: dict[str, Any], kind: str,
                                         steps_run: list[tuple[int, int]]) -> None:
    _solve(target, instance(kind).doc, seed=1, **inner)
    assert steps_run == [(137, 137)]


@pytest.mark.parametrize("kind", ["quadratic", "cubic"])
def test_one_sweep_cannot_anneal(kind: str) -> None:
    """One sweep runs at beta_stop: from the trap, nothing moves (the default 1000 would escape)."""
    inst = instance(kind)
    out = _solve(SA, inst.doc, seed=1, sweeps=1, restarts=4, beta_start=HOT, beta_stop=COLD)
    assert out["configuration"] == inst.config(inst.trap)


@pytest.mark.parametrize("kind", ["quadratic", "cubic"])
def test_restarts_are_independent_runs(kind: str) -> None:
    """At a constant hot beta every restart ends somewhere random: one distinct end state per restart."""
    inst = instance(kind)
    ends = {}
    for restarts in (1, 4):
        out = _solve(SA, inst.doc, seed=1, sweeps=20, restarts=restarts, beta_start=HOT, beta_stop=HOT)
        ends[restarts] = [s for s in out["solutions"] if s["cost"] > inst.trap_cost]
    assert len(ends[1]) == 1
    assert len(ends[4]) == 4


# ----------------------------------------------------------------------------------------- timeout
# seconds, process start and JIT included on a loaded machine: a generous bound for "stopped at its 1 s
# timeout" (the budgets below take hours)
HARD_LIMIT = 60.0


@pytest.mark.parametrize(("target", "inner"), [
    (SA, {"sweeps": 10**9, "restarts": 2}),
    (PT, {"sweeps": 10**9, "replicas": 4}),
    (PA, {"sweeps": 10**8, "population": 8}),
    ("microsoft.tabu.cpu", {"sweeps": 10**9, "restarts": 2}),
    pytest.param("microsoft.substochasticmontecarlo.cpu", {"step_limit": 10**9, "target_population": 8},
                 # Not strict: how long the first chunk takes depends on the machine's load and numba's
                 # cache, so on a fast, idle machine it may finish inside the bound (seen once).
                 marks=pytest.mark.xfail(strict=False, reason=(
                     "known bug: the Runner's first chunk is sized by work=walkers*steps_per_walker (8 here), "
                     "i.e. 125000 Python-level steps (~50 s) before the timeout clock even starts"))),
])
def test_timeout_ends_an_endless_run_with_a_result(target: str, inner: dict[str, Any], tmp_path: Path) -> None:
    inst = instance("cubic")
    problem = tmp_path / "problem.json"
    problem.write_text(json.dumps(inst.doc))
    output = tmp_path / "output.json"
    env = {**os.environ, "KUANTUM_TERMINATION_LOG": str(tmp_path / "log")}
    env.pop("KUANTUM_PARAMS", None)
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "kuantum_solvers", "--target", target, "--input", str(problem), "--output",
             str(output), "--params", json.dumps({"params": {"seed": 1, "timeout": 1, **inner}})],
            capture_output=True, text=True, env=env, timeout=HARD_LIMIT, check=False)
    except subprocess.TimeoutExpired:
        pytest.fail(f"{target} ignored its 1 s timeout: still running after {HARD_LIMIT:.0f} s")
    assert proc.returncode == 0, proc.stderr
    out = json.loads(output.read_text())
    assert set(out["configuration"]) == {str(i) for i in range(N)}
    assert cost_of(inst.doc, out["configuration"]) == pytest.approx(out["cost"], abs=1e-9)
    assert out["cost"] <= inst.trap_cost  # never worse than where it started
