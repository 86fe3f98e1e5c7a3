"""IonQ's public job API (v0.3 and v0.4) behind `ProviderApi`.

The endpoint's version path picks the shapes: v0.3 submits `target` and `input.format =
ionq.circuit.v0`, reports `ready`/`running`, and serves results at GET /jobs/{id}/results; v0.4
submits `type: ionq.circuit.v1` and `backend`, reports `submitted`/`started`, and links results from
the job (`results.probabilities.url`). Both list jobs newest first with `limit`/`next` paging, which is
how find() recovers a job whose submit answer was lost: the Kuantum job id rides in its name and
metadata.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from kuantum.execution.providers.api import (
    CredentialsRejected,
    Program,
    ProviderUnavailable,
    RemoteJob,
    RemoteState,
    RequestRejected,
)
from kuantum.execution.providers.circuits import (
    InvalidProgram,
    ionq_circuit_to_ionq,
    ionq_histogram_output,
    qasm_to_ionq,
)
from kuantum.execution.providers.http import ResilientClient

log = logging.getLogger(__name__)

DEFAULT_ENDPOINT = "https://api.ionq.co/v0.4"
VERSIONS = ("v0.3", "v0.4")
MARKER_KEY = "kuantum_job_id"
PAGE_SIZE = 100
MAX_PAGES = 50  # find() gives up past 5,000 listed jobs: the job would be older than any sane not_before
# v0.3 reports creation in whole seconds: a job made just after not_before may read up to 1 s earlier.
CREATED_SLACK = timedelta(seconds=1)

_STATES = {
    "submitted": RemoteState.WAITING,
    "ready": RemoteState.WAITING,
    "running": RemoteState.EXECUTING,
    "started": RemoteState.EXECUTING,
    "completed": RemoteState.SUCCEEDED,
    "failed": RemoteState.FAILED,
    "canceled": RemoteState.CANCELLED,
    "cancelled": RemoteState.CANCELLED,
}
_FINAL = {RemoteState.SUCCEEDED, RemoteState.FAILED, RemoteState.CANCELLED}
# IonQ backend status -> Azure availability. v0.3 reports available/unavailable (+ degraded flag);
# v0.4 adds offline/retired and what the system is doing (running, calibrating, reserved).
_AVAILABILITY = {
    "available": "Available", "running": "Available",
    "calibrating": "Degraded", "reserved": "Degraded", "degraded": "Degraded",
    "unavailable": "Unavailable", "offline": "Unavailable", "retired": "Unavailable",
}


def ionq_backend(target: str) -> str:
    """Azure target id -> IonQ backend: ionq.simulator -> simulator, ionq.qpu.aria-1 -> qpu.aria-1."""
    return target.removeprefix("ionq.")


def azure_target(backend: str) -> str:
    return f"ionq.{backend}"


def split_endpoint(endpoint: str) -> tuple[str, str]:
    """(base URL with its version path, version). An endpoint without a version path gets v0.4."""
    url = (endpoint or DEFAULT_ENDPOINT).rstrip("/")
    last = urlsplit(url).path.rsplit("/", 1)[-1]
    if last in VERSIONS:
        return url, last
    if last.startswith("v0.") or last.startswith("v1"):
        raise ValueError(f"IonQ API version {last!r} is not supported (supported: {', '.join(VERSIONS)})")
    return f"{url}/v0.4", "v0.4"


class IonQApi:
    """IonQ's API for one API key. `http_options` go to ResilientClient (timeouts, deadline, transport)."""

    def __init__(self, endpoint: str = DEFAULT_ENDPOINT, api_key: str = "", **http_options: Any) -> None:
        if not api_key or not api_key.strip():
            raise CredentialsRejected("no IonQ API key was given")
        self.base_url, self.version = split_endpoint(endpoint)
        parts = urlsplit(self.base_url)
        self._origin = f"{parts.scheme}://{parts.netloc}"
        self.__key = api_key.strip()
        self._http = ResilientClient(self.base_url, self._headers, provider="ionq", **http_options)
        self.page_size = PAGE_SIZE
        self.max_pages = MAX_PAGES

    def __repr__(self) -> str:  # never the key
        return f"IonQApi({self.base_url!r})"

    async def _headers(self) -> dict[str, str]:
        return {"Authorization": f"apiKey {self.__key}", "Accept": "application/json"}

    @property
    def requests_sent(self) -> int:
        return self._http.requests_sent

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> IonQApi:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    # --- submit ---------------------------------------------------------------------------------

    def job_body(self, program: Program) -> dict[str, Any]:
        """The POST /jobs body for this API version."""
        try:
            if isinstance(program.body, str) and program.body.lstrip().upper().startswith("OPENQASM"):
                circuit, _registers = qasm_to_ionq(program.body)
            else:
                circuit = ionq_circuit_to_ionq(program.body)
        except InvalidProgram as exc:
            raise RequestRejected("InvalidInputData", str(exc)) from exc
        metadata = {MARKER_KEY: program.marker}  # IonQ metadata: string values, at most 10 keys
        body: dict[str, Any] = {"name": program.name or program.marker, "shots": program.shots, "metadata": metadata}
        if self.version == "v0.3":
            body.update(target=ionq_backend(program.target), input={"format": "ionq.circuit.v0", **circuit})
        else:
            body.update(type="ionq.circuit.v1", backend=ionq_backend(program.target), input=circuit)
        return body

    async def submit(self, program: Program) -> str:
        body = self.job_body(program)
        answer = await self._http.request("POST", "jobs", json=body)  # not repeated once it may have landed
        job_id = answer.get("id") if isinstance(answer, dict) else None
        if not isinstance(job_id, str) or not job_id:
            raise ProviderUnavailable("IonQ accepted the submit but its answer carries no job id")
        return job_id

    # --- status ---------------------------------------------------------------------------------

    async def get(self, remote_id: str) -> RemoteJob:
        return self._job(await self._http.request("GET", f"jobs/{remote_id}"))

    def _job(self, raw: Any) -> RemoteJob:
        """A job object -> RemoteJob; anything unreadable is a transient provider fault, never a failed job."""
        if not isinstance(raw, dict) or not isinstance(raw.get("id"), str):
            raise ProviderUnavailable(f"IonQ sent a job answer that is not a job object: {_excerpt(raw)}")
        state = _STATES.get(str(raw.get("status", "")).lower())
        if state is None:
            raise ProviderUnavailable(f"IonQ reported an unknown job status {raw.get('status')!r}")
        code = message = None
        if state is RemoteState.FAILED:
            code, message = _failure(raw)
        return RemoteJob(id=raw["id"], state=state, created=_created(raw), marker=_marker(raw),
                         failure_code=code, failure_message=message, raw=raw)

    async def find(self, marker: str, not_before: datetime) -> RemoteJob | None:
        """Pages GET /jobs (newest first) for the job carrying `marker`; stops at jobs older than not_before."""
        if not marker:
            raise ValueError("find() needs a non-empty marker")
        if not_before.tzinfo is None:
            not_before = not_before.replace(tzinfo=UTC)
        cutoff = not_before - CREATED_SLACK
        cursor: str | None = None
        seen: set[str] = set()
        for _ in range(self.max_pages):
            params: dict[str, Any] = {"limit": self.page_size}
            if cursor:
                params["next"] = cursor
            page = await self._http.request("GET", "jobs", params=params)
            if not isinstance(page, dict) or not isinstance(page.get("jobs"), list):
                raise ProviderUnavailable(f"IonQ sent a job list that is not {{'jobs': [...]}}: {_excerpt(page)}")
            older = False
            for raw in page["jobs"]:
                if not isinstance(raw, dict):
                    continue
                created = _created(raw)
                if created is not None and created < cutoff:
                    older = True  # listed newest first: everything after this is older still
                    continue
                if _carries(raw, marker):
                    return self._job(raw)
            cursor = page.get("next") if isinstance(page.get("next"), str) else None
            if older or not cursor or cursor in seen or not page["jobs"]:
                return None
            seen.add(cursor)
        log.warning("IonQ job list: gave up looking for %s after %d pages", marker, self.max_pages)
        return None

    # --- cancel, results, availability ------------------------------------------------------------

    async def cancel(self, remote_id: str) -> None:
        try:
            await self._http.request("PUT", f"jobs/{remote_id}/status/cancel")
        except RequestRejected as exc:
            if exc.status in (400, 409, 422):  # IonQ refuses to cancel a job that already ended
                job = await self.get(remote_id)
                if job.state in _FINAL:
                    return
            raise

    async def results(self, remote_id: str, program: Program) -> bytes:
        if self.version == "v0.3":
            data = await self._http.request("GET", f"jobs/{remote_id}/results")
        else:
            job = await self._http.request("GET", f"jobs/{remote_id}")
            url = _probabilities_url(job)
            if url is None:
                state = self._job(job).state
                if state in _FINAL and state is not RemoteState.SUCCEEDED:
                    raise RequestRejected("NoResults", f"IonQ job {remote_id} is {state.value}: it has no results")
                raise ProviderUnavailable(f"IonQ job {remote_id} links no probabilities yet")
            data = await self._http.request("GET", self._resolve(url))
        return ionq_histogram_output(_probabilities(data, remote_id))

    def _resolve(self, url: str) -> str:
        """Results URLs come as /v0.4/jobs/... (from the host), absolute, or relative to the base."""
        if url.startswith(("http://", "https://")):
            return url
        if url.startswith("/v0.") or url.startswith("/v1"):
            return self._origin + url
        return url

    async def availability(self) -> dict[str, str]:
        answer = await self._http.request("GET", "backends")
        if isinstance(answer, dict):
            answer = answer.get("backends")
        if not isinstance(answer, list):
            raise ProviderUnavailable(f"IonQ sent a backend list that is not a list: {_excerpt(answer)}")
        out: dict[str, str] = {}
        for entry in answer:
            if not isinstance(entry, dict) or not isinstance(entry.get("backend"), str):
                continue
            status = _AVAILABILITY.get(str(entry.get("status", "")).lower(), "Degraded")
            if status == "Available" and entry.get("degraded") is True:
                status = "Degraded"
            out[azure_target(entry["backend"])] = status
        return out


