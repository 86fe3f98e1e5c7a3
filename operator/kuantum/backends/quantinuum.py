"""Quantinuum (Honeywell): OpenQASM 2 sent to Quantinuum's HTTP API, with token login and refresh."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..catalog import QUANTINUUM
from ..remote.base import Program, ProviderApi
from ..remote.circuits import InvalidProgram, ionq_to_qasm
from ..remote.quantinuum import DEFAULT_ENDPOINT, QuantinuumApi
from .remote import RemoteBackend, program_document, shots_of

if TYPE_CHECKING:
    from ..reconcilers.context import Context


def make_api(endpoint: str | None, credentials: dict[str, str]) -> ProviderApi:
    return QuantinuumApi(endpoint or DEFAULT_ENDPOINT, credentials)


def translate(data: bytes, input_format: str, params: dict[str, Any], target: str, marker: str) -> Program:
    """OpenQASM 2 as it is; IonQ circuits translated to OpenQASM 2."""
    if input_format == "ionq.circuit.v1":
        text = ionq_to_qasm(program_document(data))
    else:
        try:
            text = data.decode()
        except UnicodeDecodeError as e:
            raise InvalidProgram("the OpenQASM program is not UTF-8 text") from e
    return Program(target=target, body=text, shots=shots_of(params), name=f"kuantum-{marker}", marker=marker)


def backend(ctx: Context) -> RemoteBackend:
    return RemoteBackend(ctx, QUANTINUUM, make_api, translate, None)
