"""Pinned values of everything the operator persists: in the API server (ids, names, labels,
annotations, finalizers) and in blob storage (containers, blobs, encodings).

Every expected value here is a literal, computed once and written down. These names outlive the
operator that wrote them: an upgraded operator must find the objects, containers and blobs of jobs
created by the previous one. If a test here fails, do not update the literal to make it pass;
write a migration (or keep reading the old form) first, then change the pin in the same commit.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from kuantum.accepted_spec import ANNOTATION as ACCEPTED_SPEC
from kuantum.accepted_spec import MUTABLE_FIELDS, immutable_part
from kuantum.execution.pod import builders
from kuantum.models import common
from kuantum.objects import job_id_for
from kuantum.storage import blobs as storage

MIGRATION = ("is persisted (in the API server or in blob storage) by released operators: changing it "
             "orphans existing jobs; write a migration before changing this pin")

# uid -> job id, computed with the derivation of release 0.1 (uuid5 of a URL namespace).
JOB_IDS = {
    "00000000-0000-0000-0000-000000000000": "9c3f42a4-b114-528f-b0cc-c9b741b389de",
    "3f2c8a4e-9b1d-4c6e-8f0a-7d5e2b1c9a84": "9b648906-4443-5fe6-bc0e-93e0fcabe47e",
    "uid-1": "78f007a1-0042-5683-b358-288c10531c07",
}
UID = "3f2c8a4e-9b1d-4c6e-8f0a-7d5e2b1c9a84"
JOB_ID = JOB_IDS[UID]


def _pinned(actual: Any, expected: Any, what: str) -> None:
    assert actual == expected, f"{what} changed from {expected!r} to {actual!r}: it {MIGRATION}"


@pytest.mark.parametrize("uid", sorted(JOB_IDS))
def test_job_id_derived_from_uid(uid: str) -> None:
    _pinned(job_id_for(uid), JOB_IDS[uid], f"the job id derived from uid {uid}")


def test_storage_names() -> None:
    _pinned(storage.container_name(JOB_ID), "job-9b648906-4443-5fe6-bc0e-93e0fcabe47e", "the job's container name")
    _pinned(storage.INPUT_BLOB, "inputData", "the input blob name")
    _pinned(storage.OUTPUT_BLOB, "outputData", "the output blob name")


@pytest.mark.parametrize(("fmt", "content_type", "gzipped"), [
    ("microsoft.qio.v2", "application/json", True),
    ("ionq.circuit.v1", "application/json", False),
    ("honeywell.openqasm.v1", "application/qasm", False),
    ("quantinuum.openqasm.v1", "application/qasm", False),
    ("qir.v1", "qir.v1", False),
    ("rigetti.quil.v1", "text/plain", False),
    ("rigetti.qir.v1", "qir.v1", False),
    ("pasqal.pulser.v1", "application/json", False),
])
def test_input_blob_encodings(fmt: str, content_type: str, gzipped: bool) -> None:
    # The solver image of the previous release reads blobs written by this operator and vice versa.
    _pinned(storage.blob_format(fmt), storage.BlobFormat(content_type, gzip=gzipped), f"the blob format of {fmt}")


def test_child_object_names() -> None:
    _pinned(builders.child_name(JOB_ID), "kuantum-9b648906-4443-5fe6-bc0e-93e0fcabe47e", "the solver Job's name")
    _pinned(builders.secret_name(JOB_ID), "kuantum-9b648906-4443-5fe6-bc0e-93e0fcabe47e-sas",
            "the SAS Secret's name")


def test_sas_secret_keys() -> None:
    # A solver pod started by the previous operator reads these keys from its Secret.
    _pinned((builders.INPUT_URL_KEY, builders.OUTPUT_URL_KEY, builders.PARAMS_KEY),
            ("input-url", "output-url", "params"), "the SAS Secret's keys")


def test_solver_uid_is_the_solver_images_user() -> None:
    # Pods run solver images of earlier releases too: their files belong to this uid.
    dockerfile = (Path(__file__).resolve().parents[2] / "solver-image" / "Dockerfile").read_text()
    users = [line.split()[1] for line in dockerfile.splitlines() if line.startswith("USER ")]
    _pinned(users, [f"{builders.SOLVER_UID}:{builders.SOLVER_UID}"], "the solver image's USER")
    _pinned(builders.SOLVER_UID, 10001, "the solver pods' uid")


def test_label_and_finalizer_keys() -> None:
    _pinned(common.API_GROUP, "kuantum.dev", "the API group")
    _pinned(common.API_VERSION, "v1alpha1", "the API version")
    _pinned(common.FINALIZER, "kuantum.dev/cleanup", "the finalizer")
    _pinned((common.LABEL_WORKSPACE, common.LABEL_PROVIDER, common.LABEL_TARGET, common.LABEL_JOB_ID),
            ("kuantum.dev/workspace", "kuantum.dev/provider", "kuantum.dev/target", "kuantum.dev/job-id"),
            "the label keys")


def test_child_label_values() -> None:
    qjob = {"metadata": {"name": "j", "namespace": "ns", "uid": UID},
            "spec": {"workspace": "ws-1", "provider": "Microsoft-QIO", "target": "microsoft.simulatedannealing.cpu"}}
    _pinned(builders.child_labels(qjob, JOB_ID), {
        "kuantum.dev/workspace": "ws-1",
        "kuantum.dev/provider": "microsoft-qio",  # lower-cased: selectors of released tools use it
        "kuantum.dev/target": "microsoft.simulatedannealing.cpu",
        "kuantum.dev/job-id": "9b648906-4443-5fe6-bc0e-93e0fcabe47e",
        "app.kubernetes.io/managed-by": "kuantum",
        "app.kubernetes.io/component": "solver",
    }, "the solver Job's and Secret's labels")


def test_accepted_spec_annotation_key_and_mutable_fields() -> None:
    _pinned(ACCEPTED_SPEC, "kuantum.dev/accepted-spec", "the accepted-spec annotation key")
    # Fields left out of the annotation: adding one makes stored annotations disagree with new specs.
    _pinned(tuple(MUTABLE_FIELDS), ("cancel", "ttlSecondsAfterFinished", "tags"), "the set of mutable spec fields")


SPEC = {"workspace": "ws", "provider": "microsoft-qio", "target": "microsoft.simulatedannealing.cpu",
        "input": {"inline": {"x": 1}}, "inputParams": {"params": {"sweeps": 10}}, "priority": "High",
        "cancel": False, "tags": ["a"], "ttlSecondsAfterFinished": 60, "timeoutSeconds": 30}
# The annotation value as release 0.1 writes it for SPEC: the immutable fields, compact JSON, sorted keys.
ANNOTATION = ('{"input":{"inline":{"x":1}},"inputParams":{"params":{"sweeps":10}},"priority":"High",'
              '"provider":"microsoft-qio","target":"microsoft.simulatedannealing.cpu","timeoutSeconds":30,'
              '"workspace":"ws"}')


def test_accepted_spec_annotation_format() -> None:
    encoded = json.dumps(immutable_part(SPEC), sort_keys=True, separators=(",", ":"))
    _pinned(encoded, ANNOTATION, "the accepted-spec annotation's JSON")
    # Annotations written by released operators still decode to the same spec.
    _pinned(json.loads(ANNOTATION), immutable_part(SPEC), "the decoding of a stored accepted-spec annotation")

