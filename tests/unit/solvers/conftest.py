"""Shared helpers for the solver/simulator unit tests."""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
from kuantum_solvers.qio.problem import Problem, parse_problem


def random_problem(kind: str, n: int, seed: int, max_order: int = 4, n_terms: int = 24,
                   sparse: bool = True) -> dict[str, Any]:
    """Random k-local problem (orders 1..max_order) on n variables with sparse, shuffled ids."""
    rng = np.random.default_rng(seed)
    ids = rng.choice(10_000, size=n, replace=False).tolist() if sparse else list(range(n))
    terms = []
    for i in range(n):  # every variable appears at least once
        terms.append({"c": float(rng.normal()), "ids": [ids[i]]})
    for _ in range(n_terms):
        k = int(rng.integers(2, max_order + 1))
        chosen = rng.choice(ids, size=k, replace=False).tolist()
        terms.append({"c": float(np.round(rng.normal(), 3)), "ids": chosen})
    terms.append({"c": 0.75, "ids": []})
    return {"cost_function": {"version": "1.0", "type": kind, "terms": terms}}


def brute_force(p: Problem) -> float:
    assert p.n <= 14
    return min(p.energy(np.array(bits, dtype=np.int8)) for bits in itertools.product((0, 1), repeat=p.n))


def cost_of(doc: dict[str, Any], configuration: dict[str, int]) -> float:
    """Independent evaluation of the cost straight from the JSON terms (no canonicalisation)."""
    cf = doc["cost_function"]
    total = 0.0
    for t in cf["terms"]:
        value = t["c"]
        for i in t["ids"]:
            value *= configuration[str(i)]
        total += value
    return total


@pytest.fixture
def problem_factory() -> Any:
    def make(kind: str, n: int, seed: int, **kw: Any) -> tuple[dict[str, Any], Problem]:
        doc = random_problem(kind, n, seed, **kw)
        return doc, parse_problem(json.loads(json.dumps(doc)))

    return make


@pytest.fixture(scope="session")
def host_kernels(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The QIO GPU kernels built for the host with g++ (tests/unit/solvers/gpu_host.py), per REAL."""
    from .gpu_host import compile_host_kernels

    return compile_host_kernels(tmp_path_factory.mktemp("cuda-host"))


@pytest.fixture
def host_device(host_kernels: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """cupy replaced by a stand-in that runs the host-built kernels: the GPU code path, without a GPU."""
    from kuantum_solvers import device as cuda
    from kuantum_solvers.qio import gpu

    from .gpu_host import HostDevice

    device = HostDevice(host_kernels)
    monkeypatch.setattr(cuda, "cupy", lambda: device)
    gpu._kernels.cache_clear()
    yield device
    gpu._kernels.cache_clear()
