"""Numbers from users' JSON: Python ints have no bound, and `math.isfinite(10**400)` raises."""

from __future__ import annotations

import math
from typing import Any


def is_number(value: Any) -> bool:
    """JSON numbers only: booleans are ints to Python, not to JSON."""
    return isinstance(value, int | float) and not isinstance(value, bool)


def finite_float(value: Any) -> float | None:
    """The value as a finite float, or None when it is no number, NaN, infinite or beyond float range."""
    if not is_number(value):
        return None
    try:
        number = float(value)
    except OverflowError:
        return None
    return number if math.isfinite(number) else None


def show(value: Any, limit: int = 60) -> str:
    """A repr short enough for an error message, whatever the value (a 400-digit int, a huge list)."""
    try:
        text = repr(value)
    except (RecursionError, ValueError):  # deep nesting; ints past Python's digit limit
        text = f"<{type(value).__name__}>"
    return text if len(text) <= limit else text[: limit - 1] + "…"
