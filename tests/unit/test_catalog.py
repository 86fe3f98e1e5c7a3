"""Built-in providers, Azure aliases and targets."""

from __future__ import annotations

import pytest
from kuantum.catalog import (
    ALIASES,
    IONQ,
    KUANTUM,
    MICROSOFT_QC,
    PASQAL,
    PROVIDERS,
    QIO,
    QUANTINUUM,
    RIGETTI,
    canonical_provider_id,
    target_by_id,
    targets_of,
)
from kuantum_solvers.formats import targets as local_targets


@pytest.mark.parametrize(("given", "expected"), [
    ("Microsoft", QIO), ("microsoft", QIO), ("MICROSOFT", QIO), ("microsoft-qio", QIO), ("Microsoft.QIO", QIO),
    (" microsoft-qio ", QIO), ("kuantum", KUANTUM), ("Kuantum", KUANTUM), ("ionq", IONQ), ("IonQ", IONQ),
    ("quantinuum", QUANTINUUM), ("Quantinuum", QUANTINUUM), ("honeywell", QUANTINUUM), ("Honeywell", QUANTINUUM),
    # Azure's ids, as the SDK's Rigetti and Pasqal classes and the estimator's provider send them
    ("rigetti", RIGETTI), ("Rigetti", RIGETTI), ("RIGETTI", RIGETTI), ("pasqal", PASQAL), ("Pasqal", PASQAL),
    ("microsoft-qc", MICROSOFT_QC), ("Microsoft-QC", MICROSOFT_QC), ("microsoft.qc", MICROSOFT_QC),
])
def test_aliases_are_case_insensitive(given: str, expected: str) -> None:
    assert canonical_provider_id(given) == expected


@pytest.mark.parametrize("unknown", ["", "rigetti-x", "microsoft-qio-x", "qio", "qc", "microsoft-qcx"])
def test_unknown_providers(unknown: str) -> None:
    assert canonical_provider_id(unknown) is None
    assert targets_of(unknown) == {}


def test_aliases_point_at_known_providers() -> None:
    assert set(ALIASES.values()) == set(PROVIDERS) == {QIO, KUANTUM, IONQ, QUANTINUUM, RIGETTI, PASQAL, MICROSOFT_QC}
    for alias in ALIASES:
        assert alias == alias.lower()


def test_every_target_of_the_solvers_catalog_is_listed_and_runs_as_itself() -> None:
    for target_id, spec in local_targets.TARGETS.items():
        target = targets_of(spec["provider"])[target_id]
        assert target.in_solver_catalog and target.emulator == target_id
        # QPU ids are emulations: no backend of their own, so they run only where a Provider says backend: local
        assert target.local is not spec.get("emulated", False)
        assert target.backend == (None if spec.get("emulated") else "pod")
        assert target.provider == spec["provider"]
        assert target.kind == spec["kind"]
        assert target.qubits == spec.get("qubits")
        assert list(target.input_formats) == list(spec["input_formats"])
        assert target.params == spec["params"]
        for fmt in target.input_formats:
            assert target.output_format_for(fmt) == local_targets.default_output_format(target_id, fmt)
            assert list(target.accepted_outputs(fmt)) == local_targets.output_formats(target_id, fmt)


def test_rigetti_targets() -> None:
    rigetti = targets_of(RIGETTI)
    assert set(rigetti) == {"rigetti.sim.qvm", "rigetti.qpu.cepheus-1-108q"}
    qvm, cepheus = rigetti["rigetti.sim.qvm"], rigetti["rigetti.qpu.cepheus-1-108q"]
    assert (qvm.kind, qvm.hardware, qvm.backend, qvm.qubits) == ("simulator", "CPU", "pod", 20)
    assert (cepheus.kind, cepheus.hardware, cepheus.backend, cepheus.qubits) == ("qpu", "QPU", None, 108)
    for target in (qvm, cepheus):
        assert target.input_formats == ("rigetti.quil.v1", "rigetti.qir.v1", "qir.v1")
        assert target.output_format_for("rigetti.quil.v1") == "rigetti.quil-results.v1"
        assert target.accepted_outputs("qir.v1") == ("microsoft.quantum-results.v2", "microsoft.quantum-results.v1")
        assert {"shots", "skipQuilc", "substitutions"} <= set(target.params)
        assert target.default_memory == "1Gi" and target.cancel_while_executing


def test_pasqal_targets_get_more_memory_than_the_simulators() -> None:
    pasqal = targets_of(PASQAL)
    assert set(pasqal) == {"pasqal.sim.emu-sv", "pasqal.qpu.fresnel"}
    assert pasqal["pasqal.sim.emu-sv"].backend == "pod" and pasqal["pasqal.qpu.fresnel"].backend is None
    for target in pasqal.values():
        assert target.input_formats == ("pasqal.pulser.v1",)
        assert target.output_format_for("pasqal.pulser.v1") == "pasqal.pulser-results.v1"
        assert target.qubits == 20
        assert _bytes(target.default_memory) > _bytes(targets_of(KUANTUM)["kuantum.simulator"].default_memory)


