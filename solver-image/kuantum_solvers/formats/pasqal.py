"""`pasqal.pulser.v1` documents: `{"sequence_builder": <pulser abstract representation>}` (light: JSON only)."""

from __future__ import annotations

import json

from kuantum_solvers.formats.errors import invalid_input
from kuantum_solvers.formats.jsonio import load_json


def sequence_json(data: bytes) -> str:
    """The abstract representation (a JSON string) inside a `pasqal.pulser.v1` document."""
    doc = load_json(data)
    if not isinstance(doc, dict) or "sequence_builder" not in doc:
        raise invalid_input("pasqal.pulser.v1 input must be a JSON object {\"sequence_builder\": <pulser abstract "
                            "representation of the sequence>}")
    builder = doc["sequence_builder"]
    if isinstance(builder, str):
        return builder
    if isinstance(builder, dict):
        return json.dumps(builder)
    raise invalid_input(f"\"sequence_builder\" must be the sequence's abstract representation (an object or its "
                        f"JSON string), got {type(builder).__name__}")
