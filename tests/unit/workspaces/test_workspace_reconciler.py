"""When the workspace reconciler looks again at a workspace that is not ready: a missing storage Secret (a fix
the user makes, one API read to check) at least every SECRET_RETRY_SECONDS, an unreachable storage with a backoff
up to MAX_RETRY_SECONDS."""

from __future__ import annotations

from kuantum.storage.blobs import StorageError
from kuantum.workspaces.workspace_reconciler import MAX_RETRY_SECONDS, SECRET_RETRY_SECONDS, WorkspaceReconciler

from tests.support.job_world import NS, WS, World, _condition

KEY = f"{NS}/{WS}"


def _delays(w: World) -> list[float]:
    return [delay for key, delay in w.enqueued_after if key == KEY]


async def test_a_missing_secret_is_looked_for_again_within_the_short_interval() -> None:
    w = World()
    del w.kube.data_objects[("secret", NS, "storage")]
    reconciler = WorkspaceReconciler(w.ctx)
    for _ in range(8):
        await w.run(reconciler, KEY)
    assert _delays(w) == [5.0] + [SECRET_RETRY_SECONDS] * 7
    status = w.kube.get("QuantumWorkspace", NS, WS)["status"]
    assert _condition(status, "Ready")["reason"] == "SecretNotFound"
    assert "Secret again" in _condition(status, "Reconciling")["message"]

    w.kube.add_secret(NS, "storage", {"connectionString": "AccountName=devstoreaccount1;AccountKey=a2V5"})
    w.store.put("QuantumWorkspace", w.kube.get("QuantumWorkspace", NS, WS))
    await w.run(reconciler, KEY)
    status = w.kube.get("QuantumWorkspace", NS, WS)["status"]
    assert _condition(status, "Ready")["status"] == "True" and _condition(status, "Reconciling") is None
    assert len(_delays(w)) == 8  # ready: nothing more scheduled


async def test_an_unreachable_storage_backs_off_exponentially_to_the_cap() -> None:
    w = World()

    def unreachable() -> None:
        raise StorageError("storage account devstoreaccount1 is not reachable")

    w.storage.check = unreachable  # type: ignore[method-assign]
    reconciler = WorkspaceReconciler(w.ctx)
    for _ in range(9):
        await w.run(reconciler, KEY)
    assert _delays(w) == [5.0, 10.0, 20.0, 40.0, 80.0, 160.0, MAX_RETRY_SECONDS, MAX_RETRY_SECONDS, MAX_RETRY_SECONDS]
    status = w.kube.get("QuantumWorkspace", NS, WS)["status"]
    assert _condition(status, "Ready")["reason"] == "StorageUnreachable"
    assert _condition(status, "Reconciling")["message"] == "retrying with backoff"
