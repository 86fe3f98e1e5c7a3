"""Fixtures shared by all tests: the dev cluster (session), a fresh namespace per test, Azurite."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from kubernetes import client, config

from tests.support import devcluster


@pytest.fixture(scope="session")
def cluster() -> Iterator[devcluster.Cluster]:
    started = devcluster.start()
    try:
        yield started
    finally:
        devcluster.stop(started)


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
    try:
        yield name
    finally:
        core.delete_namespace(name)


@pytest.fixture(scope="session")
def azurite_connection_string(cluster: devcluster.Cluster) -> str:
    if not cluster.azurite_connection_string:
        pytest.skip("set KUANTUM_TEST_STORAGE_CONNECTION_STRING to run storage tests on an external cluster")
    return cluster.azurite_connection_string
