"""The QIO solvers' shared driver (kuantum_solvers/qio/solvers/common.py).

The Runner on a fake clock (chunk sizes, the deadline counted from after the first chunk, progress at most once
a second), the parameter-free driver's stopping rule, the automatic beta range by what it promises (flip
probabilities at the hot and cold ends), schedules, and the result document.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest
from kuantum_solvers.qio.problem import Problem, parse_problem
from kuantum_solvers.qio.solvers import common
from kuantum_solvers.qio.solvers.common import (
    FIRST_CHUNK_WORK,
    MAX_SOLUTIONS,
    Context,
    Runner,
    SolveResult,
    auto_beta_range,
    build_output,
    distinct_best,
    make_seed,
    random_bits,
    schedule,
    typical_delta,
    until_stable,
)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    fake = Clock()
    monkeypatch.setattr(common.time, "monotonic", fake)
    return fake


def _problem(kind: str, terms: list[tuple[float, list[int]]]) -> Problem:
    return parse_problem({"cost_function": {"version": "1.0", "type": kind,
                                            "terms": [{"c": c, "ids": ids} for c, ids in terms]}})


def _flip_costs(p: Problem) -> list[float]:
    """|cost change| of every single flip from every configuration (brute force)."""
    costs = []
    for k in range(2 ** p.n):
        bits = np.array([(k >> i) & 1 for i in range(p.n)], dtype=np.int8)
        for v in range(p.n):
            flipped = bits.copy()
            flipped[v] ^= 1
            costs.append(abs(p.energy(flipped) - p.energy(bits)))
    return costs


class Steps:
    """A step function whose every step costs `per_step` seconds on the fake clock."""

    def __init__(self, clock: Clock, per_step: float, first_extra: float = 0.0) -> None:
        self.clock, self.per_step, self.first_extra = clock, per_step, first_extra
        self.calls: list[tuple[int, int]] = []

    def __call__(self, start: int, count: int) -> float:
        self.clock.now += count * self.per_step + (self.first_extra if not self.calls else 0.0)
        self.calls.append((start, count))
        return -1.5


def test_the_runner_does_every_step_once_in_order_in_growing_chunks(clock: Clock) -> None:
    lines: list[str] = []
    runner = Runner(Context(progress=lines.append), "sa", None)
    steps = Steps(clock, per_step=0.001)
    done = runner.run(1000, steps, work=FIRST_CHUNK_WORK // 4)
    assert done == 1000 and not runner.timed_out
    starts = [s for s, _ in steps.calls]
    assert starts == [0, *np.cumsum([c for _, c in steps.calls])[:-1].tolist()], "contiguous, no overlap"
    assert steps.calls[0] == (0, 4), "the first chunk is about FIRST_CHUNK_WORK updates"
    assert steps.calls[1][1] == 16, "then four times as many while a chunk stays under target_s"
    assert max(c for _, c in steps.calls) <= 0.25 / 0.001, "never much past target_s per call"
    assert runner.remaining() == math.inf


def test_one_step_at_least_and_no_step_past_the_total(clock: Clock) -> None:
    runner = Runner(Context(progress=lambda _: None), "sa", None)
    steps = Steps(clock, per_step=10.0)
    assert runner.run(3, steps, work=10 * FIRST_CHUNK_WORK) == 3
    assert steps.calls == [(0, 1), (1, 1), (2, 1)], "a step longer than target_s runs alone"
    odd = Steps(clock, per_step=1e-9)
    Runner(Context(progress=lambda _: None), "sa", None).run(10 ** 7, odd, work=3)
    assert odd.calls[0] == (0, FIRST_CHUNK_WORK // 3) and all(type(c) is int for _, c in odd.calls), \
        "whole steps (a schedule chunk has that many sweeps)"
    small = Steps(clock, per_step=1e-6)
    assert Runner(Context(progress=lambda _: None), "sa", None).run(5, small, work=1) == 5
    assert small.calls == [(0, 5)]


def test_the_deadline_starts_after_the_first_chunk_and_is_kept_to_about_one_step(clock: Clock) -> None:
    runner = Runner(Context(progress=lambda _: None), "sa", 2.0)
    assert runner.remaining() == 2.0, "no clock before the first chunk"
    steps = Steps(clock, per_step=0.01, first_extra=30.0)  # the first chunk loads/compiles the kernels
    began = clock.now
    done = runner.run(10 ** 9, steps, work=FIRST_CHUNK_WORK)
    assert runner.timed_out and 0 < done < 10 ** 9
    solving = clock.now - began - 30.0 - 0.01  # after the first chunk
    assert 2.0 - 1e-6 <= solving <= 2.0 + 0.26, "the budget is spent, and overrun by at most about one chunk"
    assert runner.remaining() <= 0


def test_a_spent_budget_stops_a_later_run_at_once(clock: Clock) -> None:
    runner = Runner(Context(progress=lambda _: None), "sa", 1.0)
    runner.run(10 ** 9, Steps(clock, per_step=0.01), work=FIRST_CHUNK_WORK)
    again = Steps(clock, per_step=0.01)
    assert runner.run(10, again) == 0 and again.calls == []


def test_progress_is_reported_at_most_once_a_second(clock: Clock) -> None:
    lines: list[str] = []
    runner = Runner(Context(progress=lines.append), "tabu", None)
    runner.run(10_000, Steps(clock, per_step=0.001), unit="moves", work=FIRST_CHUNK_WORK)
    assert 8 <= len(lines) <= 11, lines  # about 10 s of fake time
    assert all(line.startswith("tabu: ") and "/10000 moves, best cost so far -1.5" in line for line in lines)


def test_until_stable_doubles_until_two_rounds_bring_nothing(clock: Clock) -> None:
    p = _problem("pubo", [(1.0, [0]), (-2.0, [1])])
    runner = Runner(Context(progress=lambda _: None), "sa", None)
    by_cost = {1.0: [1, 0], 0.0: [0, 0], -1.0: [1, 1], -2.0: [0, 1]}
    costs = iter([1.0, 0.0, 0.0, -1.0, -1.0, -1.0, -2.0])  # improves, stalls once, improves, stalls twice
    sizes: list[tuple[int, int]] = []

    def round_fn(size: int, number: int) -> list[npt.NDArray[np.int8]]:
        sizes.append((size, number))
        return [np.array(by_cost[next(costs)], dtype=np.int8)]

    states, size, rounds = until_stable(p, runner, round_fn, 16)
    assert sizes == [(16, 1), (32, 2), (64, 3), (128, 4), (256, 5), (512, 6)]
    assert (size, rounds, len(states)) == (512, 6, 6)


def test_until_stable_stops_at_its_size_limit_or_a_spent_budget(clock: Clock) -> None:
    p = _problem("pubo", [(1.0, [0])])
    improving = iter(range(100, 0, -1))

    def better(size: int, number: int) -> list[npt.NDArray[np.int8]]:
        return [np.array([0], dtype=np.int8)] if next(improving) % 2 else [np.array([1], dtype=np.int8)]

    runner = Runner(Context(progress=lambda _: None), "sa", None)
    _, size, rounds = until_stable(p, runner, better, 4, max_size=16)
    assert (size, rounds) == (16, 3)
    spent = Runner(Context(progress=lambda _: None), "sa", 0.0)
    spent.deadline = clock.now
    _, size, rounds = until_stable(p, spent, better, 4)
    assert (size, rounds) == (4, 1)


def test_the_auto_beta_range_gives_the_promised_flip_probabilities() -> None:
    for kind in ("ising", "pubo"):
        p = _problem(kind, [(3.0, [0, 1]), (0.5, [2])])
        hot, cold = auto_beta_range(p)
        moves = [c for c in _flip_costs(p) if c > 0]
        assert math.exp(-hot * max(moves)) == pytest.approx(0.5), "the costliest flip half the time when hot"
        assert math.exp(-cold * min(moves)) == pytest.approx(0.01), "the cheapest 1 % of the time when cold"
        assert hot < cold


def test_the_auto_beta_range_ignores_tiny_outliers_and_never_runs_backwards() -> None:
    p = _problem("ising", [(1.0, [0, 1]), (1.0, [1, 2]), (1.0, [2, 3]), (1e-9, [3])])
    hot, cold = auto_beta_range(p)
    assert cold == pytest.approx(math.log(100.0) / (2.0 * 0.01)), "the smallest move is clamped to 1 % of the median"
    one = _problem("ising", [(2.0, [0])])
    hot, cold = auto_beta_range(one)
    assert cold >= hot and math.exp(-hot * 4.0) == pytest.approx(0.5)


def test_typical_delta_is_the_median_single_term_change() -> None:
    assert typical_delta(_problem("ising", [(1.0, [0]), (3.0, [1]), (-8.0, [2])])) == 6.0
    assert typical_delta(_problem("pubo", [(1.0, [0]), (3.0, [1]), (-8.0, [2])])) == 3.0


@pytest.mark.parametrize("kind", ["geometric", "linear"])
def test_schedules_run_from_initial_to_final_and_chunks_agree_with_the_whole(kind: str) -> None:
    s = schedule(kind, 0.5, 8.0, 5)
    values = s.values()
    assert values[0] == pytest.approx(0.5) and values[-1] == pytest.approx(8.0) and len(values) == 5
    middle = 0.5 * (8.0 / 0.5) ** 0.5 if kind == "geometric" else 0.5 + 7.5 * 0.5
    assert values[2] == pytest.approx(middle)
    assert np.allclose(np.concatenate([s.chunk(0, 2), s.chunk(2, 3)]), values)
    assert s[3] == pytest.approx(values[3])
    assert schedule(kind, 0.5, 8.0, 1).values().tolist() == [pytest.approx(8.0)], "one step: the final value"


def test_seeds_and_starting_states() -> None:
    assert make_seed(42) == 42
    assert make_seed(None) != make_seed(None) or make_seed(None) != make_seed(None)
    initial = np.array([1, 0, 1], dtype=np.int8)
    assert random_bits(1, 3, 3, initial).tolist() == [[1, 0, 1]] * 3
    bits = random_bits(5, 64, 8, None)
    assert bits.shape == (64, 8) and set(np.unique(bits).tolist()) == {0, 1}
    assert np.array_equal(bits, random_bits(5, 64, 8, None)) and not np.array_equal(bits, random_bits(6, 64, 8, None))


def test_the_result_lists_distinct_configurations_best_first_and_at_most_ten() -> None:
    p = _problem("pubo", [(1.0, [0]), (2.0, [1]), (4.0, [2]), (8.0, [3])])
    states = [np.array([(k >> i) & 1 for i in range(4)], dtype=np.int8) for k in range(16)]
    ranked = distinct_best(p, states[::-1] + states)
    assert MAX_SOLUTIONS == 10 and [c for c, _ in ranked] == list(range(10))
    out = build_output(p, SolveResult(states[::-1], {"seed": 3}))
    assert out["cost"] == 0.0 and out["configuration"] == {"0": 0, "1": 0, "2": 0, "3": 0}
    assert out["parameters"] == {"seed": 3} and out["version"] == "1.0"
    assert [s["cost"] for s in out["solutions"]] == [float(c) for c in range(10)]


def test_a_result_with_no_candidates_reports_the_all_zero_configuration() -> None:
    p = _problem("ising", [(1.0, [0, 1]), (0.5, [])])
    out: dict[str, Any] = build_output(p, SolveResult([], {}))
    assert out["configuration"] == {"0": 1, "1": 1} and out["cost"] == 1.5
    assert out["solutions"] == [{"configuration": {"0": 1, "1": 1}, "cost": 1.5}]


def test_a_problem_of_constants_only_still_gets_a_usable_temperature_range() -> None:
    """Its variables named only by the initial configuration: nothing to scale by, yet a solver runs on it."""
    p = parse_problem({"cost_function": {"type": "ising", "terms": [{"c": 2.5, "ids": []}],
                                         "initial_configuration": {"4": 1}}})
    assert (p.n, p.n_terms) == (1, 0)
    hot, cold = auto_beta_range(p)
    assert 0 < hot <= cold and math.isfinite(cold)
    assert typical_delta(p) == 1.0
