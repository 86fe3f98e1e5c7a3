"""The typed views the store holds: what a reader gets for good, hostile and edited objects."""

from __future__ import annotations

import copy
from typing import Any

from kuantum import accepted_spec
from kuantum.models import JobState, QuantumJobStatus
from kuantum.objects import job_id_for, parse_job, parse_provider, parse_status, parse_workspace
from kuantum.runtime.store import Store

SPEC = {"workspace": "ws", "provider": "Microsoft", "target": "microsoft.simulatedannealing.cpu",
        "input": {"inline": {"cost_function": {"type": "ising", "terms": []}}}}


def _job(spec: Any = None, status: Any = None, annotations: dict[str, str] | None = None, rv: str = "1",
         generation: int = 1) -> dict[str, Any]:
    body: dict[str, Any] = {"metadata": {"namespace": "ns", "name": "j", "uid": "u-1", "resourceVersion": rv,
                                         "generation": generation, "creationTimestamp": "2026-01-01T00:00:00Z",
                                         "annotations": annotations or {}},
                            "spec": copy.deepcopy(SPEC) if spec is None else spec}
    if status is not None:
        body["status"] = status
    return body


def test_a_valid_job_reads_typed() -> None:
    job = parse_job(_job(status={"state": "Waiting", "id": "abc", "queuePosition": 3}))
    assert job.spec is not None and job.spec_error is None
    assert job.state is JobState.WAITING and job.status.queuePosition == 3
    assert job.key == "ns/j" and job.meta.revision == 1 and job.meta.generation == 1
    assert job.group == ("ns", "ws", "microsoft-qio"), "provider aliases resolve to the canonical id"
    assert job.job_id == "abc", "the recorded id wins"
    assert parse_job(_job()).job_id == job_id_for("u-1")


def test_an_invalid_spec_is_an_error_to_report_not_an_exception() -> None:
    job = parse_job(_job(spec={"workspace": "ws", "provider": "p", "target": 7}))
    assert job.spec is None
    assert job.spec_error is not None and job.spec_error.startswith("spec.")
    assert job.workspace == "ws" and job.provider == "p" and job.target == "", "readable for indexing"
    assert job.priority == "Standard" and job.cancel is False


def test_a_status_written_badly_by_someone_else_keeps_its_good_fields() -> None:
    status = parse_status(QuantumJobStatus, {"state": "Executing", "id": "x", "queuePosition": "first",
                                             "errorData": 12})
    assert status.state == "Executing" and status.id == "x"
    assert status.queuePosition is None and status.errorData is None
    assert parse_status(QuantumJobStatus, "garbage") == QuantumJobStatus()


def test_the_job_runs_with_its_accepted_spec_not_an_ignored_edit() -> None:
    annotation = accepted_spec.encode(SPEC)
    edited = {**copy.deepcopy(SPEC), "workspace": "other", "target": "microsoft.paralleltempering.cpu",
              "cancel": True}
    job = parse_job(_job(spec=edited, annotations={accepted_spec.ANNOTATION: annotation}, generation=2))
    assert job.spec is not None
    assert job.workspace == "ws" and job.target == "microsoft.simulatedannealing.cpu", "immutable: as accepted"
    assert job.cancel is True, "mutable fields are today's"
    assert job.raw_spec["workspace"] == "other", "today's spec is kept for the SpecChangeIgnored diff"
    assert job.group == ("ns", "ws", "microsoft-qio"), "an ignored edit does not move the job's queue"


def test_a_mutable_edit_is_seen_even_within_one_generation_cache_entry() -> None:
    annotation = {accepted_spec.ANNOTATION: accepted_spec.encode(SPEC)}
    assert parse_job(_job(annotations=annotation)).cancel is False
    cancelled = {**copy.deepcopy(SPEC), "cancel": True}
    assert parse_job(_job(spec=cancelled, annotations=annotation)).cancel is True


def test_an_unreadable_annotation_is_a_spec_error() -> None:
    job = parse_job(_job(annotations={accepted_spec.ANNOTATION: "[1, 2]"}))
    assert job.spec is None and job.spec_error is not None and accepted_spec.ANNOTATION in job.spec_error


def test_provider_and_workspace_views() -> None:
    provider = parse_provider({"metadata": {"namespace": "ns", "name": "p", "uid": "u"},
                               "spec": {"workspace": "ws", "providerId": "Microsoft.QIO"},
                               "status": {"conditions": [{"type": "Ready", "status": "True"}]}})
    assert provider.canonical is not None and provider.ready and provider.workspace == "ws"
    broken = parse_provider({"metadata": {"namespace": "ns", "name": "p", "uid": "u"},
                             "spec": {"workspace": "ws"}})
    assert broken.spec is None and broken.canonical is None and broken.workspace == "ws" and not broken.ready
    workspace = parse_workspace({"metadata": {"namespace": "ns", "name": "w", "uid": "u",
                                              "deletionTimestamp": "2026-01-01T00:00:00Z"}, "spec": {}})
    assert workspace.spec is None and workspace.spec_error and workspace.meta.deleting


def test_the_store_keeps_the_newest_copy_of_an_object() -> None:
    store = Store()
    store.put("QuantumJob", _job(status={"state": "Executing"}, rv="5"))
    kept = store.put("QuantumJob", _job(status={"state": "Waiting"}, rv="4"))
    assert store.jobs["ns/j"].state is JobState.EXECUTING and kept is store.jobs["ns/j"]
    replaced = _job(status={"state": "Waiting"}, rv="2")
    replaced["metadata"]["uid"] = "u-2"  # deleted and created again: a new object, whatever its version
    store.put("QuantumJob", replaced)
    assert store.jobs["ns/j"].meta.uid == "u-2"
