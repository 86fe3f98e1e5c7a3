"""Imported once, by a worker's fork server (worker.py): what a run needs imported and every compiled kernel loaded,
so each run forked from it starts at once. A solver process pays about a second of CPU for this (Python, numpy,
numba's CPU target, the cached kernels); a forked run pays nothing.

The kernels are loaded by the image build's own warm-up (warmup.py: every QIO solver on each kind of problem, the
simulator on each kind of circuit), here from the image's cache; the blob client and, where installed, the tracing
SDK are imported. A failure here costs only speed: a run loads what it needs itself.
"""

from __future__ import annotations

import importlib
import sys
import time

_began = time.monotonic()
_failed = []
for _module in ("kuantum_solvers.cli", "kuantum_solvers.io", "opentelemetry.sdk.trace",
                "opentelemetry.exporter.otlp.proto.http.trace_exporter"):
    try:
        importlib.import_module(_module)
    except ImportError as e:  # the tracing extra is optional
        _failed.append(f"{_module} ({e})")
try:
    from kuantum_solvers import cli

    # Before anything imports numba (warmup's engines do): where a read-only root filesystem puts the image's kernels.
    cli.ensure_numba_cache_dir()
    from kuantum_solvers import warmup

    warmup.main()
except Exception as e:  # a run loads what it needs itself
    _failed.append(f"kernels ({type(e).__name__}: {e})")
print(f"kuantum-solve-worker: engines warm in {time.monotonic() - _began:.1f} s"
      + (f"; not loaded: {', '.join(_failed)}" if _failed else ""), file=sys.stderr, flush=True)
