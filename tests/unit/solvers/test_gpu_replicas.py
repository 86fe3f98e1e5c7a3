"""GpuReplicaSet and the SA, PA and PT solvers on the GPU path, without a GPU: cupy is replaced by a
stand-in whose kernels are the host-built CUDA source (tests/unit/solvers/gpu_host.py). The
`on_a_cuda_device` tests compare against the CPU kernels on a real device (benchmarks/gpu.sh) and skip,
loudly, elsewhere.
"""

from __future__ import annotations

import math
import shutil
from dataclasses import dataclass

import numpy as np
import pytest
from kuantum_solvers.qio import gpu
from kuantum_solvers.qio.lane_kernels import neg_beta_log2e
from kuantum_solvers.qio.quadratic import Layout, QuadraticModel, ReplicaSet
from kuantum_solvers.qio.solvers.common import random_bits, rng_streams
from kuantum_solvers.qio.solvers.pt import pt_sweeps_lanes

from .gpu_host import HostDevice, device_or_skip, inverse, quadratic

pytestmark = pytest.mark.skipif(shutil.which("g++") is None, reason="needs a C++ compiler (g++)")


def test_gpu_replica_set_on_the_host_device(host_device: HostDevice) -> None:
    """GpuReplicaSet's own code (relabelling, launches, resampling, bits in the original order)
    against the CPU lane kernels on the relabelled problem."""
    _, q = quadratic("ising", 60, integer=True, density=0.1, seed=3)
    bits = random_bits(4, 20, q.n, None)
    on_gpu = gpu.GpuReplicaSet(q, 20, bits, seed=3, group=4, threads=12)
    assert (on_gpu.group, on_gpu.threads, on_gpu.blocks) == (4, 12, 5)
    for group, threads in ((4, 10), (64, 64), (1, 2048)):
        with pytest.raises(ValueError, match="block shape"):
            gpu.GpuReplicaSet(q, 20, bits, seed=3, group=group, threads=threads)
    cpu = ReplicaSet(on_gpu.q, Layout(20, 1, 20), bits[:, on_gpu.colours.order], seed=3)
    np.testing.assert_array_equal(np.array(on_gpu.bits()), bits)
    betas = neg_beta_log2e(np.geomspace(0.05, 4.0, 30))
    on_gpu.anneal(betas[:10], 0)
    cpu.anneal(betas[:10], 0)
    order = np.arange(20)[::-1].copy()
    on_gpu.resample(order)
    cpu.resample(order)
    on_gpu.anneal(betas[10:], 10)
    cpu.anneal(betas[10:], 10)
    back = inverse(on_gpu.colours.order)
    np.testing.assert_array_equal(np.array(on_gpu.bits()), np.array(cpu.bits())[:, back])
    np.testing.assert_array_equal(np.array(on_gpu.best_bits()), np.array(cpu.best_bits())[:, back])
    np.testing.assert_array_equal(on_gpu.energies(), cpu.energies())
    assert on_gpu.best_cost() == cpu.best_cost()
    assert host_device.launches == ["kq_energy", "kq_anneal", "kq_anneal"]


def test_device_side_start_energies(host_device: HostDevice) -> None:
    """GpuReplicaSet makes spins and energies on the device (kq_energy): the CPU ReplicaSet's values,
    exactly for float32 problems, to rounding for float64 ones."""
    for integer in (True, False):
        _, q = quadratic("pubo", 45, integer=integer, density=0.2, seed=7)
        bits = random_bits(6, 11, q.n, None)
        on_gpu = gpu.GpuReplicaSet(q, 11, bits, seed=1, group=4, threads=8)
        cpu = ReplicaSet(q, Layout(11, 1, 11), bits, seed=1)
        if integer:
            np.testing.assert_array_equal(on_gpu.energies(), cpu.energies())
        else:
            np.testing.assert_allclose(on_gpu.energies(), cpu.energies(), rtol=0, atol=1e-9)
        np.testing.assert_array_equal(np.array(on_gpu.bits()), bits)
        np.testing.assert_array_equal(on_gpu.best_energy, on_gpu.energy)


