"""The CUDA device both GPU paths use (the QIO replica sweeps, qio/gpu.py; the statevector simulator,
circuits/gpu_statevector.py): cupy, when it finds a device, and the `KUANTUM_GPU` switch (`off`: never, `on`:
for any size, `auto`, the default: when the work is large enough to gain)."""

from __future__ import annotations

import functools
import os
from typing import Any


def mode() -> str:
    return os.environ.get("KUANTUM_GPU", "auto").lower()


@functools.cache
def cupy() -> Any | None:
    """The cupy module when a CUDA device is usable, else None (no cupy, no driver, no device)."""
    if mode() == "off":
        return None
    try:
        import cupy

        return cupy if cupy.cuda.runtime.getDeviceCount() > 0 else None
    except Exception:  # ImportError, or CUDA errors when there is no driver/device
        return None
