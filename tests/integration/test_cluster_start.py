"""hack/cluster-up.sh on a failed start: it stops exactly what it started, so a retry begins clean and nothing
is left running (seen once on a loaded machine: a start that gave up on the controller manager left etcd, the
API server and the controller manager running). A cluster of its own, on free ports."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from tests.support.faultcluster import COMPONENTS, FaultCluster

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]


def test_a_failed_start_stops_what_it_started(tmp_path: Path) -> None:
    cluster = FaultCluster(tmp_path / "state", node_name="kuantum-failed-start-node")
    # Holds Azurite's port on every address (Azurite listens on the node's): it cannot bind it, after four
    # components started.
    squatter = socket.socket()
    try:
        squatter.bind(("0.0.0.0", cluster.azurite_port))
        squatter.listen()
        with pytest.raises(AssertionError, match="azurite exited before it became healthy") as failure:
            cluster.up(timeout=240)
        assert "stopping what this failed start started: azurite kube-scheduler kube-controller-manager " \
               "kube-apiserver etcd" in str(failure.value)
        assert {name: cluster.pid(name) for name in COMPONENTS} == dict.fromkeys(COMPONENTS), "all stopped"
        assert not list((tmp_path / "state" / "pids").glob("*.pid")), "no PID file left"
    finally:
        squatter.close()
        cluster.down()
