"""Rigetti, Pasqal and the resource estimator on the dev cluster, submitted by the unmodified azure-quantum SDK's
own target classes through kuantum-gateway (a real operator process runs the jobs in solver pods), and by
kubectl-applied QuantumJobs with the same inputs.

Results are checked against exact distributions (chi-square where they are random, exact supports where they
are not); the estimator's numbers against `qsharp.estimate` on the same program and parameters.
"""

from __future__ import annotations

import functools
import json
import math
import warnings
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from azure.quantum import Workspace
from azure.quantum.target import Target
from azure.quantum.target.pasqal import InputParams as PasqalParams
from azure.quantum.target.pasqal import Pasqal
from azure.quantum.target.pasqal import Result as PasqalResult
from azure.quantum.target.rigetti import InputParams as RigettiParams
from azure.quantum.target.rigetti import Result as RigettiResult
from azure.quantum.target.rigetti import Rigetti, RigettiTarget
from azure.storage.blob import BlobServiceClient
from kubernetes import client
from scipy.stats import chisquare

from tests.integration.test_gateway_sdk import KEY, Gateway, _ready, workspace
from tests.support import devcluster
from tests.support import quantum as q
from tests.support.kube import wait_for
from tests.support.operator import OperatorProcess

pytestmark = pytest.mark.integration

QVM, CEPHEUS = "rigetti.sim.qvm", "rigetti.qpu.cepheus-1-108q"
EMU_SV = "pasqal.sim.emu-sv"
ESTIMATOR = "microsoft.estimator"
BELL_QUIL = "DECLARE ro BIT[2]\nH 0\nCNOT 0 1\nMEASURE 0 ro[0]\nMEASURE 1 ro[1]\n"
# One run per substitution row: theta = 0 leaves |0>, theta = pi flips to |1> (exactly, up to a global phase).
PARAMETRIC_QUIL = "DECLARE ro BIT[1]\nDECLARE theta REAL[1]\nRX(theta[0]) 0\nMEASURE 0 ro[0]\n"
PULSE_QUIL = 'DECLARE ro BIT[1]\nDEFFRAME 0 "xy":\n    SAMPLE-RATE: 1.0\nH 0\nMEASURE 0 ro[0]\n'
OMEGA = 2 * math.pi  # rad/µs
ESTIMATED = """operation Main() : Result[] {
    use qs = Qubit[3];
    H(qs[0]); H(qs[1]); CCNOT(qs[0], qs[1], qs[2]); T(qs[0]); Adjoint T(qs[1]);
    Rx(0.3, qs[2]); Rz(1.1, qs[0]); CNOT(qs[0], qs[2]);
    MResetEachZ(qs)
}"""
ESTIMATOR_PARAMS: dict[str, Any] = {"errorBudget": 0.01, "qubitParams": {"name": "qubit_gate_us_e3"}}


def chi2_ok(counts: dict[str, int], probs: dict[str, float]) -> None:
    """Outcomes only where the probability is not zero, and frequencies a chi-square test accepts."""
    assert set(counts) <= {k for k, p in probs.items() if p > 0}, (counts, probs)
    shots = sum(counts.values())
    keys = sorted(probs)
    observed = [counts.get(k, 0) for k in keys]
    expected = [probs[k] * shots for k in keys]
    assert chisquare(observed, expected).pvalue > 1e-4, (observed, expected)


def output(conn: str, status: dict[str, Any]) -> Any:
    container, blob = status["outputDataUri"].split("/devstoreaccount1/", 1)[1].split("/", 1)
    service = BlobServiceClient.from_connection_string(conn)
    return json.loads(service.get_blob_client(container, blob).download_blob().readall())


def kubectl_job(api_client: client.ApiClient, namespace: str, name: str, provider: str, target: str, data: Any,
                input_format: str, params: dict[str, Any]) -> None:
    q.create(api_client, namespace, "quantumjobs", {"kind": "QuantumJob", "metadata": {"name": name}, "spec": {
        "workspace": "ws", "provider": provider, "target": target, "input": {"inline": data},
        "inputDataFormat": input_format, "inputParams": params}})


