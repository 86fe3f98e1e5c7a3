"""Quantinuum's job API ("qapi", https://qapi.quantinuum.com/v1) as a ProviderApi.

Wire shapes (pytket-quantinuum's API handler, qiskit-quantinuum-provider, cuda-quantum's helper):
- POST /login {"email","password"} or {"refresh-token"} -> {"id-token","refresh-token"}; requests carry
  `Authorization: <id-token>` (no scheme). A rejected refresh token answers 400 "Invalid Refresh Token".
- POST /job {"name","machine","language","program","count","priority","options"} -> {"job": id}
- GET /job/{id} -> {"job","name","status","submit-date",...,"results": {creg: [bitstring per shot]},"error"}
- POST /job/{id}/cancel; GET /machine/{name} -> {"state": "online"|"offline"|"in maintenance"|...}
- GET /jobs: the user's job list. No public client uses it; its paging parameters are our assumption
  (see find()).
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import re
import time
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

from kuantum.execution.providers.api import (
    CredentialsRejected,
    Program,
    ProviderError,
    ProviderUnavailable,
    RemoteJob,
    RemoteState,
    RequestRejected,
)
from kuantum.execution.providers.http import ResilientClient

log = logging.getLogger("kuantum.remote.quantinuum")

DEFAULT_ENDPOINT = "https://qapi.quantinuum.com/v1"
LANGUAGE = "OPENQASM 2.0"
OUTPUT_FORMAT = "honeywell.quantum-results.v1"

# Azure target id -> qapi machine; availability() reports these.
MACHINES: dict[str, str] = {
    "quantinuum.sim.h2-1sc": "H2-1SC",
    "quantinuum.sim.h2-1e": "H2-1E",
    "quantinuum.qpu.h2-1": "H2-1",
}

# Status strings seen in pytket-quantinuum (_STATUS_MAP) and qiskit-quantinuum-provider (ApiJobStatus).
_STATES: dict[str, RemoteState] = {
    "pending": RemoteState.WAITING,
    "submitted": RemoteState.WAITING,
    "queued": RemoteState.WAITING,
    "running": RemoteState.EXECUTING,
    # A cancel in progress may still finish the job: not final yet.
    "canceling": RemoteState.EXECUTING,
    "cancelling": RemoteState.EXECUTING,
    "completed": RemoteState.SUCCEEDED,
    "failed": RemoteState.FAILED,
    "depleted": RemoteState.FAILED,  # the account ran out of credits mid-job
    "terminated": RemoteState.FAILED,
    "canceled": RemoteState.CANCELLED,
    "cancelled": RemoteState.CANCELLED,
}
_FINAL = frozenset({RemoteState.SUCCEEDED, RemoteState.FAILED, RemoteState.CANCELLED})
_DEFAULT_FAILURE_CODES = {"failed": "JobFailed", "depleted": "CreditsDepleted", "terminated": "JobTerminated"}

_AVAILABILITY = {"online": "Available", "offline": "Unavailable"}  # anything else (maintenance, reserved): Degraded
_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")

ID_TOKEN_LIFETIME = 1800.0  # qapi id-tokens last ~30 min; used when a token carries no readable expiry
LIST_PAGE_SIZE = 100
LIST_MAX_PAGES = 50  # find() never reads more than 5000 jobs
# The id-token the current request sent: ResilientClient awaits headers() and on_unauthorized() in the
# calling task, so a 401 can tell a stale token (renew) from one another request has just renewed (retry).
_sent_token: ContextVar[str | None] = ContextVar("quantinuum_sent_token", default=None)


def machine_for(target: str) -> str:
    """The qapi machine behind an Azure target id (quantinuum.sim.h2-1sc -> H2-1SC; honeywell.* alike)."""
    lowered = target.lower()
    if lowered in MACHINES:
        return MACHINES[lowered]
    for prefix in ("quantinuum.", "honeywell."):
        kind, _, name = lowered.removeprefix(prefix).partition(".")
        if lowered.startswith(prefix) and kind in ("sim", "qpu") and name:
            return name.upper()
    raise RequestRejected("UnknownTarget", f"target {target!r} names no Quantinuum machine")


def map_state(status: str, started: bool = False) -> RemoteState:
    """qapi job status -> RemoteState; an unknown status is taken as not final."""
    state = _STATES.get(status.lower())
    if state is not None:
        return state
    return RemoteState.EXECUTING if started else RemoteState.WAITING


def parse_time(value: Any) -> datetime | None:
    """qapi dates are ISO 8601, usually without a zone (UTC)."""
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def token_expiry(token: str) -> float | None:
    """The `exp` claim (epoch seconds) of a JWT id-token, read without verifying it; None when unreadable."""
    parts = token.split(".")
    if len(parts) != 3:
        return None
    try:
        payload = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
        exp = payload.get("exp") if isinstance(payload, dict) else None
        return float(exp) if isinstance(exp, int | float) else None
    except (ValueError, UnicodeDecodeError):
        return None


def to_qasm(body: Any) -> str:
    """The program as OpenQASM 2 text: QASM as given, IonQ JSON circuits translated."""
    if isinstance(body, bytes):
        body = body.decode("utf-8")
    if isinstance(body, str):
        return body
    if isinstance(body, dict):
        from kuantum.execution.providers.circuits import InvalidProgram, ionq_to_qasm

        try:
            return ionq_to_qasm(body)
        except InvalidProgram as exc:
            raise RequestRejected("InvalidInputData", str(exc)) from exc
    raise RequestRejected("InvalidInputData", f"a Quantinuum program is OpenQASM 2 text, not {type(body).__name__}")


def job_name(program: Program) -> str:
    """The qapi job name: the program's name, with the marker appended unless it already carries it."""
    if program.marker in program.name:
        return program.name
    return f"{program.name}-{program.marker}" if program.name else program.marker


