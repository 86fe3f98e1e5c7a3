"""Optional GPU path of the statevector simulator (cupy + the CUDA kernels below).

`apply_all` in statevector.py hands its fused gate list here first: when cupy sees a CUDA device,
the circuit has at least GPU_MIN_QUBITS qubits (`KUANTUM_GPU=on`: any size, `off`: never) and the
state fits in the device's free memory, the state is copied to the device, every fused gate runs
as one kernel, and the result is copied back into the caller's array; sampling and output formats
are the CPU code's, unchanged. A state too large for the device runs on the CPU, or, with
`KUANTUM_GPU=on`, fails with InsufficientMemory and the numbers.

The kernels are the CPU kernels' twins: the same dispatch (general, diagonal, X-like, SWAP, merged
diagonal runs, controls as a mask), the same complex arithmetic operation for operation
((a+bi)(c+di) = (ac - bd) + (ad + bc)i, as numba computes it), built with --fmad=false, so the GPU
state equals the CPU state bit for bit. The host tests compile this source as C++ and compare.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from kuantum_solvers import device
from kuantum_solvers.circuits.fusion import DiagonalBlock, Progress, control_mask, kernel_of, state_bytes
from kuantum_solvers.formats.circuits.model import Gate
from kuantum_solvers.formats.errors import INSUFFICIENT_MEMORY, SolverError
from kuantum_solvers.resources import fmt_bytes

GPU_MIN_QUBITS = 20  # below, a gate is a few microseconds on the CPU cores: launches and copies dominate
THREADS_PER_BLOCK = 256
BLOCKS_PER_SM = 16  # grid-stride loops: enough resident warps to keep HBM busy
KERNEL_NAMES = ("sv_1q", "sv_diag_1q", "sv_antidiag_1q", "sv_2q", "sv_swap", "sv_diag_block")

SOURCE = r"""
// Statevector kernels, complex128 as double2, qubit 0 = least significant bit. Each thread takes
// pair/quad indices in a grid-stride loop; both addresses of a pair are coalesced across a warp.
// Matrices come from one buffer `m` (offset `at`), diagonal masks from `masks`.

__device__ __forceinline__ double2 sv_mul(double2 a, double2 b) {
    return make_double2(a.x * b.x - a.y * b.y, a.x * b.y + a.y * b.x);
}

__device__ __forceinline__ double2 sv_add(double2 a, double2 b) {
    return make_double2(a.x + b.x, a.y + b.y);
}

__device__ __forceinline__ long long sv_insert_zero(long long i, long long q) {
    return ((i >> q) << (q + 1)) | (i & ((1LL << q) - 1));
}

#define SV_LOOP(count) \
    for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < (count); \
         i += (long long)blockDim.x * gridDim.x)

extern "C" __global__ void sv_1q(double2* psi, long long half, long long q, const double2* m, long long at,
                                 long long cmask) {
    const long long bit = 1LL << q;
    const double2 u00 = m[at], u01 = m[at + 1], u10 = m[at + 2], u11 = m[at + 3];
    SV_LOOP(half) {
        const long long i0 = sv_insert_zero(i, q);
        if ((i0 & cmask) == cmask) {
            const long long i1 = i0 | bit;
            const double2 a = psi[i0];
            const double2 b = psi[i1];
            psi[i0] = sv_add(sv_mul(u00, a), sv_mul(u01, b));
            psi[i1] = sv_add(sv_mul(u10, a), sv_mul(u11, b));
        }
    }
}

extern "C" __global__ void sv_diag_1q(double2* psi, long long half, long long q, const double2* m, long long at,
                                      long long cmask) {
    const long long bit = 1LL << q;
    const double2 d0 = m[at], d1 = m[at + 1];
    const bool skip0 = d0.x == 1.0 && d0.y == 0.0;
    SV_LOOP(half) {
        const long long i0 = sv_insert_zero(i, q);
        if ((i0 & cmask) == cmask) {
            if (!skip0) {
                psi[i0] = sv_mul(psi[i0], d0);
            }
            psi[i0 | bit] = sv_mul(psi[i0 | bit], d1);
        }
    }
}

extern "C" __global__ void sv_antidiag_1q(double2* psi, long long half, long long q, const double2* m,
                                          long long at, long long cmask) {
    const long long bit = 1LL << q;
    const double2 a01 = m[at], a10 = m[at + 1];
    SV_LOOP(half) {
        const long long i0 = sv_insert_zero(i, q);
        if ((i0 & cmask) == cmask) {
            const long long i1 = i0 | bit;
            const double2 a = psi[i0];
            psi[i0] = sv_mul(a01, psi[i1]);
            psi[i1] = sv_mul(a10, a);
        }
    }
}

