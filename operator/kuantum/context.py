"""What every reconciler shares."""

from __future__ import annotations

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
