"""The leader epoch workers fence a previous leader with (runtime/leader.py, the worker contract)."""

from __future__ import annotations

from datetime import UTC, datetime

from kuantum.runtime.leader import lease_epoch

CREATED = datetime(2026, 12, 7, 12, 0, 0, tzinfo=UTC)


def test_every_new_holder_of_the_lease_has_a_higher_epoch() -> None:
    assert lease_epoch(CREATED, 0) < lease_epoch(CREATED, 1) < lease_epoch(CREATED, 7)


def test_a_lease_made_again_outranks_every_holder_of_the_one_deleted() -> None:
    later = datetime(2026, 12, 7, 12, 0, 1, tzinfo=UTC)
    assert lease_epoch(later, 0) > lease_epoch(CREATED, 999_999)
    assert lease_epoch("2026-12-07T12:00:01Z", 0) == lease_epoch(later, 0)  # as the API server writes it
