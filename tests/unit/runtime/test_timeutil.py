"""One timestamp format everywhere the operator writes (`Z`); both formats read (issue 12, item 9)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st
from kuantum.runtime import timeutil
from kuantum.runtime.plain import to_plain
from kubernetes import client

Z_FORMAT = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")
MOMENT = datetime(2026, 11, 28, 8, 0, 0, tzinfo=UTC)


def test_now_is_whole_seconds_with_z() -> None:
    stamp = timeutil.now_iso()
    assert Z_FORMAT.match(stamp), stamp
    assert abs((timeutil.parse(stamp) - datetime.now(UTC)).total_seconds()) < 5


@pytest.mark.parametrize(
    "stamp",
    ["2026-11-28T08:00:00Z", "2026-11-28T08:00:00z", "2026-11-28T08:00:00+00:00", "2026-11-28T09:00:00+01:00",
     "2026-11-28T03:00:00-05:00", "2026-11-28T08:00:00", "2026-11-28 08:00:00Z", " 2026-11-28T08:00:00Z\n"],
)
def test_parse_reads_every_spelling_as_aware_utc(stamp: str) -> None:
    parsed = timeutil.parse(stamp)
    assert parsed == MOMENT and parsed.tzinfo is not None
    assert timeutil.normalize(stamp) == "2026-11-28T08:00:00Z"


def test_fractions_are_kept_when_present() -> None:
    assert timeutil.normalize("2026-11-28T08:00:00.123456Z") == "2026-11-28T08:00:00.123456Z"
    assert timeutil.normalize("2026-11-28T08:00:00.5+00:00") == "2026-11-28T08:00:00.500000Z"
    assert timeutil.normalize("2026-11-28T08:00:00.000000Z") == "2026-11-28T08:00:00Z"


def test_format_time_converts_zones_and_treats_naive_as_utc() -> None:
    assert timeutil.format_time(MOMENT) == "2026-11-28T08:00:00Z"
    assert timeutil.format_time(MOMENT.astimezone(timezone(timedelta(hours=-3)))) == "2026-11-28T08:00:00Z"
    assert timeutil.format_time(MOMENT.replace(tzinfo=None)) == "2026-11-28T08:00:00Z"


def test_mixed_formats_compare_correctly() -> None:
    assert timeutil.seconds_between("2026-11-28T08:00:00+00:00", "2026-11-28T08:01:30Z") == 90.0
    assert timeutil.seconds_between("2026-11-28T08:00:00Z", "2026-11-28T09:00:00+02:00") == 0.0  # never negative
    assert timeutil.month_of("2026-11-30T23:30:00-01:00") == "2026-12"


@given(st.datetimes(min_value=datetime(1970, 1, 1), max_value=datetime(9000, 1, 1),
                    timezones=st.sampled_from([UTC, timezone(timedelta(hours=5, minutes=30))])))
def test_round_trip(moment: datetime) -> None:
    stamp = timeutil.format_time(moment)
    assert stamp.endswith("Z") and "+" not in stamp
    assert timeutil.parse(stamp) == moment
    assert timeutil.normalize(stamp) == stamp


def test_client_models_become_plain_dicts_with_z_times() -> None:
    started = datetime(2026, 11, 28, 8, 0, 0, tzinfo=UTC)
    pod = client.V1Pod(
        metadata=client.V1ObjectMeta(name="p", namespace="ns", labels={"a": "b"}, creation_timestamp=started),
        status=client.V1PodStatus(phase="Running", start_time=started, container_statuses=[
            client.V1ContainerStatus(name="solver", image="i", image_id="", ready=True, restart_count=0,
                                     state=client.V1ContainerState(running=client.V1ContainerStateRunning(
                                         started_at=started)))]))
    plain = to_plain(pod)
    sanitized = client.ApiClient().sanitize_for_serialization(pod)
    assert sanitized["status"]["startTime"] == "2026-11-28T08:00:00+00:00"  # what the client does
    assert plain["status"]["startTime"] == "2026-11-28T08:00:00Z"
    assert plain["metadata"]["creationTimestamp"] == "2026-11-28T08:00:00Z"
    assert plain["status"]["containerStatuses"][0]["state"]["running"]["startedAt"] == "2026-11-28T08:00:00Z"
    # otherwise identical to the client's own serialization
    assert plain == _swap_times(sanitized)


def _swap_times(value: object) -> object:
    if isinstance(value, dict):
        return {k: _swap_times(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_swap_times(v) for v in value]
    if isinstance(value, str) and value.endswith("+00:00"):
        return value.replace("+00:00", "Z")
    return value
