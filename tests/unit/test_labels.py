"""Label values from arbitrary text: always valid, stable, unchanged when already valid (issue 12, item 2)."""

from __future__ import annotations

import hashlib
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from kuantum.labels import HASH_LENGTH, MAX_LENGTH, is_valid, label_value

# The API server's rule, written out independently of the module under test.
LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")
VALID_CHARS = st.sampled_from("abcXYZ019-_.")
valid_values = st.text(alphabet="aZ09-_.", max_size=MAX_LENGTH).filter(lambda s: LABEL_VALUE.match(s) is not None)
hostile = st.one_of(
    st.text(),  # any unicode, surrogates included
    st.text(alphabet=VALID_CHARS, max_size=300),  # valid characters, bad edges or too long
    st.text(alphabet="ab/-._ é€\x00\n", min_size=1, max_size=80),
    st.builds(lambda a, b: f"{a}/{b}", st.text(max_size=40), st.text(max_size=40)),
)


def _ok(value: str) -> bool:
    return len(value) <= 63 and LABEL_VALUE.match(value) is not None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("ws", "ws"),
        ("microsoft.simulatedannealing.cpu", "microsoft.simulatedannealing.cpu"),
        ("", ""),
        ("a" * 63, "a" * 63),
    ],
)
def test_valid_values_are_unchanged(text: str, expected: str) -> None:
    assert label_value(text) == expected


@pytest.mark.parametrize(
    ("text", "prefix"),
    [
        ("other-ns/ws", "other-ns-ws-"),
        ("microsoft/sa", "microsoft-sa-"),
        ("ns/p", "ns-p-"),
        ("café", "cafe-"),
        ("-lead", "lead-"),
        ("trail.", "trail-"),
        ("Ωmega", "mega-"),
    ],
)
def test_invalid_values_are_readable_and_hashed(text: str, prefix: str) -> None:
    value = label_value(text)
    assert _ok(value)
    assert value.startswith(prefix)
    assert len(value) == len(prefix) + HASH_LENGTH


def test_too_long_by_one_is_changed() -> None:
    value = label_value("a" * 64)
    assert _ok(value) and value != "a" * 63


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def test_changed_values_are_the_persisted_format() -> None:
    # Labels stay on existing objects and selectors match them: the scheme may not drift between
    # versions. The readable part, "-", then the first 10 hex digits of the text's SHA-256.
    assert label_value("other-ns/ws") == f"other-ns-ws-{_sha('other-ns/ws')[:10]}"
    assert label_value("///") == _sha("///")[:10]
    # A long text keeps as much readable text as fits in 63 characters.
    assert label_value("x" * 300) == "x" * 52 + "-" + _sha("x" * 300)[:10]


def test_long_values_are_cut_without_a_bad_last_character() -> None:
    # Cut at 63 this would end in '-'; the cut keeps room for the hash and strips edges.
    text = "a" * 51 + "-" + "b" * 300
    value = label_value(text)
    assert _ok(value) and len(value) <= MAX_LENGTH
    assert value.startswith("a" * 51 + "-")
    assert label_value("x" * 300) != label_value("x" * 301)


def test_nothing_readable_left_is_just_the_hash() -> None:
    for text in ("///", "€€€", "-", "...", "\x00"):
        value = label_value(text)
        assert _ok(value) and len(value) == HASH_LENGTH and value.isalnum()


@settings(max_examples=400, deadline=None)
@given(hostile)
def test_always_valid_and_stable(text: str) -> None:
    value = label_value(text)
    assert _ok(value), (text, value)
    assert is_valid(value)
    assert label_value(text) == value
    assert label_value(value) == value  # idempotent: a label value maps to itself


@settings(max_examples=200, deadline=None)
@given(valid_values)
def test_valid_input_is_identity(text: str) -> None:
    assert label_value(text) == text


@settings(max_examples=300, deadline=None)
@given(st.lists(hostile, min_size=2, max_size=30, unique=True))
def test_distinct_inputs_stay_distinct(texts: list[str]) -> None:
    values = [label_value(t) for t in texts]
    assert len(set(values)) == len(values)