def _marker(raw: dict[str, Any]) -> str | None:
    metadata = raw.get("metadata")
    if isinstance(metadata, dict) and isinstance(metadata.get(MARKER_KEY), str):
        return metadata[MARKER_KEY]
    return None


def _carries(raw: dict[str, Any], marker: str) -> bool:
    """The metadata's marker decides; a job without one (metadata dropped) is matched by a name that is the
    marker or ends in it after a separator (never a mere substring: "kj-1" is not "kj-12")."""
    found = _marker(raw)
    if found is not None:
        return found == marker
    name = str(raw.get("name") or "")
    return name == marker or (name.endswith(marker) and not name[-len(marker) - 1].isalnum())


def _created(raw: dict[str, Any]) -> datetime | None:
    """v0.4 `submitted_at` (ISO 8601); v0.3 `request` (Unix seconds)."""
    for key in ("submitted_at", "created_at"):
        value = raw.get(key)
        if isinstance(value, str) and value:
            try:
                when = datetime.fromisoformat(value.replace("Z", "+00:00"))
            except ValueError:
                continue
            return when if when.tzinfo else when.replace(tzinfo=UTC)
    value = raw.get("request")
    if isinstance(value, int | float) and not isinstance(value, bool):
        return datetime.fromtimestamp(float(value), UTC)
    return None


