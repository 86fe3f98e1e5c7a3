"""The accepted-spec annotation stays small whatever the input, and still detects changes (issue 12, item 1); only
cancel, ttlSecondsAfterFinished and tags are mutable."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from kuantum import accepted_spec as acc
from kuantum.accepted_spec import MUTABLE_FIELDS, immutable_part
from kuantum.models import QuantumJobSpec

SMALL: dict[str, Any] = {
    "workspace": "ws", "provider": "microsoft-qio", "target": "microsoft.simulatedannealing.cpu",
    "input": {"inline": {"cost_function": {"type": "ising", "version": "1.0", "terms": [{"c": 1, "ids": [0, 1]}]}}},
    "inputParams": {"params": {"sweeps": 10}}, "priority": "Standard",
    "cancel": False, "tags": ["a"], "ttlSecondsAfterFinished": 60,
}
# Persisted format: annotations written by this release must decode in every later one.
SMALL_ENCODED = (
    '{"digested":["input.inline"],"input":{"inline":{"sha256":'
    '"02c840b1fb7f32c694bc9018639422430a5a147f70fb7ff56da265ff3738fcac","size":80}},'
    '"inputParams":{"params":{"sweeps":10}},"priority":"Standard","provider":"microsoft-qio",'
    '"target":"microsoft.simulatedannealing.cpu","workspace":"ws"}'
)


def _old_encode(spec: dict[str, Any]) -> str:
    """What reconcilers/job.py wrote before this module (verbatim, inline input included)."""
    return json.dumps(acc.immutable_part(spec), sort_keys=True, separators=(",", ":"))


def _qio(terms: int) -> dict[str, Any]:
    return {"cost_function": {"type": "ising", "version": "1.0",
                              "terms": [{"c": 0.5 + i, "ids": [i, i + 1]} for i in range(terms)]}}


def _with(spec: dict[str, Any], **changes: Any) -> dict[str, Any]:
    return {**spec, **changes}


def test_encoded_format_is_pinned() -> None:
    assert acc.encode(SMALL) == SMALL_ENCODED
    assert acc.ANNOTATION == "kuantum.dev/accepted-spec"
    assert acc.MUTABLE_FIELDS == ("cancel", "ttlSecondsAfterFinished", "tags")


def test_spec_without_large_values_encodes_as_before() -> None:
    spec = _with(SMALL, input={"configMapKeyRef": {"name": "cm", "key": "problem.json"}})
    assert acc.encode(spec) == _old_encode(spec)


def test_large_inline_input_gives_a_small_annotation() -> None:
    spec = _with(SMALL, input={"inline": _qio(20_000)})  # ~600 KB, the issue's reproduction
    assert len(json.dumps(spec)) > 500_000
    text = acc.encode(spec)
    assert len(text) < 1024
    accepted = acc.decode(text)
    assert accepted["input"]["inline"]["size"] > 500_000
    assert acc.changed_fields(accepted, spec) == []
    assert acc.accepted_spec(accepted, spec) == spec


def test_any_large_field_is_digested_and_restored() -> None:
    spec = _with(SMALL, inputParams={"params": {"x": "p" * 300_000}}, target="t" * 5000)
    text = acc.encode(spec)
    assert len(text) < 1024
    accepted = acc.decode(text)
    assert accepted["digested"] == ["input.inline", "inputParams", "target"]
    assert acc.changed_fields(accepted, spec) == []
    assert acc.accepted_spec(accepted, spec) == spec


def test_whole_input_digested_when_large_besides_the_inline() -> None:
    spec = _with(SMALL, input={"inline": "OPENQASM 2.0;", "blobUri": "b" * 10_000})  # invalid, still accepted here
    accepted = acc.decode(acc.encode(spec))
    assert accepted["digested"] == ["input.inline", "input"]
    assert acc.changed_fields(accepted, spec) == []
    assert acc.accepted_spec(accepted, spec) == spec
    assert acc.changed_fields(accepted, _with(spec, input={"inline": "OPENQASM 2.0;", "blobUri": "c"})) == ["input"]


def test_changed_inline_input_is_detected_by_digest() -> None:
    accepted = acc.decode(acc.encode(SMALL))
    changed = _with(SMALL, input={"inline": _qio(3)})
    assert acc.changed_fields(accepted, changed) == ["input"]
    with pytest.raises(acc.AcceptedValueLost) as info:
        acc.accepted_spec(accepted, changed)
    assert info.value.fields == ["input.inline"]
    assert "input.inline changed after creation" in str(info.value)
    # replaced by another source entirely
    moved = _with(SMALL, input={"blobUri": "https://x/y"})
    assert acc.changed_fields(accepted, moved) == ["input"]
    with pytest.raises(acc.AcceptedValueLost):
        acc.accepted_spec(accepted, moved)


def test_other_changes_are_reported_and_the_accepted_values_kept() -> None:
    accepted = acc.decode(acc.encode(SMALL))
    current = _with(SMALL, target="other", inputDataFormat="x", timeoutSeconds=5)
    assert acc.changed_fields(accepted, current) == ["inputDataFormat", "target", "timeoutSeconds"]
    spec = acc.accepted_spec(accepted, current)
    assert spec["target"] == SMALL["target"] and "inputDataFormat" not in spec and "timeoutSeconds" not in spec
    assert spec["input"] == SMALL["input"]  # the inline input itself comes back from the current spec


def test_name_and_priority_are_recorded_yet_updatable() -> None:
    """Azure's job update renames and re-prioritises a job: the annotation keeps recording both (its persisted
    format predates that), but a change is no ignored change and today's values are the ones run with."""
    accepted = acc.decode(acc.encode(_with(SMALL, name="first")))
    assert accepted["priority"] == SMALL["priority"] and accepted["name"] == "first"
    current = _with(SMALL, priority="High", name="renamed")
    assert acc.changed_fields(accepted, current) == []
    spec = acc.accepted_spec(accepted, current)
    assert spec["priority"] == "High" and spec["name"] == "renamed"
    assert "name" not in acc.accepted_spec(accepted, SMALL)  # removed by a merge patch: the default again


