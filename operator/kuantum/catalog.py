"""Built-in providers, their Azure aliases and their targets.

Targets that run in solver pods come from the solver image's own catalog (kuantum_solvers.formats.targets), so
the operator validates exactly what the solver accepts: Microsoft's QIO solvers, Kuantum's simulator, Rigetti's
and Pasqal's simulators, the resource estimator, and Rigetti's and Pasqal's QPU ids, which run only emulated (a
Provider's `backend: local`: Kuantum reaches neither provider's hardware). IonQ and Quantinuum targets are
described here; their adapters talk to the provider's HTTP API (execution/providers/).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from kuantum_solvers.formats import targets as local_targets

QIR_INPUT, QIR_OUTPUT, QIR_OUTPUT_V1 = "qir.v1", "microsoft.quantum-results.v2", "microsoft.quantum-results.v1"
QIO = "microsoft-qio"
KUANTUM = "kuantum"
IONQ = "ionq"
QUANTINUUM = "quantinuum"
RIGETTI = "rigetti"
PASQAL = "pasqal"
MICROSOFT_QC = "microsoft-qc"  # Microsoft Quantum Computing: the resource estimator

# Azure's provider ids (and legacy names) for our canonical ones; matched case-insensitively.
ALIASES = {"microsoft": QIO, "microsoft-qio": QIO, "microsoft.qio": QIO, "kuantum": KUANTUM,
           "ionq": IONQ, "quantinuum": QUANTINUUM, "honeywell": QUANTINUUM, "rigetti": RIGETTI, "pasqal": PASQAL,
           "microsoft-qc": MICROSOFT_QC, "microsoft.qc": MICROSOFT_QC}

# What a solver pod needs, by kind: a statevector of up to 20 qubits (16 MiB) and the Python around it fit in
# 1Gi. Pasqal's emulation (qutip) holds a sparse Hamiltonian of 2^atoms states per atom and channel: 0.3 GB at
# 16 atoms, 1.6 GB at 20 (the solver's own estimate, checked before it allocates), so its targets get 3Gi.
SIMULATOR_MEMORY = "1Gi"
PASQAL_MEMORY = "3Gi"
@dataclass(frozen=True)
class Target:
    id: str
    provider: str
    kind: str  # solver | simulator | qpu | estimator
    input_formats: tuple[str, ...]
    output_formats: dict[str, str]  # input format -> its default output format
    hardware: str  # CPU | GPU | FPGA | QPU
    cancel_while_executing: bool
    local: bool  # runs in a solver pod by default (True), or on the provider's side (False)
    # The execution backend that runs it by default (operator/kuantum/execution/): "pod", a provider adapter's
    # name, or None where Kuantum reaches no such hardware: such a target runs only emulated (backend: local).
    backend: str | None = "pod"
    # The solver image's target that runs it in a pod: itself where the solver's catalog has it, else the
    # statevector simulator (IonQ's and Quantinuum's targets in emulation).
    emulator: str = "kuantum.simulator"
    default_cpu: str = "500m"
    default_memory: str = "512Mi"
    qubits: int | None = None  # the most qubits (atoms) it runs, where the catalog says
    params: dict[str, Any] = field(default_factory=dict)
    other_outputs: dict[str, tuple[str, ...]] = field(default_factory=dict)  # input -> outputs asked for by name

    @property
    def in_solver_catalog(self) -> bool:
        """The solver image knows this target by its id (its parameters are checked against the formats)."""
        return self.emulator == self.id

    @property
    def default_input_format(self) -> str:
        return self.input_formats[0]

    def output_format_for(self, input_format: str) -> str:
        return self.output_formats[input_format]

    def accepted_outputs(self, input_format: str) -> tuple[str, ...]:
        """Every output format the target writes for input_format, the default first."""
        return (self.output_formats[input_format], *self.other_outputs.get(input_format, ()))


def _local(target_id: str, spec: dict[str, Any]) -> Target:
    """A target of the solver's catalog. Its QPU ids are emulations: nothing runs them unless a Provider says
    `backend: local` (Kuantum has no adapter for Rigetti's or Pasqal's hardware)."""
    formats = list(spec["input_formats"])
    outputs = {f: local_targets.default_output_format(target_id, f) for f in formats}
    others = {f: tuple(local_targets.output_formats(target_id, f)[1:]) for f in formats}
    kind = str(spec["kind"])
    emulation_only = bool(spec.get("emulated"))
    memory = PASQAL_MEMORY if spec["provider"] == PASQAL else \
        SIMULATOR_MEMORY if kind in ("simulator", "qpu", "estimator") else "512Mi"
    return Target(
        id=target_id, provider=spec["provider"], kind=kind, input_formats=tuple(formats),
        output_formats=outputs, other_outputs={f: o for f, o in others.items() if o},
        hardware="QPU" if kind == "qpu" else str(spec["hardware"]).upper(),
        cancel_while_executing=bool(spec["cancellable_while_executing"]), local=not emulation_only,
        backend=None if emulation_only else "pod", emulator=target_id, default_memory=memory,
        qubits=spec.get("qubits"), params=dict(spec["params"]),
    )


def _remote(target_id: str, provider: str, kind: str, input_formats: tuple[str, ...], output_format: str,
            cancel_while_executing: bool) -> Target:
    """A target behind the provider's HTTP API; inputs other than the first are translated (execution/providers/)."""
    # Q# programs (QIR) get Azure's QIR results back, whatever the provider's own format.
    outputs = {f: QIR_OUTPUT if f == QIR_INPUT else output_format for f in (*input_formats, QIR_INPUT)}
    return Target(id=target_id, provider=provider, kind=kind, input_formats=(*input_formats, QIR_INPUT),
                  output_formats=outputs, other_outputs={QIR_INPUT: (QIR_OUTPUT_V1,)},
                  hardware="QPU" if kind == "qpu" else "CPU", cancel_while_executing=cancel_while_executing,
                  local=False, backend=provider)


