"""Shared driver code: seeding, thread setup, schedules, chunked execution with progress and
timeouts, and collecting the best configurations into a result."""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from kuantum_solvers.qio.kernels import init_state
from kuantum_solvers.qio.problem import Problem
from kuantum_solvers.resources import available_cores

MAX_SOLUTIONS = 10
FIRST_CHUNK_WORK = 1_000_000


@dataclass
class SolveResult:
    states: list[npt.NDArray[np.int8]]  # candidate best configurations (kernel encoding)
    parameters: dict[str, Any]  # parameters actually used (reported back to the user)


@dataclass
class Context:
    """Run-wide settings passed to every solver."""

    progress: Callable[[str], None] = field(default=lambda line: print(line, file=sys.stderr, flush=True))
    threads: int = 0  # 0 = all available cores
    threads_in_use: int = 1  # set by configure_threads

    def configure_threads(self) -> int:
        import numba

        wanted = self.threads or available_cores()
        n = max(1, min(wanted, numba.config.NUMBA_NUM_THREADS))
        numba.set_num_threads(n)
        self.threads_in_use = n
        return n


def make_seed(seed: int | None) -> int:
    if seed is None:
        return int(np.random.SeedSequence().generate_state(1, dtype=np.uint32)[0])
    return int(seed)


def rng_streams(seed: int, count: int, salt: int = 0) -> npt.NDArray[np.uint64]:
    """One independent splitmix64 state per replica, derived from the user's seed."""
    return np.asarray(np.random.SeedSequence([seed, salt]).generate_state(count, dtype=np.uint64), dtype=np.uint64)


def random_bits(seed: int, rows: int, n: int, initial: npt.NDArray[np.int8] | None) -> npt.NDArray[np.int8]:
    if initial is not None:
        return np.tile(initial, (rows, 1)).astype(np.int8)
    gen = np.random.default_rng([seed, 7])
    return gen.integers(0, 2, size=(rows, n), dtype=np.int8)


def problem_args(p: Problem) -> tuple[Any, ...]:
    return (p.term_ptr, p.term_vars, p.term_coef, p.var_ptr, p.var_terms, p.is_ising)


def init_replicas(p: Problem, bits: npt.NDArray[np.int8]) -> tuple[
        npt.NDArray[np.float64], npt.NDArray[np.int32], npt.NDArray[np.float64]]:
    rows = bits.shape[0]
    de = np.zeros((rows, p.n), dtype=np.float64)
    tstate = np.zeros((rows, p.n_terms), dtype=np.int32)
    energy = np.zeros(rows, dtype=np.float64)
    for r in range(rows):
        energy[r] = init_state(*problem_args(p), bits[r], de[r], tstate[r])
    return de, tstate, energy


def auto_beta_range(p: Problem) -> tuple[float, float]:
    """Like dwave-samplers' default: hottest beta flips the costliest variable half the time,
    coldest leaves a 1% chance for the cheapest non-zero move."""
    scale = 2.0 if p.is_ising else 1.0
    if p.n_terms == 0:
        return 0.1, 1.0
    abs_c = np.abs(p.term_coef)
    per_var = np.zeros(p.n)
    np.add.at(per_var, p.term_vars, np.repeat(abs_c, np.diff(p.term_ptr)))
    max_delta = scale * float(per_var.max())
    nonzero = abs_c[abs_c > 0]
    # Clamp the smallest move to 1% of the typical one so a few tiny coefficients do not make
    # the schedule end absurdly cold.
    min_delta = scale * max(float(nonzero.min()), 0.01 * float(np.median(nonzero)))
    hot = math.log(2.0) / max_delta
    cold = math.log(100.0) / min_delta
    return hot, max(cold, hot)


def typical_delta(p: Problem) -> float:
    """Median size of a single-term cost change: the natural energy unit of the problem."""
    if p.n_terms == 0:
        return 1.0
    abs_c = np.abs(p.term_coef)
    nonzero = abs_c[abs_c > 0]
    return (2.0 if p.is_ising else 1.0) * float(np.median(nonzero)) if nonzero.size else 1.0


@dataclass(frozen=True)
class Schedule:
    """A linear or geometric ramp over `count` steps, evaluated lazily (sweep counts can be huge)."""

    kind: str
    initial: float
    final: float
    count: int

    def chunk(self, start: int, length: int) -> npt.NDArray[np.float64]:
        steps = np.arange(start, start + length, dtype=np.float64)
        frac = steps / (self.count - 1) if self.count > 1 else np.ones_like(steps)
        if self.kind == "geometric":
            return np.asarray(self.initial * (self.final / self.initial) ** frac, dtype=np.float64)
        return self.initial + (self.final - self.initial) * frac

    def __getitem__(self, i: int) -> float:
        return float(self.chunk(i, 1)[0])

    def values(self) -> npt.NDArray[np.float64]:
        return self.chunk(0, self.count)


