"""Generates the CRDs from the pydantic models into their one place: `crds/` at the top of the repository.

Run `make crds` (python -m kuantum.crdgen). A unit test fails when the committed files drift.
The kuantum-crds chart's `templates` is a link to `crds/` (Helm follows it when it loads and packages the
chart), and the files are plain YAML (no template directives), so `kubectl apply --server-side -f crds/`
installs exactly what `helm install kuantum-crds helm/kuantum-crds` does. They carry
`helm.sh/resource-policy: keep`: `helm uninstall` never deletes a CRD (which would delete every QuantumJob
with it), while `helm upgrade` does update the schemas.
"""

from __future__ import annotations

import copy
import sys
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel

from .models import (
    API_GROUP,
    API_VERSION,
    ProviderSpec,
    ProviderStatus,
    QuantumJobSpec,
    QuantumJobStatus,
    QuantumSessionSpec,
    QuantumSessionStatus,
    QuantumWorkspaceSpec,
    QuantumWorkspaceStatus,
)

REPO = Path(__file__).resolve().parents[2]
OUTPUT_DIR = REPO / "crds"
_DROP = {"title", "$defs"}


def _ready_column() -> dict[str, str]:
    return {"name": "Ready", "type": "string", "jsonPath": '.status.conditions[?(@.type=="Ready")].status'}


