"""`kuantum-solve`: the command the operator's solver pods run, on the terms of the pod contract
(formats/contract.py): output written once, at the very end; on error nothing is written, a JSON line
{"code", "message"} is the last stderr line (and goes to the termination log), exit 2 for bad input, 1 for
internal errors.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from typing import Any, NoReturn

from kuantum_solvers import tracing
from kuantum_solvers.formats import contract, errors
from kuantum_solvers.formats.errors import SolverError


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise SolverError(errors.INVALID_PARAMETERS, f"command line: {message}")


def _parser() -> argparse.ArgumentParser:
    p = _Parser(prog="kuantum-solve", description="Run a Kuantum solver or simulator target.")
    p.add_argument(contract.TARGET_FLAG, required=True, help="target id, e.g. microsoft.simulatedannealing.cpu")
    # SAS URLs are credentials: pods pass them by the name of an environment variable, since a
    # process's argv is readable by every user of the node (ps, /proc/PID/cmdline) and its
    # environment is not. --input/--output stay for manual use with local paths.
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument("--input", help="input blob SAS URL or local path")
    source.add_argument(contract.INPUT_URL_ENV_FLAG, metavar="NAME",
                        help="read the input location from env variable NAME")
    sink = p.add_mutually_exclusive_group(required=True)
    sink.add_argument("--output", help="output blob SAS URL or local path")
    sink.add_argument(contract.OUTPUT_URL_ENV_FLAG, metavar="NAME",
                      help="read the output location from env variable NAME")
    p.add_argument("--params", help=f"the job's inputParams as JSON (default: ${contract.PARAMS_ENV})")
    p.add_argument(contract.INPUT_FORMAT_FLAG, help="input data format (default: the target's)")
    p.add_argument(contract.OUTPUT_FORMAT_FLAG, help="output data format (default: the target's)")
    return p


def _load_params(text: str | None) -> Any:
    if text is None:
        text = os.environ.get(contract.PARAMS_ENV)
    if text is None or not text.strip():
        return {}
    from kuantum_solvers.formats.jsonio import load_json

    return load_json(text, "params", errors.invalid_params)


def _location(args: argparse.Namespace, which: str) -> str:
    """--input/--output, or the value of the environment variable --input-url-env/--output-url-env names."""
    direct = getattr(args, which)
    if direct is not None:
        return str(direct)
    name = getattr(args, f"{which}_url_env")
    value = os.environ.get(name, "").strip()
    if not value:
        # The pod was built wrong (or its Secret lacks the key): our fault, not the job's.
        raise SolverError(errors.INTERNAL_ERROR, f"environment variable {name} (--{which}-url-env) is not set")
    return value


def _progress(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def _sniff_format(target: dict[str, Any], data: bytes) -> str:
    """The simulator takes JSON circuits and QASM text; pick by content when no format is given."""
    from kuantum_solvers.formats.targets import HONEYWELL_QASM, IONQ_INPUT, QIR_INPUT

    if target.get("engine") == "rigetti":  # Quil text, or QIR (Q# programs)
        from kuantum_solvers.formats.circuits.qir_load import looks_like_qir

        return QIR_INPUT if looks_like_qir(data) else str(target["input_formats"][0])
    if target["kind"] == "simulator" and "engine" not in target:
        from kuantum_solvers.formats.circuits.qir_load import looks_like_qir

        if looks_like_qir(data):
            return QIR_INPUT
        head = data.lstrip()[:64]
        if not head.startswith((b"{", b"[")):
            return HONEYWELL_QASM
        return IONQ_INPUT
    return str(target["input_formats"][0])


def run(args: argparse.Namespace) -> bytes:
    """Everything up to (not including) writing the output; returns the output bytes."""
    from kuantum_solvers import io
    from kuantum_solvers.formats import targets

    spec = targets.get_target(args.target)
    params = targets.validate_params(args.target, _load_params(args.params))
    if args.input_format is not None and args.input_format not in spec["input_formats"]:
        raise SolverError(
            errors.INVALID_INPUT_FORMAT,
            f"target {args.target!r} does not accept input format {args.input_format!r}; "
            f"accepted: {spec['input_formats']}",
        )
    with tracing.span("download"):
        data = io.read_input(_location(args, "input"))
    input_format = args.input_format or _sniff_format(spec, data)
    expected_output = targets.output_formats(args.target, input_format)
    if args.output_format is not None and args.output_format not in expected_output:
        raise SolverError(
            errors.INVALID_INPUT_FORMAT,
            f"target {args.target!r} writes {' or '.join(map(repr, expected_output))} for input "
            f"{input_format!r}, not {args.output_format!r}",
        )
    started = time.monotonic()
    with tracing.span("solve", **{"kuantum.target": args.target, "kuantum.input_format": input_format}):
        result = _solve(args, spec, input_format, data, params)
    _progress(f"{args.target}: done in {time.monotonic() - started:.2f}s")
    return json.dumps(result, separators=(",", ":"), allow_nan=False).encode("utf-8")


def _solve(args: argparse.Namespace, spec: dict[str, Any], input_format: str, data: bytes, params: Any) -> Any:
    engine = spec.get("engine")
    result: Any
    if engine == "rigetti":
        from kuantum_solvers.rigetti.run import run_rigetti

        result = run_rigetti(args.target, input_format, data, params, progress=_progress,
                             output_format=args.output_format)
    elif engine == "pasqal":
        from kuantum_solvers.pasqal.run import run_pasqal

        result = run_pasqal(args.target, data, params, progress=_progress)
    elif engine == "estimator":
        from kuantum_solvers.estimator.run import run_estimator

        result = run_estimator(data, params, progress=_progress)
    elif spec["kind"] == "solver":
        from kuantum_solvers.qio.run import run_qio
        from kuantum_solvers.qio.solvers.common import Context

        result = run_qio(args.target, data, params, Context(progress=_progress))
    else:
        from kuantum_solvers.circuits.run import run_circuit

        result = run_circuit(input_format, data, params, progress=_progress, output_format=args.output_format)
    return result


def _termination_log(payload: str) -> None:
    for path in (os.environ.get("KUANTUM_TERMINATION_LOG"), contract.TERMINATION_LOG):
        if not path:
            continue
        if path == contract.TERMINATION_LOG and not os.path.exists(path):
            continue
        try:
            with open(path, "w") as fh:
                fh.write(payload)
            return
        except OSError:
            continue


def report_error(err: SolverError) -> int:
    payload = contract.termination_message(err.code, err.message)
    _termination_log(payload)
    print(payload, file=sys.stderr, flush=True)
    return err.exit_code


def main(argv: list[str] | None = None) -> int:
    ensure_numba_cache_dir()
    tracing.start()
    try:
        return _main(argv)
    finally:
        tracing.shutdown()


def _main(argv: list[str] | None) -> int:
    try:
        with tracing.span("kuantum-solve"):
            args = _parser().parse_args(argv)
            destination = _location(args, "output")  # before solving: a missing one must not waste the run
            output = run(args)
            from kuantum_solvers import io

            with tracing.span("upload", **{"kuantum.output_bytes": len(output)}):
                io.write_output(destination, output)
    except SolverError as err:
        return report_error(err)
    except RecursionError:  # only input nesting drives recursion this deep (JSON, QASM expressions)
        return report_error(SolverError(errors.INVALID_INPUT_DATA, "input nests too deeply to process"))
    except MemoryError:
        return report_error(SolverError(errors.INSUFFICIENT_MEMORY, "ran out of memory while solving"))
    except ModuleNotFoundError as exc:  # installed without the engines (the operator's image has the formats only)
        return report_error(SolverError(errors.INTERNAL_ERROR, f"{exc}: kuantum-solve runs targets with the engines "
                                                               "(pip install 'kuantum-solvers[engines]')"))
    except Exception as exc:  # any bug must still produce a clear code, never partial output
        return report_error(SolverError(errors.INTERNAL_ERROR, f"{type(exc).__name__}: {exc}"))
    return 0


def ensure_numba_cache_dir() -> None:
    """Pods run with a read-only root filesystem, and numba refuses to even define a cached kernel
    without a writable cache directory. Use the configured one if writable; otherwise copy the
    kernels compiled at image build time into a writable temp dir (/tmp emptyDir, else /dev/shm)."""
    configured = os.environ.get("NUMBA_CACHE_DIR")
    if configured and _writable_dir(configured):
        return
    package_dir = os.path.dirname(os.path.abspath(__file__))
    if not configured and os.access(package_dir, os.W_OK):
        return
    import tempfile

    for base in (tempfile.gettempdir(), "/dev/shm"):
        fallback = os.path.join(base, "kuantum-numba-cache")
        if not _writable_dir(fallback):
            continue
        if configured and os.path.isdir(configured):
            import shutil

            try:
                shutil.copytree(configured, fallback, dirs_exist_ok=True)
            except OSError:
                pass
        os.environ["NUMBA_CACHE_DIR"] = fallback
        return


def _writable_dir(path: str) -> bool:
    try:
        os.makedirs(path, exist_ok=True)
    except OSError:
        return False
    return os.access(path, os.W_OK)


if __name__ == "__main__":
    raise SystemExit(main())