def _build() -> dict[str, dict[str, Target]]:
    providers: dict[str, dict[str, Target]] = {p: {} for p in (QIO, KUANTUM, IONQ, QUANTINUUM, RIGETTI, PASQAL,
                                                                 MICROSOFT_QC)}
    for target_id, spec in local_targets.TARGETS.items():
        providers[spec["provider"]][target_id] = _local(target_id, spec)
    ionq_in, ionq_out = "ionq.circuit.v1", "ionq.quantum-results.v1"
    qasm_in = ("honeywell.openqasm.v1", "quantinuum.openqasm.v1")
    for target_id, kind in (("ionq.simulator", "simulator"), ("ionq.qpu.aria-1", "qpu"), ("ionq.qpu.forte-1", "qpu")):
        # IonQ cancels jobs that have not started; a running QPU job finishes.
        providers[IONQ][target_id] = _remote(target_id, IONQ, kind, (ionq_in, *qasm_in), ionq_out,
                                             kind == "simulator")
    shots = "honeywell.quantum-results.v1"
    for target_id, kind in (("quantinuum.sim.h2-1sc", "simulator"), ("quantinuum.sim.h2-1e", "simulator"),
                            ("quantinuum.qpu.h2-1", "qpu")):
        providers[QUANTINUUM][target_id] = _remote(target_id, QUANTINUUM, kind, (*qasm_in, ionq_in), shots,
                                                   kind == "simulator")
    return providers


PROVIDERS: dict[str, dict[str, Target]] = _build()


def canonical_provider_id(provider_id: str) -> str | None:
    """Our id for an Azure or Kuantum provider id, or None when no such provider exists."""
    return ALIASES.get(provider_id.strip().lower())


def targets_of(provider_id: str) -> dict[str, Target]:
    return PROVIDERS.get(provider_id, {})


def target_by_id(target_id: str) -> Target | None:
    """A target of any provider (target ids are unique across providers)."""
    for targets in PROVIDERS.values():
        if target_id in targets:
            return targets[target_id]
    return None
