"""A remote provider's API in memory (the `ProviderApi` protocol of kuantum.execution.providers.api), for the job
engine's unit tests; the loopback HTTP servers that follow the providers' public APIs are fake_ionq.py and
fake_quantinuum.py."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from kuantum.execution.providers.api import Program, ProviderError, RemoteJob, RemoteState, RequestRejected

from tests.support.journal import Call, Journal

__all__ = ["FakeProviderApi", "RemoteRecord"]


@dataclass
class RemoteRecord:
    id: str
    program: Program
    state: RemoteState = RemoteState.WAITING
    created: datetime = field(default_factory=lambda: datetime.now(UTC))
    failure_code: str | None = None
    failure_message: str | None = None
    results: bytes = b'{"histogram":{"0":0.5,"3":0.5}}'


class FakeProviderApi:
    """A provider's API in memory (the ProviderApi protocol of kuantum.execution.providers.api).

    Jobs live in `jobs`; tests move them with `set_state`. Faults: `fail_next[method]` is a list of
    exceptions raised one per call before the call does anything; `accept_then_fail` (a list) makes
    the next submits create the job and then raise the given error, as a connection dropped after the
    provider accepted the job does.
    """

    def __init__(self, journal: Journal | None = None) -> None:
        self.journal = journal or Journal()
        self.calls: list[Call] = []
        self.jobs: dict[str, RemoteRecord] = {}
        self.fail_next: dict[str, list[Exception]] = {}
        self.accept_then_fail: list[ProviderError] = []
        self.availability_map: dict[str, str] = {}
        self.closed = False
        self._ids = itertools.count(1)

    def _record(self, method: str, **args: Any) -> None:
        self.calls.append(self.journal.record("api", method, **args))
        queued = self.fail_next.get(method)
        if queued:
            raise queued.pop(0)

    def of(self, method: str) -> list[Call]:
        return [c for c in self.calls if c.method == method]

    def set_state(self, remote_id: str, state: RemoteState, code: str | None = None, message: str | None = None
                  ) -> None:
        record = self.jobs[remote_id]
        record.state = state
        record.failure_code, record.failure_message = code, message

    def _view(self, record: RemoteRecord) -> RemoteJob:
        return RemoteJob(id=record.id, state=record.state, created=record.created, marker=record.program.marker,
                         failure_code=record.failure_code, failure_message=record.failure_message)

    async def submit(self, program: Program) -> str:
        self._record("submit", program=program)
        remote_id = f"remote-{next(self._ids)}"
        self.jobs[remote_id] = RemoteRecord(remote_id, program)
        if self.accept_then_fail:
            raise self.accept_then_fail.pop(0)
        return remote_id

    async def find(self, marker: str, not_before: datetime) -> RemoteJob | None:
        self._record("find", marker=marker, not_before=not_before)
        for record in sorted(self.jobs.values(), key=lambda r: r.created, reverse=True):
            if record.created < not_before:
                break
            if record.program.marker == marker:
                return self._view(record)
        return None

    async def get(self, remote_id: str) -> RemoteJob:
        self._record("get", remote_id=remote_id)
        record = self.jobs.get(remote_id)
        if record is None:
            raise RequestRejected("NotFound", f"no job {remote_id}", 404)
        return self._view(record)

    async def cancel(self, remote_id: str) -> None:
        self._record("cancel", remote_id=remote_id)
        record = self.jobs.get(remote_id)
        if record is not None and record.state in (RemoteState.WAITING, RemoteState.EXECUTING):
            record.state = RemoteState.CANCELLED

    async def results(self, remote_id: str, program: Program) -> bytes:
        self._record("results", remote_id=remote_id)
        return self.jobs[remote_id].results

    async def availability(self) -> dict[str, str]:
        self._record("availability")
        return dict(self.availability_map)

    async def aclose(self) -> None:
        self.closed = True
