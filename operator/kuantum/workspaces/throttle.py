"""Status writes of workspaces and providers: counter-only changes wait a little, so busy queues do not
cause write storms; a change of the Ready condition is announced as an Event."""

from __future__ import annotations

import time

from pydantic import BaseModel

from ..conditions import get_condition
from ..context import Context
from ..objects import ProviderObject, WorkspaceObject


class ThrottledStatusWriter:
    def __init__(self, ctx: Context, kind: str, min_interval: float) -> None:
        self.ctx = ctx
        self.kind = kind
        self.min_interval = min_interval
        self._last: dict[str, float] = {}

    def _wait_for(self, key: str) -> float:
        last = self._last.get(key)
        return 0.0 if last is None else max(0.0, self.min_interval - (time.monotonic() - last))

    async def write(self, obj: ProviderObject | WorkspaceObject, old: BaseModel, new: BaseModel,
                    counters_only: bool) -> float | None:
        """Writes new (a status model with .conditions) unless unchanged, or only counters changed too recently:
        then returns when to write them (the object is reconciled again by then)."""
        if new == old:
            return None
        key = obj.key
        if counters_only and (delay := self._wait_for(key)) > 0:
            return delay
        patch = {"status": new.model_dump(mode="json", exclude_none=True)}
        updated = await self.ctx.kube.patch_status(self.kind, obj.meta.namespace, obj.meta.name, patch)
        self.ctx.store.put(self.kind, updated)
        self._last[key] = time.monotonic()
        before = get_condition(getattr(old, "conditions", []), "Ready")
        after = get_condition(getattr(new, "conditions", []), "Ready")
        if after and (before is None or (before.status, before.reason) != (after.status, after.reason)):
            await self.ctx.kube.event(obj, after.reason, after.message, warning=after.status != "True")
        return None