@pytest.fixture
def gateway(cluster: devcluster.Cluster, api_client: client.ApiClient, core: client.CoreV1Api, namespace: str,
            azurite_connection_string: str, operator: OperatorProcess, request: pytest.FixtureRequest,
            tmp_path: Path) -> Iterator[Gateway]:
    """Workspace `ws` (API key KEY) with the Providers the test names (`@pytest.mark.providers(...)`, no
    credentials: Kuantum emulates their targets), its own Microsoft Quantum Computing Provider, and a gateway."""
    q.storage_secret(core, namespace, azurite_connection_string)
    core.create_namespaced_secret(namespace, {"metadata": {"name": "ws-api"},  # type: ignore[arg-type]
                                              "stringData": {"key": KEY}})
    q.create(api_client, namespace, "quantumworkspaces", {
        "kind": "QuantumWorkspace", "metadata": {"name": "ws"},
        "spec": {"storage": {"connectionStringSecretRef": {"name": "storage", "key": "connectionString"}},
                 "gateway": {"apiKeySecretRef": {"name": "ws-api", "key": "key"}}}})
    marker = request.node.get_closest_marker("providers")
    providers = list(marker.args if marker else ())
    for provider_id in providers:
        q.provider(api_client, namespace, provider_id, provider_id)
    gw = Gateway(cluster.kubeconfig, namespace, tmp_path).launch()  # starts while the operator works
    try:
        wait_for(lambda: _ready(api_client, namespace, "quantumworkspaces", "ws"), timeout=60, what="ws Ready")
        for name in (*providers, "ws-microsoft-qc"):
            wait_for(functools.partial(_ready, api_client, namespace, "providers", name), timeout=60,
                     what=f"provider {name} Ready")
        yield gw.wait_ready()
    finally:
        gw.stop()
        log = gw.log()
        assert KEY not in log and "AccountKey" not in log
        assert "Traceback" not in log, log[-3000:]


