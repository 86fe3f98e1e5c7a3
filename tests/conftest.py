"""Fixtures shared by all tests: the dev cluster (session), a fresh namespace per test, Azurite."""

from __future__ import annotations

import functools
import time
import uuid
from collections.abc import Iterator

import pytest
from kubernetes import client, config

from tests.support import blobs, devcluster
from tests.support import quantum as q
from tests.support.operator import OperatorProcess
from tests.support.quantum import operator_for, storage_secret, workspace


@pytest.fixture(scope="session")
def cluster() -> Iterator[devcluster.Cluster]:
    started = devcluster.start()  # also points KUANTUM_SOLVER_IMAGE at the image just built
    storage = started.azurite_connection_string
    containers = blobs.job_containers(storage) if storage else set()
    try:
        devcluster.install_crds(started)
        yield started
    finally:
        try:
            if storage:  # what the session's jobs left in Azurite would slow every later run down
                live = _live_namespaces(started.kubeconfig)
                blobs.remove_job_containers(storage, containers, seconds=180, still_used=live.__contains__)
        finally:
            devcluster.stop(started)


def _live_namespaces(kubeconfig: str) -> set[str]:
    """Namespaces that exist and are not being deleted: another session's, whose jobs' data must stay (this
    session's own are being deleted by now)."""
    core = client.CoreV1Api(config.new_client_from_config(config_file=kubeconfig))
    return {ns.metadata.name for ns in core.list_namespace().items if not ns.metadata.deletion_timestamp}


@pytest.fixture(scope="session")
def api_client(cluster: devcluster.Cluster) -> client.ApiClient:
    return config.new_client_from_config(config_file=cluster.kubeconfig)


@pytest.fixture(scope="session")
def core(api_client: client.ApiClient) -> client.CoreV1Api:
    return client.CoreV1Api(api_client)


@pytest.fixture
def namespace(core: client.CoreV1Api) -> Iterator[str]:
    name = f"t-{uuid.uuid4().hex[:10]}"
    core.create_namespace({"metadata": {"name": name, "labels": {"kuantum.dev/test": "true"}}})
    _wait_for_default_token(core, name)
    try:
        yield name
    finally:
        core.delete_namespace(name)
        # The test's operator stopped before this (its fixture needs this one): whatever it left with its finalizer
        # would hold the namespace in Terminating on the shared cluster for good.
        for plural, obj in q.finalized(core.api_client, name):
            q.strip_finalizers(core.api_client, name, plural, obj)


@functools.cache
def _tokens_are_secrets(api: client.ApiClient) -> bool:
    """Kubernetes before 1.24 keeps service-account tokens in Secrets made after the ServiceAccount."""
    version = client.VersionApi(api).get_code()
    return (int(version.major), int("".join(c for c in version.minor if c.isdigit()))) < (1, 24)


def _wait_for_default_token(core: client.CoreV1Api, namespace: str, seconds: float = 30) -> None:
    """Until the namespace's `default` ServiceAccount has its token Secret, where tokens are Secrets: before
    then the API server refuses a pod that mounts one ("No API token found for service account")."""
    if not _tokens_are_secrets(core.api_client):
        return
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if core.read_namespaced_service_account("default", namespace).secrets:
                return
        except client.ApiException as e:
            if e.status != 404:
                raise
        time.sleep(0.1)


@pytest.fixture(scope="session")
def azurite_connection_string(cluster: devcluster.Cluster) -> str:
    if not cluster.azurite_connection_string:
        pytest.skip("set KUANTUM_TEST_STORAGE_CONNECTION_STRING to run storage tests on an external cluster")
    return cluster.azurite_connection_string


@pytest.fixture
def operator(cluster: devcluster.Cluster, api_client: client.ApiClient, namespace: str,
             tmp_path_factory: pytest.TempPathFactory) -> Iterator[OperatorProcess]:
    """A Kuantum operator watching this test's namespace, stopped by PID afterwards."""
    with operator_for(cluster.kubeconfig, api_client, namespace, tmp_path_factory.mktemp("operator")) as proc:
        yield proc


@pytest.fixture
def ready_workspace(api_client: client.ApiClient, core: client.CoreV1Api, namespace: str,
                    azurite_connection_string: str, operator: OperatorProcess) -> str:
    """Workspace `ws` with its storage Secret, watched by this test's operator; returns its namespace."""
    storage_secret(core, namespace, azurite_connection_string)
    workspace(api_client, namespace)
    return namespace