def test_the_resource_estimator() -> None:
    assert set(targets_of(MICROSOFT_QC)) == {"microsoft.estimator"}
    estimator = targets_of(MICROSOFT_QC)["microsoft.estimator"]
    assert (estimator.kind, estimator.backend, estimator.local) == ("estimator", "pod", True)
    assert estimator.input_formats == ("qir.v1",)
    assert estimator.accepted_outputs("qir.v1") == ("microsoft.resource-estimates.v1",)
    assert {"errorBudget", "qubitParams", "qecScheme", "constraints", "distillationUnitSpecifications", "profiling",
            "items"} <= set(estimator.params)


def test_target_by_id() -> None:
    assert target_by_id("microsoft.estimator") is targets_of(MICROSOFT_QC)["microsoft.estimator"]
    assert target_by_id("ionq.simulator") is targets_of(IONQ)["ionq.simulator"]
    assert target_by_id("rigetti.sim.nosuch") is None


def _bytes(quantity: str) -> int:
    units = {"Mi": 2**20, "Gi": 2**30}
    return int(quantity[:-2]) * units[quantity[-2:]]


def test_qio_targets() -> None:
    qio = targets_of(QIO)
    assert "microsoft.simulatedannealing.cpu" in qio
    for target in qio.values():
        assert target.kind == "solver"
        assert target.hardware == "CPU"
        assert target.input_formats == ("microsoft.qio.v2",)
        assert target.default_input_format == "microsoft.qio.v2"
        assert target.output_format_for("microsoft.qio.v2") == "microsoft.qio-results.v2"
        assert target.cancel_while_executing is True


def test_simulator_output_format_depends_on_input() -> None:
    sim = targets_of(KUANTUM)["kuantum.simulator"]
    assert sim.kind == "simulator"
    assert sim.default_input_format == "ionq.circuit.v1"
    assert sim.output_format_for("ionq.circuit.v1") == "ionq.quantum-results.v1"
    assert sim.output_format_for("honeywell.openqasm.v1") == "honeywell.quantum-results.v1"
    assert sim.output_format_for("quantinuum.openqasm.v1") == "honeywell.quantum-results.v1"
    assert sim.default_memory == "1Gi"


def test_remote_targets() -> None:
    ionq = targets_of(IONQ)
    assert set(ionq) == {"ionq.simulator", "ionq.qpu.aria-1", "ionq.qpu.forte-1"}
    quantinuum = targets_of(QUANTINUUM)
    assert set(quantinuum) == {"quantinuum.sim.h2-1sc", "quantinuum.sim.h2-1e", "quantinuum.qpu.h2-1"}
    for target in [*ionq.values(), *quantinuum.values()]:
        assert target.local is False
        assert target.params == {}
        assert target.kind in ("simulator", "qpu")
        assert target.hardware == ("QPU" if target.kind == "qpu" else "CPU")
        # a running QPU job runs to the end; simulators can be cancelled
        assert target.cancel_while_executing == (target.kind == "simulator")
    qasm = ("honeywell.openqasm.v1", "quantinuum.openqasm.v1")
    qir_out = ("microsoft.quantum-results.v2", "microsoft.quantum-results.v1")
    for target in ionq.values():
        # the provider's own format first (the default); OpenQASM 2 and QIR are translated to it
        assert target.input_formats == ("ionq.circuit.v1", *qasm, "qir.v1")
        assert target.backend == "ionq"
        assert {target.output_format_for(f) for f in target.input_formats[:3]} == {"ionq.quantum-results.v1"}
    for target in quantinuum.values():
        assert target.input_formats == (*qasm, "ionq.circuit.v1", "qir.v1")
        assert target.backend == "quantinuum"
        assert {target.output_format_for(f) for f in target.input_formats[:3]} == {"honeywell.quantum-results.v1"}
    for target in [*ionq.values(), *quantinuum.values()]:
        # Q# programs get Azure's QIR results back, v2 unless v1 is asked for
        assert target.accepted_outputs("qir.v1") == qir_out
    assert {t.backend for p in (QIO, KUANTUM, MICROSOFT_QC) for t in targets_of(p).values()} == {"pod"}
    for target in [*ionq.values(), *quantinuum.values()]:
        assert not target.in_solver_catalog and target.emulator == "kuantum.simulator"


def test_target_ids_are_unique_across_providers_and_match_their_provider() -> None:
    seen: dict[str, str] = {}
    for provider, targets in PROVIDERS.items():
        for target_id, target in targets.items():
            assert target.id == target_id
            assert target.provider == provider
            assert target_id not in seen
            seen[target_id] = provider
            assert target.kind in ("solver", "simulator", "qpu", "estimator")
            assert target.hardware in ("CPU", "GPU", "FPGA", "QPU")
            assert set(target.output_formats) == set(target.input_formats)