def _age() -> dict[str, str]:
    return {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"}


KINDS: list[dict[str, Any]] = [
    {
        "kind": "QuantumWorkspace", "plural": "quantumworkspaces", "short": ["qws"],
        "spec": QuantumWorkspaceSpec, "status": QuantumWorkspaceStatus,
        "description": "An Azure Quantum-style workspace: blob storage for job data and the providers added to it.",
        "columns": [_ready_column(),
                    {"name": "Storage", "type": "string", "jsonPath": ".status.storageAccount"}, _age()],
    },
    {
        "kind": "Provider", "plural": "providers", "short": ["qprovider"],
        "spec": ProviderSpec, "status": ProviderStatus,
        "description": "A provider added to a workspace, with its billing plan; status lists its targets.",
        "columns": [
            {"name": "Workspace", "type": "string", "jsonPath": ".spec.workspace"},
            {"name": "ProviderId", "type": "string", "jsonPath": ".status.providerId"},
            {"name": "Plan", "type": "string", "jsonPath": ".spec.billingPlan.name"},
            _ready_column(), _age(),
        ],
    },
    {
        "kind": "QuantumJob", "plural": "quantumjobs", "short": ["qjob"],
        "spec": QuantumJobSpec, "status": QuantumJobStatus,
        "description": "A quantum or optimization job, run on a provider's target (Azure Quantum's job model).",
        "columns": [
            {"name": "State", "type": "string", "jsonPath": ".status.state"},
            {"name": "Provider", "type": "string", "jsonPath": ".spec.provider"},
            {"name": "Target", "type": "string", "jsonPath": ".spec.target"},
            _age(),
            {"name": "Duration", "type": "string", "jsonPath": ".status.duration"},
            # Wide output (-o wide) only: the default columns are the design's five.
            {"name": "Queue", "type": "integer", "jsonPath": ".status.queuePosition", "priority": 1},
            {"name": "Error", "type": "string", "jsonPath": ".status.errorData.code", "priority": 1},
            {"name": "Id", "type": "string", "jsonPath": ".status.id", "priority": 1},
        ],
    },
    {
        "kind": "QuantumSession", "plural": "quantumsessions", "short": ["qsession"],
        "spec": QuantumSessionSpec, "status": QuantumSessionStatus,
        "description": "A session: jobs on one target grouped under a failure policy (Azure Quantum's sessions).",
        "columns": [
            {"name": "State", "type": "string", "jsonPath": ".status.state"},
            {"name": "Target", "type": "string", "jsonPath": ".spec.target"},
            {"name": "Policy", "type": "string", "jsonPath": ".spec.jobFailurePolicy"},
            {"name": "Closed", "type": "boolean", "jsonPath": ".spec.close"},
            _age(),
            {"name": "Provider", "type": "string", "jsonPath": ".spec.provider", "priority": 1},
            {"name": "Id", "type": "string", "jsonPath": ".status.id", "priority": 1},
        ],
    },
]


def _resolve(node: Any, defs: dict[str, Any]) -> Any:
    """Inlines $refs and rewrites pydantic's JSON Schema into a Kubernetes structural schema."""
    if isinstance(node, list):
        return [_resolve(item, defs) for item in node]
    if not isinstance(node, dict):
        return node
    if "$ref" in node:
        target = copy.deepcopy(defs[node["$ref"].rsplit("/", 1)[-1]])
        extra = {k: v for k, v in node.items() if k != "$ref"}
        return _resolve({**target, **extra}, defs)
    if "anyOf" in node:  # Optional[X] -> X (absent means null); other unions are not used
        options = [o for o in node["anyOf"] if o.get("type") != "null"]
        if len(options) == 1:
            merged = {**{k: v for k, v in node.items() if k != "anyOf"}, **options[0]}
            if merged.get("default", 0) is None:
                merged.pop("default")
            return _resolve(merged, defs)
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key in _DROP:
            continue
        if key == "additionalProperties" and value is True:  # not allowed in structural schemas
            continue
        if key == "const":  # Literal with one value
            out["enum"] = [value]
            continue
        if key == "properties":
            out[key] = {name: _resolve(prop, defs) for name, prop in value.items()}
        else:
            out[key] = _resolve(value, defs)
    if out.get("default", 0) in (None, ""):  # 1.20 apiservers reject empty-string defaults
        out.pop("default")
    if out.get("x-kubernetes-preserve-unknown-fields"):
        out.pop("default", None)
        if out.get("type") != "object":
            out.pop("type", None)
    elif "type" not in out and "properties" not in out and "enum" in out:
        out["type"] = "string"
    return out


def structural_schema(model: type[BaseModel]) -> dict[str, Any]:
    schema = model.model_json_schema(by_alias=True, mode="validation")
    return dict(_resolve(schema, schema.get("$defs", {})))


def crd(entry: dict[str, Any]) -> dict[str, Any]:
    spec_schema = structural_schema(entry["spec"])
    status_schema = structural_schema(entry["status"])
    status_schema.pop("required", None)
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {
            "name": f"{entry['plural']}.{API_GROUP}",
            # helm uninstall never deletes a CRD: that would delete every object of the kind.
            "annotations": {"helm.sh/resource-policy": "keep"},
        },
        "spec": {
            "group": API_GROUP,
            "scope": "Namespaced",
            "names": {
                "kind": entry["kind"], "listKind": f"{entry['kind']}List", "plural": entry["plural"],
                "singular": entry["kind"].lower(), "shortNames": entry["short"], "categories": ["quantum"],
            },
            "versions": [{
                "name": API_VERSION, "served": True, "storage": True,
                "subresources": {"status": {}},
                "additionalPrinterColumns": entry["columns"],
                "schema": {"openAPIV3Schema": {
                    "type": "object",
                    "description": entry["description"],
                    "required": ["spec"],
                    "properties": {
                        "apiVersion": {"type": "string"},
                        "kind": {"type": "string"},
                        "metadata": {"type": "object"},
                        "spec": spec_schema,
                        "status": status_schema,
                    },
                }},
            }],
        },
    }


def render(entry: dict[str, Any]) -> str:
    header = "# Generated by `make crds` from the pydantic models in operator/kuantum/models. Do not edit.\n"
    return header + yaml.safe_dump(crd(entry), sort_keys=False, width=120)


def all_crds() -> dict[str, str]:
    return {f"{API_GROUP}_{entry['plural']}.yaml": render(entry) for entry in KINDS}


def main() -> int:
    OUTPUT_DIR.mkdir(parents=True, exist_ok=True)
    generated = all_crds()
    for stale in sorted(OUTPUT_DIR.glob(f"{API_GROUP}_*.yaml")):
        if stale.name not in generated:
            stale.unlink()
            print(f"removed {stale.relative_to(REPO)}")
    for name, text in generated.items():
        (OUTPUT_DIR / name).write_text(text)
        print(f"wrote {(OUTPUT_DIR / name).relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