@pytest.mark.providers("rigetti")
def test_rigetti_quil_through_the_sdk_and_kubectl(gateway: Gateway, api_client: client.ApiClient, namespace: str,
                                                  azurite_connection_string: str) -> None:
    ws: Workspace = workspace(gateway, namespace)
    listed = ws.get_targets(provider_id="rigetti")
    assert isinstance(listed, list) and {t.name for t in listed} == {QVM, CEPHEUS}
    assert all(isinstance(t, Rigetti) for t in listed)
    # providerStatus: the QPU id is listed, Unavailable until the Provider asks for emulation.
    assert {t.name: t.current_availability for t in listed} == {QVM: "Available", CEPHEUS: "Unavailable"}
    assert {QVM, CEPHEUS} <= {t.name for t in ws.get_targets()}  # the SDK's unfiltered listing too
    qvm = ws.get_targets(name=QVM)
    assert isinstance(qvm, Rigetti)

    bell = qvm.submit(BELL_QUIL, name="bell-quil", input_params=RigettiParams(count=400))
    parametric = qvm.submit(PARAMETRIC_QUIL, name="parametric", input_params=RigettiParams(
        count=25, substitutions={"theta": [[0.0], [math.pi], [0.0]]}))
    pulse = qvm.submit(PULSE_QUIL, name="pulse-level")
    # A QPU id Kuantum only emulates fails at once unless the Provider asks for emulation (backend: local).
    qpu = Rigetti(ws, name=RigettiTarget.CEPHEUS_1_108Q).submit(BELL_QUIL, name="on-cepheus", shots=10)
    kubectl_job(api_client, namespace, "bell-kubectl", "rigetti", QVM, BELL_QUIL, "rigetti.quil.v1",
                {"shots": 300, "seed": 11})

    # The SDK's job is a QuantumJob with Azure's formats; its input blob is Quil text.
    obj = q.get(api_client, namespace, "quantumjobs", bell.id)
    assert obj is not None and obj["spec"]["inputDataFormat"] == "rigetti.quil.v1"
    assert obj["spec"]["outputDataFormat"] == "rigetti.quil-results.v1"

    bell.wait_until_completed(timeout_secs=240)
    assert bell.details.status == "Succeeded", bell.details.error_data
    ro = RigettiResult(bell)["ro"]
    assert len(ro) == 400 and all(len(shot) == 2 for shot in ro)
    chi2_ok(Counter(f"{a}{b}" for a, b in ro), {"00": 0.5, "11": 0.5})

    parametric.wait_until_completed(timeout_secs=240)
    assert parametric.details.status == "Succeeded", parametric.details.error_data
    assert RigettiResult(parametric)["ro"] == [[0]] * 25 + [[1]] * 25 + [[0]] * 25  # one run per row, in order

    pulse.wait_until_completed(timeout_secs=240)
    assert pulse.details.status == "Failed" and pulse.details.error_data.code == "InvalidInputData"
    assert "DEFFRAME" in pulse.details.error_data.message and "line 2" in pulse.details.error_data.message

    qpu.wait_until_completed(timeout_secs=120)
    assert qpu.details.status == "Failed" and qpu.details.error_data.code == "TargetUnavailable"
    assert "backend: local" in qpu.details.error_data.message

    status = q.wait_state(api_client, namespace, "bell-kubectl", q.FINAL, timeout=240)
    assert status["state"] == "Succeeded", status
    shots = output(azurite_connection_string, status)["ro"]
    assert len(shots) == 300
    chi2_ok(Counter(f"{a}{b}" for a, b in shots), {"00": 0.5, "11": 0.5})
    seen = ws.get_job(status["id"])  # the kubectl job is the SDK's too
    assert seen.details.target == QVM and len(RigettiResult(seen)["ro"]) == 300

    # Emulation asked for: the QPU id runs on the local simulator.
    q.patch(api_client, namespace, "providers", "rigetti",
            {"spec": {"targets": [{"id": CEPHEUS, "backend": "local"}]}})
    wait_for(lambda: any(t["id"] == CEPHEUS and t.get("availability") == "Available"
                         for t in ((q.get(api_client, namespace, "providers", "rigetti") or {}).get("status") or {})
                         .get("targets") or []), timeout=60, what="cepheus emulated")
    wait_for(lambda: ws.get_targets(name=CEPHEUS).current_availability == "Available", timeout=30,
             what="the gateway lists cepheus Available")
    emulated = ws.get_targets(name=CEPHEUS).submit(BELL_QUIL, name="cepheus-emulated", shots=100)
    emulated.wait_until_completed(timeout_secs=240)
    assert emulated.details.status == "Succeeded", emulated.details.error_data
    assert {tuple(s) for s in RigettiResult(emulated)["ro"]} <= {(0, 0), (1, 1)}


def pulser_document(atoms: list[tuple[float, float]], duration: int) -> dict[str, Any]:
    """A global Rydberg pulse of Ω = 2π rad/µs on atoms at the given coordinates (µm), on pulser's MockDevice, as
    the Pasqal target class sends it: {"sequence_builder": <abstract representation>}."""
    from pulser import Pulse, Register, Sequence
    from pulser.devices import MockDevice

    seq = Sequence(Register.from_coordinates(atoms, prefix="q"), MockDevice)
    seq.declare_channel("ryd", "rydberg_global")
    seq.add(Pulse.ConstantPulse(duration, OMEGA, 0, 0), "ryd")
    return {"sequence_builder": json.loads(seq.to_abstract_repr())}


