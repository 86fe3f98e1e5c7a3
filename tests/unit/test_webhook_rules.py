"""What the validating webhook refuses: malformed specs at create, immutable changes, but never an update
that leaves a spec as it was (the operator's own finalizer and label writes on a job created before the
webhook served)."""

from __future__ import annotations

from typing import Any

import kopf
import pytest
from kuantum.webhooks import check_job, quantumjob_validator, watched

VALID: dict[str, Any] = {"workspace": "ws", "provider": "microsoft-qio", "target": "microsoft.simulatedannealing.cpu",
                         "input": {"inline": "{}"}}
TWO_INPUTS: dict[str, Any] = {**VALID, "input": {"inline": "x", "blobUri": "http://a/b"}}


def refusal(operation: str, spec: dict[str, Any], old_spec: dict[str, Any] | None = None) -> str | None:
    try:
        check_job(operation, spec, old_spec)
    except kopf.AdmissionError as e:
        assert e.code == 422
        return str(e)
    return None


def test_create_refuses_a_malformed_spec_and_accepts_a_valid_one() -> None:
    assert "exactly one of" in (refusal("CREATE", TWO_INPUTS) or "")
    assert refusal("CREATE", VALID) is None


def test_update_refuses_immutable_changes_and_bad_mutable_values_of_a_valid_spec() -> None:
    assert "target" in (refusal("UPDATE", {**VALID, "target": "microsoft.tabu.cpu"}, VALID) or "")
    assert refusal("UPDATE", {**VALID, "tags": "not-a-list"}, VALID) is not None
    assert refusal("UPDATE", {**VALID, "cancel": True, "tags": ["ok"]}, VALID) is None


@pytest.mark.parametrize("new_spec", [TWO_INPUTS, {**TWO_INPUTS, "cancel": True}], ids=["unchanged", "cancelled"])
def test_an_invalid_spec_from_before_the_webhook_can_still_be_finalized_and_cancelled(new_spec: dict[str, Any]) -> None:
    assert refusal("UPDATE", new_spec, TWO_INPUTS) is None


def test_an_invalid_spec_keeps_its_immutable_fields() -> None:
    assert "immutable" in (refusal("UPDATE", {**TWO_INPUTS, "target": "microsoft.tabu.cpu"}, TWO_INPUTS) or "")


def test_a_delete_is_never_refused() -> None:
    assert refusal("DELETE", TWO_INPUTS, TWO_INPUTS) is None


def test_a_namespaced_operator_judges_only_its_own_namespaces() -> None:
    validate = quantumjob_validator(["mine"])
    with pytest.raises(kopf.AdmissionError):
        validate(spec=TWO_INPUTS, namespace="mine", operation="CREATE")
    validate(spec=TWO_INPUTS, namespace="theirs", operation="CREATE")
    with pytest.raises(kopf.AdmissionError):
        quantumjob_validator([])(spec=TWO_INPUTS, namespace="anywhere", operation="CREATE")


@pytest.mark.parametrize(("namespace", "patterns", "served"), [
    ("team-a", [], True),
    ("team-a", ["team-a"], True),
    ("team-b", ["team-a"], False),
    ("t-1234", ["!t-*,!bench-*"], False),  # `make demo`: all but the tests' and benchmarks' namespaces
    ("bench-scale", ["!t-*,!bench-*"], False),
    ("kuantum-demo", ["!t-*,!bench-*"], True),
    ("ci-pr-7", ["ci-*,!ci-pr-7"], False),
    ("ci-pr-8", ["ci-*,!ci-pr-7"], True),
    ("other", ["ci-*,!ci-pr-7", "other"], True),  # served when any pattern serves it
])
def test_an_operator_serves_namespaces_as_kopf_matches_its_patterns(
    namespace: str, patterns: list[str], served: bool
) -> None:
    assert watched(namespace, patterns) is served


def test_an_operator_with_an_exclusion_pattern_judges_the_other_namespaces() -> None:
    validate = quantumjob_validator(["!t-*,!bench-*"])
    validate(spec=TWO_INPUTS, namespace="t-1234", operation="CREATE")  # another operator's namespace
    with pytest.raises(kopf.AdmissionError):
        validate(spec=TWO_INPUTS, namespace="kuantum-demo", operation="CREATE")
