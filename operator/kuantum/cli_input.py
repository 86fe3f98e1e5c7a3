"""`kuantum submit`'s pure part: reading the input, inline or upload, naming, the QuantumJob body."""

from __future__ import annotations

import json
import re
from pathlib import PurePath
from typing import Any

from .models.common import API_GROUP, API_VERSION

INLINE_LIMIT = 256 * 1024  # bytes; larger inputs are uploaded to the workspace's storage
UPLOAD_CONTAINER = "kuantum-uploads"
UPLOAD_BLOB = "inputData"
GZIP_MAGIC = b"\x1f\x8b"
_NAME_BASE_MAX = 40  # generateName base; the API server adds 5 random characters
_DROP_SUFFIXES = (".gz", ".gzip", ".json", ".qasm", ".txt", ".yaml", ".yml")


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