def test_mutable_fields_may_change_and_come_from_the_current_spec() -> None:
    accepted = acc.decode(acc.encode(SMALL))
    current = _with(SMALL, cancel=True, tags=["b"], ttlSecondsAfterFinished=None)
    assert acc.changed_fields(accepted, current) == []
    spec = acc.accepted_spec(accepted, current)
    assert spec["cancel"] is True and spec["tags"] == ["b"] and spec["ttlSecondsAfterFinished"] is None
    assert "cancel" not in acc.accepted_spec(accepted, acc.immutable_part(SMALL))


def test_key_order_of_the_inline_input_does_not_matter() -> None:
    reordered = json.loads(json.dumps(SMALL["input"]["inline"], sort_keys=True))
    reordered["cost_function"] = dict(reversed(list(reordered["cost_function"].items())))
    current = _with(SMALL, input={"inline": reordered})
    assert acc.changed_fields(acc.decode(acc.encode(SMALL)), current) == []


def test_missing_and_null_are_equal_as_before() -> None:
    accepted = acc.decode(acc.encode(SMALL))
    assert acc.changed_fields(accepted, _with(SMALL, timeoutSeconds=None)) == []


# --- annotations written by the previous release -------------------------------------------------

def test_old_annotations_decode_and_compare() -> None:
    old = acc.decode(_old_encode(SMALL))
    assert old["input"] == SMALL["input"]
    assert acc.changed_fields(old, SMALL) == []
    assert acc.changed_fields(old, _with(SMALL, input={"inline": _qio(2)})) == ["input"]
    assert acc.changed_fields(old, _with(SMALL, workspace="w2", cancel=True)) == ["workspace"]


def test_old_annotations_give_the_accepted_spec_as_job_py_did() -> None:
    old = acc.decode(_old_encode(SMALL))
    current = _with(SMALL, input={"inline": _qio(2)}, target="changed", cancel=True)
    # what reconcilers/job.py's _accepted_spec returned
    expected = {**json.loads(_old_encode(SMALL)), **{k: current[k] for k in acc.MUTABLE_FIELDS if k in current}}
    assert acc.accepted_spec(old, current) == expected


def test_webhook_comparison_of_two_plain_specs() -> None:
    assert acc.changed_fields(SMALL, _with(SMALL, tags=["x"], cancel=True)) == []
    assert acc.changed_fields(SMALL, _with(SMALL, inputParams={})) == ["inputParams"]


def test_decode_rejects_non_objects() -> None:
    for text in ("[]", "1", '"x"', "null"):
        with pytest.raises(ValueError):
            acc.decode(text)
    with pytest.raises(ValueError):
        acc.decode("{not json")


def test_digested_marker_is_not_a_spec_field() -> None:
    """An old annotation can never hold the marker: the API server prunes unknown spec fields."""
    fields = set(QuantumJobSpec.model_fields) | {f.alias for f in QuantumJobSpec.model_fields.values() if f.alias}
    assert acc.DIGESTED not in fields


