"""Kubernetes label values from arbitrary user text (workspace, provider and target names).

A spec may name `other-ns/ws` or `microsoft/sa`, unicode or 300 characters; the API server refuses a
label value that is not `(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?` of at most 63 characters, and
one refused label patch leaves a job without any status. Valid values pass through unchanged (so
selectors on plain names keep working); anything else is cleaned up and gets a hash of the whole
original text, so two different inputs never share a label value in practice.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata

MAX_LENGTH = 63
HASH_LENGTH = 10  # hex digits of SHA-256: 40 bits, collisions need ~10^6 distinct altered values
_VALID = re.compile(r"(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?")
_INVALID_RUN = re.compile(r"[^A-Za-z0-9_.-]+")
_EDGE = "-_."  # a value must start and end with an alphanumeric


def is_valid(value: str) -> bool:
    return len(value) <= MAX_LENGTH and _VALID.fullmatch(value) is not None


def label_value(text: str) -> str:
    """`text` if it is a valid label value; else a readable valid one ending in a stable hash of `text`."""
    if is_valid(text):
        return text
    digest = hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:HASH_LENGTH]
    # Accents to their base letters (é -> e) before dropping what is left outside the alphabet.
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    readable = _INVALID_RUN.sub("-", ascii_text)[: MAX_LENGTH - 1 - HASH_LENGTH].strip(_EDGE)
    return f"{readable}-{digest}" if readable else digest
