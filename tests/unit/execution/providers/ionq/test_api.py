"""IonQApi against the loopback fake IonQ server, API v0.3 and v0.4: real results, every fault; and against a
scripted transport: recovery by name when IonQ dropped a job's metadata, not_before in any zone, a failure
without a message, a 409 cancel of a finished job, degraded backends, unreadable answers."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import httpx
import pytest
from kuantum.execution.providers.api import (
    CredentialsRejected,
    Program,
    ProviderUnavailable,
    RemoteJob,
    RemoteState,
    RequestRejected,
)
from kuantum.execution.providers.ionq.api import IonQApi, split_endpoint
from kuantum_solvers.circuits.ionq import run_ionq

from tests.support.fake_ionq import FakeIonQ

KEY = "ionq-test-key-0123456789"
ROOT = Path(__file__).resolve().parents[5]
CIRCUIT = {"gateset": "qis", "qubits": 3, "circuit": [
    {"gate": "h", "target": 0}, {"gate": "cnot", "control": 0, "target": 1}, {"gate": "ry", "targets": [2],
                                                                               "rotation": 0.7}]}
# Generous per-request limits: the fake computes results with the solver (numba compiles on first use, holding
# the GIL), and a loaded machine must not turn that into a timeout. Retry tests set their own limits.
FAST = {"timeout": 15.0, "deadline": 40.0, "backoff_base": 0.01, "backoff_cap": 0.05}

pytestmark = pytest.mark.timeout(60)


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeIonQ]:
    with FakeIonQ(KEY, wait=0.05, run=0.05) as server:
        yield server


@pytest.fixture(params=["v0.3", "v0.4"])
async def api(request: pytest.FixtureRequest, fake: FakeIonQ) -> AsyncIterator[IonQApi]:
    fake.reset()
    fake.set_schedule(wait=0.05, run=0.05, hold=False)
    client = IonQApi(fake.url(request.param), KEY, **FAST)
    yield client
    await client.aclose()


def program(marker: str = "kuantum-job-1", body: Any = None, target: str = "ionq.simulator") -> Program:
    return Program(target=target, body=CIRCUIT if body is None else body, shots=500, name=f"qjob-{marker}",
                   marker=marker)


async def wait_final(api: IonQApi, job_id: str) -> RemoteJob:
    for _ in range(300):  # at most ~6 s
        job = await api.get(job_id)
        if job.state in (RemoteState.SUCCEEDED, RemoteState.FAILED, RemoteState.CANCELLED):
            return job
        await asyncio.sleep(0.02)
    raise AssertionError(f"job {job_id} never finished")


def test_endpoint_version_picks_the_api() -> None:
    assert split_endpoint("https://api.ionq.co/v0.3/") == ("https://api.ionq.co/v0.3", "v0.3")
    assert split_endpoint("https://api.ionq.co") == ("https://api.ionq.co/v0.4", "v0.4")
    assert split_endpoint("") == ("https://api.ionq.co/v0.4", "v0.4")
    with pytest.raises(ValueError, match=r"v0\.2"):
        split_endpoint("https://api.ionq.co/v0.2")
    with pytest.raises(CredentialsRejected):
        IonQApi("https://api.ionq.co/v0.4", "")


async def test_happy_path_with_real_histogram(api: IonQApi, fake: FakeIonQ) -> None:
    p = program("kj-happy")
    job_id = await api.submit(p)
    first = await api.get(job_id)
    assert first.state in (RemoteState.WAITING, RemoteState.EXECUTING, RemoteState.SUCCEEDED)
    assert first.marker == "kj-happy" and first.created is not None
    done = await wait_final(api, job_id)
    assert done.state is RemoteState.SUCCEEDED and done.failure_code is None
    blob = json.loads(await api.results(job_id, p))
    expected = run_ionq(CIRCUIT)["histogram"]
    assert blob["histogram"] == pytest.approx(expected, abs=1e-12)
    assert set(blob["histogram"]) == {"0", "3", "4", "7"}  # qubit 0 = least significant bit
    sent = fake.jobs[job_id].body
    assert sent["name"] == "qjob-kj-happy" and sent["metadata"] == {"kuantum_job_id": "kj-happy"}
    assert sent["shots"] == 500
    if api.version == "v0.3":
        assert sent["target"] == "simulator" and sent["input"]["format"] == "ionq.circuit.v0"
    else:
        assert sent["type"] == "ionq.circuit.v1" and sent["backend"] == "simulator" and "format" not in sent["input"]
    assert fake.count("POST", f"/{api.version}/jobs") == 1


async def test_qpu_target_and_qasm_program(api: IonQApi, fake: FakeIonQ) -> None:
    qasm = 'OPENQASM 2.0;\ninclude "qelib1.inc";\nqreg q[2];\ncreg c[2];\nx q[1];\nmeasure q -> c;\n'
    p = program("kj-qasm", body=qasm, target="ionq.qpu.aria-1")
    job_id = await api.submit(p)
    assert (fake.jobs[job_id].body.get("target") or fake.jobs[job_id].body.get("backend")) == "qpu.aria-1"
    await wait_final(api, job_id)
    assert json.loads(await api.results(job_id, p)) == {"histogram": {"2": 1.0}}


async def test_invalid_program_is_refused_before_submit(api: IonQApi, fake: FakeIonQ) -> None:
    with pytest.raises(RequestRejected) as info:
        await api.submit(program(body={"qubits": 2, "circuit": [{"gate": "h", "target": 5}]}))
    assert info.value.code == "InvalidInputData" and "out of range" in info.value.message
    assert fake.count("POST") == 0


async def test_unknown_backend_is_rejected_by_ionq(api: IonQApi) -> None:
    with pytest.raises(RequestRejected) as info:
        await api.submit(program(target="ionq.qpu.nowhere-9"))
    assert info.value.status == 400 and "qpu.nowhere-9" in info.value.message


async def test_5xx_burst_on_polls_is_retried(api: IonQApi, fake: FakeIonQ) -> None:
    job_id = await api.submit(program("kj-5xx"))
    fake.inject("status", count=3, status=502, method="GET", path="*/jobs/*")
    job = await api.get(job_id)
    assert job.id == job_id
    assert fake.count("GET", f"*/jobs/{job_id}") == 4


async def test_5xx_on_submit_is_unclear_and_nothing_was_made(api: IonQApi, fake: FakeIonQ) -> None:
    fake.inject("status", count=1, status=503, method="POST")
    started = datetime.now(UTC)
    with pytest.raises(ProviderUnavailable):
        await api.submit(program("kj-503"))
    assert fake.count("POST") == 1  # a POST that may have landed is never repeated blindly
    assert await api.find("kj-503", started) is None


async def test_429_with_retry_after_is_waited_out(api: IonQApi, fake: FakeIonQ) -> None:
    fake.inject("429", count=2, retry_after="0")
    job_id = await api.submit(program("kj-429"))  # a 429 POST surely did not land: repeated
    assert fake.count("POST") == 3 and job_id in fake.jobs and len(fake.jobs) == 1


async def test_429_past_the_deadline_gives_up(api: IonQApi, fake: FakeIonQ) -> None:
    fake.inject("429", count=1, retry_after="3600", method="GET")
    with pytest.raises(ProviderUnavailable, match="Retry-After"):
        await api.availability()


async def test_slow_answer_times_out_and_is_retried(fake: FakeIonQ) -> None:
    fake.reset()
    async with IonQApi(fake.url("v0.4"), KEY, timeout=0.3, deadline=8.0, backoff_base=0.01) as api:
        fake.inject("slow", count=1, delay=1.0, method="GET", path="*/backends")
        assert (await api.availability())["ionq.simulator"] == "Available"
        assert fake.count("GET", "*/backends") == 2


async def test_dropped_submit_is_found_by_marker_across_pages(api: IonQApi, fake: FakeIonQ) -> None:
    started = datetime.now(UTC) - timedelta(seconds=5)
    fake.inject("drop", count=1, method="POST")
    with pytest.raises(ProviderUnavailable):
        await api.submit(program("kj-dropped"))
    assert len(fake.jobs) == 1  # the job exists; only the answer was lost
    for k in range(5):  # newer jobs push it to the third page
        await api.submit(program(f"kj-later-{k}"))
    api.page_size = 2
    found = await api.find("kj-dropped", started)
    assert found is not None and found.marker == "kj-dropped"
    assert found.id == next(j.id for j in fake.jobs.values() if j.body["metadata"]["kuantum_job_id"] == "kj-dropped")
    assert fake.count("GET", f"/{api.version}/jobs") == 3


async def test_find_stops_paging_at_not_before(api: IonQApi, fake: FakeIonQ) -> None:
    old_id = await api.submit(program("kj-old"))
    for k in range(3):
        await api.submit(program(f"kj-old-{k}"))
    hour_ago = time.time() - 3600
    for job in fake.jobs.values():
        job.submitted = hour_ago  # made an hour ago
    for k in range(3):
        await api.submit(program(f"kj-new-{k}"))
    api.page_size = 2
    assert await api.find("kj-old", datetime.now(UTC) - timedelta(minutes=10)) is None
    assert fake.count("GET", f"/{api.version}/jobs") == 2  # page 2 reached the old jobs: no page 3
    found = await api.find("kj-old", datetime.now(UTC) - timedelta(hours=2))
    assert found is not None and found.id == old_id
    assert await api.find("kj-never-submitted", datetime.now(UTC) - timedelta(hours=2)) is None


@pytest.mark.parametrize("body", ['{"id": "trunc', "[]", '"text"', '{"id": "x"}'])
async def test_malformed_poll_answer_is_unavailable_not_failed(api: IonQApi, fake: FakeIonQ, body: str) -> None:
    job_id = await api.submit(program("kj-malformed"))
    fake.inject("malformed", count=50, body=body, method="GET", path=f"*/jobs/{job_id}")
    with pytest.raises(ProviderUnavailable):
        await api.get(job_id)


async def test_malformed_then_good_poll_recovers(api: IonQApi, fake: FakeIonQ) -> None:
    job_id = await api.submit(program("kj-recover"))
    fake.inject("malformed", count=2, method="GET", path=f"*/jobs/{job_id}")
    assert (await api.get(job_id)).id == job_id


async def test_unknown_job_is_rejected(api: IonQApi) -> None:
    with pytest.raises(RequestRejected) as info:
        await api.get("00000000-0000-4000-8000-000000000000")
    assert info.value.status == 404 and not info.value.retryable


async def test_injected_404(api: IonQApi, fake: FakeIonQ) -> None:
    job_id = await api.submit(program("kj-404"))
    fake.inject("404", count=1, method="GET")
    with pytest.raises(RequestRejected) as info:
        await api.get(job_id)
    assert info.value.status == 404


async def test_failed_job_carries_code_and_message(api: IonQApi, fake: FakeIonQ) -> None:
    fake.inject("fail", code="CompilationError", message="circuit too deep for the device")
    job_id = await api.submit(program("kj-fail"))
    job = await wait_final(api, job_id)
    assert job.state is RemoteState.FAILED
    assert (job.failure_code, job.failure_message) == ("CompilationError", "circuit too deep for the device")
    with pytest.raises(RequestRejected):
        await api.results(job_id, program("kj-fail"))


@pytest.mark.parametrize("how", ["wrong_key", "injected"])
async def test_wrong_key_is_rejected_and_never_shown(fake: FakeIonQ, how: str) -> None:
    fake.reset()
    key = KEY if how == "injected" else "not-the-right-key-987654321"
    async with IonQApi(fake.url("v0.4"), key, **FAST) as api:
        if how == "injected":
            fake.inject("401", count=1)
        with pytest.raises(CredentialsRejected) as info:
            await api.submit(program("kj-401"))
        assert info.value.status == 401 and not info.value.retryable
        for text in (str(info.value), repr(info.value), info.value.message, repr(api)):
            assert key not in text and KEY not in text
        assert fake.count("POST") == 1


async def test_cancel_waiting_job_and_final_job(api: IonQApi, fake: FakeIonQ) -> None:
    fake.set_schedule(hold=True)
    job_id = await api.submit(program("kj-cancel"))
    assert (await api.get(job_id)).state is RemoteState.WAITING
    await api.cancel(job_id)
    assert (await api.get(job_id)).state is RemoteState.CANCELLED
    await api.cancel(job_id)  # again: still fine
    fake.set_schedule(hold=False)
    done_id = await api.submit(program("kj-done"))
    assert (await wait_final(api, done_id)).state is RemoteState.SUCCEEDED
    await api.cancel(done_id)  # IonQ refuses (already completed): not an error
    assert (await api.get(done_id)).state is RemoteState.SUCCEEDED
    with pytest.raises(RequestRejected):
        await api.cancel("00000000-0000-4000-8000-000000000000")


async def test_executing_state(api: IonQApi, fake: FakeIonQ) -> None:
    fake.set_schedule(wait=0.0, run=30.0)
    job_id = await api.submit(program("kj-running"))
    job = await api.get(job_id)
    assert job.state is RemoteState.EXECUTING
    assert job.raw["status"] == ("running" if api.version == "v0.3" else "started")


async def test_availability(api: IonQApi, fake: FakeIonQ) -> None:
    assert await api.availability() == {"ionq.simulator": "Available", "ionq.qpu.aria-1": "Available",
                                        "ionq.qpu.forte-1": "Degraded", "ionq.qpu.harmony": "Unavailable"}
    fake.backends = [{"backend": "simulator", "status": "available"}, {"backend": "qpu.aria-1", "status": "offline"},
                     {"backend": "qpu.forte-1", "status": "unavailable"}]
    assert await api.availability() == {"ionq.simulator": "Available", "ionq.qpu.aria-1": "Unavailable",
                                        "ionq.qpu.forte-1": "Unavailable"}


async def test_connections_are_reused(api: IonQApi, fake: FakeIonQ) -> None:
    job_id = await api.submit(program("kj-pool"))
    for _ in range(5):
        await api.get(job_id)
    assert api.requests_sent == 6


def _post(url: str, body: Any) -> Any:
    request = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=5) as answer:
        return json.loads(answer.read())


async def test_runs_as_a_process_with_control_endpoint(tmp_path: Path) -> None:
    port_file = tmp_path / "port"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, "-m", "tests.support.fake_ionq", "--host", "127.0.0.1", "--port", "0",
                             "--port-file", str(port_file), "--api-key", KEY, "--wait", "0", "--run", "0"],
                            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        for _ in range(300):  # at most ~30 s for the interpreter and imports
            if port_file.exists() or proc.poll() is not None:
                break
            await asyncio.sleep(0.1)
        assert port_file.exists(), f"fake IonQ did not start: {proc.stderr.read() if proc.stderr else ''!r}"
        base = f"http://127.0.0.1:{int(port_file.read_text())}"
        await asyncio.to_thread(_post, f"{base}/_control/faults", {"kind": "status", "count": 2, "method": "GET"})
        async with IonQApi(f"{base}/v0.4", KEY, **FAST) as api:
            p = program("kj-process")
            job_id = await api.submit(p)
            assert (await wait_final(api, job_id)).state is RemoteState.SUCCEEDED
            assert json.loads(await api.results(job_id, p))["histogram"] == pytest.approx(
                run_ionq(CIRCUIT)["histogram"], abs=1e-12)
        with urllib.request.urlopen(f"{base}/_control/counts", timeout=5) as answer:
            counts = json.loads(answer.read())["counts"]
        assert counts[f"GET /v0.4/jobs/{job_id}"] >= 3  # two injected 503s, then answers
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)
    assert proc.returncode == 0


# ---------------------------------------------------------------------------------------------- scripted transport
CREATED = "2026-11-28T10:00:00Z"


def _api(jobs: list[dict[str, Any]]) -> IonQApi:
    """An API whose GET /jobs lists `jobs` (one page) and GET /jobs/{id} answers each of them."""
    by_id = {job["id"]: job for job in jobs}

    def handler(request: httpx.Request) -> httpx.Response:
        path = request.url.path.removeprefix("/v0.4/")
        if path == "jobs":
            return httpx.Response(200, json={"jobs": jobs})
        job = by_id.get(path.removeprefix("jobs/"))
        return httpx.Response(200, json=job) if job else httpx.Response(404, json={"error": "Not Found"})

    return IonQApi("http://ionq.test/v0.4", KEY, transport=httpx.MockTransport(handler), max_attempts=1)


def _job(job_id: str, name: str, **extra: Any) -> dict[str, Any]:
    return {"id": job_id, "status": "completed", "name": name, "submitted_at": CREATED, **extra}


async def test_a_job_without_metadata_is_found_by_a_name_ending_in_its_marker() -> None:
    jobs = [_job("a", "qjob-kj-12"), _job("b", "xkj-1"), _job("c", "qjob-kj-1"), _job("d", "kj-1")]
    async with _api(jobs) as api:
        found = await api.find("kj-1", datetime(2026, 11, 28, 9, tzinfo=UTC))
        assert found is not None and found.id == "c"
    async with _api([jobs[0], jobs[1], jobs[3]]) as api:
        found = await api.find("kj-1", datetime(2026, 11, 28, 9, tzinfo=UTC))
        assert found is not None and found.id == "d"
    async with _api(jobs[:2]) as api:
        assert await api.find("kj-1", datetime(2026, 11, 28, 9, tzinfo=UTC)) is None


async def test_not_before_without_a_zone_is_utc_and_other_zones_are_converted() -> None:
    jobs = [_job("a", "qjob-kj-1", metadata={"kuantum_job_id": "kj-1"})]
    async with _api(jobs) as api:
        # 30 s before the job was made, written three ways; the job is found each time.
        naive = datetime(2026, 11, 28, 9, 59, 30)
        assert await api.find("kj-1", naive) is not None
        plus_two = datetime(2026, 11, 28, 11, 59, 30, tzinfo=timezone(timedelta(hours=2)))
        assert await api.find("kj-1", plus_two) is not None
        # 30 s after, in the +02:00 zone: the job is older than that, not this one's.
        later = datetime(2026, 11, 28, 12, 0, 30, tzinfo=timezone(timedelta(hours=2)))
        assert await api.find("kj-1", later) is None


async def test_a_failure_without_a_message_has_a_readable_one() -> None:
    jobs: list[dict[str, Any]] = [{"id": "f", "status": "failed", "failure": {"code": "Timeout"}},
            {"id": "g", "status": "failed", "failure": {}},
            {"id": "h", "status": "failed"}]
    async with _api(jobs) as api:
        failed = await api.get("f")
        assert failed.state is RemoteState.FAILED
        assert (failed.failure_code, failed.failure_message) == ("Timeout", "IonQ reported the job as failed")
        empty = await api.get("g")
        assert (empty.failure_code, empty.failure_message) == ("IonQJobFailed", "IonQ reported the job as failed")
        bare = await api.get("h")
        assert (bare.failure_code, bare.failure_message) == (
            "IonQJobFailed", "IonQ reported the job as failed without a reason")


async def test_cancel_refused_with_409_for_a_finished_job_is_done() -> None:
    for status, job_state, refused in ((409, "completed", False), (409, "running", True), (400, "canceled", False),
                                       (422, "failed", False)):
        def handler(request: httpx.Request, status: int = status, job_state: str = job_state) -> httpx.Response:
            if request.method == "PUT":
                return httpx.Response(status, json={"error": "Conflict", "message": "job cannot be canceled"})
            return httpx.Response(200, json={"id": "j", "status": job_state})

        async with IonQApi("http://ionq.test/v0.4", KEY, transport=httpx.MockTransport(handler)) as api:
            if refused:
                with pytest.raises(RequestRejected):
                    await api.cancel("j")
            else:
                await api.cancel("j")


async def test_a_backend_flagged_degraded_is_degraded_only_when_it_is_up() -> None:
    backends = [{"backend": "qpu.aria-1", "status": "available", "degraded": True},
                {"backend": "qpu.forte-1", "status": "unavailable", "degraded": True},
                {"backend": "qpu.old", "status": "retired", "degraded": True},
                {"backend": "simulator", "status": "available", "degraded": False}]

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json=backends)

    async with IonQApi("http://ionq.test/v0.4", KEY, transport=httpx.MockTransport(handler)) as api:
        assert await api.availability() == {"ionq.qpu.aria-1": "Degraded", "ionq.qpu.forte-1": "Unavailable",
                                            "ionq.qpu.old": "Unavailable", "ionq.simulator": "Available"}


async def test_creation_times_without_a_zone_are_utc_and_others_converted() -> None:
    jobs = [_job("a", "n", submitted_at="2026-11-28T10:00:00"),
            _job("b", "n", submitted_at="2026-11-28T12:00:00+02:00")]
    async with _api(jobs) as api:
        for job_id in ("a", "b"):
            assert (await api.get(job_id)).created == datetime(2026, 11, 28, 10, tzinfo=UTC)


async def test_an_unreadable_answer_is_quoted_in_full_when_short_and_cut_when_long() -> None:
    for answer, quoted in ((["x"], "['x']"), (["x" * 196], repr(["x" * 196])),  # 200 characters: in full
                           (["x" * 197], repr(["x" * 197])[:200] + "...")):
        def handler(request: httpx.Request, answer: Any = answer) -> httpx.Response:
            return httpx.Response(200, json=answer)

        async with IonQApi("http://ionq.test/v0.4", KEY, transport=httpx.MockTransport(handler)) as api:
            with pytest.raises(ProviderUnavailable) as info:
                await api.get("j")
            assert info.value.message.endswith(f": {quoted}")


@pytest.mark.parametrize(("raw", "expected"), [
    ({"failure": {"code": "QuotaExceeded", "error": "no credits"}}, ("QuotaExceeded", "no credits")),
    ({"error": {"code": "BadCircuit", "message": "gate xyz"}}, ("BadCircuit", "gate xyz")),
    ({"error": "the QPU went offline"}, ("IonQJobFailed", "the QPU went offline")),
    ({"error": ""}, ("IonQJobFailed", "IonQ reported the job as failed without a reason")),
    ({}, ("IonQJobFailed", "IonQ reported the job as failed without a reason")),
])
def test_a_failed_jobs_code_and_message_whatever_the_api_version_sent(raw: dict[str, Any],
                                                                      expected: tuple[str, str]) -> None:
    from kuantum.execution.providers.ionq import api as ionq_api

    assert ionq_api._failure(raw) == expected


def test_a_job_without_metadata_is_ours_only_by_a_name_that_is_or_ends_in_the_marker() -> None:
    from kuantum.execution.providers.ionq import api as ionq_api

    marker = "kj-1"
    assert ionq_api._carries({"name": "kj-1"}, marker)
    assert ionq_api._carries({"name": "bell-kj-1"}, marker)
    assert not ionq_api._carries({"name": "bell-kj-12"}, marker)
    assert not ionq_api._carries({"name": "bellkj-1"}, marker), "never a mere substring"
    assert not ionq_api._carries({"name": "a"}, marker), "a name that sorts before the marker is not it"


def test_results_that_are_not_probabilities_are_an_unclear_answer() -> None:
    from kuantum.execution.providers.ionq import api as ionq_api

    assert ionq_api._probabilities({"0": 0.5, "3": 0.5}, "r") == {"0": 0.5, "3": 0.5}
    for bad in ({"0": "half"}, {"zero": 1.0}, [], {}):
        with pytest.raises(ProviderUnavailable):
            ionq_api._probabilities(bad, "r")
