"""Quantinuum (Honeywell): OpenQASM 2 sent to Quantinuum's HTTP API, with token login and refresh."""

from __future__ import annotations

import json
from typing import Any

from kuantum.catalog import QUANTINUUM
from kuantum.execution.base import Run, SecretReader

from ..api import Program, ProviderApi
from ..backend import RemoteBackend, program_document, shots_of
from ..circuits import InvalidProgram, check_qasm, ionq_to_qasm
from ..qir import qir_to_quantinuum, quantinuum_output
from .api import DEFAULT_ENDPOINT, QuantinuumApi

QIR = "qir.v1"


def make_api(endpoint: str | None, credentials: dict[str, str]) -> ProviderApi:
    return QuantinuumApi(endpoint or DEFAULT_ENDPOINT, credentials)


def translate(data: bytes, input_format: str, params: dict[str, Any], target: str, marker: str) -> Program:
    """OpenQASM 2 as it is; IonQ circuits translated to OpenQASM 2."""
    registers: dict[str, int] = {}
    if input_format == "ionq.circuit.v1":
        text = ionq_to_qasm(program_document(data))
    elif input_format == QIR:
        text, registers = qir_to_quantinuum(data, params)
    else:
        try:
            text = data.decode()
        except UnicodeDecodeError as e:
            raise InvalidProgram("the OpenQASM program is not UTF-8 text") from e
        check_qasm(text)
    return Program(target=target, body=text, shots=shots_of(params), name=f"kuantum-{marker}", marker=marker,
                   registers=registers, source=data if input_format == QIR else b"")


def reformat(results: bytes, program: Program, run: Run) -> bytes:
    """A QIR job's per-shot registers as Azure's QIR results; other jobs keep Quantinuum's format."""
    if not program.source:
        return results
    return quantinuum_output(program.source, run.resolved.params, json.loads(results), run.resolved.output_format)


def backend(secrets: SecretReader) -> RemoteBackend:
    return RemoteBackend(secrets, QUANTINUUM, make_api, translate, None, reformat)
