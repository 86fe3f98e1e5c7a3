"""A reconcile's pending status change: the one write the job reconciler makes at the end of a pass."""

from __future__ import annotations

from ..conditions import get_condition
from ..execution.base import Observation
from ..models import QuantumJobStatus
from ..objects import JobObject
from ..runtime.timeutil import now_iso
from .statemachine import Event, Noted, apply


class Draft:
    """One reconcile's changes to a job's status: lifecycle events applied by the state machine in order,
    Kubernetes Events to record, and when to look again. Written once, at the end (JobReconciler._flush)."""

    def __init__(self, job: JobObject, status: QuantumJobStatus, job_id: str | None = None) -> None:
        self.job = job
        # The id the job gets when it first has a state: its own (the client's spec.id, else from its uid).
        self.job_id = job_id or job.job_id
        self.old = status
        self.new = status
        self.notices: list[tuple[str, str, bool]] = []
        self.recheck: float | None = None
        self.wake: list[tuple[str, str]] = []  # other objects (kind, namespace/name) it concerns: reconciled next
        self._generation = job.meta.generation

    def apply(self, *events: Event) -> None:
        now = now_iso()
        for event in events:
            self.new = apply(self.new, event, now, self._generation)

    def note(self, kind: str, status: bool, reason: str, message: str, *, event: bool = False,
             warning: bool = False) -> None:
        """A condition; with event=True also a Kubernetes Event, once: when the condition is new or changed."""
        before = get_condition(self.old.conditions, kind)  # one Event per change across reconciles
        self.apply(Noted(kind, status, reason, message))
        if event and (before is None or before.reason != reason or before.message != message):
            self.notify(kind if kind != "Queued" else reason, message, warning)

    def notify(self, reason: str, message: str, warning: bool = False) -> None:
        self.notices.append((reason, message, warning))

    def observe(self, seen: Observation) -> None:
        """A backend's observation; a condition it reports is announced as an Event when new (a warning when
        it is False: something keeps the job from going on)."""
        for event in seen.events:
            if isinstance(event, Noted):
                self.note(event.type, event.status, event.reason, event.message, event=True,
                          warning=not event.status)
            else:
                self.apply(event)
        self.wake.extend(seen.wake)
        if seen.recheck_after is not None:
            self.recheck_after(seen.recheck_after)

    def recheck_after(self, seconds: float) -> None:
        self.recheck = seconds if self.recheck is None else min(self.recheck, seconds)
