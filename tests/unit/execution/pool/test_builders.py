"""The pool's pure builders: a worker pod is hardened as a solver pod is, reaches its token through a Secret, and
belongs to its Provider; a pool's id names its shape."""

from __future__ import annotations

from dataclasses import replace

from kuantum.execution.pool import builders
from kuantum.models.common import LABEL_POOL
from kuantum.objects import parse_provider
from kuantum_solvers.formats import worker as wire

SHAPE = builders.Shape("team-a", "microsoft-qio", "ws", "kuantum-solver:1", "500m", "1Gi")
PROVIDER = parse_provider({"metadata": {"name": "microsoft-qio", "namespace": "team-a", "uid": "uid-p"},
                           "spec": {"workspace": "ws", "providerId": "microsoft-qio"}})


def test_a_pools_id_names_its_shape() -> None:
    assert SHAPE.pool_id == builders.Shape(*vars(SHAPE).values()).pool_id
    others = {replace(SHAPE, **{name: "other"}).pool_id
              for name in ("namespace", "provider", "image", "cpu", "memory")}
    assert len(others | {SHAPE.pool_id}) == 6
    assert replace(SHAPE, workspace="other").pool_id == SHAPE.pool_id  # the Provider names its workspace


def test_a_worker_is_hardened_like_a_solver_pod_and_holds_no_kubernetes_token() -> None:
    pod = builders.worker_pod(SHAPE, PROVIDER, "abcde", 600)
    spec = pod["spec"]
    (container,) = spec["containers"]
    assert pod["metadata"]["name"] == f"kuantum-worker-{SHAPE.pool_id}-abcde"
    assert pod["metadata"]["labels"][LABEL_POOL] == SHAPE.pool_id
    assert spec["automountServiceAccountToken"] is False and spec["restartPolicy"] == "OnFailure"
    assert spec["securityContext"]["runAsNonRoot"] is True
    assert container["securityContext"] == {"allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True,
                                            "runAsNonRoot": True, "capabilities": {"drop": ["ALL"]}}
    assert container["command"] == ["kuantum-solve-worker", "--idle-exit", "600"]
    assert container["image"] == "kuantum-solver:1"
    assert container["resources"] == {"requests": {"cpu": "500m", "memory": "1Gi"}, "limits": {"memory": "1Gi"}}
    assert container["ports"] == [{"name": "runs", "containerPort": wire.PORT}]
    assert container["readinessProbe"]["httpGet"] == {"path": wire.HEALTH_PATH, "port": wire.PORT}
    (env,) = container["env"]
    assert env == {"name": wire.TOKEN_ENV, "valueFrom": {"secretKeyRef": {
        "name": builders.token_secret_name(SHAPE.pool_id), "key": builders.TOKEN_KEY}}}
    (owner,) = pod["metadata"]["ownerReferences"]
    assert (owner["kind"], owner["name"], owner["uid"]) == ("Provider", "microsoft-qio", "uid-p")


def test_the_token_secret_belongs_to_the_provider() -> None:
    token = builders.new_token()
    secret = builders.token_secret(SHAPE, PROVIDER, token)
    assert secret["stringData"] == {builders.TOKEN_KEY: token} and len(token) >= 32
    assert secret["metadata"]["ownerReferences"][0]["uid"] == "uid-p"
    assert builders.new_token() != token
