"""The typed views' edge cases that a mutation run of kuantum/objects.py found untested.

An inline input edited after acceptance (the accepted value kept only as a digest), statuses written badly
in nested fields, the spec cache, the Provider's readiness among its other conditions.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import uuid
from typing import Any

import pytest
from kuantum import accepted_spec, objects
from kuantum.models import JobState, ProviderStatus, QuantumJobStatus
from kuantum.models.common import LABEL_JOB_ID
from kuantum.objects import parse_job, parse_provider, parse_status, parse_workspace
from kuantum.runtime.store import Store

QIO = {"cost_function": {"type": "ising", "terms": [{"c": 1, "ids": [0, 1]}]}}
EDITED = {"cost_function": {"type": "ising", "terms": [{"c": -1, "ids": [0, 1]}]}}
SPEC: dict[str, Any] = {"workspace": "ws", "provider": "microsoft-qio", "target": "microsoft.simulatedannealing.cpu",
                        "input": {"inline": QIO}, "inputParams": {"params": {"sweeps": 10}}}


def _job(spec: dict[str, Any], annotation: str | None = None, uid: str | None = None, generation: int = 1,
         status: dict[str, Any] | None = None) -> dict[str, Any]:
    meta: dict[str, Any] = {"namespace": "ns", "name": "j", "uid": uid or str(uuid.uuid4()), "resourceVersion": "7",
                            "generation": generation, "creationTimestamp": "2026-01-02T03:04:05Z"}
    if annotation is not None:
        meta["annotations"] = {accepted_spec.ANNOTATION: annotation}
    body: dict[str, Any] = {"metadata": meta, "spec": copy.deepcopy(spec)}
    if status is not None:
        body["status"] = status
    return body


def test_an_inline_input_edited_after_acceptance_runs_with_todays_input_and_the_accepted_rest() -> None:
    annotation = accepted_spec.encode(SPEC)
    today = {**copy.deepcopy(SPEC), "workspace": "other", "provider": "ionq", "target": "ionq.simulator",
             "input": {"inline": EDITED}, "cancel": True}
    job = parse_job(_job(today, annotation))
    assert job.spec is not None and job.spec_error is None
    assert (job.workspace, job.provider, job.target) == ("ws", "microsoft-qio", "microsoft.simulatedannealing.cpu"), \
        "immutable fields stay as accepted even when the inline input cannot be"
    assert job.spec.input.inline == EDITED, "the input (read once, at upload) is today's, not the digest"
    assert job.spec.inputParams == {"params": {"sweeps": 10}}
    assert job.cancel is True


def test_a_large_field_edited_after_acceptance_is_todays_and_the_rest_as_accepted() -> None:
    big = {"params": {"sweeps": 10, "note": "x" * (accepted_spec.LARGE_FIELD_BYTES + 10)}}
    spec = {**copy.deepcopy(SPEC), "inputParams": big}
    annotation = accepted_spec.encode(spec)
    assert "inputParams" in accepted_spec.decode(annotation)[accepted_spec.DIGESTED]
    changed = {"params": {"sweeps": 20, "note": "y"}}
    job = parse_job(_job({**spec, "inputParams": changed, "target": "microsoft.paralleltempering.cpu"}, annotation))
    assert job.spec is not None
    assert job.spec.inputParams == changed
    assert job.target == "microsoft.simulatedannealing.cpu"
    assert job.spec.input.inline == QIO


def test_a_status_with_a_bad_nested_field_loses_that_field_only() -> None:
    status = parse_status(QuantumJobStatus, {"state": "Executing", "id": "x", "errorData": {"code": 12, "message": "m"},
                                             "conditions": [{"type": 5}]})
    assert status.state == "Executing" and status.id == "x"
    assert status.errorData is None and status.conditions == []


def test_the_first_validation_error_is_reported() -> None:
    job = parse_job(_job({"workspace": "ws", "provider": 7, "target": 8}))
    assert job.spec is None and job.spec_error is not None
    assert job.spec_error.startswith("spec.provider:"), job.spec_error


def test_meta_reads_the_creation_time_used_for_queue_order() -> None:
    job = parse_job(_job(SPEC))
    assert job.meta.created == "2026-01-02T03:04:05Z"
    assert parse_job({"metadata": {"name": "j"}, "spec": {}}).meta.created == ""


def test_the_views_do_not_print_their_raw_bodies() -> None:
    """The body holds inline inputs and everything else: a view in a log line must stay short."""
    job = parse_job(_job({**SPEC, "input": {"inline": {"secret-looking": "s3cr3t"}}}))
    provider = parse_provider({"metadata": {"name": "p", "uid": "u"},
                               "spec": {"workspace": "ws", "providerId": "ionq"}})
    for view in (job, provider):
        assert "body=" not in repr(view)


def test_the_views_are_immutable() -> None:
    """One view is shared by every reader of the store: none may change it for the others."""
    workspace = parse_workspace({"metadata": {"name": "w", "uid": "u"}, "spec": {}})
    with pytest.raises(dataclasses.FrozenInstanceError):
        workspace.spec_error = None


def test_an_accepted_spec_is_parsed_once_per_generation() -> None:
    uid = str(uuid.uuid4())
    annotation = accepted_spec.encode(SPEC)
    first = parse_job(_job(SPEC, annotation, uid, status={"state": "Waiting"}))
    again = parse_job(_job(SPEC, annotation, uid, status={"state": "Executing"}))
    assert first.spec is not None and again.spec is first.spec, "a status change reuses the parsed spec"
    assert again.state is JobState.EXECUTING
    assert parse_job(_job(SPEC, annotation, uid, generation=2)).spec is not first.spec


def test_the_spec_cache_keeps_other_jobs_entries_and_stays_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    annotation = accepted_spec.encode(SPEC)
    uids = [str(uuid.uuid4()) for _ in range(3)]
    a = parse_job(_job(SPEC, annotation, uids[0]))
    parse_job(_job(SPEC, annotation, uids[1]))
    assert parse_job(_job(SPEC, annotation, uids[0])).spec is a.spec, "a second job does not evict the first"
    monkeypatch.setattr(objects, "_spec_cache", {})
    monkeypatch.setattr(objects, "_SPEC_CACHE_SIZE", 2)
    for uid in uids:
        parse_job(_job(SPEC, annotation, uid))
        assert 1 <= len(objects._spec_cache) <= 2


def test_a_provider_is_ready_only_by_its_ready_condition() -> None:
    def provider(*conditions: tuple[str, str]) -> objects.ProviderObject:
        body = {"metadata": {"name": "p", "uid": "u"}, "spec": {"workspace": "ws", "providerId": "ionq"},
                "status": {"conditions": [{"type": t, "status": s, "reason": "R", "message": "m"}
                                          for t, s in conditions]}}
        # As the watch delivers it: decoded JSON, whose strings are equal to, not the same as, this module's.
        return parse_provider(json.loads(json.dumps(body)))

    assert provider(("Ready", "True")).ready
    assert not provider(("Ready", "False"), ("Stalled", "True")).ready
    assert not provider(("Ready", "False"), ("Reconciling", "True"), ("CredentialsValid", "True")).ready
    assert not provider().ready
    assert parse_status(ProviderStatus, None) == ProviderStatus()


def test_the_job_id_label_is_read_and_indexes_the_job_in_the_store() -> None:
    body = _job(SPEC)
    body["metadata"]["labels"] = {LABEL_JOB_ID: "id-1"}
    job = parse_job(body)
    assert job.label_job_id == "id-1"
    assert parse_job(_job(SPEC)).label_job_id is None
    store = Store()
    store.put("QuantumJob", body)
    assert store.job_keys["id-1"] == "ns/j", "its pods and solver Job find their QuantumJob by this label"


def test_an_empty_or_non_string_client_id_falls_back_to_the_uid_derived_one() -> None:
    uid = str(uuid.uuid4())
    for given in ("", 5):
        job = parse_job(_job({"workspace": "ws", "provider": 7, "id": given}, uid=uid))
        assert job.spec is None and job.job_id == objects.job_id_for(uid)
    chosen = parse_job(_job({"workspace": "ws", "provider": 7, "id": "ABC-1"}, uid=uid))
    assert chosen.job_id == "abc-1", "a client's id, lower-cased as Azure writes UUIDs"


async def test_a_job_waiting_for_its_storage_uploads_its_real_input_after_a_large_field_was_edited() -> None:
    """The edit makes the accepted inputParams unrecoverable (kept only as a digest); the unchanged inline
    input must still be uploaded as itself, not as its digest."""
    import gzip

    from tests.support.job_world import NS, QIO_INPUT, World

    w = World()
    storage = w.kube.data_objects.pop(("secret", NS, "storage"))
    betas = [round(0.1 + 0.012345 * i, 6) for i in range(300)]  # a long temperature ladder: over 2 KiB
    big = {"params": {"sweeps": 10, "all_betas": betas}}
    w.qio_job("j", target="microsoft.paralleltempering.cpu", inputParams=big)
    await w.reconcile("j")
    assert w.status("j")["state"] == "Waiting" and not w.storage.uploads()
    w.edit_spec("j", inputParams={"params": {"sweeps": 20, "all_betas": betas[:10]}})
    w.kube.data_objects[("secret", NS, "storage")] = storage
    await w.reconcile("j")
    uploads = w.storage.uploads()
    assert len(uploads) == 1
    assert json.loads(gzip.decompress(uploads[0].args["data"])) == QIO_INPUT
