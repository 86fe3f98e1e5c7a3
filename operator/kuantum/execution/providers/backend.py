"""The remote backend: a job sent to a hardware provider's HTTP API, polled until it ends.

Exactly once: the time of the first attempt is written to the job's status before the POST; after
any unclear outcome (timeout, dropped connection, 5xx, malformed answer, an operator restart) the
provider's job list is searched for the job's marker (its Kuantum id) from that time on, and what is
found is adopted; only then is the job sent again. Other 4xx answers are never retried.
"""

from __future__ import annotations

import base64
import gzip
import logging
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import timedelta
from typing import Any

from kuantum.jobs.statemachine import Cancelled, Completed, Event, Failed, Started, SubmitAttempted, Submitted
from kuantum.models import JobState, QuantumJobStatus
from kuantum.objects import JobObject, ProviderObject
from kuantum.runtime.timeutil import now_iso, parse, seconds_between
from kuantum.storage.blobs import OUTPUT_BLOB, container_name, in_thread

from ..base import Cancellation, Observation, Pending, Probe, Run, SecretReader
from .api import (
    CredentialsRejected,
    Program,
    ProviderApi,
    ProviderError,
    ProviderUnavailable,
    RemoteJob,
    RemoteState,
    RequestRejected,
)
from .circuits import InvalidProgram
from .poller import Poller

log = logging.getLogger("kuantum.backends.remote")
DEFAULT_SHOTS = 100
CLOCK_SKEW = timedelta(minutes=2)
PROBE_SECONDS = 60.0  # how long a status-endpoint answer stands for a Provider (a job's call may overrule it)
MakeApi = Callable[[str | None, dict[str, str]], ProviderApi]
Translate = Callable[[bytes, str, dict[str, Any], str, str], Program]  # data, format, params, target, marker
# The provider's results (in the target's own format) -> the output blob in the job's output format.
Reformat = Callable[[bytes, Program, Run], bytes]


FIRST_POLL_SECONDS = 3.0
MAX_POLL_SECONDS = 60.0


def poll_interval(status: QuantumJobStatus) -> float:
    """The wait before the next status poll: 3 s after the submit, then about the job's age (polls at about
    3, 6, 12, 24, 48 s after the submit, then every minute), so a job done in 10 s costs three polls."""
    since = status.providerSubmitTime or status.creationTime
    age = seconds_between(since, now_iso()) if since else 0.0
    return min(MAX_POLL_SECONDS, max(FIRST_POLL_SECONDS, age))


def shots_of(params: dict[str, Any]) -> int:
    """Azure's `shots`, or the older `count`."""
    value = params.get("shots", params.get("count", DEFAULT_SHOTS))
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InvalidProgram(f"inputParams.shots must be a positive integer, got {value!r}")
    return value


