"""The operator's side of the worker contract (kuantum_solvers/formats/worker.py): one call per method, no retries
(the pool backend decides what a failure means: another worker, a later look, a lost run)."""

from __future__ import annotations

import httpx
from kuantum_solvers.formats import worker as wire

CALL_SECONDS = 10.0  # every call but a long poll
POLL_SLACK_SECONDS = 10.0  # a long poll's answer may come this much after its wait
MAX_CONNECTIONS = 2000


class WorkerUnreachable(Exception):
    """The worker did not answer (refused, reset, timed out) or answered what the contract does not say."""


class WorkerFenced(WorkerUnreachable):
    """The worker was asked by a newer leader (412): this replica no longer leads, and must not change its runs."""


class WorkerBusy(Exception):
    """The worker runs another job (409)."""


class WorkerClient:
    """Calls to workers by address (a pod's IP and port), with the pool's token."""

    def __init__(self, transport: httpx.AsyncBaseTransport | None = None) -> None:
        # A long poll per running job holds a connection: room for every worker of a large cluster.
        self._http = httpx.AsyncClient(transport=transport, timeout=CALL_SECONDS, follow_redirects=False,
                                       limits=httpx.Limits(max_connections=MAX_CONNECTIONS,
                                                           max_keepalive_connections=MAX_CONNECTIONS))
        self.epoch: int | None = None  # this replica's leader epoch, once it leads by election (the worker contract)

    async def aclose(self) -> None:
        await self._http.aclose()

    async def start(self, address: str, token: str, request: wire.RunRequest) -> wire.RunStatus:
        """Starts the run (or answers the one this id already has); WorkerBusy when another one runs there."""
        answer = await self._call("POST", address, wire.RUNS_PATH, token, content=request.to_json())
        if answer.status_code == 409:
            raise WorkerBusy(answer.text[:200])
        return self._status(answer)

    async def status(self, address: str, token: str, run_id: str, wait: float = 0.0) -> wire.RunStatus | None:
        """The run's status (None: the worker does not know it); with `wait`, when it ends or after `wait` s."""
        wait = min(wait, wire.MAX_WAIT_SECONDS)
        answer = await self._call("GET", address, f"{wire.RUNS_PATH}/{run_id}", token,
                                  params={"wait": str(wait)} if wait else None, timeout=wait + POLL_SLACK_SECONDS)
        return None if answer.status_code == 404 else self._status(answer)

    async def delete(self, address: str, token: str, run_id: str) -> wire.RunStatus | None:
        """Stops the run if it runs and forgets it; its last status (None: it was not known)."""
        answer = await self._call("DELETE", address, f"{wire.RUNS_PATH}/{run_id}", token,
                                  timeout=CALL_SECONDS + 30.0)  # the worker waits for a killed run's end
        return None if answer.status_code == 404 else self._status(answer)

    async def runs(self, address: str, token: str) -> list[wire.RunStatus]:
        answer = await self._call("GET", address, wire.RUNS_PATH, token)
        if answer.status_code != 200:
            raise WorkerUnreachable(f"listing runs answered {answer.status_code}")
        try:
            return [wire.RunStatus.from_data(item) for item in answer.json()["runs"]]
        except (ValueError, KeyError, TypeError, wire.ContractError) as e:
            raise WorkerUnreachable(f"listing runs answered {e}") from None

    async def _call(self, method: str, address: str, path: str, token: str, *, content: bytes | None = None,
                    params: dict[str, str] | None = None, timeout: float = CALL_SECONDS) -> httpx.Response:
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        if self.epoch is not None:
            headers[wire.EPOCH_HEADER] = str(self.epoch)
        try:
            answer = await self._http.request(method, f"http://{address}{path}", content=content, params=params,
                                              headers=headers, timeout=timeout)
        except httpx.HTTPError as e:
            raise WorkerUnreachable(f"{type(e).__name__}: {e}"[:300]) from None
        if answer.status_code == 412:
            raise WorkerFenced(f"{method} {path}: {answer.text[:200]}")
        if answer.status_code in (401, 400) or answer.status_code >= 500:
            raise WorkerUnreachable(f"{method} {path} answered {answer.status_code}: {answer.text[:200]}")
        return answer

    @staticmethod
    def _status(answer: httpx.Response) -> wire.RunStatus:
        try:
            return wire.RunStatus.from_json(answer.content)
        except wire.ContractError as e:
            raise WorkerUnreachable(f"a run status that is not one: {e}") from None
