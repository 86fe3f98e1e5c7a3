"""The CUDA kernels of the optional QIO GPU variant, checked without a GPU.

The kernel source is compiled as C++ for the host: a few lines of shim stand in for the CUDA
built-ins, every CUDA thread of a block is a host thread and `__syncthreads` a std::barrier, so the
very code the device runs (barriers, shared memory, the colour-class striding) runs here, block
after block. Its results are compared bit for bit with the CPU lane kernels on the relabelled
(colour-ordered) problem. NVIDIA's NVRTC compiles the same source to PTX with the options cupy
gets. On a machine with cupy and a CUDA device the comparison also runs on the device.
"""

from __future__ import annotations

import ctypes
import math
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from kuantum_solvers.qio import gpu
from kuantum_solvers.qio.lane_kernels import neg_beta_log2e
from kuantum_solvers.qio.problem import Problem
from kuantum_solvers.qio.quadratic import Layout, QuadraticModel, ReplicaSet, quadratic_model
from kuantum_solvers.qio.solvers.common import random_bits, rng_streams
from kuantum_solvers.qio.solvers.pt import pt_sweeps_lanes

from .test_lanes import problem_of, quadratic_doc

_SHIM = r"""
#include <math.h>
#include <string.h>
#include <barrier>
#include <thread>
#include <vector>
#define __global__
#define __device__
#define __forceinline__ inline
#define __shared__ static
struct kq_dim3 { unsigned int x; };
static thread_local kq_dim3 threadIdx = {0};
static kq_dim3 blockIdx = {0}, blockDim = {1}, gridDim = {1};
static std::barrier<>* kq_block_barrier = nullptr;
static inline void __syncthreads() { kq_block_barrier->arrive_and_wait(); }
static inline float __int_as_float(int i) { float f; memcpy(&f, &i, sizeof f); return f; }
#include "anneal.cu"

// The grid's blocks one after another; the threads of a block side by side.
template <class Body> static void kq_launch(unsigned int grid, unsigned int block, Body body) {
    gridDim.x = grid;
    blockDim.x = block;
    for (unsigned int b = 0; b < grid; ++b) {
        blockIdx.x = b;
        std::barrier<> barrier((std::ptrdiff_t)block);
        kq_block_barrier = &barrier;
        std::vector<std::thread> threads;
        for (unsigned int t = 0; t < block; ++t) {
            threads.emplace_back([t, &body] { threadIdx.x = t; body(); });
        }
        for (auto& thread : threads) {
            thread.join();
        }
    }
}

extern "C" void kq_host_anneal(
    unsigned int grid, unsigned int block, const long long* ptr, const int* idx, const REAL* J, const REAL* h,
    const int* colour_ptr, int colours, REAL* s, const unsigned int* seeds, double* energy, REAL* best_s,
    double* best_energy, const float* nbetas, long long nb_sweep_stride, long long nb_replica_stride, int sweeps,
    unsigned int first_sweep, int n, int replicas, int group)
{
    kq_launch(grid, block, [&] {
        kq_anneal(ptr, idx, J, h, colour_ptr, colours, s, seeds, energy, best_s, best_energy, nbetas,
                  nb_sweep_stride, nb_replica_stride, sweeps, first_sweep, n, replicas, group);
    });
}

extern "C" void kq_host_energy(unsigned int grid, unsigned int block, const long long* ptr, const int* idx,
                               const REAL* J, const REAL* h, const REAL* s, double constant, double* energy, int n,
                               int replicas, int group)
{
    kq_launch(grid, block, [&] { kq_energy(ptr, idx, J, h, s, constant, energy, n, replicas, group); });
}

extern "C" void kq_host_exchange(unsigned int grid, unsigned int block, const double* betas, const float* nbetas,
                                 long long* perm, const double* energy, unsigned long long* rng, float* nb_of_replica,
                                 int temperatures)
{
    kq_launch(grid, block, [&] { kq_exchange(betas, nbetas, perm, energy, rng, nb_of_replica, temperatures); });
}
"""

