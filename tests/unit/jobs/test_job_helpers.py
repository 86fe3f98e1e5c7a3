"""Pure helpers of the QuantumJob reconciler."""

from __future__ import annotations

import json
import uuid

import pytest
from hypothesis import given
from hypothesis import strategies as st
from kuantum.accepted_spec import MUTABLE_FIELDS, immutable_part
from kuantum.execution.pod.backend import parse_termination_message
from kuantum.objects import job_id_for, parse_job


def test_job_id_is_a_deterministic_uuid_per_uid() -> None:
    uid = "5f1c3c9e-0000-4000-8000-000000000001"
    first = job_id_for(uid)
    assert first == job_id_for(uid)
    parsed = uuid.UUID(first)
    assert str(parsed) == first
    assert parsed.version == 5
    assert job_id_for("5f1c3c9e-0000-4000-8000-000000000002") != first


@given(st.text(min_size=1, max_size=60), st.text(min_size=1, max_size=60))
def test_job_ids_differ_for_different_uids(a: str, b: str) -> None:
    assert (job_id_for(a) == job_id_for(b)) == (a == b)


def test_immutable_part_drops_only_mutable_fields() -> None:
    spec = {"workspace": "ws", "provider": "microsoft-qio", "target": "t", "input": {"inline": {}},
            "inputParams": {"params": {"sweeps": 1}}, "priority": "High", "timeoutSeconds": 5,
            "cancel": True, "ttlSecondsAfterFinished": 60, "tags": ["a"]}
    part = immutable_part(spec)
    assert set(MUTABLE_FIELDS) == {"cancel", "ttlSecondsAfterFinished", "tags"}
    assert part == {k: v for k, v in spec.items() if k not in ("cancel", "ttlSecondsAfterFinished", "tags")}
    assert "cancel" in spec, "the input is not modified"


def test_changing_a_mutable_field_keeps_the_immutable_part() -> None:
    spec = {"workspace": "ws", "target": "t", "cancel": False}
    assert immutable_part(spec) == immutable_part({**spec, "cancel": True, "tags": ["x"]})
    assert immutable_part(spec) != immutable_part({**spec, "target": "u"})


@pytest.mark.parametrize(("message", "expected"), [
    ('{"code": "InvalidInputData", "message": "bad terms"}', ("InvalidInputData", "bad terms")),
    ('Traceback...\nsomething\n{"code": "InvalidParameters", "message": "sweeps"}\n',
     ("InvalidParameters", "sweeps")),
    ('{"code": "A", "message": "first"}\n{"code": "B", "message": "last"}', ("B", "last")),
    ('{"code": "A", "message": "good"}\n{"code": "B", "mess', ("A", "good")),
    ('{"code": "A", "message": "good"}\n{"other": 1}', ("A", "good")),
    ('   {"code": "X", "message": "indented"}   ', ("X", "indented")),
    ('{"code": 137, "message": null}', ("137", "None")),
])
def test_parse_termination_message(message: str, expected: tuple[str, str]) -> None:
    assert parse_termination_message(message) == expected


@pytest.mark.parametrize("message", [
    "", "   \n  ", "Killed", "{not json}", '{"code": "X"}', '{"message": "no code"}', '["code", "message"]',
    "panic: runtime error\n\tgoroutine 1", "\x00\xff garbage {",
])
def test_parse_termination_message_garbage_is_none(message: str) -> None:
    assert parse_termination_message(message) is None


@given(st.text(max_size=200))
def test_parse_termination_message_never_raises(message: str) -> None:
    result = parse_termination_message(message)
    assert result is None or (isinstance(result[0], str) and isinstance(result[1], str))


@given(st.text(max_size=80), st.text(max_size=80), st.text(max_size=200))
def test_parse_termination_message_finds_the_solver_line_after_any_log(code: str, msg: str, log: str) -> None:
    line = json.dumps({"code": code, "message": msg})
    assert parse_termination_message(f"{log}\n{line}") == (code, msg)


def test_a_client_chosen_id_is_the_job_id_lower_cased() -> None:
    job = {"metadata": {"uid": "u-1"}, "spec": {"id": "0F8FAD5B-D9CB-469F-A165-70867728950E"}}
    assert parse_job(job).job_id == "0f8fad5b-d9cb-469f-a165-70867728950e"
    assert parse_job({"metadata": {"uid": "u-1"}, "spec": {}}).job_id == job_id_for("u-1")
