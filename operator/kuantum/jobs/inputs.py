"""Turns spec.input into bytes: inline JSON or text, a ConfigMap or Secret key, or an existing blob."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import Any

from ..models import JobInput

MAX_INLINE_BYTES = 1024 * 1024
# Reads an object's data by kind ("configmap" | "secret") and name in the job's namespace; None if absent.
ObjectReader = Callable[[str, str], dict[str, Any] | None]


class InputPending(Exception):
    """The referenced object or key does not exist yet: the job waits (GitOps may apply it later)."""


class InvalidInput(Exception):
    """The input can never be used (too large, not JSON where JSON is required)."""


def _too_large(size: int) -> InvalidInput:
    return InvalidInput(f"the input is {size} bytes; inputs over {MAX_INLINE_BYTES} bytes (1 MiB) must be uploaded "
                        "first and referenced with spec.input.blobUri (or submitted with `kuantum submit`)")


def read_input(spec_input: JobInput, read: ObjectReader) -> bytes:
    """The input's bytes; blobUri inputs are not read here (they stay where they are)."""
    if spec_input.inline is not None:
        inline = spec_input.inline
        data = inline.encode() if isinstance(inline, str) else json.dumps(inline, separators=(",", ":")).encode()
    else:
        kind, ref = ("configmap", spec_input.configMapKeyRef) if spec_input.configMapKeyRef else \
            ("secret", spec_input.secretKeyRef)
        assert ref is not None
        obj = read(kind, ref.name)
        label = "ConfigMap" if kind == "configmap" else "Secret"
        if obj is None:
            raise InputPending(f"{label} {ref.name} does not exist")
        if kind == "secret":
            encoded = (obj.get("data") or {}).get(ref.key)
            if encoded is None:
                raise InputPending(f"{label} {ref.name} has no key {ref.key}")
            data = base64.b64decode(encoded)
        else:
            text = (obj.get("data") or {}).get(ref.key)
            binary = (obj.get("binaryData") or {}).get(ref.key)
            if text is None and binary is None:
                raise InputPending(f"{label} {ref.name} has no key {ref.key}")
            data = text.encode() if text is not None else base64.b64decode(str(binary))
    if len(data) > MAX_INLINE_BYTES:
        raise _too_large(len(data))
    return data


# Input formats whose blob is a JSON document (QIR is bitcode or LLVM IR text, OpenQASM is text).
JSON_FORMATS = frozenset({"microsoft.qio.v2", "ionq.circuit.v1"})


def check_json(data: bytes, input_format: str) -> None:
    """Formats that are JSON must parse as JSON (gzip-compressed bytes are left to the solver)."""
    if input_format not in JSON_FORMATS or data[:2] == b"\x1f\x8b":
        return
    try:
        json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise InvalidInput(f"the input is not valid JSON for {input_format}: {e}") from e
