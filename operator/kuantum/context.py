"""What every reconciler shares."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from .objects import Group
from .runtime.settings import Settings
from .runtime.store import Store
from .runtime.writer import Kube
from .scheduling.admission import Dispatcher
from .storage.registry import StorageRegistry


@dataclass
class Context:
    store: Store
    kube: Kube
    settings: Settings
    dispatcher: Dispatcher
    storages: StorageRegistry
    enqueue: Callable[[str, str], None]  # (kind, namespace/name)
    enqueue_after: Callable[[str, str, float], None]
    enqueue_first: Callable[[str, str], None] | None = None  # ahead of everything queued (default: enqueue)

    def kick(self, group: Group) -> None:
        """Capacity may have freed in a queue: reconcile the jobs that may start now, before the backlog (a
        slot must not wait behind thousands of new jobs' first reconciles)."""
        add = self.enqueue_first or self.enqueue
        for key in self.dispatcher.admitted(group):
            add("QuantumJob", key)