@pytest.mark.parametrize("integer", [True, False])
def test_gpu_order_anneals_like_the_cpu_order(host_device: HostDevice, integer: bool) -> None:
    """Statistically: the colour-ordered sweep (GPU) and the CPU's sweep in the original order end at
    the same mean energy, within standard errors (fixed seeds: deterministic)."""
    p, q = quadratic("ising", 40, integer=integer, density=0.1, seed=11)
    replicas = 400
    bits = random_bits(3, replicas, q.n, None)
    betas = neg_beta_log2e(np.geomspace(0.1, 1.5, 30))
    on_gpu = gpu.GpuReplicaSet(q, replicas, bits, seed=2, group=8, threads=64)
    cpu = ReplicaSet(q, Layout(replicas // 8, 8, replicas), bits, seed=2)
    on_gpu.anneal(betas, 0)
    cpu.anneal(betas, 0)
    a, b = on_gpu.energies(), cpu.energies()
    assert not np.array_equal(a, b)  # other moves...
    se = math.hypot(a.std(ddof=1), b.std(ddof=1)) / math.sqrt(replicas)
    assert abs(a.mean() - b.mean()) < 3 * se, (a.mean(), b.mean(), se)  # ...same distribution
    for row, energy in zip(on_gpu.bits()[:20], a[:20], strict=False):
        assert energy + p.offset == pytest.approx(p.energy(row), abs=1e-9)


@dataclass
class TemperingTwins:
    """The same replicas on the GPU path and in CPU lanes (on the relabelled problem), with the
    temperatures and, per side, the permutation and swap stream that PT updates."""

    on_gpu: gpu.GpuReplicaSet
    cpu: ReplicaSet
    betas: np.ndarray
    nbetas: np.ndarray
    perm_gpu: np.ndarray
    perm_cpu: np.ndarray
    rng_gpu: np.ndarray
    rng_cpu: np.ndarray


def tempering_twins(q: QuadraticModel, k: int, **shape: int) -> TemperingTwins:
    bits = random_bits(2, k, q.n, None)
    on_gpu = gpu.GpuReplicaSet(q, k, bits, seed=8, **shape)
    cpu = ReplicaSet(on_gpu.q, Layout(k, 1, k), bits[:, on_gpu.colours.order], seed=8)
    betas = np.geomspace(0.1, 3.0, k)
    return TemperingTwins(on_gpu, cpu, betas, neg_beta_log2e(betas), np.arange(k, dtype=np.int64),
                          np.arange(k, dtype=np.int64), rng_streams(8, 1, 1), rng_streams(8, 1, 1))


def test_gpu_tempering_on_the_host_device(host_device: HostDevice) -> None:
    _, q = quadratic("pubo", 40, integer=True, density=0.15, seed=4)
    t = tempering_twins(q, 9, group=2, threads=6)
    t.on_gpu.temper(t.betas, t.nbetas, t.perm_gpu, t.rng_gpu, 0, 25)
    t.on_gpu.temper(t.betas, t.nbetas, t.perm_gpu, t.rng_gpu, 25, 15)
    pt_sweeps_lanes(*t.cpu.kernel_args(), t.betas, t.nbetas, t.perm_cpu, t.rng_cpu, 0, 40)
    np.testing.assert_array_equal(t.perm_gpu, t.perm_cpu)
    np.testing.assert_array_equal(t.rng_gpu, t.rng_cpu)
    np.testing.assert_array_equal(t.on_gpu.energies(), t.cpu.energies())
    back = inverse(t.on_gpu.colours.order)
    np.testing.assert_array_equal(np.array(t.on_gpu.best_bits()), np.array(t.cpu.best_bits())[:, back])
    assert host_device.launches.count("kq_exchange") == 40


@pytest.mark.parametrize("solver", ["sa", "pa", "pt"])
def test_solvers_take_the_gpu_path(host_device: HostDevice, monkeypatch: pytest.MonkeyPatch, solver: str) -> None:
    """SA, PA and PT run their quadratic replicas through GpuReplicaSet when a device is there
    (KUANTUM_GPU=on for a small run) and report states whose costs are right."""
    from kuantum_solvers.formats.targets import validate_params
    from kuantum_solvers.qio.solvers import pa, pt, sa
    from kuantum_solvers.qio.solvers.common import Context

    monkeypatch.setenv("KUANTUM_GPU", "on")
    p, _q = quadratic("ising", 30, integer=True, density=0.2, seed=9)
    target, module, params = {
        "sa": ("microsoft.simulatedannealing.cpu", sa, {"sweeps": 50, "restarts": 6, "seed": 1}),
        "pa": ("microsoft.populationannealing.cpu", pa, {"sweeps": 30, "population": 12, "seed": 1}),
        "pt": ("microsoft.paralleltempering.cpu", pt, {"sweeps": 40, "replicas": 5, "seed": 1}),
    }[solver]
    result = module.solve(p, validate_params(target, {"params": params}), Context(progress=lambda _l: None),
                          parameter_free=False)
    assert "kq_anneal" in host_device.launches
    assert ("kq_exchange" in host_device.launches) == (solver == "pt")
    assert result.states and all(state.shape == (p.n,) for state in result.states)
    exhaustive_floor = -float(np.abs(p.term_coef).sum())
    assert min(p.energy(s) for s in result.states) >= exhaustive_floor


def test_replicas_that_do_not_fit_the_device(host_device: HostDevice, monkeypatch: pytest.MonkeyPatch) -> None:
    """auto: the CPU takes them; KUANTUM_GPU=on: InsufficientMemory with the numbers."""
    from kuantum_solvers.formats.errors import SolverError

    _, q = quadratic("ising", 50, integer=True, density=0.1)
    bits = random_bits(1, 300, q.n, None)
    host_device.free_bytes = gpu.device_bytes(q, 300) - 1
    rs = gpu.replica_set(q, Layout(300, 1, 300), bits, 0)
    assert type(rs) is ReplicaSet
    monkeypatch.setenv("KUANTUM_GPU", "on")
    with pytest.raises(SolverError, match=r"300 replicas of 50 variables need .* GiB on the GPU, .* GiB free"):
        gpu.replica_set(q, Layout(300, 1, 300), bits, 0)
    host_device.free_bytes = gpu.device_bytes(q, 300)
    assert isinstance(gpu.replica_set(q, Layout(300, 1, 300), bits, 0), gpu.GpuReplicaSet)


def test_on_a_cuda_device_the_gpu_replicas_match_the_cpu() -> None:
    device_or_skip()
    _, q = quadratic("ising", 300, integer=True, density=0.02, seed=5)
    bits = random_bits(4, 300, q.n, None)
    on_gpu = gpu.GpuReplicaSet(q, 300, bits, seed=3)
    cpu = ReplicaSet(on_gpu.q, Layout(300, 1, 300), bits[:, on_gpu.colours.order], seed=3)
    betas = neg_beta_log2e(np.geomspace(0.05, 4.0, 50))
    on_gpu.anneal(betas, 0)
    cpu.anneal(betas, 0)
    back = inverse(on_gpu.colours.order)
    np.testing.assert_array_equal(np.array(on_gpu.best_bits()), np.array(cpu.best_bits())[:, back])
    np.testing.assert_array_equal(on_gpu.energies(), cpu.energies())
    order = np.arange(300)[::-1].copy()
    on_gpu.resample(order)
    cpu.resample(order)
    np.testing.assert_array_equal(np.array(on_gpu.bits()), np.array(cpu.bits())[:, back])


def test_on_a_cuda_device_tempering_matches_the_cpu() -> None:
    device_or_skip()
    _, q = quadratic("ising", 200, integer=True, density=0.03, seed=6)
    t = tempering_twins(q, 300)
    t.on_gpu.temper(t.betas, t.nbetas, t.perm_gpu, t.rng_gpu, 0, 40)
    pt_sweeps_lanes(*t.cpu.kernel_args(), t.betas, t.nbetas, t.perm_cpu, t.rng_cpu, 0, 40)
    # The device's exp() may differ from glibc's in the last place: a swap decision on that edge
    # would show here, with a message rather than a silent pass.
    np.testing.assert_array_equal(t.perm_gpu, t.perm_cpu)
    np.testing.assert_array_equal(t.on_gpu.energies(), t.cpu.energies())
