"""QIR on kuantum.simulator vs the QDK's own simulator (`qsharp.run`) and `qirrunner`.

A random 20-qubit Q# program (layers of single-qubit rotations and CNOT/CZ, every qubit measured
at the end) is compiled to base-profile QIR with the QDK; then, in the same run:
- ours: `kuantum_solvers.circuits.qir.run_qir` on that QIR, all shots;
- qsharp.run: the QDK's sparse simulator on the same Q# source, shot by shot;
- qirrunner: the QIR runner's simulator on the same QIR bitcode, shot by shot.
The per-shot simulators cost the same every shot, so when one would exceed --budget seconds it is
timed on fewer shots and scaled linearly (printed as such). Goal: ours <= 1.0x qsharp.run's time.

    .venv/bin/python benchmarks/qir.py [--qubits 20] [--shots 10000] [--depth 20] [--budget 60]
"""

from __future__ import annotations

import argparse
import os
import random
import tempfile
import time
from collections.abc import Callable


def random_program(qubits: int, depth: int, seed: int) -> str:
    rng = random.Random(seed)
    lines = []
    for _ in range(depth):
        for q in range(qubits):
            gate = rng.choice(["H", "Rx", "Ry", "Rz", "T", "S"])
            if gate in ("Rx", "Ry", "Rz"):
                lines.append(f"{gate}({rng.uniform(0, 6.283):.6f}, qs[{q}]);")
            else:
                lines.append(f"{gate}(qs[{q}]);")
        order = list(range(qubits))
        rng.shuffle(order)
        for a, b in zip(order[::2], order[1::2], strict=False):
            lines.append(f"{rng.choice(['CNOT', 'CZ'])}(qs[{a}], qs[{b}]);")
    body = "\n        ".join(lines)
    return f"""
operation Main() : Result[] {{
        use qs = Qubit[{qubits}];
        {body}
        let r = MeasureEachZ(qs);
        ResetAll(qs);
        r
}}
"""


def timed_shots(run: Callable[[int], object], shots: int, budget: float) -> tuple[float, int]:
    """Seconds for `shots` shots: measured on 1 shot first, then on as many as fit in `budget`."""
    start = time.perf_counter()
    run(1)
    one = time.perf_counter() - start
    n = max(1, min(shots, int(budget / max(one, 1e-6))))
    if n == 1:
        return one * shots, 1
    start = time.perf_counter()
    run(n)
    return (time.perf_counter() - start) * shots / n, n


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--qubits", type=int, default=20)
    parser.add_argument("--shots", type=int, default=10_000)
    parser.add_argument("--depth", type=int, default=20)
    parser.add_argument("--budget", type=float, default=60.0, help="seconds per per-shot simulator")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--skip-qirrunner", action="store_true")
    args = parser.parse_args()

    from kuantum_solvers.circuits.qir import run_qir
    from qdk import qsharp

    source = random_program(args.qubits, args.depth, args.seed)
    qsharp.init(target_profile=qsharp.TargetProfile.Base)
    qsharp.eval(source)
    qir_text = str(qsharp.compile("Main()"))
    print(f"program: {args.qubits} qubits, depth {args.depth}, {args.qubits * args.depth} single-qubit gates "
          f"+ {args.depth * (args.qubits // 2)} two-qubit gates, {args.shots} shots")

    run_qir(qir_text.encode(), {"shots": 10, "seed": 1})  # compile numba kernels outside the timing
    start = time.perf_counter()
    out = run_qir(qir_text.encode(), {"shots": args.shots, "seed": 1})
    ours = time.perf_counter() - start
    distinct = len(out["Results"][0]["Histogram"])
    print(f"ours (kuantum.simulator, qir.v1): {ours:8.3f} s  ({distinct} distinct outcomes)")

    qsharp_time, n = timed_shots(lambda k: qsharp.run("Main()", shots=k), args.shots, args.budget)
    scaled = "" if n == args.shots else f"  (timed on {n} shots, scaled)"
    print(f"qsharp.run (QDK simulator):       {qsharp_time:8.3f} s{scaled}")

    if not args.skip_qirrunner:
        import pyqir
        import qirrunner

        bitcode = pyqir.Module.from_ir(pyqir.Context(), qir_text).bitcode
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "program.bc")
            with open(path, "wb") as fh:
                fh.write(bitcode)

            def runner(k: int) -> object:
                return qirrunner.run(path, shots=k, rng_seed=1, output_fn=qirrunner.OutputHandler().handle)

            runner_time, n = timed_shots(runner, args.shots, args.budget)
        scaled = "" if n == args.shots else f"  (timed on {n} shots, scaled)"
        print(f"qirrunner:                        {runner_time:8.3f} s{scaled}")
        print(f"ratio ours / qirrunner:  {ours / runner_time:.4f}x")
    print(f"ratio ours / qsharp.run: {ours / qsharp_time:.4f}x (goal <= 1.0x)")


if __name__ == "__main__":
    main()
