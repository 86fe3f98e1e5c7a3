"""`kuantum submit`'s pure part: reading the input, inline or upload, naming, the QuantumJob body."""

from __future__ import annotations

import json
import re
from pathlib import PurePath
from typing import Any

from ..models.common import API_GROUP, API_VERSION

INLINE_LIMIT = 256 * 1024  # bytes; larger inputs are uploaded to the workspace's storage
UPLOAD_CONTAINER = "kuantum-uploads"
UPLOAD_BLOB = "inputData"
GZIP_MAGIC = b"\x1f\x8b"
_NAME_BASE_MAX = 40  # generateName base; the API server adds 5 random characters
_DROP_SUFFIXES = (".gz", ".gzip", ".json", ".qasm", ".txt", ".yaml", ".yml", ".ll", ".bc", ".qs")
QIR_FORMAT = "qir.v1"
QSHARP_EXTRA = "pip install 'kuantum[qsharp]'"


class CliError(Exception):
    """A failure the user can act on: printed as one line, exit code 1."""


def is_gzip(data: bytes) -> bool:
    return data[:2] == GZIP_MAGIC


def sanitize_name(text: str, max_length: int = _NAME_BASE_MAX) -> str:
    """A DNS-1123 label from any text: lowercase alphanumerics and '-', starting and ending alphanumeric."""
    name = re.sub(r"[^a-z0-9]+", "-", text.lower())
    name = name[:max_length].strip("-")
    return name or "job"


def name_base(path: str) -> str:
    """The generateName base for an input file: its stem without format suffixes ('-' means stdin)."""
    if path == "-":
        return "job"
    name = PurePath(path).name
    stripped = True
    while stripped:
        stripped = False
        for suffix in _DROP_SUFFIXES:
            if name.lower().endswith(suffix) and len(name) > len(suffix):
                name, stripped = name[: -len(suffix)], True
    return sanitize_name(name)


def inline_value(data: bytes, limit: int = INLINE_LIMIT) -> dict[str, Any] | str | None:
    """What goes in spec.input.inline: the JSON object, or the text; None when the input must be uploaded."""
    if len(data) > limit or is_gzip(data):
        return None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return None
    try:
        parsed = json.loads(text)
    except json.JSONDecodeError:
        return text
    return parsed if isinstance(parsed, dict) else text


def parse_params(text: str) -> dict[str, Any]:
    """--params: Azure's inputParams JSON object, taken as is."""
    try:
        parsed = json.loads(text)
    except json.JSONDecodeError as e:
        raise ValueError(f"not valid JSON: {e}") from e
    if not isinstance(parsed, dict):
        raise ValueError('must be a JSON object, e.g. \'{"params": {"sweeps": 100}}\'')
    return parsed


def job_body(*, name: str | None, base: str, workspace: str, provider: str, target: str, job_input: dict[str, Any],
             params: dict[str, Any] | None = None, input_format: str | None = None, priority: str | None = None,
             timeout: int | None = None, tags: list[str] | None = None) -> dict[str, Any]:
    """The QuantumJob to create; metadata.name when given, else generateName from base."""
    metadata: dict[str, Any] = {"name": name} if name else {"generateName": f"{base}-"}
    spec: dict[str, Any] = {"workspace": workspace, "provider": provider, "target": target, "input": job_input}
    optional = {"inputParams": params, "inputDataFormat": input_format, "priority": priority,
                "timeoutSeconds": timeout, "tags": tags}
    spec.update({key: value for key, value in optional.items() if value})
    return {"apiVersion": f"{API_GROUP}/{API_VERSION}", "kind": "QuantumJob", "metadata": metadata, "spec": spec}


def prepare_program(path: str, data: bytes, entry: str | None, input_format: str | None,
                    params: dict[str, Any] | None) -> tuple[bytes, str | None, dict[str, Any] | None]:
    """Q# and QIR inputs -> (data, inputDataFormat, inputParams); other inputs pass through.

    A `.qs` file is compiled here with the QDK (`--entry`, default `Main()`; the QIR profile from
    inputParams `target_profile`, default Base) into QIR bitcode, as azure-quantum submits Q#.
    `.ll`/`.bc` files, or content that is QIR, get inputDataFormat qir.v1 and their entry point."""
    if path.lower().endswith(".qs"):
        if input_format not in (None, QIR_FORMAT):
            raise CliError(f"a Q# program is submitted as {QIR_FORMAT}, not {input_format}")
        data = compile_qsharp(data, entry or "Main()", (params or {}).get("target_profile") or "Base")
    elif entry is not None:
        raise CliError("--entry is for Q# (.qs) programs")
    from kuantum_solvers.formats.circuits.qir_load import looks_like_qir

    is_qir = input_format == QIR_FORMAT or (input_format is None and (
        path.lower().endswith((".ll", ".bc", ".qs")) or looks_like_qir(data)))
    if not is_qir:
        return data, input_format, params
    out = dict(params or {})
    if "entryPoint" not in out:
        out["entryPoint"] = qir_entry_point(data)
    out.setdefault("arguments", [])
    return data, QIR_FORMAT, out


def qir_entry_point(data: bytes) -> str:
    """The module's only entry point (checked here, so a bad file fails before anything is created)."""
    from kuantum_solvers.formats.circuits.qir_load import entry_points, load_module
    from kuantum_solvers.formats.errors import SolverError

    try:
        points = [str(f.name) for f in entry_points(load_module(data))]
    except SolverError as e:
        raise CliError(e.message) from e
    if len(points) != 1:
        raise CliError(f"the QIR module has {len(points)} entry points ({', '.join(points) or 'none'}); "
                       'name one with --params \'{"entryPoint": "..."}\'')
    return points[0]


def compile_qsharp(source: bytes, entry: str, profile: str) -> bytes:
    """Q# source -> QIR bitcode with the QDK (the `qdk` package, or its older name `qsharp`)."""
    try:
        from qdk import qsharp
    except ImportError:
        try:
            import qsharp
        except ImportError:
            raise CliError(f"compiling Q# needs the Quantum Development Kit: {QSHARP_EXTRA}") from None
    import pyqir

    names = {p.lower().replace("_", ""): p for p in dir(qsharp.TargetProfile) if not p.startswith("_")}
    chosen = names.get(str(profile).lower().replace("_", ""))
    if chosen is None:
        raise CliError(f"unknown QIR profile {profile!r}; one of {', '.join(sorted(names.values()))}")
    try:
        qsharp.init(target_profile=getattr(qsharp.TargetProfile, chosen))
        qsharp.eval(source.decode("utf-8"))
        text = str(qsharp.compile(entry))
    except UnicodeDecodeError as e:
        raise CliError(f"the Q# file is not UTF-8: {e}") from e
    except Exception as e:  # the QDK raises QSharpError with the compiler's diagnostics
        raise CliError(f"Q# compilation failed ({chosen} profile): {str(e).strip()[:2000]}") from e
    return bytes(pyqir.Module.from_ir(pyqir.Context(), text, "qsharp").bitcode)
