"""IonQ's own Python client drives the fake IonQ server, so the fake cannot drift from the real API.

qiskit-ionq 1.x speaks API v0.4 and is installed in the dev venv (pyproject `dev` extras); 0.5.x
speaks v0.3 and needs qiskit<2, so this test installs it once into a cache folder of its own
(~/.cache/kuantum, or $KUANTUM_CACHE) and runs it in a subprocess with that folder first on
PYTHONPATH. Nothing is skipped: a client that cannot be installed fails the test with pip's output.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kuantum.execution.providers.api import Program, RemoteState
from kuantum.execution.providers.ionq.api import IonQApi
from kuantum_solvers.circuits.ionq import run_ionq

from tests.support.fake_ionq import FakeIonQ

KEY = "real-client-key-0123456789"
ROOT = Path(__file__).resolve().parents[5]
CACHE = Path(os.environ.get("KUANTUM_CACHE") or Path.home() / ".cache" / "kuantum")
# qiskit-ionq 0.5.x and what it needs beyond the dev venv (qiskit 1.x brings sympy and symengine).
LEGACY = ["qiskit-ionq==0.5.13", "qiskit==1.4.6", "symengine==0.13.0", "sympy>=1.3", "mpmath>=1.1",
          "decorator>=5", "python-dotenv>=1"]
LEGACY_DIR = CACHE / "qiskit-ionq-0.5.13"

# The same circuit both ways: GHZ-like pair and a rotation, measured into c[0..2].
DRIVER = r"""
import json, os, sys, urllib.request, warnings
warnings.simplefilter("ignore")
from qiskit import QuantumCircuit
import qiskit_ionq
from qiskit_ionq import IonQProvider

base = os.environ["FAKE_IONQ_BASE"]

def control(name, body):
    request = urllib.request.Request(f"{base}/_control/{name}", data=json.dumps(body).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
    urllib.request.urlopen(request, timeout=5).read()

provider = IonQProvider(token=os.environ["IONQ_API_KEY"], url=os.environ["IONQ_API_URL"])
backend = provider.get_backend("simulator")
qc = QuantumCircuit(3, 3, name="kuantum-real-client")
qc.h(0); qc.cx(0, 1); qc.ry(0.7, 2); qc.measure([0, 1, 2], [0, 1, 2])
control("schedule", {"hold": True, "wait": 0.05, "run": 0.05})
job = backend.run(qc, shots=1000)
first = str(job.status())
control("release", {"id": job.job_id()})
result = job.result()
held = backend.run(qc, shots=10)
held.cancel()
out = {"version": qiskit_ionq.__version__, "job_id": job.job_id(), "first_status": first,
       "probabilities": {k: float(v) for k, v in result.get_probabilities().items()},
       "counts": {k: int(v) for k, v in result.get_counts().items()},
       "canceled_id": held.job_id(), "canceled_status": str(held.status())}
print("RESULT " + json.dumps(out))
"""

pytestmark = pytest.mark.timeout(240)


@pytest.fixture
def fake() -> Iterator[FakeIonQ]:
    with FakeIonQ(KEY) as server:
        yield server


def legacy_client() -> Path:
    """qiskit-ionq 0.5.13 in its cache folder, installed on first use (one pip run, ~30 s)."""
    if (LEGACY_DIR / ".complete").exists():
        return LEGACY_DIR
    CACHE.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix="qiskit-ionq-0.5.", dir=CACHE))
    try:
        run = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                              "--no-deps", "--target", str(staging), *LEGACY],
                             capture_output=True, text=True, timeout=300, check=False)
        if run.returncode != 0:
            pytest.fail(f"could not install {' '.join(LEGACY)} into {staging} for the v0.3 client check:\n"
                        f"{run.stdout[-2000:]}\n{run.stderr[-4000:]}", pytrace=False)
        (staging / ".complete").write_text(" ".join(LEGACY))
        if not (LEGACY_DIR / ".complete").exists():  # another run may have finished first
            shutil.rmtree(LEGACY_DIR, ignore_errors=True)
            staging.rename(LEGACY_DIR)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return LEGACY_DIR


def drive(fake: FakeIonQ, version: str, pythonpath: list[Path]) -> dict[str, Any]:
    env = {**os.environ, "IONQ_API_KEY": KEY, "IONQ_API_URL": fake.url(version),
           "FAKE_IONQ_BASE": f"http://127.0.0.1:{fake.port}",
           "PYTHONPATH": os.pathsep.join(str(p) for p in pythonpath)}
    for name in ("QISKIT_IONQ_API_TOKEN", "QISKIT_IONQ_API_URL", "IONQ_API_TOKEN"):
        env.pop(name, None)
    run = subprocess.run([sys.executable, "-c", DRIVER], capture_output=True, text=True, timeout=120, env=env,
                         cwd=ROOT, check=False)
    lines = [line for line in run.stdout.splitlines() if line.startswith("RESULT ")]
    assert run.returncode == 0 and lines, f"qiskit-ionq against the fake failed:\n{run.stdout}\n{run.stderr[-4000:]}"
    return dict(json.loads(lines[-1].removeprefix("RESULT ")))


def check(fake: FakeIonQ, version: str, out: dict[str, Any]) -> None:
    circuit = {"qubits": 3, "circuit": [{"gate": "h", "target": 0}, {"gate": "cnot", "control": 0, "target": 1},
                                        {"gate": "ry", "target": 2, "rotation": 0.7}]}
    exact = run_ionq(circuit)["histogram"]
    expected = {format(int(k), "03b"): p for k, p in exact.items()}  # qiskit: c[2] c[1] c[0]
    assert out["probabilities"] == pytest.approx(expected, abs=1e-9)
    assert sum(out["counts"].values()) == 1000 and set(out["counts"]) <= set(expected)
    assert "QUEUED" in out["first_status"] or "INITIALIZING" in out["first_status"]
    assert "CANCELLED" in out["canceled_status"]

    job = fake.jobs[out["job_id"]]
    body = job.body
    if version == "v0.3":
        assert body["target"] == "simulator" and body["input"]["format"] == "ionq.circuit.v0"
        assert fake.count("GET", f"/v0.3/jobs/{job.id}/results") >= 1
    else:
        assert body["type"] == "ionq.circuit.v1" and body["backend"] == "simulator"
        assert fake.count("GET", f"/v0.4/jobs/{job.id}/results/probabilities") >= 1
    assert fake.count("PUT", f"/{version}/jobs/{out['canceled_id']}/status/cancel") == 1
    assert all(isinstance(v, str) for v in body["metadata"].values()) and len(body["metadata"]) <= 10

    async def ours() -> bytes:  # Kuantum's client reads the job IonQ's client made, with the same answer
        async with IonQApi(fake.url(version), KEY) as api:
            assert (await api.get(job.id)).state is RemoteState.SUCCEEDED
            return await api.results(job.id, Program("ionq.simulator", circuit, 1000, "x", "x"))

    assert json.loads(asyncio.run(ours()))["histogram"] == pytest.approx(exact, abs=1e-12)


def test_qiskit_ionq_1x_speaks_v04_to_the_fake(fake: FakeIonQ) -> None:
    out = drive(fake, "v0.4", [ROOT])
    assert out["version"].startswith("1."), out["version"]
    check(fake, "v0.4", out)


def test_qiskit_ionq_05x_speaks_v03_to_the_fake(fake: FakeIonQ) -> None:
    out = drive(fake, "v0.3", [legacy_client(), ROOT])
    assert out["version"] == "0.5.13", out["version"]
    check(fake, "v0.3", out)
