"""QuantinuumApi against the loopback fake qapi: real simulated results, tokens, faults, find, cancel, status. Its
tests against a scripted transport are in test_api_scripted.py.

Timings are never asserted; every wait is bounded in iterations and in time.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from kuantum.execution.providers.api import (
    CredentialsRejected,
    Program,
    ProviderError,
    ProviderUnavailable,
    RemoteJob,
    RemoteState,
    RequestRejected,
)
from kuantum.execution.providers.quantinuum import api as quantinuum
from kuantum.execution.providers.quantinuum.api import QuantinuumApi, machine_for, map_state, results_blob

from tests.support.fake_quantinuum import FakeQuantinuum, Schedule

pytestmark = pytest.mark.timeout(180)

USER, PASSWORD = "alice@example.com", "correct-horse-battery-staple"
FINAL = {RemoteState.SUCCEEDED, RemoteState.FAILED, RemoteState.CANCELLED}
HTTP = {"timeout": 15.0, "deadline": 40.0, "backoff_base": 0.01, "backoff_cap": 0.05}
BELL = """OPENQASM 2.0;
include "qelib1.inc";
qreg q[2];
creg c[2];
h q[0];
cx q[0],q[1];
measure q[0] -> c[0];
measure q[1] -> c[1];
"""
# q0 flipped into c[0] only; q1 into a second register: checks bit order and several registers.
TWO_REGISTERS = """OPENQASM 2.0;
include "qelib1.inc";
qreg q[3];
creg c[3];
creg flag[1];
x q[0];
x q[2];
measure q[0] -> c[0];
measure q[1] -> c[1];
measure q[2] -> flag[0];
"""


def program(body: object = BELL, *, shots: int = 100, target: str = "quantinuum.sim.h2-1sc",
            registers: dict[str, int] | None = None) -> Program:
    marker = str(uuid.uuid4())
    return Program(target=target, body=body, shots=shots, name=f"bell-{marker}", marker=marker,
                   registers={"c": 2} if registers is None else registers)


async def wait_final(api: QuantinuumApi, job_id: str, polls: int = 600) -> RemoteJob:
    async def poll() -> RemoteJob:
        for _ in range(polls):
            job = await api.get(job_id)
            if job.state in FINAL:
                return job
            await asyncio.sleep(0.02)
        raise AssertionError(f"job {job_id} did not finish in {polls} polls")

    return await asyncio.wait_for(poll(), 90)


@pytest.fixture
def fake() -> Iterator[FakeQuantinuum]:
    with FakeQuantinuum(USER, PASSWORD) as server:
        yield server


@pytest.fixture
async def api(fake: FakeQuantinuum) -> AsyncIterator[QuantinuumApi]:
    client = QuantinuumApi(fake.url, {"username": USER, "password": PASSWORD}, **HTTP)
    yield client
    await client.aclose()


# --- pure mapping -------------------------------------------------------------------------------------------


def test_targets_map_to_machines() -> None:
    assert machine_for("quantinuum.sim.h2-1sc") == "H2-1SC"
    assert machine_for("quantinuum.sim.h2-1e") == "H2-1E"
    assert machine_for("quantinuum.qpu.h2-1") == "H2-1"
    assert machine_for("honeywell.qpu.h2-2") == "H2-2"
    with pytest.raises(RequestRejected):
        machine_for("ionq.simulator")
    for not_a_machine in ("quantinuum.emulator.h2-1", "quantinuum.sim.", "rigetti.sim.h2-1", "honeywell.qpu"):
        with pytest.raises(RequestRejected):
            machine_for(not_a_machine)


def test_statuses_map_to_azure_states() -> None:
    assert map_state("queued") is RemoteState.WAITING
    assert map_state("pending") is RemoteState.WAITING
    assert map_state("running") is RemoteState.EXECUTING
    assert map_state("canceling") is RemoteState.EXECUTING  # not final: the job may still finish
    assert map_state("completed") is RemoteState.SUCCEEDED
    assert map_state("failed") is RemoteState.FAILED
    assert map_state("depleted") is RemoteState.FAILED
    assert map_state("canceled") is RemoteState.CANCELLED
    assert map_state("cancelled") is RemoteState.CANCELLED
    assert map_state("something-new") is RemoteState.WAITING
    assert map_state("something-new", started=True) is RemoteState.EXECUTING


def test_results_blob_keeps_registers_and_pads_integers() -> None:
    blob = json.loads(results_blob({"c": ["01", "10"], "flag": [1, 0], "note": "x"}, {"c": 2, "flag": 3}))
    assert blob == {"c": ["01", "10"], "flag": ["001", "000"]}
    with pytest.raises(ProviderError) as missing:
        results_blob({"c": ["0"]}, {"c": 1, "d": 1})
    assert not missing.value.retryable
    with pytest.raises(ProviderError):
        results_blob({"c": ["0", "2"]}, {"c": 1})
    with pytest.raises(ProviderError, match="different shot counts") as uneven:
        results_blob({"c": ["0", "1"], "d": ["1"]}, {"c": 1, "d": 1})
    assert not uneven.value.retryable
    with pytest.raises(ProviderError, match="no results object") as absent:
        results_blob(None, {"c": 1})
    assert not absent.value.retryable, "a finished job's results will not appear by asking again"


def test_the_qapi_job_name_carries_the_marker_once() -> None:
    def program(name: str) -> Program:
        return Program("quantinuum.sim.h2-1sc", "OPENQASM 2.0;", 10, name, "3d2c1b0a")

    assert quantinuum.job_name(program("bell")) == "bell-3d2c1b0a"
    assert quantinuum.job_name(program("")) == "3d2c1b0a"
    assert quantinuum.job_name(program("bell-3d2c1b0a")) == "bell-3d2c1b0a"


# --- happy path ---------------------------------------------------------------------------------------------


async def test_bell_state_runs_and_yields_azure_results(api: QuantinuumApi, fake: FakeQuantinuum) -> None:
    prog = program(shots=200)
    job_id = await api.submit(prog)
    job = await wait_final(api, job_id)
    assert job.state is RemoteState.SUCCEEDED
    assert job.marker == prog.marker and job.created is not None and job.created.tzinfo is not None
    blob = json.loads(await api.results(job_id, prog))
    assert set(blob) == {"c"} and len(blob["c"]) == 200
    assert set(blob["c"]) == {"00", "11"}  # entangled: never 01 or 10; both seen in 200 shots

    sent = fake.jobs[job_id]
    assert (sent.machine, sent.count, sent.program) == ("H2-1SC", 200, BELL)
    assert prog.marker in sent.name
    assert fake.logins["password"] == 1  # one login serves every call


async def test_bit_order_and_several_registers(api: QuantinuumApi) -> None:
    prog = program(TWO_REGISTERS, shots=5, target="quantinuum.qpu.h2-1", registers={"c": 3, "flag": 1})
    job_id = await api.submit(prog)
    assert (await wait_final(api, job_id)).state is RemoteState.SUCCEEDED
    blob = json.loads(await api.results(job_id, prog))
    # OpenQASM 2: the leftmost character is the highest classical bit; c[0] is set.
    assert blob == {"c": ["001"] * 5, "flag": ["1"] * 5}


async def test_ionq_json_input_is_translated(api: QuantinuumApi, fake: FakeQuantinuum) -> None:
    pytest.importorskip("kuantum.execution.providers.circuits")
    circuit = {"qubits": 2, "gateset": "qis",
               "circuit": [{"gate": "h", "target": 0}, {"gate": "cnot", "control": 0, "target": 1}]}
    prog = program(circuit, shots=100)
    job_id = await api.submit(prog)
    assert (await wait_final(api, job_id)).state is RemoteState.SUCCEEDED
    assert fake.jobs[job_id].program.startswith("OPENQASM 2.0")
    counts = json.loads(await api.results(job_id, Program(prog.target, circuit, 100, prog.name, prog.marker)))
    (register,) = counts.values()
    assert set(register) <= {"00", "11"} and len(register) == 100


async def test_program_that_is_not_qasm_is_refused(api: QuantinuumApi) -> None:
    with pytest.raises(RequestRejected):
        await api.submit(program(12345))


# --- tokens -------------------------------------------------------------------------------------------------


async def test_expired_token_is_refreshed(api: QuantinuumApi, fake: FakeQuantinuum) -> None:
    job_id = await api.submit(program())
    fake.expire_tokens()
    assert (await wait_final(api, job_id)).state is RemoteState.SUCCEEDED
    assert fake.logins["refresh"] >= 1
    assert fake.logins["password"] == 1


async def test_short_lived_tokens_are_renewed() -> None:
    with FakeQuantinuum(USER, PASSWORD, token_lifetime=0.3) as fake:
        api = QuantinuumApi(fake.url, {"username": USER, "password": PASSWORD}, **HTTP)
        try:
            job_id = await api.submit(program())
            await asyncio.sleep(0.4)  # the id-token has expired by now
            assert (await wait_final(api, job_id)).state is RemoteState.SUCCEEDED
        finally:
            await api.aclose()
        assert fake.logins["refresh"] >= 1 and fake.logins["password"] == 1


async def test_concurrent_401s_renew_the_token_once(api: QuantinuumApi, fake: FakeQuantinuum) -> None:
    job_ids = [await api.submit(program(shots=1)) for _ in range(4)]
    fake.expire_tokens()
    jobs = await asyncio.wait_for(asyncio.gather(*(api.get(j) for j in job_ids)), 60)
    assert [j.id for j in jobs] == job_ids
    assert fake.logins["refresh"] == 1 and fake.logins["password"] == 1


async def test_rejected_refresh_token_logs_in_again(api: QuantinuumApi, fake: FakeQuantinuum) -> None:
    job_id = await api.submit(program())
    fake.revoke_refresh_tokens()
    fake.expire_tokens()
    assert (await wait_final(api, job_id)).state is RemoteState.SUCCEEDED
    assert fake.logins["rejected-refresh"] == 1
    assert fake.logins["password"] == 2


async def test_refresh_token_credentials(fake: FakeQuantinuum) -> None:
    token = httpx.post(f"{fake.url}/login", json={"email": USER, "password": PASSWORD}).json()["refresh-token"]
    api = QuantinuumApi(fake.url, {"refreshToken": token}, **HTTP)
    try:
        job_id = await api.submit(program())
        assert (await wait_final(api, job_id)).state is RemoteState.SUCCEEDED
        fake.revoke_refresh_tokens()
        fake.expire_tokens()
        with pytest.raises(CredentialsRejected) as refused:
            await api.get(job_id)
    finally:
        await api.aclose()
    assert "Invalid Refresh Token" in str(refused.value)
    assert token not in str(refused.value) and not refused.value.retryable


async def test_wrong_password_is_rejected_without_echoing_it(fake: FakeQuantinuum) -> None:
    wrong = "hunter2-wrong-password"
    api = QuantinuumApi(fake.url, {"username": USER, "password": wrong}, **HTTP)
    try:
        with pytest.raises(CredentialsRejected) as refused:
            await api.submit(program())
    finally:
        await api.aclose()
    text = f"{refused.value} {refused.value.message!r} {refused.value.args!r}"
    assert "Invalid email or password" in text
    assert wrong not in text and PASSWORD not in text
    assert fake.jobs == {}


async def test_password_changed_while_running(api: QuantinuumApi, fake: FakeQuantinuum) -> None:
    job_id = await api.submit(program())
    fake.set_password("rotated-elsewhere")
    fake.revoke_refresh_tokens()
    fake.expire_tokens()
    with pytest.raises(CredentialsRejected) as refused:
        await api.get(job_id)
    assert PASSWORD not in str(refused.value) and "rotated-elsewhere" not in str(refused.value)


def test_missing_credentials_are_rejected() -> None:
    with pytest.raises(CredentialsRejected):
        QuantinuumApi("http://127.0.0.1:9/v1", {"username": USER})


# --- faults -------------------------------------------------------------------------------------------------


async def test_server_errors_on_reads_are_retried(api: QuantinuumApi, fake: FakeQuantinuum) -> None:
    job_id = await api.submit(program())
    fake.inject("error", status=503, count=3, route="GET /job/{id}")
    before = fake.count("GET /job/{id}")
    job = await api.get(job_id)
    assert job.id == job_id
    assert fake.count("GET /job/{id}") == before + 4


async def test_server_error_on_submit_is_unclear_and_find_settles_it(api: QuantinuumApi,
                                                                     fake: FakeQuantinuum) -> None:
    prog = program()
    not_before = datetime.now(UTC) - timedelta(seconds=5)
    fake.inject("error", status=500, route="POST /job")
    with pytest.raises(ProviderUnavailable):
        await api.submit(prog)
    assert await api.find(prog.marker, not_before) is None  # the fake refused before creating it
    job_id = await api.submit(prog)
    found = await api.find(prog.marker, not_before)
    assert found is not None and found.id == job_id


async def test_rate_limit_honours_retry_after(api: QuantinuumApi, fake: FakeQuantinuum) -> None:
    fake.inject("rate_limit", retry_after=0.1, count=2, route="POST /job")
    job_id = await api.submit(program())
    assert list(fake.jobs) == [job_id]  # a 429 is never acted on: the submit was repeated, once created
    assert fake.count("POST /job") == 3


async def test_slow_answers_time_out_and_are_retried(fake: FakeQuantinuum) -> None:
    api = QuantinuumApi(fake.url, {"username": USER, "password": PASSWORD},
                        **{**HTTP, "timeout": 0.3})
    try:
        job_id = await api.submit(program())
        fake.inject("slow", delay=1.0, route="GET /job/{id}")
        assert (await api.get(job_id)).id == job_id
    finally:
        await api.aclose()
    assert fake.count("GET /job/{id}") >= 2


async def test_connection_dropped_after_accept_then_found_by_marker(api: QuantinuumApi,
                                                                    fake: FakeQuantinuum) -> None:
    prog = program()
    not_before = datetime.now(UTC) - timedelta(seconds=5)
    fake.inject("drop_after_accept", route="POST /job")
    with pytest.raises(ProviderUnavailable):
        await api.submit(prog)
    (created,) = fake.jobs  # the job exists although its id never came back
    found = await api.find(prog.marker, not_before)
    assert found is not None and found.id == created and found.marker == prog.marker
    assert (await wait_final(api, found.id)).state is RemoteState.SUCCEEDED


async def test_dropped_connections_on_reads_are_retried(api: QuantinuumApi, fake: FakeQuantinuum) -> None:
    job_id = await api.submit(program())
    fake.inject("drop", count=2, route="GET /job/{id}")
    assert (await api.get(job_id)).id == job_id


async def test_malformed_json(api: QuantinuumApi, fake: FakeQuantinuum) -> None:
    job_id = await api.submit(program())
    fake.inject("malformed", count=2, route="GET /job/{id}")
    assert (await api.get(job_id)).id == job_id  # a read is repeated
    fake.inject("malformed", route="POST /job")
    with pytest.raises(ProviderUnavailable):
        await api.submit(program())  # a submit is not: its outcome is unclear


async def test_unknown_job_id(api: QuantinuumApi, fake: FakeQuantinuum) -> None:
    with pytest.raises(RequestRejected) as unknown:
        await api.get("no-such-job")
    assert unknown.value.status == 404 and not unknown.value.retryable
    job_id = await api.submit(program())
    fake.inject("unknown_job")
    with pytest.raises(RequestRejected):
        await api.get(job_id)


async def test_failing_job_reports_code_and_text(api: QuantinuumApi, fake: FakeQuantinuum) -> None:
    fake.inject("fail_job", code=31, text="Machine calibration failed")
    prog = program()
    job = await wait_final(api, await api.submit(prog))
    assert job.state is RemoteState.FAILED
    assert (job.failure_code, job.failure_message) == ("Quantinuum31", "Machine calibration failed")
    with pytest.raises(ProviderError) as no_results:
        await api.results(job.id, prog)
    assert not no_results.value.retryable


async def test_program_the_machine_cannot_run_fails_the_job(api: QuantinuumApi) -> None:
    job = await wait_final(api, await api.submit(program("OPENQASM 2.0;\nqreg q[1];\nfoo q[0];\n")))
    assert job.state is RemoteState.FAILED and job.failure_message


# --- find, cancel, availability ------------------------------------------------------------------------------


async def test_find_pages_the_job_list(api: QuantinuumApi, fake: FakeQuantinuum,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(quantinuum, "LIST_PAGE_SIZE", 2)
    not_before = datetime.now(UTC) - timedelta(seconds=5)
    target = program()
    target_id = await api.submit(target)
    for _ in range(4):  # newer jobs push the target to the third page
        await api.submit(program(shots=1))
    found = await api.find(target.marker, not_before)
    assert found is not None and found.id == target_id
    assert await api.find(str(uuid.uuid4()), not_before) is None
    assert fake.count("GET /jobs") == 6  # three pages each: 2, 2, 1 jobs


async def test_find_stops_at_jobs_older_than_not_before(api: QuantinuumApi, fake: FakeQuantinuum,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(quantinuum, "LIST_PAGE_SIZE", 2)
    old = program()
    await api.submit(old)
    for _ in range(3):
        await api.submit(program(shots=1))
    later = datetime.now(UTC) + timedelta(seconds=1)
    before = fake.count("GET /jobs")
    assert await api.find(old.marker, later) is None  # created before not_before: not this attempt's job
    assert fake.count("GET /jobs") - before == 1  # the first page is wholly older: no further pages


async def test_cancel_waiting_job_and_finished_job(fake: FakeQuantinuum) -> None:
    fake.schedule = Schedule(queued_polls=10**6)  # stays queued
    api = QuantinuumApi(fake.url, {"username": USER, "password": PASSWORD}, **HTTP)
    try:
        job_id = await api.submit(program())
        assert (await api.get(job_id)).state is RemoteState.WAITING
        await api.cancel(job_id)
        assert (await api.get(job_id)).state is RemoteState.CANCELLED
        await api.cancel(job_id)  # already final: not an error
        fake.schedule = Schedule()
        done = await api.submit(program())
        assert (await wait_final(api, done)).state is RemoteState.SUCCEEDED
        await api.cancel(done)
        assert (await api.get(done)).state is RemoteState.SUCCEEDED
        with pytest.raises(RequestRejected):
            await api.cancel("no-such-job")
    finally:
        await api.aclose()


async def test_job_moves_waiting_executing_succeeded(fake: FakeQuantinuum) -> None:
    fake.schedule = Schedule(queued_polls=2, running_polls=2)
    api = QuantinuumApi(fake.url, {"username": USER, "password": PASSWORD}, **HTTP)
    try:
        job_id = await api.submit(program())
        seen = [(await api.get(job_id)).state, (await api.get(job_id)).state]
        job = await wait_final(api, job_id)
    finally:
        await api.aclose()
    assert seen == [RemoteState.WAITING, RemoteState.EXECUTING]
    assert job.state is RemoteState.SUCCEEDED


async def test_cancel_executing_job(fake: FakeQuantinuum) -> None:
    fake.schedule = Schedule(running_polls=10**6)  # runs until cancelled
    api = QuantinuumApi(fake.url, {"username": USER, "password": PASSWORD}, **HTTP)
    try:
        job_id = await api.submit(program())
        assert (await api.get(job_id)).state is RemoteState.EXECUTING
        await api.cancel(job_id)
        assert (await api.get(job_id)).state is RemoteState.CANCELLED
    finally:
        await api.aclose()
    assert fake.count("POST /job/{id}/cancel") == 1


async def test_availability_per_target(api: QuantinuumApi, fake: FakeQuantinuum) -> None:
    assert await api.availability() == dict.fromkeys(quantinuum.MACHINES, "Available")
    fake.set_machine_state("H2-1", "offline")
    fake.set_machine_state("H2-1E", "in maintenance")
    assert await api.availability() == {"quantinuum.sim.h2-1sc": "Available", "quantinuum.sim.h2-1e": "Degraded",
                                        "quantinuum.qpu.h2-1": "Unavailable"}
    fake.inject("error", status=503, count=-1, route="GET /machine/{name}")
    states = await api.availability()
    assert set(states.values()) == {"Unavailable"}


# --- the fake as a process ------------------------------------------------------------------------------------


def test_fake_runs_as_a_process_with_control_endpoint(tmp_path: Path) -> None:
    port_file = tmp_path / "port"
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.support.fake_quantinuum", "--host", "127.0.0.1", "--port", "0",
         "--port-file", str(port_file), "--username", USER, "--password", PASSWORD],
        cwd=Path(__file__).resolve().parents[5], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        for _ in range(300):
            if port_file.exists() or proc.poll() is not None:
                break
            time.sleep(0.05)
        assert port_file.exists(), proc.stderr.read().decode() if proc.stderr and proc.poll() is not None else ""
        base = f"http://127.0.0.1:{int(port_file.read_text())}"
        with httpx.Client(base_url=base, timeout=10) as http:
            refused = http.post("/v1/login", json={"email": USER, "password": "nope"})
            assert refused.status_code == 401
            token = http.post("/v1/login", json={"email": USER, "password": PASSWORD}).json()["id-token"]
            fault = {"kind": "error", "status": 502, "route": "GET /machine/{name}"}
            faults = http.post("/_control/faults", json=fault)
            assert faults.status_code == 200 and faults.json()["faults"][0]["status"] == 502
            assert http.get("/v1/machine/H2-1", headers={"Authorization": token}).status_code == 502
            assert http.get("/v1/machine/H2-1", headers={"Authorization": token}).json()["state"] == "online"
            stats = http.get("/_control/stats").json()
            assert stats["requests"]["GET /machine/{name}"] == 2 and stats["logins"]["password"] == 1
    finally:
        proc.terminate()
        proc.wait(timeout=15)
    assert proc.returncode == 0
