"""The remote backend (kuantum/execution/providers/backend.py): shots, a cancel that must first find an unclearly
sent job, credentials under a custom Secret key, a client rebuilt (and the old one closed) when the Secret
changes, the availability probe's cache, and when polling stops. Over the fakes of tests/support/job_world.py
(its World), or a RemoteBackend of its own with a recording client.
"""

from __future__ import annotations

import base64
import gzip
from typing import Any

import pytest
from kuantum.catalog import IONQ
from kuantum.execution.base import Probe
from kuantum.execution.providers import backend as remote
from kuantum.execution.providers.api import CredentialsRejected, ProviderUnavailable, RemoteState
from kuantum.execution.providers.backend import CLOCK_SKEW, RemoteBackend, shots_of
from kuantum.execution.providers.circuits import InvalidProgram
from kuantum.execution.providers.ionq import backend as ionq
from kuantum.objects import ProviderObject, parse_provider
from kuantum.runtime.timeutil import parse
from kuantum.storage.blobs import container_name

from tests.support.job_world import API_KEY, NS, World, _admitted_remote, _submitted


def test_shots_one_and_more_are_taken_zero_and_non_integers_are_not() -> None:
    assert shots_of({}) == remote.DEFAULT_SHOTS == 100, "the default the README gives"
    assert shots_of({"shots": 1}) == 1
    assert shots_of({"count": 7}) == 7, "the older name"
    assert shots_of({"shots": 5, "count": 7}) == 5
    for bad in (0, -3, True, 2.5, "10", None):
        with pytest.raises(InvalidProgram):
            shots_of({"shots": bad})


async def test_a_one_shot_job_is_sent_with_one_shot() -> None:
    w = World()
    w.add_provider("ionq", IONQ)
    w.ionq_job("j", inputParams={"shots": 1})
    await w.reconcile("j")
    await w.reconcile("j")
    assert [c.args["program"].shots for c in w.api.of("submit")] == [1]


async def test_a_poll_that_finds_the_job_still_executing_writes_nothing_new() -> None:
    w = World()
    remote_id = await _submitted(w)
    w.api.set_state(remote_id, RemoteState.EXECUTING)
    await w.reconcile("j")
    began = w.status("j")["beginExecutionTime"]
    p = await w.reconcile("j")
    assert p.writes() == [] and w.status("j")["beginExecutionTime"] == began


async def test_cancelling_an_unclearly_sent_job_finds_it_from_its_attempt_on_and_cancels_it() -> None:
    w = World()
    await _admitted_remote(w)
    w.api.accept_then_fail.append(ProviderUnavailable("connection dropped after the request was sent"))
    await w.reconcile("j")
    assert "providerJobId" not in w.status("j")
    w.restart()  # nothing in memory says whether it was sent
    w.edit_spec("j", cancel=True)
    await w.reconcile("j")
    finds = w.api.of("find")
    assert finds, "an attempt with no id is searched for before the job is called cancelled"
    attempted = parse(w.status("j")["providerSubmitTime"])
    assert attempted - CLOCK_SKEW - CLOCK_SKEW / 2 <= finds[-1].args["not_before"] <= attempted, \
        "from before the attempt (the provider's clock may run behind)"
    assert [c.args for c in w.api.of("cancel")] == [{"remote_id": "remote-1"}]
    assert w.status("j")["state"] == "Cancelled"


class RecordingApi:
    """A provider client that counts what it is asked."""

    def __init__(self, credentials: dict[str, str], availability: dict[str, str]) -> None:
        self.credentials = credentials
        self.availability_map = availability
        self.asked = 0
        self.closed = False

    async def availability(self) -> dict[str, str]:
        self.asked += 1
        return dict(self.availability_map)

    async def aclose(self) -> None:
        self.closed = True


