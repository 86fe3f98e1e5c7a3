"""The GPU path of the statevector simulator, checked without a GPU.

The CUDA source is compiled as C++ for the host behind a small shim (double2, the grid run
serially) and driven by the module's own plan and launch code: the state must equal the CPU
kernels' bit for bit. A numpy stand-in for cupy runs `apply_all`'s GPU branch (selection, memory
check, copies). NVRTC compiles the source as cupy would. On a CUDA device the same comparisons run
there (and skip loudly elsewhere).
"""

from __future__ import annotations

import ctypes
import math
import shutil
import subprocess
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
from kuantum_solvers import device as cuda
from kuantum_solvers.circuits import gpu_statevector as gsv
from kuantum_solvers.circuits.fusion import SWAP, fuse
from kuantum_solvers.circuits.qasm import run_qasm
from kuantum_solvers.circuits.statevector import apply_all, zero_state
from kuantum_solvers.formats.circuits import gates as g
from kuantum_solvers.formats.circuits.model import Gate
from kuantum_solvers.formats.errors import INSUFFICIENT_MEMORY, SolverError

from .gpu_host import nvrtc_ptx

_SHIM = r"""
#include <string.h>
#define __global__
#define __device__
#define __forceinline__ inline
struct double2 { double x, y; };
static inline double2 make_double2(double x, double y) { double2 d = {x, y}; return d; }
struct sv_dim3 { unsigned int x; };
static sv_dim3 blockIdx = {0}, blockDim = {1}, gridDim = {1}, threadIdx = {0};
#include "statevector.cu"
#define SV_GRID(grid, block, call) \
    gridDim.x = grid; blockDim.x = block; \
    for (blockIdx.x = 0; blockIdx.x < grid; ++blockIdx.x) \
        for (threadIdx.x = 0; threadIdx.x < block; ++threadIdx.x) { call; }
typedef long long ll;
extern "C" {
void host_sv_1q(unsigned g, unsigned b, double2* psi, ll n, ll q, const double2* m, ll at, ll c) {
    SV_GRID(g, b, sv_1q(psi, n, q, m, at, c)) }
void host_sv_diag_1q(unsigned g, unsigned b, double2* psi, ll n, ll q, const double2* m, ll at, ll c) {
    SV_GRID(g, b, sv_diag_1q(psi, n, q, m, at, c)) }
void host_sv_antidiag_1q(unsigned g, unsigned b, double2* psi, ll n, ll q, const double2* m, ll at, ll c) {
    SV_GRID(g, b, sv_antidiag_1q(psi, n, q, m, at, c)) }
void host_sv_2q(unsigned g, unsigned b, double2* psi, ll n, ll q0, ll q1, const double2* m, ll at, ll c) {
    SV_GRID(g, b, sv_2q(psi, n, q0, q1, m, at, c)) }
void host_sv_swap(unsigned g, unsigned b, double2* psi, ll n, ll q0, ll q1, ll c) {
    SV_GRID(g, b, sv_swap(psi, n, q0, q1, c)) }
void host_sv_diag_block(unsigned g, unsigned b, double2* psi, ll n, const ll* k, ll mat, const double2* m, ll at,
                        ll terms) {
    SV_GRID(g, b, sv_diag_block(psi, n, k, mat, m, at, terms)) }
}
"""

needs_gxx = pytest.mark.skipif(shutil.which("g++") is None, reason="needs a C++ compiler (g++)")


@pytest.fixture(scope="module")
def host_lib(tmp_path_factory: pytest.TempPathFactory) -> Any:
    folder = tmp_path_factory.mktemp("sv-host")
    (folder / "statevector.cu").write_text(gsv.SOURCE)
    (folder / "shim.cpp").write_text(_SHIM)
    target = folder / "sv.so"
    subprocess.run(["g++", "-O2", "-ffp-contract=off", "-fno-fast-math", "-shared", "-fPIC", "-I", str(folder),
                    "-o", str(target), str(folder / "shim.cpp")], check=True)
    return ctypes.CDLL(str(target))


