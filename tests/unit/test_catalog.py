"""Built-in providers, Azure aliases and targets."""

from __future__ import annotations

import pytest
from kuantum.catalog import ALIASES, IONQ, KUANTUM, PROVIDERS, QIO, QUANTINUUM, canonical_provider_id, targets_of
from kuantum_solvers.formats import targets as local_targets


@pytest.mark.parametrize(("given", "expected"), [
    ("Microsoft", QIO), ("microsoft", QIO), ("MICROSOFT", QIO), ("microsoft-qio", QIO), ("Microsoft.QIO", QIO),
    (" microsoft-qio ", QIO), ("kuantum", KUANTUM), ("Kuantum", KUANTUM), ("ionq", IONQ), ("IonQ", IONQ),
    ("quantinuum", QUANTINUUM), ("Quantinuum", QUANTINUUM), ("honeywell", QUANTINUUM), ("Honeywell", QUANTINUUM),
])
def test_aliases_are_case_insensitive(given: str, expected: str) -> None:
    assert canonical_provider_id(given) == expected


@pytest.mark.parametrize("unknown", ["", "rigetti", "microsoft-qio-x", "qio"])
def test_unknown_providers(unknown: str) -> None:
    assert canonical_provider_id(unknown) is None
    assert targets_of(unknown) == {}


def test_aliases_point_at_known_providers() -> None:
    assert set(ALIASES.values()) == set(PROVIDERS) == {QIO, KUANTUM, IONQ, QUANTINUUM}
    for alias in ALIASES:
        assert alias == alias.lower()


def test_every_local_solver_target_is_listed_as_local() -> None:
    for target_id, spec in local_targets.TARGETS.items():
        target = targets_of(spec["provider"])[target_id]
        assert target.local is True
        assert target.provider == spec["provider"]
        assert list(target.input_formats) == list(spec["input_formats"])
        assert target.params == spec["params"]
        for fmt in target.input_formats:
            assert target.output_format_for(fmt) == local_targets.default_output_format(target_id, fmt)


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
    assert {t.backend for p in (QIO, KUANTUM) for t in targets_of(p).values()} == {"pod"}


def test_target_ids_are_unique_across_providers_and_match_their_provider() -> None:
    seen: dict[str, str] = {}
    for provider, targets in PROVIDERS.items():
        for target_id, target in targets.items():
            assert target.id == target_id
            assert target.provider == provider
            assert target_id not in seen
            seen[target_id] = provider
            assert target.kind in ("solver", "simulator", "qpu")
            assert target.hardware in ("CPU", "GPU", "FPGA", "QPU")
            assert set(target.output_formats) == set(target.input_formats)
