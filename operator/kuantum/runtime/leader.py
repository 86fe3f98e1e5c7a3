"""Leader election over a coordination.k8s.io/v1 Lease, so that of several operator replicas exactly one acts.

Every replica watches and keeps its store warm; only the leader runs reconciles. The leader renews the
Lease every `renew_seconds`; a replica takes it over once it has not been renewed for `lease_seconds`
(the old leader is presumed dead), so a killed leader is replaced within lease_seconds + renew_seconds.
Writes use the Lease's resourceVersion: of two replicas racing for an expired Lease, one wins.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

from kubernetes import client
from kubernetes.client.rest import ApiException

from .timeutil import parse

log = logging.getLogger("kuantum.leader")


class LeaderElection:
    def __init__(self, api_client: client.ApiClient, namespace: str, name: str, identity: str,
                 lease_seconds: int = 15, renew_seconds: float = 5.0) -> None:
        self.api = client.CoordinationV1Api(api_client)
        self.namespace, self.name, self.identity = namespace, name, identity
        self.lease_seconds, self.renew_seconds = lease_seconds, renew_seconds
        self.leading = False
        # This replica's leader epoch while it leads (lease_epoch): workers refuse a previous leader's late calls.
        self.epoch = 0

    async def run(self, started: Callable[[], Awaitable[None]], stopped: Callable[[], Awaitable[None]]) -> None:
        """Campaigns for ever: `started` when this replica becomes the leader, `stopped` when it loses it."""
        while True:
            try:
                holds = await asyncio.to_thread(self._try_acquire_or_renew)
            except Exception as e:  # the API server away: keep leading only while the Lease can be valid
                log.warning("leader election: %s", e)
                holds = False
            if holds and not self.leading:
                self.leading = True
                log.info("leader election: %s leads (Lease %s/%s)", self.identity, self.namespace, self.name)
                await started()
            elif not holds and self.leading:
                self.leading = False
                log.warning("leader election: %s lost the Lease; standing by", self.identity)
                await stopped()
            await asyncio.sleep(self.renew_seconds)

    def _try_acquire_or_renew(self) -> bool:
        now = datetime.now(UTC)
        try:
            lease = self.api.read_namespaced_lease(self.name, self.namespace, _request_timeout=10)
        except ApiException as e:
            if e.status != 404:
                raise
            body = client.V1Lease(metadata=client.V1ObjectMeta(name=self.name, namespace=self.namespace),
                                  spec=self._spec(now, now, transitions=0))
            try:
                created = self.api.create_namespaced_lease(self.namespace, body, _request_timeout=10)
                self.epoch = lease_epoch(_created(created), 0)
                return True
            except ApiException as e2:
                if e2.status == 409:
                    return False
                raise
        spec = lease.spec or client.V1LeaseSpec()
        holder = spec.holder_identity
        renewed = spec.renew_time or spec.acquire_time
        duration = spec.lease_duration_seconds or self.lease_seconds
        expired = renewed is None or _utc(renewed) + timedelta(seconds=duration) < now
        if holder != self.identity and not expired:
            return False
        acquired = spec.acquire_time if holder == self.identity and spec.acquire_time else now
        transitions = (spec.lease_transitions or 0) + (0 if holder == self.identity else 1)
        lease.spec = self._spec(_utc(acquired), now, transitions)
        try:  # carries the resourceVersion read above: a concurrent taker makes this fail with 409
            self.api.replace_namespaced_lease(self.name, self.namespace, lease, _request_timeout=10)
        except ApiException as e:
            if e.status == 409:
                return False
            raise
        self.epoch = lease_epoch(_created(lease), transitions)
        return True

    def _spec(self, acquired: datetime, renewed: datetime, transitions: int) -> client.V1LeaseSpec:
        return client.V1LeaseSpec(holder_identity=self.identity, lease_duration_seconds=self.lease_seconds,
                                  acquire_time=_micro(acquired), renew_time=_micro(renewed),
                                  lease_transitions=transitions)

    async def release(self) -> None:
        """A leader that stops cleanly hands the Lease over at once (an expired renew time)."""
        if not self.leading:
            return
        self.leading = False
        try:
            lease = await asyncio.to_thread(self.api.read_namespaced_lease, self.name, self.namespace)
            if lease.spec and lease.spec.holder_identity == self.identity:
                lease.spec.renew_time = _micro(datetime(1970, 1, 1, tzinfo=UTC))  # type: ignore[assignment]
                await asyncio.to_thread(self.api.replace_namespaced_lease, self.name, self.namespace, lease)
        except ApiException as e:
            log.debug("leader election: release failed: %s", e)


def lease_epoch(created: datetime | str | None, transitions: int) -> int:
    """A leader's epoch: grows with every new holder of the Lease (its leaseTransitions), and also when the Lease is
    deleted and made again (its creation second comes first), so a recreated Lease's first leader is not taken for
    a stale one by workers that remember the old Lease's epochs."""
    seconds = int(_utc(created).timestamp()) if created is not None else 0
    return seconds * 1_000_000 + transitions


def _created(lease: client.V1Lease) -> datetime | None:
    return lease.metadata.creation_timestamp if lease.metadata is not None else None


def _utc(value: datetime | str) -> datetime:
    if isinstance(value, str):
        return parse(value)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _micro(value: datetime) -> str:
    """MicroTime as the API server wants it (RFC 3339 with microseconds)."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")

