"""Why a solver pod has not started, read from the pod as the scheduler and the kubelet report it."""

from __future__ import annotations

from typing import Any

import pytest
from kuantum.execution.pod.startup import START_RETRY_SECONDS, start_problem

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
