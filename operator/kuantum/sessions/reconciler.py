"""QuantumSession reconciler: the session's state from its jobs (sessions/policy.py), written once per pass.

Level-based like the job reconciler: every pass reads the session and its jobs from the store and writes the
status the policy gives. When the session stops accepting jobs (closed, failed, timed out) its jobs that have
not started are woken: under Abort they are cancelled, and jobs created after the close are refused
(sessions/membership.py, applied by the job reconciler, the one writer of a job's status).
"""

from __future__ import annotations

from ..conditions import set_condition
from ..context import Context
from ..jobs.statemachine import is_final as job_final
from ..objects import JobObject, SessionObject
from ..runtime.result import Result
from ..runtime.timeutil import now_iso
from . import policy
from .status import SessionStatusWriter

IDLE_MARGIN_SECONDS = 0.5  # look again just after the idle timeout falls due, not just before


def member(job: JobObject) -> policy.Member:
    status = job.status
    return policy.Member(name=job.meta.name, state=status.state, created=job.meta.created,
                         begin=status.beginExecutionTime, end=status.endExecutionTime or status.cancellationTime,
                         error=status.errorData)


class SessionReconciler:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.writer = SessionStatusWriter(ctx.kube, ctx.store)

    async def reconcile(self, key: str) -> Result:
        session = self.ctx.store.sessions.get(key)
        if session is None or session.meta.deleting:
            return Result()
        if session.spec is None:
            await self._invalid(session)
            return Result()
        jobs = self.ctx.store.jobs_of_session(session.meta.namespace, session.meta.name)
        old = session.status
        verdict = policy.evaluate(session.spec, old, session.session_id, session.meta.created,
                                  [member(j) for j in jobs], now_iso(),
                                  self.ctx.settings.session_idle_timeout_seconds, session.meta.generation)
        await self.writer.write(session, old, verdict.status)
        again = verdict.recheck_after + IDLE_MARGIN_SECONDS if verdict.recheck_after is not None else None
        result = Result(again)
        if verdict.status.closeTime and not old.closeTime:
            # Stopped accepting: its waiting jobs look at it again (cancelled under Abort; refused if too late).
            waiting = [j.key for j in jobs if not job_final(j.state) and not self.ctx.dispatcher.has_child(j)]
            result = result.waking("QuantumJob", waiting)
        return result

    async def _invalid(self, session: SessionObject) -> None:
        """A spec that does not parse (the webhook refuses such specs where it runs): Stalled until it is fixed."""
        old = session.status
        new = old.model_copy(deep=True)
        now, generation = now_iso(), session.meta.generation
        message = session.spec_error or "spec: invalid"
        new.conditions = set_condition(new.conditions, "Stalled", True, "InvalidSpec", message, now, generation)
        new.conditions = set_condition(new.conditions, "Ready", False, "InvalidSpec", message, now, generation)
        new.observedGeneration = generation
        await self.writer.write(session, old, new)
