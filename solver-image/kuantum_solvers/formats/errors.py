"""Stable error codes shared with the operator (they end up in QuantumJob.status.errorData)."""

from __future__ import annotations

INVALID_INPUT_DATA = "InvalidInputData"
INVALID_INPUT_FORMAT = "InvalidInputFormat"
INVALID_PARAMETERS = "InvalidParameters"
UNKNOWN_TARGET = "UnknownTarget"
INSUFFICIENT_MEMORY = "InsufficientMemory"
INPUT_NOT_FOUND = "InputNotFound"
STORAGE_ERROR = "StorageError"
INTERNAL_ERROR = "InternalError"

# Codes caused by the user's job (exit 2); everything else is our fault or the platform's (exit 1).
USER_ERROR_CODES = frozenset(
    {INVALID_INPUT_DATA, INVALID_INPUT_FORMAT, INVALID_PARAMETERS, UNKNOWN_TARGET, INSUFFICIENT_MEMORY,
     INPUT_NOT_FOUND}
)


class SolverError(Exception):
    """An error with a stable code and a specific, user-facing message."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message

    @property
    def exit_code(self) -> int:
        return 2 if self.code in USER_ERROR_CODES else 1

    def to_dict(self) -> dict[str, str]:
        return {"code": self.code, "message": self.message}


def invalid_input(message: str) -> SolverError:
    return SolverError(INVALID_INPUT_DATA, message)


def invalid_params(message: str) -> SolverError:
    return SolverError(INVALID_PARAMETERS, message)
