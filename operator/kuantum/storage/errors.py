"""Storage failures as the operator and the CLI name them, without importing the Azure SDK (a CLI command that
never touches storage does not pay for it)."""

from __future__ import annotations


class StorageError(Exception):
    """The storage is unreachable or refused our credentials."""
