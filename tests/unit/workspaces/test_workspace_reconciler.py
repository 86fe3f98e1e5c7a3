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


async def test_every_workspace_gets_microsoft_qio_and_microsoft_qc_once() -> None:
    """As in Azure Quantum: Microsoft QIO and Microsoft Quantum Computing (the resource estimator) come with every
    workspace; one the user added already (here QIO, `microsoft-qio` in World) is kept, never doubled."""
    w = World()
    reconciler = WorkspaceReconciler(w.ctx)
    await w.run(reconciler, KEY)
    made = [c.args["body"] for c in w.kube.of("create_custom") if c.args["kind"] == "Provider"]
    made = [b for b in made if b["metadata"]["name"] != "microsoft-qio"]
    assert [(b["metadata"]["name"], b["spec"]["providerId"]) for b in made] == [(f"{WS}-microsoft-qc", "microsoft-qc")]
    owner = made[0]["metadata"]["ownerReferences"][0]
    assert (owner["kind"], owner["name"], owner["controller"]) == ("QuantumWorkspace", WS, True)
    w.store.put("Provider", w.kube.get("Provider", NS, f"{WS}-microsoft-qc"))
    await w.run(reconciler, KEY)
    assert len(w.kube.of("create_custom")) == 1, "nothing is created twice"
    status = w.kube.get("QuantumWorkspace", NS, WS)["status"]
    assert sorted(p["providerId"] for p in status["providers"]) == ["microsoft-qc", "microsoft-qio"]


async def test_a_new_workspace_gets_both_default_providers() -> None:
    w = World()
    del w.kube.objects[("Provider", NS, "microsoft-qio")]
    w.store.providers.pop(f"{NS}/microsoft-qio")
    await w.run(WorkspaceReconciler(w.ctx), KEY)
    made = {c.args["body"]["metadata"]["name"]: c.args["body"]["spec"]["providerId"]
            for c in w.kube.of("create_custom")}
    assert made == {f"{WS}-microsoft-qio": "microsoft-qio", f"{WS}-microsoft-qc": "microsoft-qc"}
    added = [c.args for c in w.kube.of("event") if c.args.get("reason") == "ProviderAdded"]
    assert len(added) == 2, added
