"""Optional GPU variant of the replica sweeps (cupy + the CUDA kernels in cuda/anneal.cu).

Used for quadratic problems when cupy finds a CUDA device and there are enough replicas to fill
it. `KUANTUM_GPU=off` disables it, `on` uses it for any replica count.

The device sweeps each colour class of the coupling graph in parallel (variables relabelled so
that classes are contiguous), `group` replicas per block with spins stored replica-minor; see the
kernel's header. That is exactly the sequential sweep of the relabelled problem, so a GPU replica
makes the moves the CPU lane kernels make on `GpuReplicaSet.model` (bit for bit for float32
problems; float64 ones sum the fields in another order, equal in distribution). The host tests run
the kernel source as C++ against those CPU kernels.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from importlib import resources
from typing import Any

import numpy as np
import numpy.typing as npt
from numba import njit

from kuantum_solvers import device
from kuantum_solvers.formats.errors import INSUFFICIENT_MEMORY, SolverError
from kuantum_solvers.qio.quadratic import Layout, QuadraticModel, ReplicaSet, replica_seeds

GPU_MIN_REPLICAS = 256
MAX_THREADS_PER_BLOCK = 1024
MAX_EXCHANGE_THREADS = 256  # kq_exchange's block: copies the chain to shared memory, one thread walks it
KERNEL_NAMES = ("kq_anneal", "kq_energy", "kq_exchange")
KERNEL_NAME = KERNEL_NAMES[0]


def kernel_source() -> str:
    return resources.files("kuantum_solvers.qio.cuda").joinpath("anneal.cu").read_text()


def use_gpu(replicas: int) -> bool:
    mode = device.mode()
    return mode != "off" and device.cupy() is not None and (mode == "on" or replicas >= GPU_MIN_REPLICAS)


def compile_options(real: str) -> tuple[str, ...]:
    """NVRTC options: no fused multiply-add, so every operation rounds as on the CPU."""
    return ("--fmad=false", f"-DREAL={real}")


@functools.cache
def _kernels(real: str) -> dict[str, Any]:
    cupy = device.cupy()
    assert cupy is not None
    module = cupy.RawModule(code=kernel_source(), options=compile_options(real))
    return {name: module.get_function(name) for name in KERNEL_NAMES}


def _real(dtype: np.dtype) -> str:
    return "float" if dtype == np.float32 else "double"


@njit(cache=True)
def _greedy_colours(ptr: npt.NDArray[np.int64], idx: npt.NDArray[np.int32]) -> npt.NDArray[np.int32]:
    """Smallest colour not used by an already coloured neighbour, vertices in order."""
    n = ptr.shape[0] - 1
    colour = np.full(n, -1, dtype=np.int32)
    seen = np.full(n + 1, -1, dtype=np.int64)  # seen[c] = v when a neighbour of v has colour c
    for v in range(n):
        for k in range(ptr[v], ptr[v + 1]):
            c = colour[idx[k]]
            if c >= 0:
                seen[c] = v
        c = 0
        while seen[c] == v:
            c += 1
        colour[v] = c
    return colour


@dataclass(frozen=True)
class Colouring:
    order: npt.NDArray[np.int64]  # new label -> original variable
    colour_ptr: npt.NDArray[np.int32]  # class c holds new labels colour_ptr[c] .. colour_ptr[c + 1] - 1

    @property
    def colours(self) -> int:
        return int(self.colour_ptr.shape[0] - 1)


def colouring(q: QuadraticModel) -> Colouring:
    """A proper colouring of the coupling graph (self-couplings ignored), classes in order of
    colour, variables in order within a class."""
    if q.n == 0:
        return Colouring(np.zeros(0, dtype=np.int64), np.zeros(1, dtype=np.int32))
    colour = _greedy_colours(q.ptr, q.idx)
    order = np.argsort(colour, kind="stable").astype(np.int64)
    counts = np.bincount(colour)
    colour_ptr = np.zeros(counts.shape[0] + 1, dtype=np.int32)
    np.cumsum(counts, out=colour_ptr[1:])
    return Colouring(order, colour_ptr)


def relabelled(q: QuadraticModel, order: npt.NDArray[np.int64]) -> QuadraticModel:
    """The same model with variable order[v] called v."""
    new_of = np.empty(q.n, dtype=np.int64)
    new_of[order] = np.arange(q.n)
    degree = np.diff(q.ptr)[order]
    ptr = np.zeros(q.n + 1, dtype=np.int64)
    np.cumsum(degree, out=ptr[1:])
    take = np.concatenate([np.arange(q.ptr[v], q.ptr[v + 1]) for v in order]) if q.n else np.zeros(0, np.int64)
    take = take.astype(np.int64)
    idx = new_of[q.idx[take]].astype(np.int32)
    return QuadraticModel(q.n, ptr, idx, q.couplings[take], q.fields[order], q.constant, q.dtype)


def choose_group(replicas: int, sms: int) -> int:
    """Replicas per block: the largest power of two up to 32 that still gives (nearly) every SM a
    block, 1 for small replica counts. Measured on an H200 (132 SMs, benchmarks/README.md): wider
    groups read whole sectors of the replica-minor spins and win once the blocks cover the SMs
    (4,096 replicas: 32 per block, 62 G updates/s, against 52 with 8); a block for 7 of every 8
    SMs was as fast as one for each (1,024 replicas at N = 100,000: 8 per block, 128 blocks, 49 G/s,
    against 43 with 4)."""
    group = 32
    while group > 1 and 8 * -(-replicas // group) < 7 * sms:
        group //= 2
    return group


def choose_threads(group: int, colours: Colouring) -> int:
    """Threads per block: `group` lanes times enough vertex threads for the largest colour class
    (a multiple of 32 threads, at most 1024)."""
    largest = int(np.diff(colours.colour_ptr).max(initial=1))
    vthreads = max(1, min(MAX_THREADS_PER_BLOCK // group, largest))
    return min(MAX_THREADS_PER_BLOCK, -(-group * vthreads // 32) * 32)  # group divides 32


def device_bytes(q: QuadraticModel, replicas: int) -> int:
    """Device memory of a replica set: spins and best spins, per-replica scalars, the model."""
    item = np.dtype(q.dtype).itemsize
    model = q.ptr.nbytes + q.idx.nbytes + q.couplings.shape[0] * item + q.n * item
    return 2 * q.n * replicas * item + replicas * (8 + 8 + 4 + 4) + model


class DeviceFull(Exception):
    """The replica set does not fit in the device's free memory."""


