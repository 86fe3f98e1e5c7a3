"""The worker contract: how the operator hands a job to a warm solver worker (`kuantum-solve-worker`) and reads how
it ended. Both sides import this module, as they do the pod contract (contract.py), whose run this is: the same
arguments, environment and outcome, carried over HTTP instead of a pod's spec and status.

HTTP/1.1 with JSON bodies on the worker pod's port `PORT`; every request but the health check carries
`Authorization: Bearer <token>`, the pool's token (the worker reads it from `TOKEN_ENV`):

- `POST RUNS_PATH` with a `RunRequest`: starts the run (202) and answers its `RunStatus`; the same id again answers
  its status (200); another id while a run is going is refused (409, `busy`). One run at a time: a worker's
  resources are one job's.
- `GET RUNS_PATH/<id>?wait=<s>`: the run's `RunStatus`; with `wait`, the answer comes when the run ends or after
  at most `s` seconds (a long poll: the operator learns of the end at once without polling fast). 404: unknown.
- `GET RUNS_PATH`: `{"runs": [RunStatus, ...]}`, the going run and the ended ones not yet deleted, without their
  logs (a restarted operator finds which worker has which of its jobs).
- `DELETE RUNS_PATH/<id>`: kills the run if it still runs, then forgets it (the operator deletes a run once it has
  read its end, or to cancel it); answers its last `RunStatus`.
- `GET HEALTH_PATH`: 200 once the worker's engines are warm (the readiness probe), no token needed.

Fencing: an operator that leads by election sends its leader epoch (an integer that grows with every new leader) in
`EPOCH_HEADER` on every call but a run's status. The worker remembers the highest epoch it was sent and refuses a
start, delete or listing with a lower one (412): a replica that lost the lead cannot start a run after its successor
asked the worker what it runs (its request may still be on its way when it stops). A call without the header is
never refused.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, fields
from typing import Any

PORT = 8080
TOKEN_ENV = "KUANTUM_WORKER_TOKEN"
RUNS_PATH = "/v1/runs"
HEALTH_PATH = "/healthz"
MAX_WAIT_SECONDS = 60.0  # the longest a GET waits for a run's end
MAX_REQUEST_BYTES = 1 << 20
EPOCH_HEADER = "Kuantum-Leader-Epoch"

RUNNING, SUCCEEDED, FAILED = "running", "succeeded", "failed"


class ContractError(ValueError):
    """A body that is not what this contract says."""


@dataclass(frozen=True)
class RunRequest:
    """One job's run: what a solver pod gets from its spec and its Secret (contract.solver_args' values and the
    pod's environment)."""

    id: str
    target: str
    input_format: str
    output_format: str
    input_url: str
    output_url: str
    params: str = ""  # the job's inputParams as JSON
    timeout_seconds: float | None = None  # the worker kills the run after it (the job's timeoutSeconds)
    traceparent: str | None = None
    otlp_endpoint: str | None = None

    def to_json(self) -> bytes:
        return json.dumps(asdict(self)).encode()

    @classmethod
    def from_json(cls, body: bytes) -> RunRequest:
        data = _object(body)
        required = ("id", "target", "input_format", "output_format", "input_url", "output_url")
        missing = [name for name in required if not isinstance(data.get(name), str) or not data[name]]
        if missing:
            raise ContractError(f"missing or not a string: {', '.join(missing)}")
        timeout = data.get("timeout_seconds")
        if timeout is not None and (isinstance(timeout, bool) or not isinstance(timeout, int | float) or timeout <= 0):
            raise ContractError("timeout_seconds must be a positive number")
        for name in ("params", "traceparent", "otlp_endpoint"):
            if data.get(name) is not None and not isinstance(data[name], str):
                raise ContractError(f"{name} must be a string")
        known = {f.name for f in fields(cls)}
        return cls(**{key: value for key, value in data.items() if key in known})


@dataclass(frozen=True)
class RunStatus:
    """A run as the worker knows it. Once ended: the exit code (negative: the signal that killed it), the
    termination message (contract.termination_message's line, empty on success), whether the kernel's OOM killer
    or the timeout ended it, and the last bytes of its log."""

    id: str
    state: str
    started_at: float  # seconds since the epoch
    ended_at: float | None = None
    exit_code: int | None = None
    termination: str = ""
    oom_killed: bool = False
    timed_out: bool = False
    log: str = ""

    @property
    def ended(self) -> bool:
        return self.state != RUNNING

    def to_json(self) -> bytes:
        return json.dumps(asdict(self)).encode()

    @classmethod
    def from_json(cls, body: bytes) -> RunStatus:
        return cls.from_data(_object(body))

    @classmethod
    def from_data(cls, data: Any) -> RunStatus:
        if not isinstance(data, dict):
            raise ContractError("a run status is a JSON object")
        if not isinstance(data.get("id"), str) or data.get("state") not in (RUNNING, SUCCEEDED, FAILED):
            raise ContractError("a run status needs an id and a state")
        known = {f.name for f in fields(cls)}
        return cls(**{key: value for key, value in data.items() if key in known})


def _object(body: bytes) -> dict[str, Any]:
    try:
        data = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ContractError(f"not JSON: {e}") from None
    if not isinstance(data, dict):
        raise ContractError("not a JSON object")
    return data
