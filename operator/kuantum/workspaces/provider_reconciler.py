"""Provider reconciler: canonical id, one Provider per id per workspace, targets, queue depth and usage."""

from __future__ import annotations

from collections import Counter

from ..catalog import ALIASES, canonical_provider_id, targets_of
from ..conditions import get_condition, remove_condition, set_condition
from ..context import Context
from ..execution.base import Probe
from ..execution.registry import LOCAL, Backends
from ..models import JobState, ProviderSpec, ProviderStatus, TargetStatus
from ..models.provider import ProviderUsage
from ..objects import ProviderObject
from ..runtime.lookup import primary_provider, workspace_of
from ..runtime.result import Result
from ..runtime.timeutil import month_of, now_iso
from ..scheduling.usage import monthly_usage
from .throttle import ThrottledStatusWriter

QUEUE_LISTED = 50


class ProviderReconciler:
    def __init__(self, ctx: Context, backends: Backends) -> None:
        self.ctx = ctx
        self.backends = backends
        self.writer = ThrottledStatusWriter(ctx, "Provider", min_interval=5.0)

    async def reconcile(self, key: str) -> Result:
        provider = self.ctx.store.providers.get(key)
        if provider is None or provider.meta.deleting:
            return Result()
        old = provider.status
        new = old.model_copy(deep=True)
        now, generation = now_iso(), provider.meta.generation
        new.observedGeneration = generation
        problem, recheck = await self._problem(provider, new)
        result = Result(recheck)  # a provider's answer stands a while, then it is asked again
        if problem is None:
            new.conditions = set_condition(new.conditions, "Ready", True, "Ready", "the provider's targets are listed",
                                           now, generation)
            new.conditions = remove_condition(remove_condition(new.conditions, "Stalled"), "Reconciling")
        else:
            reason, message, permanent = problem
            new.conditions = set_condition(new.conditions, "Ready", False, reason, message, now, generation)
            kind = "Stalled" if permanent else "Reconciling"
            new.conditions = set_condition(new.conditions, kind, True, reason, message, now, generation)
            new.conditions = remove_condition(new.conditions, "Reconciling" if permanent else "Stalled")
            if not permanent:
                result = result.after(10.0)
        result = result.after(await self._write(provider, old, new))
        if _availability(old) != _availability(new):
            # Queued jobs of a target turned Unavailable wait with a condition saying so; back to Available, on.
            group = (provider.meta.namespace, provider.workspace, new.providerId or "")
            result = result.waking("QuantumJob", [job.key for job in self.ctx.dispatcher.members(group)
                                                  if job.state == JobState.WAITING])
        before, after = (get_condition(c, "CredentialsValid") for c in (old.conditions, new.conditions))
        if after is not None and after.status == "False" and (before is None or before.status != "False"
                                                               or before.message != after.message):
            await self.ctx.kube.event(provider, after.reason, after.message, warning=True)
        return result

    async def _problem(self, provider: ProviderObject, new: ProviderStatus
                       ) -> tuple[tuple[str, str, bool] | None, float | None]:
        """(reason, message, permanent) when the Provider cannot serve jobs, else None (status filled in); and
        when to ask the provider itself again (None: it was not asked)."""
        meta, spec = provider.meta, provider.spec
        if spec is None:
            return ("InvalidSpec", str(provider.spec_error), True), None
        canonical = canonical_provider_id(spec.providerId)
        if canonical is None:
            known = ", ".join(sorted(ALIASES))
            return ("UnknownProvider", f"unknown providerId {spec.providerId!r}; known ids: {known}", True), None
        new.providerId = canonical
        if workspace_of(self.ctx.store, meta.namespace, spec.workspace) is None:
            message = f"QuantumWorkspace {spec.workspace} does not exist in {meta.namespace}"
            return ("WorkspaceNotFound", message, False), None
        primary = primary_provider(self.ctx.store, meta.namespace, spec.workspace, canonical)
        if primary is not None and primary.meta.uid != meta.uid:
            new.targets = []
            return ("DuplicateProvider",
                    f"provider {canonical} is already added to workspace {spec.workspace} by Provider "
                    f"{primary.meta.name}; a workspace has one billing plan per provider, so this "
                    "Provider runs no jobs", True), None
        probe, recheck = await self._probe(provider, spec, canonical, new)
        new.targets = self._targets(meta.namespace, spec, canonical, probe)
        new.usage = self._usage(meta.namespace, spec, canonical)
        if probe is not None and probe.credentials_reason is not None and not _emulates_any(spec, canonical):
            # Nothing it lists can run: not Ready. Where it emulates targets, those run: Ready, and its
            # CredentialsValid condition and the other targets' availability tell the rest.
            return (probe.credentials_reason, str(probe.message), False), recheck
        return None, recheck

    async def _probe(self, provider: ProviderObject, spec: ProviderSpec, canonical: str, new: ProviderStatus
                     ) -> tuple[Probe | None, float | None]:
        """A hardware provider's status endpoint, asked with the Provider's credentials (none when every
        target is emulated locally); the answer becomes CredentialsValid and the targets' availability."""
        prober = self.backends.prober(canonical)
        emulated = {o.id for o in spec.targets if o.backend == LOCAL}
        if prober is None or set(targets_of(canonical)) <= emulated:
            new.conditions = remove_condition(new.conditions, "CredentialsValid")
            return None, None
        probe = await prober.probe(provider)
        now, generation = now_iso(), provider.meta.generation
        if probe.credentials_reason is not None:
            new.conditions = set_condition(new.conditions, "CredentialsValid", False, probe.credentials_reason,
                                           str(probe.message), now, generation)
        elif probe.availability is not None:
            new.conditions = set_condition(new.conditions, "CredentialsValid", True, "Accepted",
                                           f"{canonical} accepted the credentials", now, generation)
        return probe, prober.probe_seconds

    def _targets(self, namespace: str, spec: ProviderSpec, canonical: str, probe: Probe | None
                 ) -> list[TargetStatus]:
        group = (namespace, spec.workspace, canonical)
        entries = self.ctx.dispatcher.waiting(group)  # in queue order
        waiting = Counter(e.target for e in entries)
        running = self.ctx.dispatcher.running(group)
        overrides = {o.id: o for o in spec.targets}
        result = []
        for target in targets_of(canonical).values():
            override = overrides.get(target.id)
            availability = "Available"
            if override is not None and override.available is False:
                availability = "Unavailable"
            elif not target.local and (override is None or override.backend != LOCAL) and probe is not None:
                # The provider's own word; unknown (no answer yet, credentials refused) reads Degraded.
                known = probe.availability
                availability = known.get(target.id, "Unavailable") if known is not None else \
                    "Unavailable" if probe.credentials_reason == "NoCredentials" else "Degraded"
            result.append(TargetStatus(
                id=target.id, kind=target.kind, inputFormats=list(target.input_formats),
                outputFormat=target.output_format_for(target.default_input_format),
                hardware=target.hardware, cancelWhileExecuting=target.cancel_while_executing,
                availability=availability,
                queueDepth=waiting.get(target.id, 0), running=running.get(target.id, 0),
                queue=[e.name for e in entries if e.target == target.id][:QUEUE_LISTED]))
        return result

    def _usage(self, namespace: str, spec: ProviderSpec, canonical: str) -> ProviderUsage:
        used = monthly_usage(self.ctx.dispatcher.members((namespace, spec.workspace, canonical)), month_of(now_iso()))
        limits = spec.billingPlan.limits
        return ProviderUsage(period=used.month, jobs=used.jobs, executionSeconds=used.execution_seconds,
                             maxJobsPerMonth=limits.maxJobsPerMonth,
                             maxExecutionSecondsPerMonth=limits.maxExecutionSecondsPerMonth)

    async def _write(self, provider: ProviderObject, old: ProviderStatus, new: ProviderStatus) -> float | None:
        def without_counters(status: ProviderStatus) -> ProviderStatus:
            targets = [t.model_copy(update={"queueDepth": 0, "running": 0, "queue": []}) for t in status.targets]
            return status.model_copy(update={"targets": targets, "usage": None})

        return await self.writer.write(provider, old, new,
                                       counters_only=without_counters(new) == without_counters(old))


def _availability(status: ProviderStatus) -> dict[str, str | None]:
    return {t.id: t.availability for t in status.targets}


def _emulates_any(spec: ProviderSpec, canonical: str) -> bool:
    """Whether the Provider runs any of its provider's targets on a local simulator (backend: local)."""
    return any(o.backend == LOCAL and o.id in targets_of(canonical) for o in spec.targets)