def to_remote_job(raw: dict[str, Any], job_id: str | None = None) -> RemoteJob:
    status = str(raw.get("status", ""))
    state = map_state(status, started=bool(raw.get("start-date")))
    code = message = None
    if state is RemoteState.FAILED:
        code, message = _failure(status, raw.get("error"))
    name = raw.get("name")
    found = _UUID.search(name) if isinstance(name, str) else None
    return RemoteJob(
        id=str(job_id or raw.get("job") or raw.get("job-id") or raw.get("id") or ""),
        state=state,
        created=parse_time(raw.get("submit-date")),
        marker=found.group(0) if found else None,
        failure_code=code,
        failure_message=message,
        raw=raw,
    )


def _failure(status: str, error: Any) -> tuple[str, str]:
    default = _DEFAULT_FAILURE_CODES.get(status.lower(), "JobFailed")
    if isinstance(error, dict):
        code = error.get("code")
        text = error.get("text") or error.get("message") or json.dumps(error)
        return (f"Quantinuum{code}" if code is not None else default), str(text)
    if isinstance(error, str) and error:
        return default, error
    return default, f"the Quantinuum job ended {status or 'without a status'}"


def results_blob(results: Any, registers: dict[str, int]) -> bytes:
    """qapi `results` -> honeywell.quantum-results.v1: {creg: [bitstring per shot]}, bit 0 rightmost.

    qapi already writes each register's shot as an OpenQASM bitstring (leftmost char = highest bit, as
    pytket reads it back); integers (newer result encoders) are formatted at the register's width.
    """
    if not isinstance(results, dict):
        raise ProviderError("MalformedResults", "the finished job carries no results object", retryable=False)
    out: dict[str, list[str]] = {}
    for name, shots in results.items():
        if not isinstance(shots, list):
            continue  # not a register (e.g. bookkeeping keys)
        width = registers.get(name)
        out[name] = [_bits(name, shot, width) for shot in shots]
    missing = [name for name in registers if name not in out]
    if missing:
        raise ProviderError("MalformedResults", f"results lack register(s) {', '.join(missing)}", retryable=False)
    if len({len(shots) for shots in out.values()}) > 1:
        raise ProviderError("MalformedResults", "registers report different shot counts", retryable=False)
    return json.dumps(out, separators=(",", ":")).encode()


def _bits(register: str, shot: Any, width: int | None) -> str:
    if isinstance(shot, int) and not isinstance(shot, bool) and shot >= 0:
        return format(shot, f"0{width or 1}b")
    if isinstance(shot, str) and shot and set(shot) <= {"0", "1"}:
        return shot.zfill(width) if width else shot
    raise ProviderError("MalformedResults", f"register {register}: {shot!r} is not a bitstring", retryable=False)