class Harness:
    def __init__(self, key: str = "apiKey") -> None:
        self.w = World()
        self.clients: list[RecordingApi] = []
        self.availability = {"ionq.simulator": "Available"}
        self.backend = RemoteBackend(self.w.kube, IONQ, make_api=self._make, translate=ionq.translate,
                                     default_credentials_key="apiKey")
        self.key = key
        self.set_secret("1", API_KEY)
        self.provider = parse_provider({
            "metadata": {"namespace": NS, "name": "ionq", "uid": "uid-ionq"},
            "spec": {"workspace": "ws", "providerId": IONQ, "endpoint": "http://ionq.invalid/v0.4",
                     "credentialsSecretRef": {"name": "creds", "key": key}}})

    def _make(self, endpoint: str | None, credentials: dict[str, str]) -> Any:
        client = RecordingApi(credentials, self.availability)
        self.clients.append(client)
        return client

    def set_secret(self, version: str, value: str) -> None:
        self.w.kube.data_objects[("secret", NS, "creds")] = {
            "metadata": {"name": "creds", "namespace": NS, "resourceVersion": version},
            "data": {self.key: base64.b64encode(value.encode()).decode()}}

    async def probe(self, provider: ProviderObject | None = None) -> Probe:
        return await self.backend.probe(provider or self.provider)


async def test_credentials_under_a_custom_key_reach_the_client_under_its_own_name() -> None:
    h = Harness(key="token")
    await h.probe()
    assert h.clients[0].credentials["apiKey"] == API_KEY


async def test_a_changed_secret_builds_a_new_client_and_closes_the_old_one() -> None:
    h = Harness()
    await h.probe()
    h.set_secret("2", "rotated-key")
    await h.probe()
    assert len(h.clients) == 2 and h.clients[1].credentials["apiKey"] == "rotated-key"
    assert h.clients[0].closed and not h.clients[1].closed


async def test_the_probe_is_asked_once_a_minute_and_again_when_the_secret_changes(
        monkeypatch: pytest.MonkeyPatch) -> None:
    clock = [1000.0]
    monkeypatch.setattr(remote.time, "monotonic", lambda: clock[0])
    h = Harness()
    first = await h.probe()
    assert first == Probe({"ionq.simulator": "Available"}, None, None)
    clock[0] += remote.PROBE_SECONDS - 1
    assert await h.probe() == first
    assert sum(c.asked for c in h.clients) == 1, "cached within PROBE_SECONDS"
    h.set_secret("2", API_KEY)  # a new version: the credentials may have changed
    h.availability["ionq.simulator"] = "Unavailable"
    assert (await h.probe()).availability == {"ionq.simulator": "Unavailable"}
    assert sum(c.asked for c in h.clients) == 2
    h.availability["ionq.simulator"] = "Degraded"
    clock[0] += remote.PROBE_SECONDS + 1
    assert (await h.probe()).availability == {"ionq.simulator": "Degraded"}, "asked again once it is old"


@pytest.mark.parametrize("began", [False, True])
async def test_a_job_the_provider_cancelled_is_cancelled_here(began: bool) -> None:
    w = World()
    remote_id = await _submitted(w)
    if began:
        w.api.set_state(remote_id, RemoteState.EXECUTING)
        await w.reconcile("j")
    w.api.set_state(remote_id, RemoteState.CANCELLED)
    await w.reconcile("j")
    status = w.status("j")
    assert status["state"] == "Cancelled"
    assert ("usage" in status) is began, "execution time is billed only when it executed"


async def test_polling_stops_once_the_provider_job_is_final_and_goes_on_while_it_runs() -> None:
    w = World()
    remote_id = await _submitted(w)
    key = f"{NS}/j"
    w.api.set_state(remote_id, RemoteState.EXECUTING)
    await w.reconcile("j")
    assert w.remote._poller.waiting(key), "a running job is polled again"
    w.api.set_state(remote_id, RemoteState.SUCCEEDED)
    await w.reconcile("j")
    assert w.status("j")["state"] == "Succeeded"
    assert not w.remote._poller.waiting(key) and len(w.remote._poller) == 0, "a final job is not polled again"


async def test_cancelling_a_job_the_provider_knows_cancels_its_id_without_searching() -> None:
    w = World()
    remote_id = await _submitted(w)
    w.edit_spec("j", cancel=True)
    await w.reconcile("j")
    assert not w.api.of("find")
    assert [c.args for c in w.api.of("cancel")] == [{"remote_id": remote_id}]


