"""Checks a job against its provider's target before it is queued. Pure."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from kuantum_solvers.formats.errors import SolverError
from kuantum_solvers.formats.targets import validate_params

from ..catalog import Target, targets_of
from ..models import QuantumJobSpec


@dataclass(frozen=True)
class Resolved:
    target: Target
    input_format: str
    output_format: str
    params: dict[str, Any]


class JobInvalid(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def resolve(spec: QuantumJobSpec, provider_id: str) -> Resolved:
    """The target and formats the job runs with; raises JobInvalid naming exactly what is wrong."""
    targets = targets_of(provider_id)
    target = targets.get(spec.target)
    if target is None:
        raise JobInvalid("InvalidTarget", f"provider {provider_id} has no target {spec.target!r}; "
                                          f"its targets are: {', '.join(sorted(targets))}")
    input_format = spec.inputDataFormat or target.default_input_format
    if input_format not in target.input_formats:
        raise JobInvalid("InvalidInputFormat", f"target {target.id} does not accept input format {input_format!r}; "
                                               f"it accepts: {', '.join(target.input_formats)}")
    accepted = target.accepted_outputs(input_format)
    output_format = spec.outputDataFormat or accepted[0]
    if output_format not in accepted:
        raise JobInvalid("InvalidOutputFormat", f"target {target.id} writes {' or '.join(map(repr, accepted))} for "
                                                f"{input_format!r} input, not {spec.outputDataFormat!r}")
    params: dict[str, Any] = dict(spec.inputParams)
    if target.in_solver_catalog:
        try:
            validate_params(target.id, spec.inputParams)
        except SolverError as e:
            raise JobInvalid(e.code, e.message) from e
    return Resolved(target=target, input_format=input_format, output_format=output_format, params=params)