class RemoteBackend:
    """One provider's HTTP API; the provider module supplies the client and the translation."""

    probe_seconds = PROBE_SECONDS

    def __init__(self, secrets: SecretReader, name: str, make_api: MakeApi, translate: Translate,
                 default_credentials_key: str | None, reformat: Reformat | None = None) -> None:
        self.secrets = secrets
        self.name = name
        self._make_api = make_api
        self._translate = translate
        self._reformat = reformat
        self._default_key = default_credentials_key
        self._clients: dict[tuple[str, str | None, str], ProviderApi] = {}
        self._programs: dict[str, Program] = {}
        self._unsent: set[str] = set()  # attempts this process recorded and has not sent: no search needed
        self._probes: dict[str, tuple[float, str, Probe]] = {}  # Provider uid -> (when, Secret version, result)
        self._poller = Poller()

    # ------------------------------------------------------------------ submit
    async def submit(self, run: Run) -> Observation:
        try:
            await self._api(run)  # credentials first: without them nothing is recorded
            await self._program(run)
        except CredentialsRejected as e:
            return Observation((Failed("CredentialsRejected", f"{self.name}: {e.message}"),))
        except InvalidProgram as e:
            return Observation((Failed("InvalidInputData", str(e)),))
        self._unsent.add(run.job_id)
        return Observation((SubmitAttempted(now_iso()),), recheck_after=0.0)

    async def _send(self, run: Run, api: ProviderApi) -> Observation:
        job_id = run.job_id
        if job_id not in self._unsent:
            since = parse(run.status.providerSubmitTime or now_iso()) - CLOCK_SKEW
            found = await api.find(job_id, since)
            if found is not None:
                log.info("job %s: found at %s as %s after an unclear submit; adopted", run.job.key, self.name,
                         found.id)
                return self._poll_later(run, Submitted(found.id))
        program = await self._program(run)
        self._unsent.discard(job_id)  # from here on the outcome may be unclear: search before sending again
        remote_id = await api.submit(program)
        return self._poll_later(run, Submitted(remote_id))

    def sent(self, run: Run) -> bool:
        return run.status.providerJobId is not None

    # ------------------------------------------------------------------ observe
    async def observe(self, run: Run) -> Observation:
        version: str | None = None
        try:
            api, version = await self._client(run.provider, run.namespace)
            if run.status.providerJobId is None:
                seen = await self._send(run, api)
            elif self._poller.waiting(run.job.key):
                # Reconciled before its poll is due (its own status write, a resync): the schedule decides.
                return Observation((), recheck_after=self._poller.due_in(run.job.key))
            else:
                self._poller.forget(run.job.key)  # this reconcile is the poll
                seen = await self._follow(run, api, await api.get(run.status.providerJobId))
            return replace(seen, wake=self._credentials_heard(run, version, Probe(None, None, None)))
        except InvalidProgram as e:
            return Observation((Failed("InvalidInputData", str(e)),))
        except CredentialsRejected as e:
            message = f"{self.name} refused the credentials: {e.message}"
            return Observation((Failed("CredentialsRejected", message),),
                               wake=self._credentials_heard(run, version, Probe(None, "CredentialsRejected", message)))
        except RequestRejected as e:
            return Observation((Failed(e.code, f"{self.name} refused the job: {e.message}"),))
        except ProviderUnavailable as e:
            log.warning("job %s: %s did not answer clearly (%s); trying again", run.job.key, self.name, e.message)
            return self._poll_later(run)

    async def _follow(self, run: Run, api: ProviderApi, remote: RemoteJob) -> Observation:
        events: list[Event] = []
        now = now_iso()
        executing = remote.state in (RemoteState.EXECUTING, RemoteState.SUCCEEDED, RemoteState.FAILED)
        if executing and run.status.state == JobState.WAITING:
            events.append(Started(now))
        begin = run.status.beginExecutionTime or now
        usage = {"executionSeconds": round(seconds_between(begin, now), 3)}
        if remote.state == RemoteState.SUCCEEDED:
            program = await self._program(run)
            data = await api.results(remote.id, program)
            if self._reformat is not None:
                data = self._reformat(data, program, run)
            await in_thread(run.storage.upload_output, run.job_id, data, "application/json")
            events.append(Completed(run.storage.blob_url(run.job_id, OUTPUT_BLOB), now, usage))
        elif remote.state == RemoteState.FAILED:
            events.append(Failed(remote.failure_code or "ProviderFailed",
                                 remote.failure_message or f"{self.name} reported the job failed", now, usage))
        elif remote.state == RemoteState.CANCELLED:
            events.append(Cancelled(now, usage if run.status.beginExecutionTime else None))
        if events and events[-1].__class__ is not Started:
            self._forget(run.job_id)
            self._poller.forget(run.job.key)
            return Observation(tuple(events))
        return self._poll_later(run, *events)

    def _poll_later(self, run: Run, *events: Event) -> Observation:
        """The job's next status poll (fast at first, then backing off)."""
        return Observation(tuple(events), recheck_after=self._poller.schedule(run.job.key, poll_interval(run.status)))

    # ------------------------------------------------------------------ cancel and cleanup
    async def cancel(self, run: Run) -> Cancellation:
        """Asks the provider to cancel; done once it has (or the job never reached it)."""
        try:
            api = await self._api(run)
            remote_id = run.status.providerJobId
            if remote_id is None and run.status.providerSubmitTime and run.job_id not in self._unsent:
                found = await api.find(run.job_id, parse(run.status.providerSubmitTime) - CLOCK_SKEW)
                remote_id = found.id if found else None
            if remote_id is not None:
                await api.cancel(remote_id)
        except (CredentialsRejected, RequestRejected) as e:
            log.warning("job %s: %s refused the cancel: %s", run.job.key, self.name, e.message)
        except ProviderUnavailable:
            return Cancellation(False, poll_interval(run.status))
        self._forget(run.job_id)
        return Cancellation(True)

    async def cleanup(self, job: JobObject, status: QuantumJobStatus) -> float | None:
        if status.id:
            self._forget(status.id)
        return None

    def _forget(self, job_id: str) -> None:
        self._programs.pop(job_id, None)
        self._unsent.discard(job_id)

    def _credentials_heard(self, run: Run, version: str | None, heard: Probe) -> tuple[tuple[str, str], ...]:
        """A job's call told whether the provider takes the Provider's credentials (heard.credentials_reason None:
        it did). Kept as the Provider's last probe, so its CredentialsValid condition says so within seconds: the
        Provider is woken where what it shows changes. An acceptance after a refusal drops the refusal, and the
        Provider asks the status endpoint again (for the targets' availability too)."""
        if version is None:
            return ()  # refused before any call (no Secret): the Provider's own probe says so
        uid = run.provider.meta.uid
        cached = self._probes.get(uid)
        before = cached[2].credentials_reason if cached is not None and cached[1] == version else None
        if heard.credentials_reason is None:
            if before is None:
                return ()
            del self._probes[uid]
        elif before == heard.credentials_reason:
            return ()
        else:
            self._probes[uid] = (time.monotonic(), version, heard)
        return (("Provider", f"{run.namespace}/{run.provider.meta.name}"),)

    # ------------------------------------------------------------------ helpers
    async def _program(self, run: Run) -> Program:
        program = self._programs.get(run.job_id)
        if program is None:
            located = run.storage.locate(run.status.inputDataUri or "") or (container_name(run.job_id), "inputData")
            data = await in_thread(run.storage.download, *located)
            if data[:2] == b"\x1f\x8b":
                data = gzip.decompress(data)
            program = self._translate(data, run.resolved.input_format, run.resolved.params, run.spec.target,
                                      run.job_id)
            self._programs[run.job_id] = program
        return program

    async def _api(self, run: Run) -> ProviderApi:
        return (await self._client(run.provider, run.namespace))[0]

    async def _client(self, provider: ProviderObject, namespace: str) -> tuple[ProviderApi, str]:
        """The provider's client for this Provider's endpoint and credentials (rebuilt when the Secret
        changes), and the Secret's resourceVersion."""
        name = provider.meta.name
        ref = provider.spec.credentialsSecretRef if provider.spec is not None else None
        if ref is None or not ref.name:
            raise CredentialsRejected(f"Provider {name} has no credentialsSecretRef")
        secret = await self.secrets.read_data_object("secret", namespace, ref.name)
        if secret is None:
            raise Pending("CredentialsNotFound", f"Secret {ref.name} (credentials of Provider {name}) "
                                                 "does not exist")
        data = {k: base64.b64decode(v).decode(errors="replace") for k, v in (secret.get("data") or {}).items()}
        if self._default_key and ref.key and ref.key != self._default_key and ref.key in data:
            data[self._default_key] = data[ref.key]
        version = str(secret["metadata"].get("resourceVersion"))
        endpoint = provider.spec.endpoint if provider.spec is not None else None
        key = (provider.meta.uid, endpoint, version)
        api = self._clients.get(key)
        if api is None:
            for old in [k for k in self._clients if k[:2] == key[:2]]:
                await self._clients.pop(old).aclose()
            api = self._clients[key] = self._make_api(endpoint, data)
        return api, version

    async def probe(self, provider: ProviderObject) -> Probe:
        """The provider's target availability and whether it accepts the credentials, asked at most once a
        PROBE_SECONDS per Provider (and again as soon as its Secret changes)."""
        namespace, uid = provider.meta.namespace, provider.meta.uid
        ref = provider.spec.credentialsSecretRef if provider.spec is not None else None
        if ref is None or not ref.name:
            return Probe(None, "NoCredentials", f"Provider {provider.meta.name} has no credentialsSecretRef: its "
                                                f"targets at {self.name} are unavailable (those it emulates run)")
        try:
            api, version = await self._client(provider, namespace)
        except Pending as p:
            return Probe(None, p.reason, p.message)
        except CredentialsRejected as e:
            return Probe(None, "CredentialsRejected", e.message)
        cached = self._probes.get(uid)
        if cached and cached[1] == version and time.monotonic() - cached[0] < PROBE_SECONDS:
            return cached[2]
        try:
            result = Probe(await api.availability(), None, None)
        except CredentialsRejected as e:
            result = Probe(None, "CredentialsRejected", f"{self.name} refused the credentials: {e.message}")
        except ProviderError as e:
            result = Probe(None, None, f"{self.name} did not answer its status endpoint: {e.message}")
        self._probes[uid] = (time.monotonic(), version, result)
        return result

    async def aclose(self) -> None:
        for api in self._clients.values():
            await api.aclose()
        self._clients.clear()


def program_document(data: bytes) -> Any:
    """JSON input as a document (the IonQ circuit format)."""
    import json

    try:
        return json.loads(data)
    except (ValueError, UnicodeDecodeError) as e:
        raise InvalidProgram(f"the input is not valid JSON: {e}") from e