# --- whatever the spec ----------------------------------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=50),
    lambda children: st.lists(children, max_size=6) | st.dictionaries(st.text(max_size=10), children, max_size=6),
    max_leaves=40,
)
specs = st.fixed_dictionaries(
    {"workspace": st.text(max_size=30), "provider": st.text(max_size=30), "target": st.text(max_size=30),
     "input": st.one_of(st.fixed_dictionaries({"inline": json_values}), json_values)},
    optional={"inputParams": json_values, "priority": st.text(max_size=10), "timeoutSeconds": json_values,
              "cancel": st.booleans(), "tags": st.lists(st.text(max_size=5)), "id": st.text(max_size=40),
              "ttlSecondsAfterFinished": st.integers()},
)
big = st.text(min_size=1, max_size=3).map(lambda s: s * 20_000)
# Without bools and floats: Python's == says 1 == True == 1.0, JSON (and so the digest) does not.
plain_values = st.recursive(
    st.none() | st.integers() | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=5), children, max_size=4),
    max_leaves=20,
)
plain_specs = st.fixed_dictionaries(
    {"workspace": st.sampled_from(["ws", "w2"]), "target": st.sampled_from(["t", "u"]),
     "input": st.one_of(st.fixed_dictionaries({"inline": plain_values}), plain_values)},
    optional={"inputParams": plain_values, "timeoutSeconds": st.integers(0, 3), "cancel": st.booleans()},
)


@settings(max_examples=150, deadline=None)
@given(specs, st.sampled_from([None, "input", "inputParams", "workspace"]), big)
def test_round_trip_and_bounded_size(spec: dict[str, Any], grow: str | None, filler: str) -> None:
    if grow == "input":
        spec = {**spec, "input": {"inline": filler}}
    elif grow is not None:
        spec = {**spec, grow: filler}
    text = acc.encode(spec)
    assert len(text.encode()) < 32 * 1024
    accepted = acc.decode(text)
    assert acc.changed_fields(accepted, spec) == []
    assert acc.accepted_spec(accepted, spec) == spec
    assert acc.encode(json.loads(json.dumps(spec))) == text  # stable through a JSON round trip


@settings(max_examples=150, deadline=None)
@given(plain_specs, plain_specs)
def test_changes_detected_like_the_plain_comparison(a: dict[str, Any], b: dict[str, Any]) -> None:
    """Digest comparison agrees with comparing the values (up to hash collisions)."""
    plain = sorted(k for k in set(acc.immutable_part(a)) | set(acc.immutable_part(b))
                   if acc.immutable_part(a).get(k) != acc.immutable_part(b).get(k))
    assert acc.changed_fields(acc.decode(acc.encode(a)), b) == plain


# --- messages, the size limit, field names ------------------------------------------------------------

def test_lost_values_are_named_in_a_message_that_reads_right() -> None:
    accepted = acc.decode(acc.encode(SMALL))
    with pytest.raises(acc.AcceptedValueLost) as one:
        acc.accepted_spec(accepted, _with(SMALL, input={"inline": _qio(3)}))
    assert str(one.value).startswith("spec field input.inline changed after creation")
    large = _with(SMALL, inputParams={"params": {"x": "p" * 5000}})
    accepted = acc.decode(acc.encode(large))
    with pytest.raises(acc.AcceptedValueLost) as two:
        acc.accepted_spec(accepted, _with(large, input={"inline": _qio(3)}, inputParams={}))
    assert two.value.fields == ["input.inline", "inputParams"]
    assert str(two.value).startswith("spec fields input.inline, inputParams changed after creation")


def test_a_field_is_digested_only_past_the_size_limit() -> None:
    def sized(n: int) -> dict[str, Any]:  # a field whose canonical JSON is exactly n bytes
        return _with(SMALL, priority="x" * (n - 2))

    assert "priority" not in acc.decode(acc.encode(sized(acc.LARGE_FIELD_BYTES)))["digested"]
    assert "priority" in acc.decode(acc.encode(sized(acc.LARGE_FIELD_BYTES + 1)))["digested"]


@pytest.mark.parametrize("field", ["affinity", "backoffLimit", "id", "inputDataFormat"])
def test_any_immutable_field_is_kept_whatever_its_name(field: str) -> None:
    """The module is not tied to today's schema: a field sorting before "digested" or "input" (a future one,
    or "id") is kept as accepted and its change reported, next to a digested inline input."""
    spec = _with(SMALL, **{field: "v1"})
    accepted = acc.decode(acc.encode(spec))
    assert acc.changed_fields(accepted, spec) == []
    assert acc.accepted_spec(accepted, spec) == spec
    current = _with(spec, **{field: "v2"})
    assert acc.changed_fields(accepted, current) == [field]
    assert acc.accepted_spec(accepted, current)[field] == "v1"


# --- the mutable fields ------------------------------------------------------------------------------------
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