class QuantinuumApi:
    """Quantinuum's qapi through ResilientClient: logs in, keeps the id-token fresh, submits and reads jobs."""

    def __init__(self, endpoint: str = DEFAULT_ENDPOINT, credentials: dict[str, str] | None = None,
                 **http_options: Any) -> None:
        creds = credentials or {}
        self._username = creds.get("username") or creds.get("email") or ""
        self._password = creds.get("password") or ""
        self._initial_refresh = creds.get("refresh-token") or creds.get("refreshToken") or ""
        if not (self._username and self._password) and not self._initial_refresh:
            raise CredentialsRejected("Quantinuum credentials need username and password, or refresh-token")
        self._id_token: str | None = None
        self._refresh_token: str | None = self._initial_refresh or None
        self._expires_at = 0.0  # wall clock (id-tokens carry epoch `exp` claims)
        self._lock = asyncio.Lock()
        base = (endpoint or DEFAULT_ENDPOINT).rstrip("/")
        self._auth = ResilientClient(base, _no_headers, provider="quantinuum", **http_options)
        self._http = ResilientClient(base, self._headers, on_unauthorized=self._on_unauthorized,
                                     provider="quantinuum", **http_options)
        self.logins = 0  # password logins, for tests and metrics
        self.refreshes = 0

    @property
    def requests_sent(self) -> int:
        return self._auth.requests_sent + self._http.requests_sent

    async def submit(self, program: Program) -> str:
        body = {
            "name": job_name(program),
            "machine": machine_for(program.target),
            "language": LANGUAGE,
            "program": to_qasm(program.body),
            "count": program.shots,
            "priority": "normal",
            "options": {},  # qapi's options are machine settings; it has no free-form metadata field
        }
        answer = await self._http.request("POST", "/job", json=body)
        job_id = answer.get("job") if isinstance(answer, dict) else None
        if isinstance(job_id, str) and job_id:
            return job_id
        if isinstance(answer, dict) and answer.get("error"):
            code, message = _failure("failed", answer["error"])
            raise RequestRejected(code, message)
        # Accepted or not, we cannot tell: the caller looks for the job with find().
        raise ProviderUnavailable("the submit answer carries no job id")

    async def get(self, remote_id: str) -> RemoteJob:
        raw = await self._http.request("GET", f"/job/{remote_id}")
        if not isinstance(raw, dict):
            raise ProviderUnavailable(f"job {remote_id}: the answer is not a job object")
        return to_remote_job(raw, remote_id)

    async def find(self, marker: str, not_before: datetime) -> RemoteJob | None:
        """Pages GET /jobs (newest first, `limit`/`offset`) for jobs whose name carries marker.

        qapi's listing parameters are not confirmed by any public client; the answer may be a list or
        {"jobs": [...]}. Paging stops at a short page, at a page wholly older than not_before, or after
        LIST_MAX_PAGES. Of several matches (a duplicate submit) the earliest is the job.
        """
        matches: list[RemoteJob] = []
        for page in range(LIST_MAX_PAGES):
            answer = await self._http.request("GET", "/jobs", params={"limit": LIST_PAGE_SIZE,
                                                                      "offset": page * LIST_PAGE_SIZE})
            entries = answer.get("jobs") if isinstance(answer, dict) else answer
            if not isinstance(entries, list):
                raise ProviderUnavailable("the job list answer is not a list")
            all_older = bool(entries)
            for entry in entries:
                if not isinstance(entry, dict):
                    continue
                job = to_remote_job(entry)
                recent = job.created is None or job.created >= not_before
                all_older = all_older and not recent
                if recent and job.id and isinstance(entry.get("name"), str) and marker in entry["name"]:
                    matches.append(job)
            if len(entries) < LIST_PAGE_SIZE or all_older:
                break
        if not matches:
            return None
        matches.sort(key=lambda j: j.created or datetime.max.replace(tzinfo=UTC))
        return await self.get(matches[0].id)  # the list may carry a summary only

    async def cancel(self, remote_id: str) -> None:
        try:
            await self._http.request("POST", f"/job/{remote_id}/cancel", idempotent=True)
        except RequestRejected:
            # qapi refuses to cancel a finished job: that is not an error here.
            if (await self.get(remote_id)).state in _FINAL:
                return
            raise

    async def results(self, remote_id: str, program: Program) -> bytes:
        job = await self.get(remote_id)
        if job.state is not RemoteState.SUCCEEDED:
            raise ProviderError("JobNotSucceeded", f"job {remote_id} is {job.state.value}, it has no results",
                                retryable=job.state not in _FINAL)
        return results_blob(job.raw.get("results"), program.registers)

    async def availability(self) -> dict[str, str]:
        states = await asyncio.gather(*(self._machine_state(m) for m in MACHINES.values()))
        return dict(zip(MACHINES, states, strict=True))

    async def aclose(self) -> None:
        await asyncio.gather(self._http.aclose(), self._auth.aclose())

    async def _machine_state(self, machine: str) -> str:
        try:
            answer = await self._http.request("GET", f"/machine/{machine}")
        except CredentialsRejected:
            raise
        except ProviderError as exc:
            log.info("Quantinuum machine %s status unavailable: %s", machine, exc)
            return "Unavailable"
        state = answer.get("state") if isinstance(answer, dict) else None
        return _AVAILABILITY.get(str(state).lower(), "Degraded") if state else "Unavailable"

    # --- tokens -----------------------------------------------------------------------------------------

    async def _headers(self) -> dict[str, str]:
        if self._id_token is None or time.time() >= self._expires_at:
            async with self._lock:
                if self._id_token is None or time.time() >= self._expires_at:
                    await self._renew()
        assert self._id_token is not None
        _sent_token.set(self._id_token)
        return {"Authorization": self._id_token}

    async def _on_unauthorized(self) -> bool:
        """A 401/403: the id-token expired or was revoked early. Renews it once; raises CredentialsRejected."""
        async with self._lock:
            if self._id_token is None or self._id_token == _sent_token.get():  # else already renewed meanwhile
                self._id_token = None
                await self._renew()
        return True

    async def _renew(self) -> None:
        """Refresh the id-token; log in with the password when the refresh token is gone or rejected."""
        if self._refresh_token:
            try:
                await self._login({"refresh-token": self._refresh_token})
                self.refreshes += 1
                return
            except (CredentialsRejected, RequestRejected) as exc:
                self._refresh_token = None
                if not self._password:
                    raise CredentialsRejected(f"Quantinuum refused the refresh token: {self._scrub(exc.message)}",
                                              exc.status) from None
                log.info("Quantinuum refresh token rejected; logging in again")
        await self._login({"email": self._username, "password": self._password})
        self.logins += 1

    async def _login(self, body: dict[str, str]) -> None:
        try:
            # Logging in twice does no harm, so a lost answer is retried like a GET.
            answer = await self._auth.request("POST", "/login", json=body, idempotent=True)
        except (CredentialsRejected, RequestRejected) as exc:
            if "refresh-token" in body:
                raise
            raise CredentialsRejected(f"Quantinuum login refused: {self._scrub(exc.message)}", exc.status) from None
        except ProviderError as exc:
            raise ProviderUnavailable(f"Quantinuum login: {self._scrub(exc.message)}", exc.status) from None
        id_token = answer.get("id-token") if isinstance(answer, dict) else None
        if not isinstance(id_token, str) or not id_token:
            raise ProviderUnavailable("the Quantinuum login answer carries no id-token")
        refresh = answer.get("refresh-token")
        if isinstance(refresh, str) and refresh:
            self._refresh_token = refresh
        now = time.time()
        exp = token_expiry(id_token) or now + ID_TOKEN_LIFETIME
        # Renew ahead of expiry (cuda-quantum renews at 85% of the lifetime), by at most five minutes.
        self._expires_at = exp - min(300.0, 0.15 * max(exp - now, 0.0))
        self._id_token = id_token

    def _scrub(self, text: str) -> str:
        """Provider messages never carry our secrets out, even if a server echoes them."""
        for secret in (self._password, self._initial_refresh, self._refresh_token, self._id_token):
            if secret:
                text = text.replace(secret, "***")
        return text


async def _no_headers() -> dict[str, str]:
    return {}