@pytest.mark.providers("pasqal")
def test_pasqal_pulser_sequence_through_the_sdk_and_kubectl(gateway: Gateway, api_client: client.ApiClient,
                                                            namespace: str, azurite_connection_string: str) -> None:
    pytest.importorskip("pulser", reason="pulser-core (the dev extra) builds the sequences")
    ws = workspace(gateway, namespace)
    target = ws.get_targets(name=EMU_SV)
    assert isinstance(target, Pasqal)
    # Two atoms 60 µm apart barely interact: each is excited with sin²(Ωt/2), independently (t = 160 ns).
    document = pulser_document([(0.0, 0.0), (60.0, 0.0)], 160)
    p1 = math.sin(OMEGA * 0.16 / 2) ** 2
    probs = {f"{a}{b}": (p1 if a else 1 - p1) * (p1 if b else 1 - p1) for a in (0, 1) for b in (0, 1)}

    job = target.submit(json.dumps(document), name="two-atoms", input_params=PasqalParams(runs=1000))
    kubectl_job(api_client, namespace, "two-atoms-kubectl", "pasqal", EMU_SV, document, "pasqal.pulser.v1",
                {"shots": 800, "seed": 5})
    # 21 atoms: more than the emulator holds.
    too_big = target.submit(json.dumps(pulser_document([(7.0 * i, 0.0) for i in range(21)], 100)), name="too-big",
                            shots=10)

    job.wait_until_completed(timeout_secs=300)
    assert job.details.status == "Succeeded", job.details.error_data
    counter = PasqalResult(job).data
    assert sum(counter.values()) == 1000
    chi2_ok(counter, probs)

    status = q.wait_state(api_client, namespace, "two-atoms-kubectl", q.FINAL, timeout=300)
    assert status["state"] == "Succeeded", status
    counter = output(azurite_connection_string, status)["counter"]
    assert sum(counter.values()) == 800
    chi2_ok(counter, probs)

    too_big.wait_until_completed(timeout_secs=300)
    assert too_big.details.status == "Failed" and too_big.details.error_data.code == "InvalidInputData"
    assert "the register has 21 atoms" in too_big.details.error_data.message


def _numbers(result: Any) -> Any:
    """Everything but the texts meant for people (report, formatted counts)."""
    data = dict(result)
    for key in ("reportData", "physicalCountsFormatted"):
        data.pop(key, None)
    return json.loads(json.dumps(data))


def test_resource_estimates_through_the_sdk_and_kubectl_equal_qsharp_estimate(
        gateway: Gateway, api_client: client.ApiClient, namespace: str, azurite_connection_string: str) -> None:
    """azure-quantum 3.13 has no estimator target class (the QDK estimates locally): its generic Target, as
    get_targets() returns it for microsoft-qc, submits the Q# program's QIR."""
    from qdk import qsharp

    qsharp.init(target_profile=qsharp.TargetProfile.Base)
    qsharp.eval(ESTIMATED)
    program = qsharp.compile("Main()")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        expected = _numbers(qsharp.estimate("Main()", ESTIMATOR_PARAMS).data())

    ws = workspace(gateway, namespace)
    target = ws.get_targets(name=ESTIMATOR)
    assert isinstance(target, Target) and target.provider_id == "microsoft-qc"
    job = target.submit(program, name="estimate", input_params=dict(ESTIMATOR_PARAMS),
                        output_data_format="microsoft.resource-estimates.v1")
    bad = target.submit(program, name="bad-budget", input_params={"errorBudget": 1.5},
                        output_data_format="microsoft.resource-estimates.v1")
    kubectl_job(api_client, namespace, "estimate-kubectl", "microsoft-qc", ESTIMATOR, str(program), "qir.v1",
                ESTIMATOR_PARAMS)
    kubectl_job(api_client, namespace, "unknown-qubit", "microsoft-qc", ESTIMATOR, str(program), "qir.v1",
                {"qubitParams": {"name": "qubit_gate_ns_e9"}})

    job.wait_until_completed(timeout_secs=300)
    assert job.details.status == "Succeeded", job.details.error_data
    assert job.details.input_data_format == "qir.v1"
    assert _numbers(job.get_results()) == expected

    status = q.wait_state(api_client, namespace, "estimate-kubectl", q.FINAL, timeout=300)
    assert status["state"] == "Succeeded", status
    assert _numbers(output(azurite_connection_string, status)) == expected

    for failed in (bad, ws.get_job(q.wait_state(api_client, namespace, "unknown-qubit", q.FINAL)["id"])):
        failed.wait_until_completed(timeout_secs=120)
        assert failed.details.status == "Failed" and failed.details.error_data.code == "InvalidInputData"
    assert "errorBudget" in bad.details.error_data.message
    unknown = q.job_status(api_client, namespace, "unknown-qubit")["errorData"]
    assert "qubitParams" in unknown["message"] and "qubit_gate_ns_e9" in unknown["message"]