def _failure(raw: dict[str, Any]) -> tuple[str, str]:
    """(code, message) of a failed job: `failure: {code, error}` (v0.4, v0.3); older answers carry `error`."""
    failure = raw.get("failure")
    if isinstance(failure, dict):
        code = failure.get("code") or failure.get("type") or "IonQJobFailed"
        message = failure.get("error") or failure.get("message") or "IonQ reported the job as failed"
        return str(code), str(message)
    error = raw.get("error")
    if isinstance(error, dict):
        return str(error.get("code") or "IonQJobFailed"), str(error.get("message") or error.get("error") or "")
    if isinstance(error, str) and error:
        return "IonQJobFailed", error
    return "IonQJobFailed", "IonQ reported the job as failed without a reason"


def _probabilities_url(job: Any) -> str | None:
    if not isinstance(job, dict):
        raise ProviderUnavailable(f"IonQ sent a job answer that is not a job object: {_excerpt(job)}")
    results = job.get("results")
    if isinstance(results, dict):
        entry = results.get("probabilities")
        if isinstance(entry, dict) and isinstance(entry.get("url"), str):
            return str(entry["url"])
    if isinstance(job.get("results_url"), str):  # v0.3-style link
        return str(job["results_url"])
    return None


def _probabilities(data: Any, remote_id: str) -> dict[str, float]:
    """{"<state>": p}; a multicircuit answer keyed by child job id is accepted when it has one child."""
    if isinstance(data, dict) and len(data) == 1:
        (only,) = data.values()
        if isinstance(only, dict):
            data = only
    if not isinstance(data, dict) or not data:
        raise ProviderUnavailable(f"IonQ sent results for {remote_id} that are not probabilities: {_excerpt(data)}")
    try:
        probs = {str(k): v for k, v in data.items()}
        ionq_histogram_output(probs)  # validates keys and values
    except ValueError as exc:
        raise ProviderUnavailable(f"IonQ sent unreadable results for {remote_id}: {exc}") from exc
    return probs


def _excerpt(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 200 else text[:200] + "..."
