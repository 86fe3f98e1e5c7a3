"""examples/gitops: the kustomization lists its files, and every object is valid for the operator's models."""

from __future__ import annotations

from pathlib import Path

import yaml
from kuantum.models import ProviderSpec, QuantumJobSpec, QuantumWorkspaceSpec

FOLDER = Path(__file__).resolve().parents[3] / "examples" / "gitops"
SPECS = {"QuantumJob": QuantumJobSpec, "Provider": ProviderSpec, "QuantumWorkspace": QuantumWorkspaceSpec}


def test_kustomization_lists_every_manifest() -> None:
    kustomization = yaml.safe_load((FOLDER / "kustomization.yaml").read_text())
    listed = set(kustomization["resources"])
    assert listed == {p.name for p in FOLDER.glob("*.yaml")} - {"kustomization.yaml"}
    assert kustomization["namespace"] == "quantum-gitops"


def test_objects_are_valid_and_never_deleted_by_the_operator() -> None:
    kinds = []
    for path in sorted(FOLDER.glob("*.yaml")):
        if path.name == "kustomization.yaml":
            continue
        obj = yaml.safe_load(path.read_text())
        kinds.append(obj["kind"])
        if obj["kind"] in SPECS:
            assert obj["apiVersion"] == "kuantum.dev/v1alpha1"
            SPECS[obj["kind"]].model_validate(obj["spec"])
            assert "namespace" not in obj["metadata"], f"{path.name}: the kustomization sets the namespace"
        if obj["kind"] == "QuantumJob":
            # The operator would delete the job after the TTL and Git would create it again: a second run.
            assert "ttlSecondsAfterFinished" not in obj["spec"], path.name
    assert kinds.count("QuantumJob") >= 3 and "QuantumWorkspace" in kinds and "Provider" in kinds