def schedule(kind: str, initial: float, final: float, count: int) -> Schedule:
    return Schedule(kind, initial, final, count)


class Runner:
    """Runs `step(start, count)` over `total` steps in chunks of roughly `target_s` seconds, so
    progress is reported at most about once per second and timeouts are honoured between chunks."""

    def __init__(self, ctx: Context, label: str, timeout: float | None, target_s: float = 0.25) -> None:
        self.ctx = ctx
        self.label = label
        self.timeout = timeout
        # The clock starts after the first chunk: that one includes loading/compiling the numba
        # kernels, which is not solving time and would make short budgets non-reproducible.
        self.deadline: float | None = None
        self.target_s = target_s
        self.last_report = time.monotonic()
        self.timed_out = False

    def remaining(self) -> float:
        if self.timeout is None:
            return math.inf
        if self.deadline is None:
            return self.timeout
        return self.deadline - time.monotonic()

    def run(self, total: int, step: Callable[[int, int], float], unit: str = "sweeps", work: int = 1) -> int:
        """Returns the number of steps done; `step` returns the best cost so far for progress.
        `work` (elementary updates per step) sizes the first chunk to ~10^6 updates, so tiny
        problems do not pay a kernel launch per step."""
        done = 0
        chunk = max(1, FIRST_CHUNK_WORK // max(1, work))
        while done < total:
            if self.remaining() <= 0:
                self.timed_out = True
                break
            count = min(chunk, total - done)
            t0 = time.monotonic()
            best = step(done, count)
            elapsed = time.monotonic() - t0
            done += count
            if self.deadline is None and self.timeout is not None:
                self.deadline = time.monotonic() + self.timeout
            # Grow the chunk towards ~target_s per call (the first call may include JIT loading),
            # and never past the deadline, so a time budget is kept to about one step.
            per_step = max(elapsed / count, 1e-9)
            chunk = max(1, min(chunk * 4, int(min(self.target_s, self.remaining()) / per_step)))
            now = time.monotonic()
            if now - self.last_report >= 1.0:
                self.last_report = now
                self.ctx.progress(f"{self.label}: {done}/{total} {unit}, best cost so far {best:.6g}")
        return done


def until_stable(p: Problem, runner: Runner, round_fn: Callable[[int, int], list[npt.NDArray[np.int8]]],
                 size: int, max_size: int = 1 << 20) -> tuple[list[npt.NDArray[np.int8]], int, int]:
    """Parameter-free driver: run rounds of doubling size until the best cost has not improved for
    two rounds or the time budget is spent. Returns (candidates, last size, rounds)."""
    states: list[npt.NDArray[np.int8]] = []
    best = math.inf
    stable = 0
    rounds = 0
    while True:
        found = round_fn(size, rounds + 1)
        rounds += 1
        states.extend(found)
        cost = min(p.energy(s) for s in found)
        stable = stable + 1 if cost >= best - 1e-9 else 0
        best = min(best, cost)
        if stable >= 2 or runner.timed_out or runner.remaining() <= 0 or size >= max_size:
            return states, size, rounds
        size *= 2


def distinct_best(p: Problem, candidates: npt.NDArray[np.int8] | list[npt.NDArray[np.int8]]) -> list[
        tuple[float, npt.NDArray[np.int8]]]:
    """Exact costs of the candidates, best first, duplicates removed."""
    seen: set[bytes] = set()
    scored: list[tuple[float, npt.NDArray[np.int8]]] = []
    for state in candidates:
        key = np.asarray(state, dtype=np.int8).tobytes()
        if key in seen:
            continue
        seen.add(key)
        scored.append((p.energy(state), np.array(state, dtype=np.int8)))
    scored.sort(key=lambda item: item[0])
    return scored[:MAX_SOLUTIONS]


def build_output(p: Problem, result: SolveResult) -> dict[str, Any]:
    """`microsoft.qio-results.v2` document."""
    best = distinct_best(p, result.states)
    if not best:
        empty = np.zeros(p.n, dtype=np.int8)
        best = [(p.energy(empty), empty)]
    cost, state = best[0]
    return {
        "version": "1.0",
        "configuration": p.configuration(state),
        "cost": cost,
        "parameters": result.parameters,
        "solutions": [{"configuration": p.configuration(s), "cost": c} for c, s in best],
    }
