"""The CUDA kernels of the optional QIO GPU variant, checked without a GPU.

The kernel source runs as host C++ (tests/unit/solvers/gpu_host.py) and its results are compared bit
for bit with the CPU lane kernels on the relabelled (colour-ordered) problem; NVIDIA's NVRTC compiles
the same source to PTX with the options cupy gets. GpuReplicaSet and the solvers on a stand-in device
are in test_gpu_replicas.py.
"""

from __future__ import annotations

import ctypes
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from kuantum_solvers import device
from kuantum_solvers.qio import gpu
from kuantum_solvers.qio.lane_kernels import neg_beta_log2e
from kuantum_solvers.qio.quadratic import Layout, ReplicaSet
from kuantum_solvers.qio.solvers.common import random_bits, rng_streams
from kuantum_solvers.qio.solvers.pt import pt_sweeps_lanes

from .gpu_host import HostGpuReplicas, nvrtc_ptx, pointer, quadratic

pytestmark = pytest.mark.skipif(shutil.which("g++") is None, reason="needs a C++ compiler (g++)")


@pytest.mark.parametrize(("kind", "group", "vthreads", "replicas"),
                         [("ising", 1, 1, 3), ("ising", 2, 3, 9), ("pubo", 4, 5, 10), ("ising", 8, 4, 8)])
def test_cuda_kernel_makes_the_cpu_kernels_moves(host_kernels: dict[str, Any], kind: str, group: int,
                                                 vthreads: int, replicas: int) -> None:
    """float32 problems: every spin, best state and energy equal to the CPU lane kernels'
    sweeping the colour-ordered problem, whatever the block shape (the last block part idle)."""
    _, q = quadratic(kind, 50, integer=True, density=0.12)
    assert q.dtype == np.float32
    bits = random_bits(4, replicas, q.n, None)
    device_like = HostGpuReplicas(host_kernels["float"], q, bits, 21, group, vthreads)
    assert device_like.colours.colours > 1
    cpu = ReplicaSet(device_like.model, Layout(replicas, 1, replicas), bits[:, device_like.colours.order], seed=21)
    betas = neg_beta_log2e(np.geomspace(0.05, 4.0, 80))
    for start in range(0, 80, 20):
        device_like.anneal(betas[start:start + 20], start)
        cpu.anneal(betas[start:start + 20], start)
    np.testing.assert_array_equal(np.array(device_like.rs.bits()), np.array(cpu.bits()))
    np.testing.assert_array_equal(np.array(device_like.rs.best_bits()), np.array(cpu.best_bits()))
    np.testing.assert_array_equal(device_like.rs.energies(), cpu.energies())
    assert device_like.rs.best_cost() == cpu.best_cost()


def test_float64_problems_stay_consistent(host_kernels: dict[str, Any]) -> None:
    """float64 problems: fields are summed in another order than the CPU's incremental ones, so
    moves may differ by rounding; the tracked energies must still be the states' exact costs."""
    p, q = quadratic("ising", 40, integer=False, density=0.15)
    assert q.dtype == np.float64
    bits = random_bits(5, 6, q.n, None)
    device_like = HostGpuReplicas(host_kernels["double"], q, bits, 3, 2, 3)
    device_like.anneal(neg_beta_log2e(np.geomspace(0.05, 4.0, 60)), 0)
    back = np.empty_like(device_like.colours.order)
    back[device_like.colours.order] = np.arange(q.n)
    for row, energy in zip(device_like.rs.bits(), device_like.rs.energies(), strict=True):
        assert energy + p.offset == pytest.approx(p.energy(row[back]), abs=1e-9)
    for row, energy in zip(device_like.rs.best_bits(), device_like.rs.best_energy[0], strict=True):
        assert energy + p.offset == pytest.approx(p.energy(row[back]), abs=1e-9)


def test_replica_exchange_matches_the_cpu_tempering(host_kernels: dict[str, Any]) -> None:
    """PT: a sweep of every replica at its temperature, then the exchange kernel, as GpuReplicaSet.temper
    does: same spins, energies, permutation and swap stream as pt_sweeps_lanes on the CPU."""
    _, q = quadratic("ising", 40, integer=True, density=0.15)
    k = 7
    bits = random_bits(9, k, q.n, None)
    device_like = HostGpuReplicas(host_kernels["float"], q, bits, 5, 2, 2)
    cpu = ReplicaSet(device_like.model, Layout(k, 1, k), bits[:, device_like.colours.order], seed=5)
    betas = np.geomspace(0.1, 3.0, k)
    nbetas = neg_beta_log2e(betas)
    perm_gpu, perm_cpu = np.arange(k, dtype=np.int64), np.arange(k, dtype=np.int64)
    rng_gpu, rng_cpu = rng_streams(5, 1, 1), rng_streams(5, 1, 1)
    nb_of_replica = np.zeros(k, dtype=np.float32)
    nb_of_replica[perm_gpu] = nbetas
    swapped = 0
    for t in range(60):
        device_like.anneal(nb_of_replica, t, sweep_stride=0, replica_stride=1, sweeps=1)
        before = perm_gpu.copy()
        host_kernels["float"].kq_host_exchange(1, 1, pointer(betas), pointer(nbetas), pointer(perm_gpu),
                                               pointer(device_like.rs.energy[0]), pointer(rng_gpu),
                                               pointer(nb_of_replica), ctypes.c_int(k))
        swapped += int(np.any(before != perm_gpu))
        np.testing.assert_array_equal(nb_of_replica[perm_gpu], nbetas)
    pt_sweeps_lanes(*cpu.kernel_args(), betas, nbetas, perm_cpu, rng_cpu, 0, 60)
    assert swapped > 0
    np.testing.assert_array_equal(perm_gpu, perm_cpu)
    np.testing.assert_array_equal(rng_gpu, rng_cpu)
    np.testing.assert_array_equal(np.array(device_like.rs.best_bits()), np.array(cpu.best_bits()))
    np.testing.assert_array_equal(device_like.rs.energies(), cpu.energies())