class GpuReplicaSet(ReplicaSet):
    """ReplicaSet whose spins live on the GPU, `[n, replicas]` of the relabelled model."""

    def __init__(self, q: QuadraticModel, replicas: int, bits: npt.NDArray[np.int8], seed: int,
                 salt: int = 0, group: int | None = None, threads: int | None = None) -> None:
        # Not ReplicaSet.__init__: the starting spins and energies are made on the device (the CPU's
        # local fields for [n, replicas] would cost seconds at n = 10^5).
        cupy = device.cupy()
        assert cupy is not None
        if device_bytes(q, replicas) > cupy.cuda.runtime.memGetInfo()[0]:
            raise DeviceFull
        self.cp = cupy
        self.original = q
        self.colours = colouring(q)
        self.q = model = relabelled(q, self.colours.order)
        self.layout = Layout(1, replicas, replicas)
        self.weights = model.flip_weights
        self.kernels = _kernels(_real(q.dtype))
        sms = cupy.cuda.Device().attributes["MultiProcessorCount"]
        self.group = group or choose_group(replicas, sms)
        self.threads = threads or choose_threads(self.group, self.colours)
        self.blocks = -(-replicas // self.group)
        # The kernels' shared arrays hold 1,024 threads and 32 lanes; every lane needs its vertex threads.
        if not (1 <= self.group <= 32 and self.threads % self.group == 0 and self.threads <= MAX_THREADS_PER_BLOCK):
            raise ValueError(f"block shape {self.group} replicas x {self.threads} threads is not supported")
        self.device_model = tuple(cupy.asarray(a) for a in (
            model.ptr, model.idx, model.couplings.astype(model.dtype), model.fields.astype(model.dtype),
            self.colours.colour_ptr))
        on_device = cupy.asarray(np.ascontiguousarray(bits, dtype=np.int8))[:, cupy.asarray(self.colours.order)]
        spins = 1 - 2 * on_device.T.astype(model.dtype)
        self.spins = cupy.ascontiguousarray(spins).reshape(1, model.n, replicas)
        self.seeds = cupy.asarray(replica_seeds(seed, replicas, salt).reshape(1, replicas))
        self.energy = cupy.empty((1, replicas), dtype=np.float64)
        ptr, idx, couplings, fields, _ = self.device_model
        self.kernels["kq_energy"]((self.blocks,), (self.threads,), (
            ptr, idx, couplings, fields, self.spins[0], np.float64(model.constant), self.energy[0], np.int32(model.n),
            np.int32(replicas), np.int32(self.group)))
        self.best_spins = self.spins.copy()
        self.best_energy = self.energy.copy()

    def anneal(self, nbetas: npt.NDArray[np.float32], first_sweep: int) -> None:
        self._launch(self.cp.asarray(nbetas, dtype=np.float32), len(nbetas), first_sweep, 1, 0)
        self.cp.cuda.get_current_stream().synchronize()

    def _launch(self, nbetas: Any, sweeps: int, first_sweep: int, sweep_stride: int, replica_stride: int) -> None:
        ptr, idx, couplings, fields, colour_ptr = self.device_model
        args = (ptr, idx, couplings, fields, colour_ptr, np.int32(self.colours.colours), self.spins[0], self.seeds[0],
                self.energy[0], self.best_spins[0], self.best_energy[0], nbetas, np.int64(sweep_stride),
                np.int64(replica_stride), np.int32(sweeps), np.uint32(first_sweep), np.int32(self.q.n),
                np.int32(self.layout.replicas), np.int32(self.group))
        self.kernels["kq_anneal"]((self.blocks,), (self.threads,), args)

    def temper(self, betas: npt.NDArray[np.float64], nbetas: npt.NDArray[np.float32], perm: npt.NDArray[np.int64],
               swap_rng: npt.NDArray[np.uint64], first_sweep: int, count: int) -> None:
        """`count` sweeps of parallel tempering (qio/solvers/pt.py pt_sweeps_lanes): replica perm[k]
        sweeps at betas[k], then neighbouring temperatures exchange; perm and swap_rng are updated."""
        cp = self.cp
        d_betas, d_nbetas = cp.asarray(betas, dtype=np.float64), cp.asarray(nbetas, dtype=np.float32)
        d_perm, d_rng = cp.asarray(perm, dtype=np.int64), cp.asarray(swap_rng, dtype=np.uint64)
        nb_of_replica = np.zeros(self.layout.replicas, dtype=np.float32)
        nb_of_replica[perm] = nbetas
        d_nb = cp.asarray(nb_of_replica)
        exchange_threads = min(MAX_EXCHANGE_THREADS, -(-betas.shape[0] // 32) * 32)
        for t in range(count):
            self._launch(d_nb, 1, first_sweep + t, 0, 1)
            self.kernels["kq_exchange"]((1,), (exchange_threads,), (d_betas, d_nbetas, d_perm, self.energy[0], d_rng,
                                                                     d_nb, np.int32(betas.shape[0])))
        perm[:] = cp.asnumpy(d_perm)
        swap_rng[:] = cp.asnumpy(d_rng)

    def energies(self) -> npt.NDArray[np.float64]:
        return np.asarray(self.cp.asnumpy(super().energies()))

    def resample(self, order: npt.NDArray[np.intp]) -> None:
        gather = self.cp.asarray(order)
        self.spins[0] = self.spins[0][:, gather]
        self.energy[0] = self.energy[0][gather]

    def _original_bits(self, spins: Any) -> list[npt.NDArray[np.int8]]:
        """Rows of bits per replica in the original variable order (gathered on the device)."""
        cp = self.cp
        back = np.empty_like(self.colours.order)
        back[self.colours.order] = np.arange(self.q.n)
        rows = cp.asnumpy(cp.ascontiguousarray((spins[0][cp.asarray(back)] < 0).T).astype(np.int8))
        return [rows[r] for r in range(self.layout.replicas)]

    def bits(self) -> list[npt.NDArray[np.int8]]:
        return self._original_bits(self.spins)

    def best_bits(self) -> list[npt.NDArray[np.int8]]:
        return self._original_bits(self.best_spins)

    def best_cost(self) -> float:
        return float(self.best_energy.min())


def replica_set(q: QuadraticModel, layout: Layout, bits: npt.NDArray[np.int8], seed: int,
                salt: int = 0) -> ReplicaSet:
    """Replicas on the GPU when it pays off (see use_gpu), else in CPU lanes with `layout`. When the
    replicas do not fit in the device's free memory they run on the CPU, unless KUANTUM_GPU=on asks
    for the device: then InsufficientMemory says how much was needed."""
    cupy = device.cupy()
    if cupy is not None and use_gpu(layout.replicas):
        try:
            return GpuReplicaSet(q, layout.replicas, bits, seed, salt)
        except (DeviceFull, cupy.cuda.memory.OutOfMemoryError):
            if device.mode() == "on":
                free = cupy.cuda.runtime.memGetInfo()[0]
                raise SolverError(INSUFFICIENT_MEMORY, f"{layout.replicas} replicas of {q.n} variables need "
                                  f"{device_bytes(q, layout.replicas) / 2**30:.2f} GiB on the GPU, "
                                  f"{free / 2**30:.2f} GiB free (KUANTUM_GPU=on)") from None
    return ReplicaSet(q, layout, bits, seed, salt)