extern "C" __global__ void sv_2q(double2* psi, long long quarter, long long q0, long long q1, const double2* m,
                                 long long at, long long cmask) {
    const long long lo = q0 < q1 ? q0 : q1;
    const long long hi = q0 < q1 ? q1 : q0;
    const long long b0 = 1LL << q0;
    const long long b1 = 1LL << q1;
    SV_LOOP(quarter) {
        const long long base = sv_insert_zero(sv_insert_zero(i, lo), hi);
        if ((base & cmask) == cmask) {
            const long long k[4] = {base, base | b0, base | b1, base | b0 | b1};
            const double2 a0 = psi[k[0]], a1 = psi[k[1]], a2 = psi[k[2]], a3 = psi[k[3]];
            for (int r = 0; r < 4; ++r) {
                const double2* row = m + at + 4 * r;
                psi[k[r]] = sv_add(sv_add(sv_add(sv_mul(row[0], a0), sv_mul(row[1], a1)), sv_mul(row[2], a2)),
                                   sv_mul(row[3], a3));
            }
        }
    }
}

extern "C" __global__ void sv_swap(double2* psi, long long quarter, long long q0, long long q1, long long cmask) {
    const long long lo = q0 < q1 ? q0 : q1;
    const long long hi = q0 < q1 ? q1 : q0;
    const long long b0 = 1LL << q0;
    const long long b1 = 1LL << q1;
    SV_LOOP(quarter) {
        const long long base = sv_insert_zero(sv_insert_zero(i, lo), hi);
        if ((base & cmask) == cmask) {
            const double2 a = psi[base | b0];
            psi[base | b0] = psi[base | b1];
            psi[base | b1] = a;
        }
    }
}

// A merged run of diagonal gates: amplitude i times every phase whose on-bits are set and
// off-bits clear in i (masks[mat + 2j] = on, masks[mat + 2j + 1] = off, phase m[at + j]).
extern "C" __global__ void sv_diag_block(double2* psi, long long size, const long long* masks, long long mat,
                                         const double2* m, long long at, long long terms) {
    SV_LOOP(size) {
        double2 f = make_double2(1.0, 0.0);
        for (long long j = 0; j < terms; ++j) {
            const long long on = masks[mat + 2 * j];
            const long long off = masks[mat + 2 * j + 1];
            if ((i & on) == on && (i & off) == 0) {
                f = sv_mul(f, m[at + j]);
            }
        }
        if (!(f.x == 1.0 && f.y == 0.0)) {
            psi[i] = sv_mul(psi[i], f);
        }
    }
}
"""


def compile_options() -> tuple[str, ...]:
    return ("--fmad=false",)


@dataclass(frozen=True)
class Launch:
    kernel: str
    work: int  # loop count: pairs, quads or amplitudes
    args: tuple[int, ...]  # integer arguments after (psi, work); "M" / "K" stand for the buffers


@dataclass
class Plan:
    """The fused gates as kernel launches, with their matrices and masks in two buffers."""

    qubits: int
    launches: list[Launch] = field(default_factory=list)
    matrices: list[complex] = field(default_factory=list)
    masks: list[int] = field(default_factory=list)

    def matrix_buffer(self) -> npt.NDArray[np.complex128]:
        return np.asarray(self.matrices or [0j], dtype=np.complex128)

    def mask_buffer(self) -> npt.NDArray[np.int64]:
        return np.asarray(self.masks or [0], dtype=np.int64)

    def _at(self, values: npt.ArrayLike) -> int:
        at = len(self.matrices)
        self.matrices.extend(complex(v) for v in np.asarray(values).reshape(-1))
        return at


def plan(qubits: int, fused: list[Gate | DiagonalBlock]) -> Plan:
    """Launches for `fused` (fusion.fuse output), dispatched exactly as statevector.apply_gate."""
    out = Plan(qubits)
    size = 1 << qubits
    for gate in fused:
        kernel = kernel_of(gate)
        if isinstance(gate, DiagonalBlock):
            mat = len(out.masks)
            for on, off in zip(gate.on, gate.off, strict=True):
                out.masks.extend((int(on), int(off)))
            at = out._at(gate.phase)
            out.launches.append(Launch("sv_diag_block", size, (mat, at, len(gate.phase))))
            continue
        m, cmask, q = gate.matrix, control_mask(gate.controls), gate.targets
        if kernel == "diag_1q":
            out.launches.append(Launch("sv_diag_1q", size >> 1, (q[0], out._at([m[0, 0], m[1, 1]]), cmask)))
        elif kernel == "antidiag_1q":
            out.launches.append(Launch("sv_antidiag_1q", size >> 1, (q[0], out._at([m[0, 1], m[1, 0]]), cmask)))
        elif kernel == "1q":
            out.launches.append(Launch("sv_1q", size >> 1, (q[0], out._at(m), cmask)))
        elif kernel == "swap":
            out.launches.append(Launch("sv_swap", size >> 2, (q[0], q[1], cmask)))
        elif kernel == "2q":
            out.launches.append(Launch("sv_2q", size >> 2, (q[0], q[1], out._at(m), cmask)))
    return out


# Which launch arguments are buffers: the matrix buffer goes before each matrix offset, the mask
# buffer before each mask offset.
_BUFFER_BEFORE = {"sv_1q": {1: "M"}, "sv_diag_1q": {1: "M"}, "sv_antidiag_1q": {1: "M"}, "sv_2q": {2: "M"},
                  "sv_swap": {}, "sv_diag_block": {0: "K", 1: "M"}}


def kernel_args(launch: Launch, psi: Any, matrices: Any, masks: Any) -> tuple[Any, ...]:
    """(psi, work, ...) with the buffers inserted and integers as int64, the kernels' long long."""
    args: list[Any] = [psi, np.int64(launch.work)]
    before = _BUFFER_BEFORE[launch.kernel]
    for k, value in enumerate(launch.args):
        if k in before:
            args.append(matrices if before[k] == "M" else masks)
        args.append(np.int64(value))
    return tuple(args)