pytestmark = pytest.mark.skipif(shutil.which("g++") is None, reason="needs a C++ compiler (g++)")


@pytest.fixture(scope="module")
def host_kernels(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    folder = tmp_path_factory.mktemp("cuda-host")
    (folder / "anneal.cu").write_text(gpu.kernel_source())
    (folder / "shim.cpp").write_text(_SHIM)
    libraries = {}
    for real in ("float", "double"):
        target = folder / f"anneal_{real}.so"
        # No fused multiply-add and no fast-math, like NVRTC --fmad=false: IEEE operations in order.
        subprocess.run(["g++", "-std=c++20", "-O2", "-ffp-contract=off", "-fno-fast-math", "-shared", "-fPIC",
                        "-pthread", f"-DREAL={real}", "-I", str(folder), "-o", str(target), str(folder / "shim.cpp")],
                       check=True)
        libraries[real] = ctypes.CDLL(str(target))
    return libraries


def _p(array: np.ndarray) -> ctypes.c_void_p:
    assert array.flags.c_contiguous
    return ctypes.c_void_p(array.ctypes.data)


class HostGpuReplicas:
    """What GpuReplicaSet keeps on the device, in host arrays, swept by the host-compiled kernel."""

    def __init__(self, lib: Any, q: QuadraticModel, bits: np.ndarray, seed: int, group: int, vthreads: int) -> None:
        self.lib = lib
        self.colours = gpu.colouring(q)
        self.model = gpu.relabelled(q, self.colours.order)
        self.rs = ReplicaSet(self.model, Layout(1, bits.shape[0], bits.shape[0]), bits[:, self.colours.order], seed)
        self.group = group
        self.threads = group * vthreads
        self.replicas = bits.shape[0]
        self.couplings = self.model.couplings.astype(self.model.dtype)
        self.fields = self.model.fields.astype(self.model.dtype)

    def anneal(self, nbetas: np.ndarray, first_sweep: int, sweep_stride: int = 1, replica_stride: int = 0,
               sweeps: int | None = None) -> None:
        rs, m = self.rs, self.model
        nbetas = np.ascontiguousarray(nbetas, dtype=np.float32)
        self.lib.kq_host_anneal(
            ctypes.c_uint(-(-self.replicas // self.group)), ctypes.c_uint(self.threads), _p(m.ptr), _p(m.idx),
            _p(self.couplings), _p(self.fields), _p(self.colours.colour_ptr), ctypes.c_int(self.colours.colours),
            _p(rs.spins[0]), _p(rs.seeds[0]), _p(rs.energy[0]), _p(rs.best_spins[0]), _p(rs.best_energy[0]),
            _p(nbetas), ctypes.c_longlong(sweep_stride), ctypes.c_longlong(replica_stride),
            ctypes.c_int(len(nbetas) if sweeps is None else sweeps), ctypes.c_uint(first_sweep), ctypes.c_int(m.n),
            ctypes.c_int(self.replicas), ctypes.c_int(self.group))


def _model(kind: str, n: int, integer: bool, density: float, seed: int = 12) -> tuple[Problem, QuadraticModel]:
    p = problem_of(quadratic_doc(kind, n, seed=seed, integer=integer, density=density))
    q = quadratic_model(p)
    assert q is not None
    return p, q


@pytest.mark.parametrize(("kind", "group", "vthreads", "replicas"),
                         [("ising", 1, 1, 3), ("ising", 2, 3, 9), ("pubo", 4, 5, 10), ("ising", 8, 4, 8)])
def test_cuda_kernel_makes_the_cpu_kernels_moves(host_kernels: dict[str, Any], kind: str, group: int,
                                                 vthreads: int, replicas: int) -> None:
    """float32 problems: every spin, best state and energy equal to the CPU lane kernels'
    sweeping the colour-ordered problem, whatever the block shape (the last block part idle)."""
    _, q = _model(kind, 50, integer=True, density=0.12)
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
    p, q = _model("ising", 40, integer=False, density=0.15)
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
    _, q = _model("ising", 40, integer=True, density=0.15)
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
        host_kernels["float"].kq_host_exchange(1, 1, _p(betas), _p(nbetas), _p(perm_gpu), _p(device_like.rs.energy[0]),
                                               _p(rng_gpu), _p(nb_of_replica), ctypes.c_int(k))
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
        host_kernels["double"].kq_host_exchange(1, threads, _p(betas), _p(nbetas), _p(perm_gpu), _p(energy),
                                                _p(rng_gpu), _p(nb_of_replica), ctypes.c_int(k))
        swap_temperatures(betas, perm_cpu, energy, rng_cpu, 0)
        np.testing.assert_array_equal(perm_gpu, perm_cpu)
        np.testing.assert_array_equal(rng_gpu, rng_cpu)
        np.testing.assert_array_equal(nb_of_replica[perm_gpu], nbetas)
        assert np.any(before != perm_gpu)
    moved = np.flatnonzero(np.random.default_rng(2).permutation(k) != perm_gpu)
    assert moved.min() < 1024 < moved.max(), "swaps on both sides of the first tile boundary"


def test_colouring_is_proper_and_relabelling_keeps_costs() -> None:
    _, q = _model("pubo", 60, integer=False, density=0.2)
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
    _, q = _model("ising", 50, integer=True, density=0.1)
    c = gpu.colouring(q)
    largest = int(np.diff(c.colour_ptr).max())
    assert gpu.choose_threads(8, c) == -(-8 * largest // 32) * 32
    big = gpu.Colouring(np.arange(10**5), np.array([0, 50_000, 10**5], dtype=np.int32))
    assert gpu.choose_threads(8, big) == gpu.choose_threads(1, big) == 1024
    assert gpu.device_bytes(q, 1000) > 2 * 50 * 1000 * 4


def test_gpu_is_used_only_when_present_and_worthwhile(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(gpu, "_cupy", lambda: object())
    assert gpu.use_gpu(gpu.GPU_MIN_REPLICAS) and not gpu.use_gpu(8)
    monkeypatch.setenv("KUANTUM_GPU", "on")
    assert gpu.use_gpu(8)
    monkeypatch.setenv("KUANTUM_GPU", "off")  # even with cupy loaded earlier in the process
    assert not gpu.use_gpu(10**6)
    monkeypatch.setenv("KUANTUM_GPU", "auto")
    monkeypatch.setattr(gpu, "_cupy", lambda: None)
    assert not gpu.use_gpu(10**6)


class _HostDevice:
    """A stand-in for cupy whose "device" arrays are numpy arrays and whose kernels are the
    host-compiled CUDA source: GpuReplicaSet and the solvers run their GPU code path unchanged."""

    def __init__(self, libraries: dict[str, Any], free_bytes: int = 1 << 40) -> None:
        self.libraries = libraries
        self.free_bytes = free_bytes
        self.launches: list[str] = []
        device = self

        class _Memory:
            class OutOfMemoryError(Exception):
                pass

        class _Runtime:
            @staticmethod
            def getDeviceCount() -> int:
                return 1

            @staticmethod
            def memGetInfo() -> tuple[int, int]:
                return device.free_bytes, device.free_bytes

        class _Stream:
            def synchronize(self) -> None:
                pass

        class _Device:
            attributes = {"MultiProcessorCount": 4}

        class _Cuda:
            memory = _Memory
            runtime = _Runtime
            Device = _Device

            @staticmethod
            def get_current_stream() -> _Stream:
                return _Stream()

        self.cuda = _Cuda

    def RawModule(self, code: str, options: tuple[str, ...]) -> Any:
        assert code == gpu.kernel_source() and "--fmad=false" in options
        lib = self.libraries[next(o for o in options if o.startswith("-DREAL=")).removeprefix("-DREAL=")]
        device = self

        class _Module:
            def get_function(self, name: str) -> Any:
                def launch(grid: tuple[int], block: tuple[int], args: tuple[Any, ...]) -> None:
                    device.launches.append(name)
                    getattr(lib, name.replace("kq_", "kq_host_"))(ctypes.c_uint(grid[0]), ctypes.c_uint(block[0]),
                                                                  *[_ctype(a) for a in args])
                return launch

        return _Module()

    @staticmethod
    def asarray(a: Any, dtype: Any = None) -> np.ndarray:
        return np.array(a, dtype=dtype, copy=True)

    @staticmethod
    def asnumpy(a: Any) -> np.ndarray:
        return np.array(a, copy=True)

    ascontiguousarray = staticmethod(np.ascontiguousarray)
    empty = staticmethod(np.empty)


def _ctype(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        return _p(value)
    return {np.dtype(np.int32): ctypes.c_int, np.dtype(np.int64): ctypes.c_longlong,
            np.dtype(np.uint32): ctypes.c_uint, np.dtype(np.float64): ctypes.c_double}[np.asarray(value).dtype](value)


@pytest.fixture
def host_device(host_kernels: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> Iterator[_HostDevice]:
    device = _HostDevice(host_kernels)
    monkeypatch.setattr(gpu, "_cupy", lambda: device)
    gpu._kernels.cache_clear()
    yield device
    gpu._kernels.cache_clear()


def _back(order: np.ndarray) -> np.ndarray:
    back = np.empty_like(order)
    back[order] = np.arange(order.shape[0])
    return back


def test_gpu_replica_set_on_the_host_device(host_device: _HostDevice) -> None:
    """GpuReplicaSet's own code (relabelling, launches, resampling, bits in the original order)
    against the CPU lane kernels on the relabelled problem."""
    _, q = _model("ising", 60, integer=True, density=0.1, seed=3)
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
    back = _back(on_gpu.colours.order)
    np.testing.assert_array_equal(np.array(on_gpu.bits()), np.array(cpu.bits())[:, back])
    np.testing.assert_array_equal(np.array(on_gpu.best_bits()), np.array(cpu.best_bits())[:, back])
    np.testing.assert_array_equal(on_gpu.energies(), cpu.energies())
    assert on_gpu.best_cost() == cpu.best_cost()
    assert host_device.launches == ["kq_energy", "kq_anneal", "kq_anneal"]


def test_device_side_start_energies(host_device: _HostDevice) -> None:
    """GpuReplicaSet makes spins and energies on the device (kq_energy): the CPU ReplicaSet's values,
    exactly for float32 problems, to rounding for float64 ones."""
    for integer in (True, False):
        _, q = _model("pubo", 45, integer=integer, density=0.2, seed=7)
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
def test_gpu_order_anneals_like_the_cpu_order(host_device: _HostDevice, integer: bool) -> None:
    """Statistically: the colour-ordered sweep (GPU) and the CPU's sweep in the original order end at
    the same mean energy, within standard errors (fixed seeds: deterministic)."""
    p, q = _model("ising", 40, integer=integer, density=0.1, seed=11)
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


def test_gpu_tempering_on_the_host_device(host_device: _HostDevice) -> None:
    _, q = _model("pubo", 40, integer=True, density=0.15, seed=4)
    k = 9
    bits = random_bits(2, k, q.n, None)
    on_gpu = gpu.GpuReplicaSet(q, k, bits, seed=8, group=2, threads=6)
    cpu = ReplicaSet(on_gpu.q, Layout(k, 1, k), bits[:, on_gpu.colours.order], seed=8)
    betas = np.geomspace(0.1, 3.0, k)
    nbetas = neg_beta_log2e(betas)
    perm_gpu, perm_cpu = np.arange(k, dtype=np.int64), np.arange(k, dtype=np.int64)
    rng_gpu, rng_cpu = rng_streams(8, 1, 1), rng_streams(8, 1, 1)
    on_gpu.temper(betas, nbetas, perm_gpu, rng_gpu, 0, 25)
    on_gpu.temper(betas, nbetas, perm_gpu, rng_gpu, 25, 15)
    pt_sweeps_lanes(*cpu.kernel_args(), betas, nbetas, perm_cpu, rng_cpu, 0, 40)
    np.testing.assert_array_equal(perm_gpu, perm_cpu)
    np.testing.assert_array_equal(rng_gpu, rng_cpu)
    np.testing.assert_array_equal(on_gpu.energies(), cpu.energies())
    back = _back(on_gpu.colours.order)
    np.testing.assert_array_equal(np.array(on_gpu.best_bits()), np.array(cpu.best_bits())[:, back])
    assert host_device.launches.count("kq_exchange") == 40


@pytest.mark.parametrize("solver", ["sa", "pa", "pt"])
def test_solvers_take_the_gpu_path(host_device: _HostDevice, monkeypatch: pytest.MonkeyPatch, solver: str) -> None:
    """SA, PA and PT run their quadratic replicas through GpuReplicaSet when a device is there
    (KUANTUM_GPU=on for a small run) and report states whose costs are right."""
    from kuantum_solvers.qio.solvers import pa, pt, sa
    from kuantum_solvers.qio.solvers.common import Context
    from kuantum_solvers.targets import validate_params

    monkeypatch.setenv("KUANTUM_GPU", "on")
    p, _q = _model("ising", 30, integer=True, density=0.2, seed=9)
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


def test_replicas_that_do_not_fit_the_device(host_device: _HostDevice, monkeypatch: pytest.MonkeyPatch) -> None:
    """auto: the CPU takes them; KUANTUM_GPU=on: InsufficientMemory with the numbers."""
    from kuantum_solvers.errors import SolverError

    _, q = _model("ising", 50, integer=True, density=0.1)
    bits = random_bits(1, 300, q.n, None)
    host_device.free_bytes = gpu.device_bytes(q, 300) - 1
    rs = gpu.replica_set(q, Layout(300, 1, 300), bits, 0)
    assert type(rs) is ReplicaSet
    monkeypatch.setenv("KUANTUM_GPU", "on")
    with pytest.raises(SolverError, match=r"300 replicas of 50 variables need .* GiB on the GPU, .* GiB free"):
        gpu.replica_set(q, Layout(300, 1, 300), bits, 0)
    host_device.free_bytes = gpu.device_bytes(q, 300)
    assert isinstance(gpu.replica_set(q, Layout(300, 1, 300), bits, 0), gpu.GpuReplicaSet)


def _device_or_skip() -> None:
    if gpu._cupy() is None:
        # Loud on purpose: benchmarks/gpu.sh runs these on a device and must not pass by skipping.
        pytest.skip("ON-DEVICE TEST NOT RUN: no cupy or no CUDA device here (benchmarks/gpu.sh runs it on a GPU)")


def test_on_a_cuda_device_the_gpu_replicas_match_the_cpu() -> None:
    _device_or_skip()
    _, q = _model("ising", 300, integer=True, density=0.02, seed=5)
    bits = random_bits(4, 300, q.n, None)
    on_gpu = gpu.GpuReplicaSet(q, 300, bits, seed=3)
    cpu = ReplicaSet(on_gpu.q, Layout(300, 1, 300), bits[:, on_gpu.colours.order], seed=3)
    betas = neg_beta_log2e(np.geomspace(0.05, 4.0, 50))
    on_gpu.anneal(betas, 0)
    cpu.anneal(betas, 0)
    back = np.empty_like(on_gpu.colours.order)
    back[on_gpu.colours.order] = np.arange(q.n)
    np.testing.assert_array_equal(np.array(on_gpu.best_bits()), np.array(cpu.best_bits())[:, back])
    np.testing.assert_array_equal(on_gpu.energies(), cpu.energies())
    order = np.arange(300)[::-1].copy()
    on_gpu.resample(order)
    cpu.resample(order)
    np.testing.assert_array_equal(np.array(on_gpu.bits()), np.array(cpu.bits())[:, back])


def test_on_a_cuda_device_tempering_matches_the_cpu() -> None:
    _device_or_skip()
    _, q = _model("ising", 200, integer=True, density=0.03, seed=6)
    k = 300
    bits = random_bits(2, k, q.n, None)
    on_gpu = gpu.GpuReplicaSet(q, k, bits, seed=8)
    cpu = ReplicaSet(on_gpu.q, Layout(k, 1, k), bits[:, on_gpu.colours.order], seed=8)
    betas = np.geomspace(0.1, 3.0, k)
    nbetas = neg_beta_log2e(betas)
    perm_gpu, perm_cpu = np.arange(k, dtype=np.int64), np.arange(k, dtype=np.int64)
    rng_gpu, rng_cpu = rng_streams(8, 1, 1), rng_streams(8, 1, 1)
    on_gpu.temper(betas, nbetas, perm_gpu, rng_gpu, 0, 40)
    pt_sweeps_lanes(*cpu.kernel_args(), betas, nbetas, perm_cpu, rng_cpu, 0, 40)
    # The device's exp() may differ from glibc's in the last place: a swap decision on that edge
    # would show here, with a message rather than a silent pass.
    np.testing.assert_array_equal(perm_gpu, perm_cpu)
    np.testing.assert_array_equal(on_gpu.energies(), cpu.energies())


def _nvrtc() -> ctypes.CDLL | None:
    """NVIDIA's runtime CUDA compiler (the one cupy uses), from the nvidia-cuda-nvrtc wheel."""
    try:
        import nvidia.cuda_nvrtc  # type: ignore[import-not-found]
    except ImportError:
        return None
    for folder in nvidia.cuda_nvrtc.__path__:
        for candidate in sorted(Path(folder, "lib").glob("libnvrtc.so*")):
            if "alt" not in candidate.name and "builtins" not in candidate.name:
                return ctypes.CDLL(str(candidate))
    return None


def nvrtc_ptx(source: str, name: str, options: tuple[str, ...], arch: str = "compute_90") -> str:
    """PTX of `source` compiled by NVRTC with `options` (asserts a clean compile); skips without NVRTC."""
    nvrtc = _nvrtc()
    if nvrtc is None:
        pytest.skip("nvidia-cuda-nvrtc is not installed")
    program = ctypes.c_void_p()
    assert nvrtc.nvrtcCreateProgram(ctypes.byref(program), source.encode(), name.encode(), 0, None, None) == 0
    encoded = [option.encode() for option in options] + [f"--gpu-architecture={arch}".encode()]
    result = nvrtc.nvrtcCompileProgram(program, len(encoded), (ctypes.c_char_p * len(encoded))(*encoded))
    size = ctypes.c_size_t()
    nvrtc.nvrtcGetProgramLogSize(program, ctypes.byref(size))
    log = ctypes.create_string_buffer(size.value)
    nvrtc.nvrtcGetProgramLog(program, log)
    assert result == 0, log.value.decode()
    assert "warning" not in log.value.decode().lower(), log.value.decode()
    ptx_size = ctypes.c_size_t()
    nvrtc.nvrtcGetPTXSize(program, ctypes.byref(ptx_size))
    ptx = ctypes.create_string_buffer(ptx_size.value)
    nvrtc.nvrtcGetPTX(program, ptx)
    nvrtc.nvrtcDestroyProgram(ctypes.byref(program))
    return ptx.value.decode()


@pytest.mark.parametrize("real", ["float", "double"])
def test_kernels_compile_with_nvidias_compiler(real: str) -> None:
    """The options cupy gets (gpu._kernels): no device is needed to compile to PTX."""
    ptx = nvrtc_ptx(gpu.kernel_source(), "anneal.cu", gpu.compile_options(real))
    for name in gpu.KERNEL_NAMES:
        assert f".entry {name}" in ptx


def test_kernel_source_ships_with_the_package() -> None:
    assert "kq_anneal" in gpu.kernel_source()
    assert Path(gpu.__file__).with_name("cuda").joinpath("anneal.cu").exists()
