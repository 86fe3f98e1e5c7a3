"""Property tests of the incremental kernels and small helpers."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from kuantum_solvers import resources
from kuantum_solvers.formats.errors import INVALID_INPUT_DATA, SolverError
from kuantum_solvers.formats.targets import validate_params
from kuantum_solvers.io import maybe_gunzip
from kuantum_solvers.qio.kernels import flip, init_state
from kuantum_solvers.qio.problem import parse_problem
from kuantum_solvers.qio.run import run_qio

_term = st.fixed_dictionaries({
    "c": st.floats(-5, 5, allow_nan=False).map(lambda x: round(x, 3)),
    "ids": st.lists(st.integers(0, 7), min_size=0, max_size=4),
})


@settings(max_examples=60, deadline=None)
@given(kind=st.sampled_from(["ising", "pubo"]), terms=st.lists(_term, min_size=1, max_size=20),
       flips=st.lists(st.integers(0, 100), max_size=30), seed=st.integers(0, 1000))
def test_incremental_costs_match_recomputation(kind: str, terms: list[dict[str, object]], flips: list[int],
                                               seed: int) -> None:
    p = parse_problem({"cost_function": {"version": "1.0", "type": kind, "terms": terms}})
    if p.n == 0:
        return
    bits = np.random.default_rng(seed).integers(0, 2, p.n).astype(np.int8)
    de = np.zeros(p.n)
    tstate = np.zeros(p.n_terms, dtype=np.int32)
    args = (p.term_ptr, p.term_vars, p.term_coef, p.var_ptr, p.var_terms, p.is_ising)
    energy = init_state(*args, bits, de, tstate) + p.offset
    assert energy == pytest.approx(p.energy(bits), abs=1e-9)
    for f in flips:
        v = f % p.n
        before = p.energy(bits)
        flipped = bits.copy()
        flipped[v] ^= 1
        assert de[v] == pytest.approx(p.energy(flipped) - before, abs=1e-9)
        energy += de[v]
        flip(v, *args, bits, de, tstate)
        assert energy == pytest.approx(p.energy(bits), abs=1e-9)


def test_constant_only_problem() -> None:
    doc = {"cost_function": {"version": "1.0", "type": "ising", "terms": [{"c": 1.5, "ids": []}]}}
    for target in ("microsoft.simulatedannealing.cpu", "microsoft.substochasticmontecarlo.cpu"):
        out = run_qio(target, json.dumps(doc).encode(), validate_params(target, {}))
        assert out["cost"] == 1.5 and out["configuration"] == {}


def test_gzip_detection() -> None:
    assert maybe_gunzip(gzip.compress(b"{}")) == b"{}"
    assert maybe_gunzip(b"{}") == b"{}"
    with pytest.raises(SolverError) as info:
        maybe_gunzip(b"\x1f\x8bgarbage")
    assert info.value.code == INVALID_INPUT_DATA


def test_resources(monkeypatch: pytest.MonkeyPatch, tmp_path: object) -> None:
    assert resources.available_cores() >= 1
    assert resources.available_memory() > 0
    monkeypatch.setenv("KUANTUM_MEMORY_LIMIT_BYTES", "12345")
    assert resources.available_memory() == 12345
    cpu_max = f"{tmp_path}/cpu.max"
    with open(cpu_max, "w") as fh:
        fh.write("150000 100000\n")
    monkeypatch.setattr(resources, "CGROUP_V2_CPU_MAX", cpu_max)
    assert resources._cpu_quota() == 2


@pytest.mark.parametrize("version", ["v1", "v2"])
def test_memory_budget_is_the_containers_cgroup_limit_less_its_use(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, version: str
) -> None:
    """As a container sees its own cgroup: cgroup v1's memory controller or v2's unified files."""
    limit, usage = tmp_path / "limit", tmp_path / "usage"
    limit.write_text(f"{256 << 20}\n")
    usage.write_text(f"{56 << 20}\n")
    for name in ("CGROUP_V1_LIMIT", "CGROUP_V1_USAGE", "CGROUP_V2_MAX", "CGROUP_V2_CURRENT"):
        monkeypatch.setattr(resources, name, str(tmp_path / "absent"))
    monkeypatch.setattr(resources, "CGROUP_V1_LIMIT" if version == "v1" else "CGROUP_V2_MAX", str(limit))
    monkeypatch.setattr(resources, "CGROUP_V1_USAGE" if version == "v1" else "CGROUP_V2_CURRENT", str(usage))
    monkeypatch.setattr(resources, "_mem_available", lambda: 8 << 30)
    monkeypatch.delenv("KUANTUM_MEMORY_LIMIT_BYTES", raising=False)
    budget = resources.memory_budget()
    assert (budget.available, budget.limit, budget.used) == (200 << 20, 256 << 20, 56 << 20)
    resources.require_memory(200 << 20, "exactly what is left")
    with pytest.raises(SolverError) as info:
        resources.require_memory(300 << 20, "a big thing")
    assert info.value.code == "InsufficientMemory"
    assert info.value.message == ("a big thing needs 300.0 MiB (314572800 bytes), but the container's memory limit "
                                  "of 256.0 MiB leaves 200.0 MiB (209715200 bytes; 56.0 MiB in use)")


def test_without_a_memory_limit_the_nodes_free_memory_counts(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ("CGROUP_V1_LIMIT", "CGROUP_V1_USAGE", "CGROUP_V2_MAX", "CGROUP_V2_CURRENT"):
        monkeypatch.setattr(resources, name, str(tmp_path / "absent"))
    (tmp_path / "max").write_text("max\n")
    monkeypatch.setattr(resources, "CGROUP_V2_MAX", str(tmp_path / "max"))
    monkeypatch.setattr(resources, "_mem_available", lambda: 3 << 30)
    monkeypatch.delenv("KUANTUM_MEMORY_LIMIT_BYTES", raising=False)
    assert resources.memory_budget() == resources.MemoryBudget(3 << 30)
    assert "is available on the node" in resources.memory_budget().describe()
