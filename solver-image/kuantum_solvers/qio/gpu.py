"""Optional GPU variant of the replica sweeps (cupy + the CUDA kernel in cuda/anneal.cu).

Used for quadratic problems when cupy finds a CUDA device and there are enough replicas to fill
it (a GPU thread is far slower than a CPU core; thousands of them are not). `KUANTUM_GPU=off`
disables it, `on` uses it for any replica count. The kernel mirrors the CPU kernels move for move,
so a seeded run gives the same result on either.
"""

from __future__ import annotations

import functools
import os
from importlib import resources
from typing import Any

import numpy as np
import numpy.typing as npt

from kuantum_solvers.qio.quadratic import Layout, QuadraticModel, ReplicaSet

GPU_MIN_REPLICAS = 256
THREADS_PER_BLOCK = 128
KERNEL_NAME = "kq_anneal"


def kernel_source() -> str:
    return resources.files("kuantum_solvers.qio.cuda").joinpath("anneal.cu").read_text()


@functools.cache
def _cupy() -> Any | None:
    """The cupy module when a CUDA device is usable, else None (no cupy, no driver, no device)."""
    if os.environ.get("KUANTUM_GPU", "auto").lower() == "off":
        return None
    try:
        import cupy

        return cupy if cupy.cuda.runtime.getDeviceCount() > 0 else None
    except Exception:  # ImportError, or CUDA errors when there is no driver/device
        return None


def use_gpu(replicas: int) -> bool:
    forced = os.environ.get("KUANTUM_GPU", "auto").lower() == "on"
    return _cupy() is not None and (forced or replicas >= GPU_MIN_REPLICAS)


def compile_options(real: str) -> tuple[str, ...]:
    """NVRTC options: no fused multiply-add, so every operation rounds as on the CPU."""
    return ("--fmad=false", f"-DREAL={real}")


@functools.cache
def _kernel(real: str) -> Any:
    cupy = _cupy()
    assert cupy is not None
    module = cupy.RawModule(code=kernel_source(), options=compile_options(real))
    return module.get_function(KERNEL_NAME)


class GpuReplicaSet(ReplicaSet):
    """ReplicaSet whose arrays live on the GPU: one lane block of all replicas, [n, replicas]."""

    def __init__(self, q: QuadraticModel, replicas: int, bits: npt.NDArray[np.int8], seed: int,
                 salt: int = 0) -> None:
        super().__init__(q, Layout(1, replicas, replicas), bits, seed, salt)
        cupy = _cupy()
        assert cupy is not None
        self.cp = cupy
        self.kernel = _kernel("float" if q.dtype == np.float32 else "double")
        self.device_ptr = cupy.asarray(q.ptr)
        self.device_idx = cupy.asarray(q.idx)
        for name in ("weights", "spins", "local", "seeds", "energy", "best_spins", "best_energy"):
            setattr(self, name, cupy.asarray(getattr(self, name)))

    def anneal(self, nbetas: npt.NDArray[np.float32], first_sweep: int) -> None:
        replicas = self.layout.replicas
        blocks = (replicas + THREADS_PER_BLOCK - 1) // THREADS_PER_BLOCK
        args = (self.device_ptr, self.device_idx, self.weights, self.spins, self.local, self.seeds, self.energy,
                self.best_spins, self.best_energy, self.cp.asarray(nbetas, dtype=np.float32), np.int64(1),
                np.int64(0), np.int32(len(nbetas)), np.uint32(first_sweep), np.int32(self.q.n), np.int32(replicas))
        self.kernel((blocks,), (THREADS_PER_BLOCK,), args)
        self.cp.cuda.get_current_stream().synchronize()

    def energies(self) -> npt.NDArray[np.float64]:
        return np.asarray(self.cp.asnumpy(super().energies()))

    def resample(self, order: npt.NDArray[np.intp]) -> None:
        gather = self.cp.asarray(order)
        for name in ("spins", "local"):
            blocks = getattr(self, name)
            blocks[0] = blocks[0][:, gather]
        self.energy[0] = self.energy[0][gather]

    def bits(self) -> list[npt.NDArray[np.int8]]:
        return self._to_bits(self.cp.asnumpy(self.spins))

    def best_bits(self) -> list[npt.NDArray[np.int8]]:
        return self._to_bits(self.cp.asnumpy(self.best_spins))


def replica_set(q: QuadraticModel, layout: Layout, bits: npt.NDArray[np.int8], seed: int,
                salt: int = 0) -> ReplicaSet:
    """Replicas on the GPU when it pays off (see use_gpu), else in CPU lanes with `layout`."""
    cupy = _cupy()
    if cupy is not None and use_gpu(layout.replicas):
        try:
            return GpuReplicaSet(q, layout.replicas, bits, seed, salt)
        except cupy.cuda.memory.OutOfMemoryError:
            pass  # too large for the device: the CPU has the host's memory
    return ReplicaSet(q, layout, bits, seed, salt)
