"""The solver batch/v1 Job and its per-job SAS Secret."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from kuantum.catalog import targets_of
from kuantum.execution.pod import builders
from kuantum.runtime.settings import Settings

JOB_ID = "0b0c6f6e-7d55-5d1e-9c55-2f5d2c3f6a01"
QJOB: dict[str, Any] = {
    "apiVersion": "kuantum.dev/v1alpha1",
    "kind": "QuantumJob",
    "metadata": {"name": "my-job", "namespace": "team-a", "uid": "5f1c3c9e-0000-4000-8000-000000000001"},
    "spec": {"workspace": "ws", "provider": "Microsoft-QIO", "target": "microsoft.simulatedannealing.cpu",
             "input": {"inline": {}}},
}
TARGET = targets_of("microsoft-qio")["microsoft.simulatedannealing.cpu"]
DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")


def _job(timeout: int | None = 120) -> dict[str, Any]:
    return builders.solver_job(QJOB, JOB_ID, TARGET, "ghcr.io/kuantum/solver:1", "microsoft.qio.v2",
                               "microsoft.qio-results.v2", timeout, "750m", "1Gi")


def _container(job: dict[str, Any]) -> dict[str, Any]:
    (container,) = job["spec"]["template"]["spec"]["containers"]
    return container


def test_names_are_deterministic_and_valid() -> None:
    assert builders.child_name(JOB_ID) == builders.child_name(JOB_ID) == f"kuantum-{JOB_ID}"
    assert builders.secret_name(JOB_ID) == f"kuantum-{JOB_ID}-sas"
    assert builders.child_name(JOB_ID) != builders.secret_name(JOB_ID)
    for name in (builders.child_name(JOB_ID), builders.secret_name(JOB_ID)):
        assert len(name) <= 63 and DNS_LABEL.match(name)
    assert _job() == _job()


def test_job_basics() -> None:
    job = _job()
    assert job["apiVersion"] == "batch/v1" and job["kind"] == "Job"
    assert job["metadata"]["name"] == f"kuantum-{JOB_ID}"
    assert job["metadata"]["namespace"] == "team-a"
    spec = job["spec"]
    assert spec["backoffLimit"] == 0
    assert spec["activeDeadlineSeconds"] == 120
    assert spec["template"]["spec"]["restartPolicy"] == "Never"


def test_no_timeout_means_no_deadline() -> None:
    assert "activeDeadlineSeconds" not in _job(None)["spec"]


def test_owner_reference_is_the_controlling_quantumjob() -> None:
    expected = {"apiVersion": "kuantum.dev/v1alpha1", "kind": "QuantumJob", "name": "my-job",
                "uid": QJOB["metadata"]["uid"], "controller": True, "blockOwnerDeletion": True}
    assert builders.owner_reference(QJOB) == expected
    assert _job()["metadata"]["ownerReferences"] == [expected]
    secret = builders.sas_secret(QJOB, JOB_ID, "in", "out", {})
    assert secret["metadata"]["ownerReferences"] == [expected]


def test_labels() -> None:
    labels = builders.child_labels(QJOB, JOB_ID)
    assert labels["kuantum.dev/workspace"] == "ws"
    assert labels["kuantum.dev/provider"] == "microsoft-qio"
    assert labels["kuantum.dev/target"] == "microsoft.simulatedannealing.cpu"
    assert labels["kuantum.dev/job-id"] == JOB_ID
    for value in labels.values():
        assert len(value) <= 63 and LABEL_VALUE.match(value)
    job = _job()
    assert job["metadata"]["labels"] == labels
    assert job["spec"]["template"]["metadata"]["labels"] == labels
    assert builders.sas_secret(QJOB, JOB_ID, "in", "out", {})["metadata"]["labels"] == labels


@pytest.mark.parametrize(("field", "value"), [("workspace", "other-ns/ws"), ("provider", "ns/P"),
                                              ("target", "microsoft/sa"), ("workspace", "w" * 300)])
def test_labels_are_valid_whatever_the_spec_names(field: str, value: str) -> None:
    qjob = {**QJOB, "spec": {**QJOB["spec"], field: value}}
    labels = builders.child_labels(qjob, JOB_ID)
    for label in labels.values():
        assert len(label) <= 63 and LABEL_VALUE.match(label), label
    assert builders.solver_job(qjob, JOB_ID, TARGET, "img", "microsoft.qio.v2", "microsoft.qio-results.v2", None,
                               "1", "1Gi")["metadata"]["labels"] == labels


def test_every_catalog_target_id_is_a_valid_label_value() -> None:
    for provider in ("microsoft-qio", "kuantum", "ionq", "quantinuum"):
        for target_id in targets_of(provider):
            assert len(target_id) <= 63 and LABEL_VALUE.match(target_id), target_id


def test_pod_is_locked_down() -> None:
    pod = _job()["spec"]["template"]["spec"]
    assert pod["automountServiceAccountToken"] is False
    assert pod["enableServiceLinks"] is False  # no other services' addresses in the solver's environment
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] != 0
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    sc = _container(_job())["securityContext"]
    assert sc["runAsNonRoot"] is True
    assert sc["readOnlyRootFilesystem"] is True
    assert sc["allowPrivilegeEscalation"] is False
    assert sc["capabilities"] == {"drop": ["ALL"]}
    assert "add" not in sc["capabilities"]
    assert not sc.get("privileged")
    # a writable /tmp (read-only root) comes from an emptyDir
    mounts = {m["name"]: m["mountPath"] for m in _container(_job())["volumeMounts"]}
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert mounts == {"tmp": "/tmp"}
    assert "emptyDir" in volumes["tmp"]


def test_resources() -> None:
    resources = _container(_job())["resources"]
    assert resources["requests"] == {"cpu": "750m", "memory": "1Gi"}
    assert resources["limits"]["memory"] == "1Gi"


def test_gpus_are_a_limit_only_when_asked_for() -> None:
    assert builders.GPU_RESOURCE not in _container(_job())["resources"]["limits"]
    job = builders.solver_job(QJOB, JOB_ID, TARGET, "ghcr.io/kuantum/solver:1-gpu", "microsoft.qio.v2",
                              "microsoft.qio-results.v2", None, "2", "4Gi", gpus=1)
    assert _container(job)["resources"]["limits"] == {"memory": "4Gi", "nvidia.com/gpu": "1"}


def test_container_reads_urls_and_params_from_the_per_job_secret() -> None:
    container = _container(_job())
    assert container["image"] == "ghcr.io/kuantum/solver:1"
    env = {e["name"]: e for e in container["env"]}
    for name, key in (("KUANTUM_INPUT_URL", builders.INPUT_URL_KEY), ("KUANTUM_OUTPUT_URL", builders.OUTPUT_URL_KEY),
                      ("KUANTUM_PARAMS", builders.PARAMS_KEY)):
        assert "value" not in env[name]
        assert env[name]["valueFrom"] == {"secretKeyRef": {"name": builders.secret_name(JOB_ID), "key": key}}
    args = container["args"]
    # The URLs never appear in the Job, and not in the process's argv either (ps on the node shows
    # argv to everyone): the solver is told the names of the variables, not $(VAR) expansions.
    assert args[args.index("--input-url-env") + 1] == "KUANTUM_INPUT_URL"
    assert args[args.index("--output-url-env") + 1] == "KUANTUM_OUTPUT_URL"
    assert "--input" not in args and "--output" not in args
    assert not any("$(" in arg for arg in args)
    assert "command" not in container  # the image's entrypoint, kuantum-solve
    assert args[args.index("--target") + 1] == "microsoft.simulatedannealing.cpu"
    assert args[args.index("--input-format") + 1] == "microsoft.qio.v2"
    assert args[args.index("--output-format") + 1] == "microsoft.qio-results.v2"
    assert "http" not in json.dumps(_job())


def test_secret_keys_and_content() -> None:
    params = {"params": {"sweeps": 100, "seed": 7}}
    secret = builders.sas_secret(QJOB, JOB_ID, "https://in?sig=a", "https://out?sig=b", params)
    assert secret["apiVersion"] == "v1" and secret["kind"] == "Secret"
    assert secret["type"] == "Opaque"
    assert secret["metadata"]["name"] == builders.secret_name(JOB_ID)
    assert secret["metadata"]["namespace"] == "team-a"
    data = secret["stringData"]
    assert set(data) == {builders.INPUT_URL_KEY, builders.OUTPUT_URL_KEY, builders.PARAMS_KEY}
    assert data[builders.INPUT_URL_KEY] == "https://in?sig=a"
    assert data[builders.OUTPUT_URL_KEY] == "https://out?sig=b"
    assert json.loads(data[builders.PARAMS_KEY]) == params
    assert all(isinstance(v, str) for v in data.values())


@pytest.mark.parametrize("target_id", sorted(targets_of("kuantum")))
def test_simulator_job(target_id: str) -> None:
    target = targets_of("kuantum")[target_id]
    qjob = {**QJOB, "spec": {**QJOB["spec"], "provider": "kuantum", "target": target_id}}
    job = builders.solver_job(qjob, JOB_ID, target, "img", "ionq.circuit.v1", "ionq.quantum-results.v1", None,
                              target.default_cpu, target.default_memory)
    args = _container(job)["args"]
    assert args[args.index("--target") + 1] == target_id
    assert job["metadata"]["labels"]["kuantum.dev/provider"] == "kuantum"


def test_args_parse_with_the_solver_cli() -> None:
    """The args the operator writes are ones kuantum-solve accepts (same repo, same release)."""
    from kuantum_solvers.cli import _parser

    args = _parser().parse_args(_container(_job())["args"])
    assert args.input is None and args.output is None
    assert (args.input_url_env, args.output_url_env) == ("KUANTUM_INPUT_URL", "KUANTUM_OUTPUT_URL")
    env_names = {e["name"] for e in _container(_job())["env"]}
    assert {args.input_url_env, args.output_url_env} <= env_names


def _settings(margin: int = 600, default: int = 86400) -> Settings:
    return Settings(sas_margin_seconds=margin, sas_default_seconds=default)


@pytest.mark.parametrize(
    ("timeout", "expected"),
    [(120, 120 + 600), (1, 601), (7 * 86400, 7 * 86400 + 600), (None, 86400 + 600), (0, 86400 + 600)],
)
def test_sas_lifetime_follows_the_deadline_plus_margin(timeout: int | None, expected: int) -> None:
    assert builders.sas_lifetime(timeout, _settings()) == timedelta(seconds=expected)


def test_sas_lifetime_is_bounded_without_a_timeout() -> None:
    lifetime = builders.sas_lifetime(None, Settings())
    assert timedelta(hours=24) < lifetime <= timedelta(hours=26)
    # a negative margin from a bad setting never shortens the deadline itself
    assert builders.sas_lifetime(60, _settings(margin=-5)) == timedelta(seconds=60)


@given(st.integers(min_value=1, max_value=10**7), st.integers(min_value=0, max_value=10**5))
def test_sas_outlives_the_pod_deadline(timeout: int, margin: int) -> None:
    job = builders.solver_job(QJOB, JOB_ID, TARGET, "img", "microsoft.qio.v2", "microsoft.qio-results.v2",
                              timeout, "1", "1Gi")
    lifetime = builders.sas_lifetime(timeout, _settings(margin=margin))
    assert lifetime.total_seconds() >= job["spec"]["activeDeadlineSeconds"] + margin
