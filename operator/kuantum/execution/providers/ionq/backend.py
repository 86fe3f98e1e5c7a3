"""IonQ: circuits sent to IonQ's HTTP API (v0.3 or v0.4, picked by the Provider's endpoint)."""

from __future__ import annotations

import json
from typing import Any

from kuantum.catalog import IONQ
from kuantum.execution.base import Run, SecretReader

from ..api import Program, ProviderApi
from ..backend import RemoteBackend, program_document, shots_of
from ..circuits import InvalidProgram, ionq_circuit_to_ionq, qasm_to_ionq
from ..qir import ionq_output, qir_to_ionq
from .api import DEFAULT_ENDPOINT, IonQApi

CREDENTIALS_KEY = "apiKey"
QIR = "qir.v1"


def make_api(endpoint: str | None, credentials: dict[str, str]) -> ProviderApi:
    return IonQApi(endpoint or DEFAULT_ENDPOINT, credentials.get(CREDENTIALS_KEY, ""))


def translate(data: bytes, input_format: str, params: dict[str, Any], target: str, marker: str) -> Program:
    """Azure's IonQ circuit as it is; OpenQASM 2 where its gates map onto IonQ's."""
    registers: dict[str, int] = {}
    if input_format == "ionq.circuit.v1":
        body = ionq_circuit_to_ionq(program_document(data))
    elif input_format == QIR:
        body = qir_to_ionq(data, params)
    else:
        try:
            text = data.decode()
        except UnicodeDecodeError as e:
            raise InvalidProgram("the OpenQASM program is not UTF-8 text") from e
        body, registers = qasm_to_ionq(text)
    return Program(target=target, body=body, shots=shots_of(params), name=f"kuantum-{marker}", marker=marker,
                   registers=registers, source=data if input_format == QIR else b"")


def reformat(results: bytes, program: Program, run: Run) -> bytes:
    """A QIR job's IonQ histogram as Azure's QIR results; other jobs keep IonQ's format."""
    if not program.source:
        return results
    probabilities = json.loads(results)["histogram"]
    return ionq_output(program.source, run.resolved.params, probabilities, program.shots, run.resolved.output_format)


def backend(secrets: SecretReader) -> RemoteBackend:
    return RemoteBackend(secrets, IONQ, make_api, translate, CREDENTIALS_KEY, reformat)