def grid_size(work: int, sms: int) -> int:
    return max(1, min(-(-work // THREADS_PER_BLOCK), BLOCKS_PER_SM * sms))


def device_bytes(qubits: int, p: Plan | None = None) -> int:
    """The state plus the gate buffers."""
    extra = 0 if p is None else 16 * len(p.matrices) + 8 * len(p.masks) + 64
    return state_bytes(qubits) + extra


def wanted(qubits: int) -> bool:
    """Whether a state of `qubits` goes to the GPU (memory aside)."""
    mode = device.mode()
    return mode != "off" and device.cupy() is not None and (mode == "on" or qubits >= GPU_MIN_QUBITS)


def insufficient_memory(qubits: int, needed: int, free: int) -> SolverError:
    return SolverError(INSUFFICIENT_MEMORY,
                       f"a {qubits}-qubit statevector needs {fmt_bytes(needed)} on the GPU but only "
                       f"{fmt_bytes(free)} of its memory is free (KUANTUM_GPU=on; unset it to run on the CPU)")


@functools.cache
def _kernels() -> dict[str, Any]:
    cupy = device.cupy()
    assert cupy is not None
    module = cupy.RawModule(code=SOURCE, options=compile_options())
    return {name: module.get_function(name) for name in KERNEL_NAMES}


def run_plan(p: Plan, psi: Any, launch: Callable[[str, int, tuple[Any, ...]], None], matrices: Any, masks: Any,
             progress: Progress | None = None, written: int = 0) -> None:
    """Every launch of `p` on the (device) state `psi`; `launch(kernel, work, args)` runs one."""
    last = time.monotonic()
    for k, item in enumerate(p.launches):
        launch(item.kernel, item.work, kernel_args(item, psi, matrices, masks))
        if progress is not None and time.monotonic() - last >= 1.0:
            last = time.monotonic()
            progress(f"statevector (GPU): {k + 1}/{len(p.launches)} fused gates queued ({written} written)")


def apply_fused(psi: npt.NDArray[np.complex128], fused: list[Gate | DiagonalBlock], written: int,
                progress: Progress | None = None) -> bool:
    """Apply `fused` to the host state `psi` on the GPU; False (nothing done) when the CPU should."""
    qubits = int(psi.shape[0]).bit_length() - 1
    cupy = device.cupy()
    if cupy is None or not wanted(qubits):
        return False
    p = plan(qubits, fused)
    needed = device_bytes(qubits, p)
    free = int(cupy.cuda.runtime.memGetInfo()[0])
    if needed > free:
        if device.mode() == "on":
            raise insufficient_memory(qubits, needed, free)
        if progress is not None:
            progress(f"statevector: {fmt_bytes(needed)} do not fit in the GPU's {fmt_bytes(free)} free; on the CPU")
        return False
    kernels = _kernels()
    sms = cupy.cuda.Device().attributes["MultiProcessorCount"]
    state = cupy.asarray(psi)
    matrices, masks = cupy.asarray(p.matrix_buffer()), cupy.asarray(p.mask_buffer())

    def launch(kernel: str, work: int, args: tuple[Any, ...]) -> None:
        kernels[kernel]((grid_size(work, sms),), (THREADS_PER_BLOCK,), args)

    run_plan(p, state, launch, matrices, masks, progress, written)
    state.get(out=psi)
    return True
