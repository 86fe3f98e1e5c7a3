"""Numbers from users' JSON: unbounded ints, NaN, booleans."""

from __future__ import annotations

import math

import pytest
from kuantum_solvers.formats.numbers import finite_float, is_number, show


@pytest.mark.parametrize(("value", "expected"), [(1, 1.0), (-2.5, -2.5), (1e308, 1e308), (2**64, float(2**64))])
def test_finite_float(value: object, expected: float) -> None:
    assert finite_float(value) == expected


@pytest.mark.parametrize("value", [10**400, -(10**400), math.inf, math.nan, True, None, "1", [1]])
def test_not_a_finite_float(value: object) -> None:
    assert finite_float(value) is None


def test_booleans_are_not_numbers() -> None:
    assert not is_number(True) and is_number(0) and is_number(0.0)


def test_show_is_short_whatever_the_value() -> None:
    assert show(10**400).endswith("…") and len(show(10**400)) == 60
    nested: list[object] = []
    for _ in range(100_000):
        nested = [nested]
    assert show(nested) in ("<list>",) or len(show(nested)) <= 60
    assert show("x") == "'x'"