@pytest.mark.parametrize("stored", [
    pytest.param(lambda data: gzip.compress(data), id="gzip (as the SDK uploads it)"),
    pytest.param(lambda data: b"\n" + data, id="plain JSON after a newline"),
])
async def test_the_input_blob_is_read_compressed_or_not(stored: Any) -> None:
    w = World()
    await _admitted_remote(w)
    job_id = w.job_id("j")
    plain = w.storage.blobs[(container_name(job_id), "inputData")].data
    w.storage.put_blob(container_name(job_id), "inputData", stored(plain))
    w.remote._programs.clear()  # read from storage, as after a restart
    await w.reconcile("j")
    [submit] = w.api.of("submit")
    assert submit.args["program"].shots == 100 and w.status("j")["state"] == "Waiting"
    assert "providerJobId" in w.status("j")


async def test_a_refusal_heard_again_wakes_the_provider_only_once_and_again_after_the_secret_changes() -> None:
    """The Provider shows what the calls heard: the same refusal twice changes nothing there; after the Secret
    changed, a refusal is news again (the new key is refused too)."""
    w = World()
    await _submitted(w)
    refused = CredentialsRejected("401 Unauthorized: key revoked", 401)
    w.api.fail_next["get"] = [refused]
    w.enqueued.clear()
    await w.reconcile("j")
    assert f"{NS}/ionq" in w.enqueued
    for name, rotate in (("k", False), ("m", True)):
        if rotate:
            w.kube.add_secret(NS, "ionq-creds", {"apiKey": "rotated-but-also-wrong"})
        w.ionq_job(name)
        await w.reconcile(name)
        w.api.fail_next["submit"] = [refused]
        w.enqueued.clear()
        await w.reconcile(name)
        assert w.status(name)["errorData"]["code"] == "CredentialsRejected"
        assert (f"{NS}/ionq" in w.enqueued) is rotate


async def test_the_remote_backend_forgets_a_jobs_program_when_it_is_cleaned_up() -> None:
    w = World()
    await _submitted(w)
    job_id = w.job_id("j")
    w.remote._programs[job_id] = object()  # as a submit that was not answered clearly leaves it
    job = w.store.jobs[f"{NS}/j"]
    await w.remote.cleanup(job, job.status)
    assert job_id not in w.remote._programs


async def test_a_status_endpoint_refusing_the_credentials_is_the_probes_answer() -> None:
    h = Harness()

    async def refused() -> dict[str, str]:
        raise CredentialsRejected("401 Unauthorized: invalid API key", 401)
    assert (await h.probe()).credentials_reason is None  # builds the client; then its status endpoint refuses
    h.clients[0].availability = refused  # type: ignore[method-assign]
    h.backend._probes.clear()
    probe = await h.probe()
    assert probe.availability is None and probe.credentials_reason == "CredentialsRejected"
    assert "refused the credentials: 401 Unauthorized: invalid API key" in (probe.message or "")


async def test_the_probe_cache_is_by_the_secrets_version_whatever_its_order_and_by_age(
        monkeypatch: pytest.MonkeyPatch) -> None:
    clock = [100.0]
    monkeypatch.setattr(remote.time, "monotonic", lambda: clock[0])
    h = Harness()
    h.set_secret("9", API_KEY)
    await h.probe()
    h.set_secret("10", API_KEY)  # a newer version that sorts before the old one as text
    await h.probe()
    assert sum(c.asked for c in h.clients) == 2
    clock[0] += 2 * remote.PROBE_SECONDS + 1
    await h.probe()
    assert sum(c.asked for c in h.clients) == 3, "an answer older than PROBE_SECONDS is asked again"


async def test_a_secret_without_the_key_the_client_needs_is_a_credentials_refusal_of_the_probe() -> None:
    h = Harness()
    h.backend = ionq.backend(h.w.kube)  # the real client's constructor, which checks the key
    h.set_secret("2", "   ")
    probe = await h.probe()
    assert (probe.availability, probe.credentials_reason) == (None, "CredentialsRejected")
    assert probe.message == "no IonQ API key was given"