def _ctype(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        assert value.flags.c_contiguous
        return ctypes.c_void_p(value.ctypes.data)
    assert isinstance(value, np.int64)
    return ctypes.c_longlong(int(value))


def _host_launcher(lib: Any, sms: int = 2, launched: list[str] | None = None) -> Any:
    def launch(kernel: str, work: int, args: tuple[Any, ...]) -> None:
        if launched is not None:
            launched.append(kernel)
        # A small grid: the grid-stride loops must cover `work` whatever the grid.
        getattr(lib, "host_" + kernel)(ctypes.c_uint(gsv.grid_size(work, sms)), ctypes.c_uint(gsv.THREADS_PER_BLOCK),
                                       *[_ctype(a) for a in args])
    return launch


def _random_circuit(n: int, depth: int, seed: int) -> list[Gate]:
    """Every gate shape the dispatch knows: general, diagonal, X-like, controlled, doubly
    controlled, two-qubit, SWAP, and runs of diagonals (merged into blocks by fuse)."""
    rng = np.random.default_rng(seed)
    out: list[Gate] = []
    for _ in range(depth):
        for q in range(n):
            t, p, lam = rng.uniform(0, 2 * math.pi, 3)
            out.append(Gate((q,), g.u3(t, p, lam)))
        a, b, c = (int(x) for x in rng.choice(n, 3, replace=False))
        out += [Gate((b,), g.X, (a,)), Gate((a,), g.rz(float(rng.uniform(0, 6))), ()), Gate((c,), g.T),
                Gate((b,), g.phase(0.3), (c,)), Gate((a,), g.Z, (b, c)), Gate((c,), g.X, (a, b)),
                Gate((a, c), np.kron(g.H, g.rx(0.7))), Gate((b, c), SWAP),
                Gate((a,), g.Y), Gate((b,), g.S, (a,)), Gate((c,), g.rz(0.2)),
                Gate((a,), g.u3(0.1, 0.2, 0.3), (b, c)), Gate((b, c), SWAP, (a,)),
                Gate((a,), g.T, (b, c)), Gate((c,), g.rz(0.4), (a, b))]
    return out


def _qft(n: int) -> list[Gate]:
    out = []
    for j in reversed(range(n)):
        out.append(Gate((j,), g.H))
        out += [Gate((j,), g.phase(math.pi / 2 ** (j - k)), (k,)) for k in reversed(range(j))]
    return out + [Gate((i, n - 1 - i), SWAP) for i in range(n // 2)]


def _cpu(n: int, gates: list[Gate], start: np.ndarray | None = None) -> np.ndarray:
    psi = zero_state(n) if start is None else start.copy()
    apply_all(psi, gates)
    return psi


@needs_gxx
@pytest.mark.parametrize(("n", "seed"), [(5, 1), (8, 2), (10, 3)])
def test_gpu_kernels_equal_the_cpu_kernels_bit_for_bit(host_lib: Any, n: int, seed: int,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KUANTUM_GPU", "off")
    gates = _random_circuit(n, 4, seed)
    fused = fuse(gates)
    p = gsv.plan(n, fused)
    kinds = {launch.kernel for launch in p.launches}
    assert kinds == set(gsv.KERNEL_NAMES), kinds  # every kernel exercised
    rng = np.random.default_rng(seed)
    start = rng.normal(size=1 << n) + 1j * rng.normal(size=1 << n)
    start /= np.linalg.norm(start)
    psi = start.copy()
    gsv.run_plan(p, psi, _host_launcher(host_lib), p.matrix_buffer(), p.mask_buffer())
    np.testing.assert_array_equal(psi, _cpu(n, gates, start))


@needs_gxx
def test_qft_on_the_gpu_kernels(host_lib: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KUANTUM_GPU", "off")
    n = 9
    p = gsv.plan(n, fuse(_qft(n)))
    psi = zero_state(n)
    psi[5] = 0.0
    psi[[0, 77, 300]] = [0.6, 0.0 + 0.8j, 0.0]
    expected = _cpu(n, _qft(n), psi)
    gsv.run_plan(p, psi, _host_launcher(host_lib), p.matrix_buffer(), p.mask_buffer())
    np.testing.assert_array_equal(psi, expected)


def test_plan_buffers_and_launch_arguments() -> None:
    fused = fuse([Gate((0,), g.H), Gate((1,), g.X, (0,)), Gate((2,), g.T), Gate((1,), g.S), Gate((0, 2), SWAP)])
    p = gsv.plan(3, fused)
    for launch in p.launches:
        args = gsv.kernel_args(launch, "psi", "M", "K")
        assert args[0] == "psi" and args[1] == launch.work
        assert all(isinstance(a, np.int64) for a in args[1:] if a not in ("M", "K"))
    assert gsv.device_bytes(30) == 16 << 30
    assert gsv.device_bytes(3, p) > 16 << 3
    assert gsv.grid_size(1, 132) == 1 and gsv.grid_size(1 << 30, 132) == 132 * gsv.BLOCKS_PER_SM


class _DeviceArray(np.ndarray):
    def get(self, out: np.ndarray) -> None:
        out[...] = self


class _HostCupy:
    """cupy as far as apply_fused uses it, with the host-compiled kernels."""

    def __init__(self, lib: Any, free: int) -> None:
        self.free = free
        self.launched: list[str] = []
        device = self

        class _Runtime:
            @staticmethod
            def memGetInfo() -> tuple[int, int]:
                return device.free, device.free

        class _Device:
            attributes = {"MultiProcessorCount": 2}

        class _Cuda:
            runtime = _Runtime
            Device = _Device

        self.cuda = _Cuda
        self.lib = lib

    @staticmethod
    def asarray(a: np.ndarray) -> _DeviceArray:
        return np.array(a, copy=True).view(_DeviceArray)

    def RawModule(self, code: str, options: tuple[str, ...]) -> Any:
        assert code == gsv.SOURCE and options == gsv.compile_options()
        device = self

        class _Module:
            def get_function(self, name: str) -> Any:
                def run(grid: tuple[int], block: tuple[int], args: tuple[Any, ...]) -> None:
                    device.launched.append(name)
                    getattr(device.lib, "host_" + name)(ctypes.c_uint(grid[0]), ctypes.c_uint(block[0]),
                                                        *[_ctype(np.asarray(a) if isinstance(a, np.ndarray) else a)
                                                          for a in args])
                return run

        return _Module()


@pytest.fixture
def host_cupy(host_lib: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[_HostCupy]:
    device = _HostCupy(host_lib, free=1 << 40)
    monkeypatch.setattr(cuda, "cupy", lambda: device)
    gsv._kernels.cache_clear()
    yield device
    gsv._kernels.cache_clear()


@needs_gxx
def test_apply_all_takes_the_gpu_when_wanted(host_cupy: _HostCupy, monkeypatch: pytest.MonkeyPatch) -> None:
    gates = _random_circuit(6, 3, 7)
    monkeypatch.setenv("KUANTUM_GPU", "off")
    expected = _cpu(6, gates)
    monkeypatch.setenv("KUANTUM_GPU", "auto")
    assert _cpu(6, gates).tobytes() == expected.tobytes() and not host_cupy.launched  # 6 < GPU_MIN_QUBITS
    monkeypatch.setenv("KUANTUM_GPU", "on")
    np.testing.assert_array_equal(_cpu(6, gates), expected)
    assert len(host_cupy.launched) == len(gsv.plan(6, fuse(gates)).launches)


@needs_gxx
def test_seeded_sampling_is_the_same_on_either(host_cupy: _HostCupy, monkeypatch: pytest.MonkeyPatch) -> None:
    qasm = ('OPENQASM 2.0;\ninclude "qelib1.inc";\nqreg q[5];\ncreg c[5];\nh q[0];\ncx q[0],q[1];\nu3(0.3,0.2,0.1) '
            'q[2];\nccx q[0],q[2],q[3];\ncp(0.4) q[3],q[4];\nswap q[1],q[4];\nmeasure q -> c;\n')
    monkeypatch.setenv("KUANTUM_GPU", "off")
    cpu = run_qasm(qasm, 500, seed=4)
    monkeypatch.setenv("KUANTUM_GPU", "on")
    assert run_qasm(qasm, 500, seed=4) == cpu
    assert host_cupy.launched


@needs_gxx
def test_device_memory_is_checked(host_cupy: _HostCupy, monkeypatch: pytest.MonkeyPatch) -> None:
    """auto: a state that does not fit runs on the CPU (and says so); KUANTUM_GPU=on: InsufficientMemory
    with the numbers."""
    gates = _random_circuit(7, 2, 3)
    monkeypatch.setenv("KUANTUM_GPU", "off")
    expected = _cpu(7, gates)
    host_cupy.free = 16 << 7  # the state alone, not its gate buffers
    monkeypatch.setattr(gsv, "GPU_MIN_QUBITS", 7)
    monkeypatch.setenv("KUANTUM_GPU", "auto")
    lines: list[str] = []
    psi = zero_state(7)
    apply_all(psi, gates, progress=lines.append)
    np.testing.assert_array_equal(psi, expected)
    assert not host_cupy.launched and "on the CPU" in lines[0]
    monkeypatch.setenv("KUANTUM_GPU", "on")
    with pytest.raises(SolverError) as err:
        apply_all(zero_state(7), gates)
    assert err.value.code == INSUFFICIENT_MEMORY
    assert "7-qubit statevector needs" in str(err.value) and "2.0 KiB of its memory is free" in str(err.value)


@pytest.mark.parametrize("arch", ["compute_80", "compute_90"])
def test_kernels_compile_with_nvidias_compiler(arch: str) -> None:
    ptx = nvrtc_ptx(gsv.SOURCE, "statevector.cu", gsv.compile_options(), arch)
    for name in gsv.KERNEL_NAMES:
        assert f".entry {name}" in ptx


def _device_or_skip() -> None:
    if cuda.cupy() is None:
        pytest.skip("ON-DEVICE TEST NOT RUN: no cupy or no CUDA device here (benchmarks/gpu.sh runs it on a GPU)")


@pytest.mark.parametrize("circuit", ["random", "qft"])
def test_on_a_cuda_device_the_state_equals_the_cpus(circuit: str, monkeypatch: pytest.MonkeyPatch) -> None:
    _device_or_skip()
    n = 22
    gates = _random_circuit(n, 3, 5) if circuit == "random" else _qft(n)
    monkeypatch.setenv("KUANTUM_GPU", "off")
    expected = _cpu(n, gates)
    monkeypatch.setenv("KUANTUM_GPU", "auto")
    psi = zero_state(n)
    assert gsv.apply_fused(psi, fuse(gates), len(gates))
    np.testing.assert_array_equal(psi, expected)
