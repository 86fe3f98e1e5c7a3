"""The OData subset azure-quantum's list_jobs sends (workspace._create_filter) and orderby."""

from __future__ import annotations

import pytest
from kuantum.gateway.errors import ApiError
from kuantum.gateway.filters import parse_filter, sort_key

A = {"id": "a", "name": "c1-bell", "status": "Succeeded", "providerId": "IonQ", "target": "ionq.simulator",
     "itemType": "Job", "jobType": "QuantumComputing", "creationTime": "2026-11-27T23:59:00Z"}
B = {"id": "b", "name": "it's", "status": "Failed", "providerId": "microsoft-qio",
     "target": "microsoft.simulatedannealing.cpu", "itemType": "Job", "jobType": "Optimization",
     "creationTime": "2026-11-28T10:00:00Z"}


def ids(text: str) -> list[str]:
    pred = parse_filter(text)
    return [d["id"] for d in (A, B) if pred(d)]


@pytest.mark.parametrize(("text", "expected"), [
    ("", ["a", "b"]),
    # Exactly what the SDK builds.
    ("startswith(Name, 'c1') and (State eq 'Succeeded')", ["a"]),
    ("(ItemType eq 'Job') and (JobType eq 'Optimization')", ["b"]),
    ("(ProviderId eq 'ionq' or ProviderId eq 'Microsoft-QIO')", ["a", "b"]),
    ("(Target eq 'ionq.simulator')", ["a"]),
    ("(State eq 'Succeeded' or State eq 'Failed')", ["a", "b"]),
    ("CreationTime ge 2026-11-28", ["b"]),
    ("CreationTime le 2026-11-27", ["a"]),
    ("CreationTime le 2026-11-28", ["a", "b"]),
    ("CreationTime ge 2026-11-28T00:00:00Z", ["b"]),
    ("startswith(Name, 'it''s')", ["b"]),
    ("not (State eq 'Failed')", ["a"]),
    ("State eq 'Failed' or State eq 'Succeeded' and Target eq 'x'", ["b"]),  # and binds tighter
    ("STATE EQ 'succeeded' AND contains(Name, 'bell')", ["a"]),
])
def test_filters(text: str, expected: list[str]) -> None:
    assert ids(text) == expected


@pytest.mark.parametrize("text", ["State eq", "Nope eq 'x'", "State like 'x'", "(State eq 'x'", "startswith(Name, 3)",
                                  "State eq 'x' )", "State eq 'unterminated"])
def test_bad_filters_are_400(text: str) -> None:
    with pytest.raises(ApiError) as e:
        parse_filter(text)
    assert e.value.status == 400


def test_orderby() -> None:
    key, reverse = sort_key("Name desc")
    assert [d["id"] for d in sorted((A, B), key=key, reverse=reverse)] == ["b", "a"]
    key, reverse = sort_key(None)
    assert reverse and [d["id"] for d in sorted((A, B), key=key, reverse=reverse)] == ["b", "a"]
    for bad in ("Name sideways", "Color asc", "a b c"):
        with pytest.raises(ApiError):
            sort_key(bad)
