"""What every reconciler shares."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

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
