"""The storage registry: a workspace's storage from its Secret, and the reachability check a workspace reconcile
makes, asked of the storage at most every 30 s while it answers (never cached when it fails)."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest
from kuantum.objects import parse_workspace
from kuantum.storage import registry as storage_registry
from kuantum.storage.blobs import StorageError, WorkspaceStorage
from kuantum.storage.registry import StorageRegistry

from tests.support.fake_kube import FakeKube

NS = "ns"
CONN = "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=a2V5;" \
       "BlobEndpoint=http://127.0.0.1:1/devstoreaccount1;"
WORKSPACE = parse_workspace({
    "apiVersion": "kuantum.dev/v1alpha1", "kind": "QuantumWorkspace",
    "metadata": {"name": "ws", "namespace": NS, "uid": "u", "resourceVersion": "1", "generation": 1},
    "spec": {"storage": {"connectionStringSecretRef": {"name": "storage", "key": "connectionString"}}}})


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def monotonic(self) -> float:
        return self.now


@dataclass
class World:
    registry: StorageRegistry
    kube: FakeKube
    clock: Clock
    asked: list[str] = field(default_factory=list)  # every check that reached the storage
    down: bool = False  # the storage's checks fail while set


@pytest.fixture
def world(monkeypatch: pytest.MonkeyPatch) -> World:
    """A registry over a fake API server; the storage's own check recorded instead of sent."""
    kube = FakeKube()
    kube.add_secret(NS, "storage", {"connectionString": CONN})
    w = World(StorageRegistry(kube), kube, Clock())

    def check(self: WorkspaceStorage) -> None:
        w.asked.append(self.account_name)
        if w.down:
            raise StorageError("unreachable")

    monkeypatch.setattr(WorkspaceStorage, "check", check)
    monkeypatch.setattr(storage_registry, "time", w.clock)
    return w


async def test_a_storage_that_answered_is_asked_again_only_after_30_s(world: World) -> None:
    await world.registry.check(WORKSPACE)
    world.clock.now += 29
    await world.registry.check(WORKSPACE)
    assert len(world.asked) == 1, "a workspace reconcile on every job change does not ask the storage each time"
    world.clock.now += 1
    await world.registry.check(WORKSPACE)
    assert len(world.asked) == 2


async def test_a_failed_check_is_never_remembered(world: World) -> None:
    world.down = True
    for _ in range(2):
        with pytest.raises(StorageError):
            await world.registry.check(WORKSPACE)
    world.down = False
    await world.registry.check(WORKSPACE)
    assert len(world.asked) == 3, "every check after a failure asks the storage"


async def test_new_credentials_are_checked_at_once(world: World) -> None:
    await world.registry.check(WORKSPACE)
    world.kube.add_secret(NS, "storage", {"connectionString": CONN.replace("a2V5", "b3RoZXI=")})
    await world.registry.check(WORKSPACE)
    assert len(world.asked) == 2


async def test_a_missing_secret_is_seen_at_every_check(world: World) -> None:
    await world.registry.check(WORKSPACE)
    world.kube.data_objects.pop(("secret", NS, "storage"))
    with pytest.raises(storage_registry.StorageNotConfigured):
        await world.registry.check(WORKSPACE)