@pytest.mark.parametrize("threads", [1, 64])
def test_exchange_over_several_tiles_of_the_chain_matches_the_cpu(host_kernels: dict[str, Any], threads: int) -> None:
    """More temperatures than one shared-memory tile (1,024 pairs): a replica swapped across a tile's
    last position walks on into the next tile, exactly as in the CPU's one chain."""
    from kuantum_solvers.qio.solvers.pt import swap_temperatures

    k = 2 * 1024 + 300
    betas = np.geomspace(0.05, 3.0, k)
    nbetas = neg_beta_log2e(betas)
    energy = np.random.default_rng(1).normal(0.0, 4.0, k)
    perm_gpu = np.random.default_rng(2).permutation(k).astype(np.int64)
    perm_cpu = perm_gpu.copy()
    rng_gpu, rng_cpu = rng_streams(3, 1, 1), rng_streams(3, 1, 1)
    nb_of_replica = np.zeros(k, dtype=np.float32)
    for _ in range(3):
        before = perm_gpu.copy()
        host_kernels["double"].kq_host_exchange(1, threads, pointer(betas), pointer(nbetas), pointer(perm_gpu),
                                                pointer(energy), pointer(rng_gpu), pointer(nb_of_replica),
                                                ctypes.c_int(k))
        swap_temperatures(betas, perm_cpu, energy, rng_cpu, 0)
        np.testing.assert_array_equal(perm_gpu, perm_cpu)
        np.testing.assert_array_equal(rng_gpu, rng_cpu)
        np.testing.assert_array_equal(nb_of_replica[perm_gpu], nbetas)
        assert np.any(before != perm_gpu)
    moved = np.flatnonzero(np.random.default_rng(2).permutation(k) != perm_gpu)
    assert moved.min() < 1024 < moved.max(), "swaps on both sides of the first tile boundary"


def test_colouring_is_proper_and_relabelling_keeps_costs() -> None:
    _, q = quadratic("pubo", 60, integer=False, density=0.2)
    c = gpu.colouring(q)
    assert sorted(c.order.tolist()) == list(range(q.n))
    colour_of = np.empty(q.n, dtype=np.int64)
    for k in range(c.colours):
        colour_of[c.order[c.colour_ptr[k]:c.colour_ptr[k + 1]]] = k
    for v in range(q.n):
        for u in q.idx[q.ptr[v]:q.ptr[v + 1]]:
            assert u == v or colour_of[u] != colour_of[v]
    m = gpu.relabelled(q, c.order)
    bits = random_bits(1, 4, q.n, None)
    a = ReplicaSet(q, Layout(4, 1, 4), bits, 0)
    b = ReplicaSet(m, Layout(4, 1, 4), bits[:, c.order], 0)
    np.testing.assert_allclose(a.energies(), b.energies(), rtol=0, atol=1e-9)


def test_group_and_memory_arithmetic() -> None:
    assert gpu.choose_group(4096, 132) == 32  # 128 blocks of 32 replicas
    assert gpu.choose_group(1056, 132) == 8  # a block per SM
    assert gpu.choose_group(1024, 132) == 8  # 128 blocks: 7/8 of the SMs are enough
    assert gpu.choose_group(512, 132) == 4
    assert gpu.choose_group(100, 132) == 1
    _, q = quadratic("ising", 50, integer=True, density=0.1)
    c = gpu.colouring(q)
    largest = int(np.diff(c.colour_ptr).max())
    assert gpu.choose_threads(8, c) == -(-8 * largest // 32) * 32
    big = gpu.Colouring(np.arange(10**5), np.array([0, 50_000, 10**5], dtype=np.int32))
    assert gpu.choose_threads(8, big) == gpu.choose_threads(1, big) == 1024
    assert gpu.device_bytes(q, 1000) > 2 * 50 * 1000 * 4


def test_gpu_is_used_only_when_present_and_worthwhile(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(device, "cupy", lambda: object())
    assert gpu.use_gpu(gpu.GPU_MIN_REPLICAS) and not gpu.use_gpu(8)
    monkeypatch.setenv("KUANTUM_GPU", "on")
    assert gpu.use_gpu(8)
    monkeypatch.setenv("KUANTUM_GPU", "off")  # even with cupy loaded earlier in the process
    assert not gpu.use_gpu(10**6)
    monkeypatch.setenv("KUANTUM_GPU", "auto")
    monkeypatch.setattr(device, "cupy", lambda: None)
    assert not gpu.use_gpu(10**6)


@pytest.mark.parametrize("real", ["float", "double"])
def test_kernels_compile_with_nvidias_compiler(real: str) -> None:
    """The options cupy gets (gpu._kernels): no device is needed to compile to PTX."""
    ptx = nvrtc_ptx(gpu.kernel_source(), "anneal.cu", gpu.compile_options(real))
    for name in gpu.KERNEL_NAMES:
        assert f".entry {name}" in ptx


def test_kernel_source_ships_with_the_package() -> None:
    assert "kq_anneal" in gpu.kernel_source()
    assert Path(gpu.__file__).with_name("cuda").joinpath("anneal.cu").exists()
