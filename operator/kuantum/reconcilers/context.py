"""What every reconciler shares."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ..dispatch import Dispatcher
from ..kubeapi import Kube
from ..objects import Group
from ..settings import Settings
from ..storage_registry import StorageRegistry
from ..store import Store


@dataclass
class Context:
    store: Store
    kube: Kube
    settings: Settings
    dispatcher: Dispatcher
    storages: StorageRegistry
    enqueue: Callable[[str, str], None]  # (kind, namespace/name)
    enqueue_after: Callable[[str, str, float], None]

    def kick(self, group: Group) -> None:
        """Capacity may have freed in a queue: reconcile the jobs that may start now."""
        for key in self.dispatcher.admitted(group):
            self.enqueue("QuantumJob", key)
