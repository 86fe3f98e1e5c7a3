"""A session's status on the API server: the one writer of it. One guarded write per reconcile (a final state is
never written over), and an Event for every change of state."""

from __future__ import annotations

import logging

from ..models import QuantumSessionStatus
from ..objects import SessionObject
from ..runtime.store import Store
from ..runtime.writer import Kube
from .policy import is_final

log = logging.getLogger("kuantum.session")


class SessionStatusWriter:
    def __init__(self, kube: Kube, store: Store) -> None:
        self.kube = kube
        self.store = store

    async def write(self, session: SessionObject, old: QuantumSessionStatus, new: QuantumSessionStatus
                    ) -> SessionObject:
        if new == old:
            return session
        meta = session.meta
        updated = await self.kube.write_state_guarded("QuantumSession", meta.namespace, meta.name,
                                                      None if old.state is None else str(old.state),
                                                      new.model_dump(mode="json", exclude_none=True))
        written = self.store.put_session(updated)
        if new.state != old.state and new.state is not None:
            await self._announce(written, old, new)
        return written

    async def _announce(self, session: SessionObject, old: QuantumSessionStatus, new: QuantumSessionStatus) -> None:
        state = str(new.state)
        detail = f" ({new.errorData.code}: {new.errorData.message[:200]})" if new.errorData else ""
        log.info("session %s (%s): %s -> %s%s", session.key, new.id, old.state or "new", state, detail)
        counts = ", ".join(f"{n} {s}" for s, n in new.jobCounts.items()) or "no jobs"
        message = f"session {new.id} is {state} ({counts})" + detail
        # Event reasons are CamelCase: Failure(s) is announced as JobFailures.
        reason = "JobFailures" if state == "Failure(s)" else state
        await self.kube.event(session, reason, message, warning=state in ("Failed", "Failure(s)"))
        if is_final(new.state):
            log.debug("session %s ended", session.key)
