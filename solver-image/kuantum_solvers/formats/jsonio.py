"""Users' JSON documents (inputs, parameters), decoded with every way they can be wrong an error naming it."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from kuantum_solvers.formats.errors import SolverError, invalid_input


def load_json(data: bytes | str, what: str = "input",
              error: Callable[[str], SolverError] = invalid_input) -> Any:
    """Decode JSON from users: every way it can be wrong is an `error(message)`, never a crash."""
    be = "are" if what.endswith("s") else "is"  # "params are", "input is"
    try:
        text = data.decode("utf-8") if isinstance(data, bytes) else data
        return json.loads(text)
    except UnicodeDecodeError as exc:
        raise error(f"{what} {be} not UTF-8 text: {exc}") from None
    except json.JSONDecodeError as exc:
        raise error(f"{what} {be} not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from None
    except ValueError as exc:  # an integer of more than 4300 digits (Python's conversion limit)
        raise error(f"{what} is not usable JSON: {exc}") from None
    except RecursionError:  # the C decoder's own limit on nesting
        raise error(f"{what} nests too deeply") from None
