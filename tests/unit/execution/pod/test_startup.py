"""Why a solver pod has not started, read from the pod as the scheduler and the kubelet report it."""

from __future__ import annotations

from dataclasses import FrozenInstanceError
from typing import Any

import pytest
from kuantum.execution.pod.startup import (
    CONTAINER_ERRORS,
    PERMANENT_IMAGE_ERRORS,
    REASONS,
    RETRIED_IMAGE_ERRORS,
    START_RETRY_SECONDS,
    start_problem,
)

NOW = "2024-01-01T00:01:00Z"  # a minute after the pods below were created


def _pending(waiting: dict[str, Any] | None = None, scheduled: dict[str, Any] | None = None) -> dict[str, Any]:
    status: dict[str, Any] = {"phase": "Pending"}
    if waiting is not None:
        status["containerStatuses"] = [{"name": "solver", "state": {"waiting": waiting}}]
    if scheduled is not None:
        status["conditions"] = [{"type": "PodScheduled", **scheduled}]
    return {"metadata": {"creationTimestamp": "2024-01-01T00:00:00Z"},
            "spec": {"containers": [{"name": "solver", "image": "registry.example/kuantum-solver:1"}]},
            "status": status}


@pytest.mark.parametrize("waiting", [None, {"reason": "ContainerCreating"}, {"reason": "PodInitializing"}])
def test_a_pod_on_its_way_has_no_problem(waiting: dict[str, Any] | None) -> None:
    assert start_problem(_pending(waiting, {"status": "True"}), NOW) is None


def test_a_running_pod_has_no_problem_whatever_its_conditions_said() -> None:
    pod = _pending({"reason": "ImagePullBackOff"})
    pod["status"]["phase"] = "Running"
    assert start_problem(pod, NOW) is None


def test_an_unschedulable_pod_waits_with_the_schedulers_words() -> None:
    problem = start_problem(_pending(scheduled={"status": "False", "reason": "Unschedulable",
                                                "message": "0/1 nodes are available: 1 Insufficient memory."}), NOW)
    assert problem is not None and problem.reason == "Unschedulable" and problem.fail_after is None
    assert "1 Insufficient memory" in problem.message and "spec.targets[]" in problem.message
    assert problem.code == "SolverPodNotStarted"


@pytest.mark.parametrize("reason", ["ErrImagePull", "ImagePullBackOff"])
def test_a_pull_the_kubelet_retries_fails_the_job_only_after_the_retry_window(reason: str) -> None:
    problem = start_problem(_pending({"reason": reason, "message": "connection refused"}), NOW)
    assert problem is not None and problem.reason == reason and problem.code == "SolverImageUnavailable"
    assert problem.fail_after == START_RETRY_SECONDS - 60
    assert "registry.example/kuantum-solver:1" in problem.message and "connection refused" in problem.message
    late = start_problem(_pending({"reason": reason}), "2024-01-01T01:00:00Z")
    assert late is not None and late.fail_after == 0


@pytest.mark.parametrize("reason", ["InvalidImageName", "ErrImageNeverPull"])
def test_an_image_no_retry_can_pull_fails_the_job_at_once(reason: str) -> None:
    problem = start_problem(_pending({"reason": reason, "message": "bad"}), NOW)
    assert problem is not None and problem.fail_after == 0 and problem.code == "SolverImageUnavailable"


def test_a_container_the_node_cannot_create_is_retried_then_fails() -> None:
    problem = start_problem(_pending({"reason": "CreateContainerConfigError", "message": 'secret "x" not found'}),
                            NOW)
    assert problem is not None and problem.code == "SolverPodNotStarted" and problem.fail_after
    assert 'secret "x" not found' in problem.message


def test_the_retry_window_ends_exactly_when_the_pod_has_been_pending_that_long() -> None:
    assert START_RETRY_SECONDS == 300  # the README's "5 minutes"
    at_the_end = start_problem(_pending({"reason": "ErrImagePull"}), "2024-01-01T00:05:00Z")
    just_before = start_problem(_pending({"reason": "ErrImagePull"}), "2024-01-01T00:04:59Z")
    assert at_the_end is not None and at_the_end.fail_after == 0
    assert just_before is not None and just_before.fail_after == 1


@pytest.mark.parametrize("reason", sorted(RETRIED_IMAGE_ERRORS | PERMANENT_IMAGE_ERRORS | CONTAINER_ERRORS))
def test_every_reason_written_into_the_condition_is_one_the_backend_resets(reason: str) -> None:
    problem = start_problem(_pending({"reason": reason}), NOW)
    assert problem is not None and problem.reason == reason and problem.reason in REASONS


def test_an_unschedulable_reason_is_one_the_backend_resets() -> None:
    # As the watch delivers it: decoded JSON, not this module's interned literal.
    reason = "".join(["Unschedul", "able"])
    problem = start_problem(_pending(scheduled={"status": "False", "reason": reason, "message": "m"}), NOW)
    assert problem is not None and problem.reason in REASONS


@pytest.mark.parametrize("scheduled", [{"status": "False", "reason": "SchedulerError", "message": "m"},
                                       {"status": "True", "reason": "Unschedulable"}])
def test_only_a_pod_the_scheduler_found_no_room_for_is_unschedulable(scheduled: dict[str, Any]) -> None:
    assert start_problem(_pending(scheduled=scheduled), NOW) is None


def test_the_image_named_is_the_solver_containers_the_first() -> None:
    pod = _pending({"reason": "ErrImagePull"})
    pod["spec"]["containers"].append({"name": "sidecar", "image": "other/sidecar:1"})
    problem = start_problem(pod, NOW)
    assert problem is not None and "registry.example/kuantum-solver:1" in problem.message
    assert "sidecar" not in problem.message


def test_a_problem_is_a_value() -> None:
    problem = start_problem(_pending({"reason": "ErrImagePull"}), NOW)
    assert problem is not None
    with pytest.raises(FrozenInstanceError):
        problem.reason = "other"  # type: ignore[misc]
