"""The CUDA kernel of the optional GPU variant, checked without a GPU: its source is compiled as C++
for the host (a few lines of shim stand in for the CUDA built-ins), each replica run as its own
"thread", and the result compared bit for bit with the CPU lane kernels. On a machine with cupy and
a CUDA device, the same comparison runs on the device."""

from __future__ import annotations

import ctypes
import shutil
import subprocess
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from kuantum_solvers.qio import gpu
from kuantum_solvers.qio.lane_kernels import neg_beta_log2e
from kuantum_solvers.qio.problem import Problem
from kuantum_solvers.qio.quadratic import Layout, ReplicaSet, quadratic_model
from kuantum_solvers.qio.solvers.common import random_bits

from .test_lanes import problem_of, quadratic_doc

_SHIM = r"""
#include <math.h>
#include <string.h>
#define __global__
#define __device__
#define __forceinline__ inline
struct kq_dim3 { unsigned int x; };
static kq_dim3 blockIdx = {0}, blockDim = {1}, threadIdx = {0};
static inline float __int_as_float(int i) { float f; memcpy(&f, &i, sizeof f); return f; }
#include "anneal.cu"
// Every replica in turn, as the device would run them side by side.
extern "C" void kq_host_anneal(
    const long long* ptr, const int* idx, const REAL* w, REAL* s, REAL* f, const unsigned int* seeds,
    double* energy, REAL* best_s, double* best_energy, const float* nbetas, long long nb_sweep_stride,
    long long nb_replica_stride, int sweeps, unsigned int first_sweep, int n, int replicas)
{
    blockDim.x = (unsigned int)replicas;
    for (int r = 0; r < replicas; ++r) {
        threadIdx.x = (unsigned int)r;
        kq_anneal(ptr, idx, w, s, f, seeds, energy, best_s, best_energy, nbetas, nb_sweep_stride,
                  nb_replica_stride, sweeps, first_sweep, n, replicas);
    }
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
        # No fused multiply-add and no fast-math, like nvcc --fmad=false: IEEE operations in order.
        subprocess.run(["g++", "-O2", "-ffp-contract=off", "-fno-fast-math", "-shared", "-fPIC", f"-DREAL={real}",
                        "-I", str(folder), "-o", str(target), str(folder / "shim.cpp")], check=True)
        libraries[real] = ctypes.CDLL(str(target))
    return libraries


def _pointer(array: np.ndarray) -> ctypes.c_void_p:
    assert array.flags.c_contiguous
    return ctypes.c_void_p(array.ctypes.data)


def _host_anneal(lib: Any, rs: ReplicaSet, nbetas: np.ndarray, first_sweep: int) -> None:
    q = rs.q
    arrays = [q.ptr, q.idx, rs.weights, rs.spins[0], rs.local[0], rs.seeds[0], rs.energy[0], rs.best_spins[0],
              rs.best_energy[0], np.ascontiguousarray(nbetas, dtype=np.float32)]
    lib.kq_host_anneal(*[_pointer(a) for a in arrays], ctypes.c_longlong(1), ctypes.c_longlong(0),
                       ctypes.c_int(len(nbetas)), ctypes.c_uint(first_sweep), ctypes.c_int(q.n),
                       ctypes.c_int(rs.layout.replicas))


def _pair(p: Problem, replicas: int) -> tuple[ReplicaSet, ReplicaSet]:
    q = quadratic_model(p)
    assert q is not None
    bits = random_bits(4, replicas, p.n, None)
    return (ReplicaSet(q, Layout(1, replicas, replicas), bits, seed=21),
            ReplicaSet(q, Layout(replicas, 1, replicas), bits, seed=21))


@pytest.mark.parametrize(("kind", "integer"), [("ising", True), ("pubo", True), ("ising", False), ("pubo", False)])
def test_cuda_kernel_makes_the_cpu_kernels_moves(host_kernels: dict[str, Any], kind: str, integer: bool) -> None:
    p = problem_of(quadratic_doc(kind, 50, seed=12, integer=integer, density=0.12))
    device_like, cpu = _pair(p, replicas=9)
    lib = host_kernels["float" if device_like.q.dtype == np.float32 else "double"]
    betas = neg_beta_log2e(np.geomspace(0.05, 4.0, 80))
    for start in range(0, 80, 20):
        _host_anneal(lib, device_like, betas[start:start + 20], start)
        cpu.anneal(betas[start:start + 20], start)
    np.testing.assert_array_equal(np.array(device_like.bits()), np.array(cpu.bits()))
    np.testing.assert_array_equal(np.array(device_like.best_bits()), np.array(cpu.best_bits()))
    np.testing.assert_array_equal(device_like.energies(), cpu.energies())
    assert device_like.best_cost() == cpu.best_cost()


def test_gpu_is_used_only_when_present_and_worthwhile(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(gpu, "_cupy", lambda: object())
    assert gpu.use_gpu(gpu.GPU_MIN_REPLICAS) and not gpu.use_gpu(8)
    monkeypatch.setenv("KUANTUM_GPU", "on")
    assert gpu.use_gpu(8)
    monkeypatch.setattr(gpu, "_cupy", lambda: None)
    assert not gpu.use_gpu(10**6)


def test_on_a_cuda_device_the_gpu_replicas_match_the_cpu() -> None:
    if gpu._cupy() is None:
        pytest.skip("no cupy or no CUDA device here")
    p = problem_of(quadratic_doc("ising", 60, seed=5, integer=True, density=0.1))
    q = quadratic_model(p)
    assert q is not None
    bits = random_bits(4, 300, p.n, None)
    on_gpu = gpu.GpuReplicaSet(q, 300, bits, seed=3)
    cpu = ReplicaSet(q, Layout(300, 1, 300), bits, seed=3)
    betas = neg_beta_log2e(np.geomspace(0.05, 4.0, 50))
    on_gpu.anneal(betas, 0)
    cpu.anneal(betas, 0)
    np.testing.assert_array_equal(np.array(on_gpu.best_bits()), np.array(cpu.best_bits()))
    np.testing.assert_array_equal(on_gpu.energies(), cpu.energies())
    order = np.arange(300)[::-1].copy()
    on_gpu.resample(order)
    cpu.resample(order)
    np.testing.assert_array_equal(np.array(on_gpu.bits()), np.array(cpu.bits()))


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


@pytest.mark.parametrize("real", ["float", "double"])
def test_kernel_compiles_with_nvidias_compiler(real: str) -> None:
    """The options cupy gets (gpu.RawModule): no device is needed to compile to PTX."""
    nvrtc = _nvrtc()
    if nvrtc is None:
        pytest.skip("nvidia-cuda-nvrtc is not installed")
    program = ctypes.c_void_p()
    assert nvrtc.nvrtcCreateProgram(ctypes.byref(program), gpu.kernel_source().encode(), b"anneal.cu", 0, None,
                                    None) == 0
    options = [option.encode() for option in gpu.compile_options(real)] + [b"--gpu-architecture=compute_80"]
    result = nvrtc.nvrtcCompileProgram(program, len(options), (ctypes.c_char_p * len(options))(*options))
    size = ctypes.c_size_t()
    nvrtc.nvrtcGetProgramLogSize(program, ctypes.byref(size))
    log = ctypes.create_string_buffer(size.value)
    nvrtc.nvrtcGetProgramLog(program, log)
    assert result == 0, log.value.decode()
    assert "warning" not in log.value.decode().lower()
    ptx_size = ctypes.c_size_t()
    nvrtc.nvrtcGetPTXSize(program, ctypes.byref(ptx_size))
    ptx = ctypes.create_string_buffer(ptx_size.value)
    nvrtc.nvrtcGetPTX(program, ptx)
    assert f".entry {gpu.KERNEL_NAME}" in ptx.value.decode()
    nvrtc.nvrtcDestroyProgram(ctypes.byref(program))


def test_kernel_source_ships_with_the_package() -> None:
    assert "kq_anneal" in gpu.kernel_source()
    assert Path(gpu.__file__).with_name("cuda").joinpath("anneal.cu").exists()
