"""The typed views the store holds: what a reader gets for good, hostile and edited objects; an inline input or a
large field edited after acceptance (the accepted value kept only as a digest), statuses written badly in nested
fields, the spec cache, the Provider's readiness among its other conditions, and job ids (derived from the uid,
or the client's, lower-cased)."""

from __future__ import annotations

import copy
import dataclasses
import json
import uuid
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from kuantum import accepted_spec, objects
from kuantum.models import JobState, ProviderStatus, QuantumJobStatus
from kuantum.models.common import LABEL_JOB_ID
from kuantum.models.session import SessionState
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


# ---------------------------------------------------------------------------------------------- edited and hostile
QIO = {"cost_function": {"type": "ising", "terms": [{"c": 1, "ids": [0, 1]}]}}
EDITED = {"cost_function": {"type": "ising", "terms": [{"c": -1, "ids": [0, 1]}]}}
QIO_SPEC: dict[str, Any] = {"workspace": "ws", "provider": "microsoft-qio",
                            "target": "microsoft.simulatedannealing.cpu", "input": {"inline": QIO},
                            "inputParams": {"params": {"sweeps": 10}}}


def _accepted_job(spec: dict[str, Any], annotation: str | None = None, uid: str | None = None, generation: int = 1,
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
    annotation = accepted_spec.encode(QIO_SPEC)
    today = {**copy.deepcopy(QIO_SPEC), "workspace": "other", "provider": "ionq", "target": "ionq.simulator",
             "input": {"inline": EDITED}, "cancel": True}
    job = parse_job(_accepted_job(today, annotation))
    assert job.spec is not None and job.spec_error is None
    assert (job.workspace, job.provider, job.target) == ("ws", "microsoft-qio", "microsoft.simulatedannealing.cpu"), \
        "immutable fields stay as accepted even when the inline input cannot be"
    assert job.spec.input.inline == EDITED, "the input (read once, at upload) is today's, not the digest"
    assert job.spec.inputParams == {"params": {"sweeps": 10}}
    assert job.cancel is True


def test_a_large_field_edited_after_acceptance_is_todays_and_the_rest_as_accepted() -> None:
    big = {"params": {"sweeps": 10, "note": "x" * (accepted_spec.LARGE_FIELD_BYTES + 10)}}
    spec = {**copy.deepcopy(QIO_SPEC), "inputParams": big}
    annotation = accepted_spec.encode(spec)
    assert "inputParams" in accepted_spec.decode(annotation)[accepted_spec.DIGESTED]
    changed = {"params": {"sweeps": 20, "note": "y"}}
    job = parse_job(_accepted_job({**spec, "inputParams": changed, "target": "microsoft.paralleltempering.cpu"},
                                  annotation))
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
    job = parse_job(_accepted_job({"workspace": "ws", "provider": 7, "target": 8}))
    assert job.spec is None and job.spec_error is not None
    assert job.spec_error.startswith("spec.provider:"), job.spec_error


def test_meta_reads_the_creation_time_used_for_queue_order() -> None:
    job = parse_job(_accepted_job(QIO_SPEC))
    assert job.meta.created == "2026-01-02T03:04:05Z"
    assert parse_job({"metadata": {"name": "j"}, "spec": {}}).meta.created == ""


@pytest.mark.parametrize(("submitted", "queue_time"), [
    ("2026-01-01T00:00:00.250000Z", "2026-01-01T00:00:00.250000"),  # the gateway's, within the creation second
    (None, "2026-01-01T00:00:00.000000"),  # kubectl's: the creation second
    ("2025-12-31T23:59:59.999999Z", "2026-01-01T00:00:00.000000"),  # never ahead of older jobs
    ("2026-01-01T00:00:01.000000Z", "2026-01-01T00:00:00.000000"),  # nor behind newer ones
    ("2026-01-01T00:00:00.25Z", "2026-01-01T00:00:00.000000"),  # not the gateway's form: sorts badly
    ("soon", "2026-01-01T00:00:00.000000"),
])
def test_queue_time_orders_a_gateway_clients_jobs_within_their_creation_second(submitted: str | None,
                                                                                 queue_time: str) -> None:
    annotations = {"kuantum.dev/submitted-at": submitted} if submitted else None
    assert parse_job(_job(annotations=annotations)).queue_time == queue_time


def test_the_views_do_not_print_their_raw_bodies() -> None:
    """The body holds inline inputs and everything else: a view in a log line must stay short."""
    job = parse_job(_accepted_job({**QIO_SPEC, "input": {"inline": {"secret-looking": "s3cr3t"}}}))
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
    annotation = accepted_spec.encode(QIO_SPEC)
    first = parse_job(_accepted_job(QIO_SPEC, annotation, uid, status={"state": "Waiting"}))
    again = parse_job(_accepted_job(QIO_SPEC, annotation, uid, status={"state": "Executing"}))
    assert first.spec is not None and again.spec is first.spec, "a status change reuses the parsed spec"
    assert again.state is JobState.EXECUTING
    assert parse_job(_accepted_job(QIO_SPEC, annotation, uid, generation=2)).spec is not first.spec


def test_the_spec_cache_keeps_other_jobs_entries_and_stays_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    annotation = accepted_spec.encode(QIO_SPEC)
    uids = [str(uuid.uuid4()) for _ in range(3)]
    a = parse_job(_accepted_job(QIO_SPEC, annotation, uids[0]))
    parse_job(_accepted_job(QIO_SPEC, annotation, uids[1]))
    again = parse_job(_accepted_job(QIO_SPEC, annotation, uids[0]))
    assert again.spec is a.spec, "a second job does not evict the first"
    monkeypatch.setattr(objects, "_spec_cache", {})
    monkeypatch.setattr(objects, "_SPEC_CACHE_SIZE", 2)
    for uid in uids:
        parse_job(_accepted_job(QIO_SPEC, annotation, uid))
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
    body = _accepted_job(QIO_SPEC)
    body["metadata"]["labels"] = {LABEL_JOB_ID: "id-1"}
    job = parse_job(body)
    assert job.label_job_id == "id-1"
    assert parse_job(_accepted_job(QIO_SPEC)).label_job_id is None
    store = Store()
    store.put("QuantumJob", body)
    assert store.job_keys["id-1"] == "ns/j", "its pods and solver Job find their QuantumJob by this label"


def test_an_empty_or_non_string_client_id_falls_back_to_the_uid_derived_one() -> None:
    uid = str(uuid.uuid4())
    for chosen in ("", 5):
        job = parse_job(_accepted_job({"workspace": "ws", "provider": 7, "id": chosen}, uid=uid))
        assert job.spec is None and job.job_id == objects.job_id_for(uid)
    chosen = parse_job(_accepted_job({"workspace": "ws", "provider": 7, "id": "ABC-1"}, uid=uid))
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


# ---------------------------------------------------------------------------------------------- job ids
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


def test_a_client_chosen_id_is_the_job_id_lower_cased() -> None:
    job = {"metadata": {"uid": "u-1"}, "spec": {"id": "0F8FAD5B-D9CB-469F-A165-70867728950E"}}
    assert parse_job(job).job_id == "0f8fad5b-d9cb-469f-a165-70867728950e"
    assert parse_job({"metadata": {"uid": "u-1"}, "spec": {}}).job_id == job_id_for("u-1")


def test_a_resource_version_is_a_revision_only_when_it_is_a_number() -> None:
    assert objects.Meta.of(_job(rv="42")).revision == 42
    assert objects.Meta.of(_job(rv="opaque-etag")).revision == 0, "opaque: never newer than a numbered copy"
    assert objects.Meta.of({"metadata": {}}).revision == 0


def test_a_jobs_display_name_is_its_spec_name_else_its_object_name() -> None:
    assert parse_job(_accepted_job({**QIO_SPEC, "name": "Bell run"})).display_name == "Bell run"
    assert parse_job(_accepted_job(QIO_SPEC)).display_name == "j"


def test_the_views_hold_no_per_object_dict() -> None:
    """Slots: the store holds one view per object (6,000 jobs at the scale goal); a __dict__ each would cost."""
    job = parse_job(_accepted_job(QIO_SPEC))
    session = objects.parse_session({"metadata": {"name": "s", "uid": "u"}, "spec": SESSION_SPEC})
    for view in (job, session, job.meta):
        assert not hasattr(view, "__dict__"), type(view)


SESSION_SPEC = {"workspace": "ws", "provider": "ionq", "target": "ionq.simulator"}


def _session(spec: Any, status: Any = None) -> objects.SessionObject:
    return objects.parse_session({"metadata": {"namespace": "ns", "name": "s", "uid": "u-s"}, "spec": spec,
                                  **({"status": status} if status is not None else {})})


def test_a_sessions_views_with_a_valid_spec() -> None:
    session = _session({**SESSION_SPEC, "id": "AB4E8F2C-0D5A-4F3B-9C1E-7A6B5C4D3E2F"})
    assert session.key == "ns/s" and session.workspace == "ws"
    assert session.session_id == "ab4e8f2c-0d5a-4f3b-9c1e-7a6b5c4d3e2f"
    assert session.state is None and session.accepting and session.display_name == "s"
    assert _session({**SESSION_SPEC, "name": "calibration"}).display_name == "calibration"
    assert _session(SESSION_SPEC, {"state": "Executing"}).state == SessionState.EXECUTING
    assert not _session(SESSION_SPEC, {"state": "Executing", "closeTime": "2026-01-01T00:00:00Z"}).accepting
    assert not _session({**SESSION_SPEC, "close": True}).accepting
    assert parse_workspace({"metadata": {"namespace": "ns", "name": "w", "uid": "u"}, "spec": {}}).key == "ns/w"


def test_a_session_with_an_invalid_spec_still_reads_its_id_workspace_and_close() -> None:
    """An invalid spec (here a target missing) is reported on the session; its id, workspace and close are
    still read from the raw spec, so its jobs are refused with the right names."""
    raw = {"workspace": "ws", "provider": "ionq", "id": "AB4E8F2C-0D5A-4F3B-9C1E-7A6B5C4D3E2F"}
    session = _session(raw)
    assert session.spec is None and session.spec_error
    assert session.session_id == "ab4e8f2c-0d5a-4f3b-9c1e-7a6b5c4d3e2f" and session.workspace == "ws"
    assert session.accepting
    assert _session({**raw, "close": False}).accepting
    assert not _session({**raw, "close": True}).accepting
    assert _session({**raw, "close": "yes"}).accepting, "only a real true closes it"
