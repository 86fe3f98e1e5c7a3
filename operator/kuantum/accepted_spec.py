"""The `kuantum.dev/accepted-spec` annotation: the immutable part of a job's spec as first accepted.

Large values are kept as a digest, `{"sha256": ..., "size": ...}`: the inline input always, any other
field whose JSON exceeds `LARGE_FIELD_BYTES`. Held verbatim, an inline input over 256 KiB would make the
annotation too large, and the API server refuses every metadata write of such an object (the job would
never get a status). The annotation stays small
whatever the spec, a changed value is still detected by its digest, and the accepted value itself
is taken from the current spec as long as its digest still matches.

Format (persisted; compact JSON with sorted keys): the immutable spec, each digested value replaced
by its digest and the dotted paths of those listed under `"digested"`:

    {"digested":["input.inline"],"input":{"inline":{"sha256":"…","size":12}},"provider":"microsoft-qio",…}

A spec with nothing digested encodes as a verbatim annotation, and an annotation without a
`"digested"` key (written before digests existed: persisted data) decodes and compares as verbatim.
`"digested"` cannot be a spec field: the CRD's structural schema prunes unknown top-level spec fields, so an old
annotation never has it (a unit test keeps it out of the model).
"""

from __future__ import annotations

import copy
import hashlib
import json
from typing import Any

ANNOTATION = "kuantum.dev/accepted-spec"
MUTABLE_FIELDS = ("cancel", "ttlSecondsAfterFinished", "tags")  # never recorded in the annotation
# Recorded in the annotation (its persisted format predates them being mutable) but free to change: Azure's job
# update renames and re-prioritises a job. Their recorded values are ignored; today's spec gives them.
UPDATABLE_FIELDS = ("name", "priority")
CHANGEABLE_FIELDS = (*MUTABLE_FIELDS, *UPDATABLE_FIELDS)
DIGESTED = "digested"
INLINE = "input.inline"
# Per field: ~12 fields * 2 KiB keeps the annotation far below the 256 KiB limit on all annotations.
LARGE_FIELD_BYTES = 2048


class AcceptedValueLost(Exception):
    """Fields kept only as digests changed after acceptance: the accepted values no longer exist."""

    def __init__(self, fields: list[str]) -> None:
        self.fields = fields
        super().__init__(
            f"spec field{'s' if len(fields) > 1 else ''} {', '.join(fields)} changed after creation, and the "
            "accepted value was too large to keep a copy of; restore it or create a new job")


def immutable_part(spec: dict[str, Any]) -> dict[str, Any]:
    """What the annotation records of a spec (everything but the MUTABLE_FIELDS)."""
    return {k: v for k, v in spec.items() if k not in MUTABLE_FIELDS}


def _fixed_part(spec: dict[str, Any]) -> dict[str, Any]:
    """What must not change: neither the MUTABLE_FIELDS nor the UPDATABLE_FIELDS."""
    return {k: v for k, v in spec.items() if k not in CHANGEABLE_FIELDS}


def _canonical(value: Any) -> str:
    # ASCII-only: lone surrogates or any unicode encode the same way on every read.
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def digest(value: Any) -> dict[str, Any]:
    """SHA-256 and byte size of the value's canonical JSON (key order does not matter)."""
    data = _canonical(value).encode("ascii")
    return {"sha256": hashlib.sha256(data).hexdigest(), "size": len(data)}


def _has_inline(spec: dict[str, Any]) -> bool:
    source = spec.get("input")
    return isinstance(source, dict) and source.get("inline") is not None


def _with_inline_digest(spec: dict[str, Any]) -> dict[str, Any]:
    return {**spec, "input": {**spec["input"], "inline": digest(spec["input"]["inline"])}}


def encode(spec: dict[str, Any]) -> str:
    """The annotation's text for `spec` (the whole spec; mutable fields are left out)."""
    doc = immutable_part(spec)
    digested: list[str] = []
    if _has_inline(doc):
        doc = _with_inline_digest(doc)
        digested.append(INLINE)
    for key in sorted(doc):
        if len(_canonical(doc[key])) > LARGE_FIELD_BYTES:
            doc[key] = digest(doc[key])
            digested.append(key)
    if digested:
        doc[DIGESTED] = digested
    return _canonical(doc)


def decode(text: str) -> dict[str, Any]:
    """The stored document (new or old format); ValueError when it is not a JSON object."""
    doc = json.loads(text)
    if not isinstance(doc, dict):
        raise ValueError(f"{ANNOTATION} is not a JSON object")
    return doc


def _digested(accepted: dict[str, Any]) -> set[str]:
    paths = accepted.get(DIGESTED)
    return {str(p) for p in paths} if isinstance(paths, list) else set()


def _stored(spec: dict[str, Any], key: str, paths: set[str]) -> Any:
    """spec[key] as `encode` stores it under the digested `paths`: inline input first, then the field."""
    value = spec[key]
    if key == "input" and INLINE in paths and _has_inline(spec):
        value = {**value, "inline": digest(value["inline"])}
    if key in paths:
        value = digest(value)
    return value


def _comparable(accepted: dict[str, Any], current_spec: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Both sides in the stored form of the accepted document (digests where it keeps digests)."""
    paths = _digested(accepted)
    before = _fixed_part({k: v for k, v in accepted.items() if k != DIGESTED})
    current = _fixed_part(current_spec)
    return before, {k: _stored(current, k, paths) for k in current}


def changed_fields(accepted: dict[str, Any], current_spec: dict[str, Any]) -> list[str]:
    """Top-level immutable fields that differ between a decoded annotation (or an old spec) and `current_spec`
    (the updatable fields may differ: they are recorded, but free to change).

    A missing field and an explicit null count as equal, as before."""
    before, after = _comparable(accepted, current_spec)
    return sorted(k for k in set(before) | set(after) if before.get(k) != after.get(k))


def accepted_spec(accepted: dict[str, Any], current_spec: dict[str, Any]) -> dict[str, Any]:
    """The spec to run: the accepted immutable fields, values kept as digests taken back from
    `current_spec` (their digests match), and today's changeable fields (mutable and updatable) from
    `current_spec`.

    Raises AcceptedValueLost when a digested value changed since: the job cannot run as accepted."""
    paths = _digested(accepted)
    spec: dict[str, Any] = {}
    lost: list[str] = []
    for key, value in accepted.items():
        if key == DIGESTED or key in CHANGEABLE_FIELDS:
            continue
        if key not in paths and not (key == "input" and INLINE in paths):
            spec[key] = copy.deepcopy(value)
        elif key in current_spec and _stored(current_spec, key, paths) == value:
            spec[key] = copy.deepcopy(current_spec[key])
        else:
            lost.append(key if key in paths else INLINE)
    if lost:
        raise AcceptedValueLost(sorted(lost))
    spec.update({k: current_spec[k] for k in CHANGEABLE_FIELDS if k in current_spec})
    return spec
