"""Running the QIO GPU kernels without a GPU, for the tests (test_gpu_kernel.py, test_gpu_replicas.py).

The kernel source is compiled as C++ for the host: a few lines of shim stand in for the CUDA
built-ins, every CUDA thread of a block is a host thread and `__syncthreads` a std::barrier, so the
very code the device runs (barriers, shared memory, the colour-class striding) runs here, block
after block. HostGpuReplicas sweeps replicas with it directly; HostDevice stands in for cupy, so
GpuReplicaSet and the solvers run their GPU path on it. NVIDIA's NVRTC (`nvrtc_ptx`) compiles the
same source to PTX with the options cupy gets.
"""

from __future__ import annotations

import ctypes
import subprocess
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from kuantum_solvers import device
from kuantum_solvers.qio import gpu
from kuantum_solvers.qio.problem import Problem
from kuantum_solvers.qio.quadratic import Layout, QuadraticModel, ReplicaSet, quadratic_model

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


def compile_host_kernels(folder: Path) -> dict[str, Any]:
    """The kernel source built as a host library, per REAL (float, double), in `folder`."""
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


def pointer(array: np.ndarray) -> ctypes.c_void_p:
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
            ctypes.c_uint(-(-self.replicas // self.group)), ctypes.c_uint(self.threads),
            pointer(m.ptr), pointer(m.idx), pointer(self.couplings), pointer(self.fields),
            pointer(self.colours.colour_ptr), ctypes.c_int(self.colours.colours),
            pointer(rs.spins[0]), pointer(rs.seeds[0]), pointer(rs.energy[0]), pointer(rs.best_spins[0]),
            pointer(rs.best_energy[0]), pointer(nbetas), ctypes.c_longlong(sweep_stride),
            ctypes.c_longlong(replica_stride), ctypes.c_int(len(nbetas) if sweeps is None else sweeps),
            ctypes.c_uint(first_sweep), ctypes.c_int(m.n), ctypes.c_int(self.replicas), ctypes.c_int(self.group))


def quadratic(kind: str, n: int, integer: bool, density: float, seed: int = 12) -> tuple[Problem, QuadraticModel]:
    p = problem_of(quadratic_doc(kind, n, seed=seed, integer=integer, density=density))
    q = quadratic_model(p)
    assert q is not None
    return p, q


class HostDevice:
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
        return pointer(value)
    return {np.dtype(np.int32): ctypes.c_int, np.dtype(np.int64): ctypes.c_longlong,
            np.dtype(np.uint32): ctypes.c_uint, np.dtype(np.float64): ctypes.c_double}[np.asarray(value).dtype](value)


def inverse(order: np.ndarray) -> np.ndarray:
    back = np.empty_like(order)
    back[order] = np.arange(order.shape[0])
    return back


def device_or_skip() -> None:
    if device.cupy() is None:
        # Loud on purpose: benchmarks/gpu.sh runs these on a device and must not pass by skipping.
        pytest.skip("ON-DEVICE TEST NOT RUN: no cupy or no CUDA device here (benchmarks/gpu.sh runs it on a GPU)")


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
