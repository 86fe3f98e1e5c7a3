"""The committed CRDs are exactly what crdgen generates, in their one place (crds/, which the kuantum-crds chart's
templates link to), and they are valid structural schemas."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from kuantum import crdgen

REPO = Path(__file__).resolve().parents[2]
GENERATED = crdgen.all_crds()
CRD_DIR = REPO / "crds"
CHART_TEMPLATES = REPO / "helm" / "kuantum-crds" / "templates"
TYPES = {"object", "array", "string", "integer", "number", "boolean"}


def _crds() -> dict[str, dict[str, Any]]:
    return {yaml.safe_load(text)["spec"]["names"]["kind"]: yaml.safe_load(text) for text in GENERATED.values()}


def _schema(crd: dict[str, Any]) -> dict[str, Any]:
    (version,) = crd["spec"]["versions"]
    schema: dict[str, Any] = version["schema"]["openAPIV3Schema"]
    return schema


def test_crdgen_writes_to_the_one_committed_folder() -> None:
    assert crdgen.OUTPUT_DIR.resolve() == CRD_DIR.resolve()


def test_committed_crds_are_in_sync_with_the_models() -> None:
    assert CRD_DIR.is_dir(), f"{CRD_DIR} is missing; run `make crds`"
    committed = {p.name for p in CRD_DIR.glob("*.yaml")}
    assert committed == set(GENERATED), (
        f"{CRD_DIR.relative_to(REPO)} holds {sorted(committed)} but crdgen generates {sorted(GENERATED)}; "
        "run `make crds`")
    for name, text in GENERATED.items():
        assert (CRD_DIR / name).read_text() == text, (
            f"{CRD_DIR.relative_to(REPO) / name} differs from the pydantic models; run `make crds`")


def test_the_crds_chart_uses_the_same_files() -> None:
    """The chart's templates/ is a link to crds/ (Helm follows it when it loads and packages the chart), committed
    as a link: no second copy."""
    assert CHART_TEMPLATES.is_symlink(), f"{CHART_TEMPLATES.relative_to(REPO)} must be a link to crds/"
    assert os.readlink(CHART_TEMPLATES) == "../../crds"
    assert sorted(p.name for p in CHART_TEMPLATES.iterdir()) == sorted(GENERATED)
    listed = subprocess.run(["git", "-C", str(REPO), "ls-files", "--stage", "--", "helm/kuantum-crds/templates"],
                            capture_output=True, text=True, timeout=60)
    if listed.returncode != 0:
        pytest.skip("not a git checkout")
    assert listed.stdout.split()[0] == "120000", "git must hold helm/kuantum-crds/templates as a symbolic link"


def test_no_second_copy_of_the_crds() -> None:
    """One place only: no kuantum.dev CRD anywhere under helm/ but through the link to crds/."""
    for path in (REPO / "helm").rglob("*.yaml"):
        if path.parent.resolve() == CRD_DIR.resolve():
            continue
        for doc in yaml.safe_load_all(path.read_text()) if "{{" not in path.read_text() else []:
            if isinstance(doc, dict) and doc.get("kind") == "CustomResourceDefinition":
                assert not doc["metadata"]["name"].endswith(".kuantum.dev"), f"{path} holds a copy of a CRD"


def test_crds_are_kept_by_helm_and_safe_as_templates() -> None:
    for name, text in GENERATED.items():
        crd = yaml.safe_load(text)
        assert crd["metadata"]["annotations"] == {"helm.sh/resource-policy": "keep"}, name
        # The files are Helm templates too: a "{{" (an action) in a description would break the chart.
        assert "{{" not in text, name


@pytest.mark.parametrize("hash_seed", ["1", "2"])
def test_generation_is_deterministic(hash_seed: str) -> None:
    # Another interpreter with another hash seed (set and dict-of-set orders differ) writes the same bytes.
    script = "import json, sys; from kuantum import crdgen; json.dump(crdgen.all_crds(), sys.stdout)"
    env = {**os.environ, "PYTHONHASHSEED": hash_seed}
    out = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True,
                         timeout=120).stdout
    assert json.loads(out) == GENERATED
    for name, text in GENERATED.items():  # one CRD per file, named after its group and plural
        crd = yaml.safe_load(text)
        assert name == f"{crd['spec']['group']}_{crd['spec']['names']['plural']}.yaml"
        assert crd["metadata"]["name"] == f"{crd['spec']['names']['plural']}.{crd['spec']['group']}"


def test_the_kinds_with_names_short_names_and_category() -> None:
    crds = _crds()
    assert set(crds) == {"QuantumWorkspace", "Provider", "QuantumJob", "QuantumSession"}
    expected = {"QuantumWorkspace": ("quantumworkspaces", "qws"), "Provider": ("providers", "qprovider"),
                "QuantumJob": ("quantumjobs", "qjob"), "QuantumSession": ("quantumsessions", "qsession")}
    for kind, (plural, short) in expected.items():
        crd = crds[kind]
        assert crd["apiVersion"] == "apiextensions.k8s.io/v1"
        assert crd["kind"] == "CustomResourceDefinition"
        assert crd["metadata"]["name"] == f"{plural}.kuantum.dev"
        spec = crd["spec"]
        assert spec["group"] == "kuantum.dev"
        assert spec["scope"] == "Namespaced"
        names = spec["names"]
        assert names["kind"] == kind
        assert names["plural"] == plural
        assert names["singular"] == kind.lower()
        assert names["listKind"] == f"{kind}List"
        assert names["shortNames"] == [short]
        assert names["categories"] == ["quantum"]
        (version,) = spec["versions"]
        assert version["name"] == "v1alpha1"
        assert version["served"] is True and version["storage"] is True
        assert version["subresources"] == {"status": {}}
        assert f"kuantum.dev_{plural}.yaml" in GENERATED


def test_quantumjob_printer_columns() -> None:
    (version,) = _crds()["QuantumJob"]["spec"]["versions"]
    columns = version["additionalPrinterColumns"]
    default_columns = [c["name"] for c in columns if not c.get("priority")]
    assert default_columns == ["State", "Provider", "Target", "Age", "Duration"]
    by_name = {c["name"]: c for c in columns}
    assert by_name["State"]["jsonPath"] == ".status.state"
    assert by_name["Provider"]["jsonPath"] == ".spec.provider"
    assert by_name["Target"]["jsonPath"] == ".spec.target"
    assert by_name["Age"] == {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"}
    assert by_name["Duration"]["jsonPath"] == ".status.duration"
    wide = [c["name"] for c in columns if c.get("priority") == 1]
    assert wide == ["Queue", "Error", "Id"]
    assert by_name["Queue"] == {"name": "Queue", "type": "integer", "jsonPath": ".status.queuePosition",
                                "priority": 1}
    assert by_name["Error"] == {"name": "Error", "type": "string", "jsonPath": ".status.errorData.code",
                                "priority": 1}


def test_quantumsession_printer_columns_and_states() -> None:
    crd = _crds()["QuantumSession"]
    (version,) = crd["spec"]["versions"]
    columns = version["additionalPrinterColumns"]
    assert [c["name"] for c in columns if not c.get("priority")] == ["State", "Target", "Policy", "Closed", "Age"]
    assert [c["name"] for c in columns if c.get("priority") == 1] == ["Provider", "Id"]
    status = _schema(crd)["properties"]["status"]["properties"]
    # Azure's SessionStatus, spelled as its REST API spells it.
    assert status["state"]["enum"] == ["Waiting", "Executing", "Succeeded", "Failed", "Failure(s)", "TimedOut"]
    spec = _schema(crd)["properties"]["spec"]["properties"]
    assert spec["jobFailurePolicy"] == {**spec["jobFailurePolicy"], "enum": ["Abort", "Continue"], "default": "Abort"}


def _lookup(schema: dict[str, Any], json_path: str) -> dict[str, Any] | None:
    node: dict[str, Any] | None = schema
    for part in json_path.strip(".").split("."):
        if node is None:
            return None
        node = (node.get("properties") or {}).get(part)
    return node


@pytest.mark.parametrize("kind", ["QuantumWorkspace", "Provider", "QuantumJob", "QuantumSession"])
def test_printer_columns_point_at_schema_fields(kind: str) -> None:
    crd = _crds()[kind]
    (version,) = crd["spec"]["versions"]
    schema = _schema(crd)
    for column in version["additionalPrinterColumns"]:
        assert column["type"] in {"string", "integer", "number", "boolean", "date"}
        path = column["jsonPath"]
        if "[" in path or path.startswith(".metadata."):
            continue
        assert _lookup(schema, path) is not None, f"{kind} column {column['name']}: {path} is not in the schema"


def _walk(node: Any, where: str) -> list[tuple[str, dict[str, Any]]]:
    """Every schema node: the node itself, its properties, items and additionalProperties."""
    found = [(where, node)]
    for name, prop in (node.get("properties") or {}).items():
        found += _walk(prop, f"{where}.{name}")
    if isinstance(node.get("items"), dict):
        found += _walk(node["items"], f"{where}[]")
    if isinstance(node.get("additionalProperties"), dict):
        found += _walk(node["additionalProperties"], f"{where}{{}}")
    return found


def _all_keys(node: Any) -> set[str]:
    if isinstance(node, dict):
        keys = set(node)
        for value in node.values():
            keys |= _all_keys(value)
        return keys
    if isinstance(node, list):
        return set().union(*(_all_keys(v) for v in node)) if node else set()
    return set()


def _additional_true(node: Any) -> bool:
    if isinstance(node, dict):
        return node.get("additionalProperties") is True or any(_additional_true(v) for v in node.values())
    if isinstance(node, list):
        return any(_additional_true(v) for v in node)
    return False


@pytest.mark.parametrize("kind", ["QuantumWorkspace", "Provider", "QuantumJob", "QuantumSession"])
def test_structural_schema(kind: str) -> None:
    schema = _schema(_crds()[kind])
    keys = _all_keys(schema)
    for forbidden in ("$ref", "anyOf", "oneOf", "allOf", "$defs"):
        assert forbidden not in keys, f"{kind} schema has {forbidden}"
    assert not _additional_true(schema), f"{kind} schema has additionalProperties: true"
    assert schema["type"] == "object"
    assert set(schema["properties"]) == {"apiVersion", "kind", "metadata", "spec", "status"}
    assert schema["required"] == ["spec"]
    assert "required" not in schema["properties"]["status"]
    for where, node in _walk(schema, kind):
        preserve = node.get("x-kubernetes-preserve-unknown-fields") is True
        assert "type" in node or preserve, f"{where} has neither a type nor x-kubernetes-preserve-unknown-fields"
        if "type" in node:
            assert node["type"] in TYPES, f"{where} has type {node['type']!r}"
        assert not ("properties" in node and "additionalProperties" in node), where
        if "properties" in node or "additionalProperties" in node:
            assert node.get("type") == "object", f"{where} has properties but is not an object"
        if node.get("type") == "array":
            assert isinstance(node.get("items"), dict), f"{where} is an array without items"
        if "default" in node:
            assert node["default"] is not None and node["default"] != "", f"{where} has an empty default"
        for name in node.get("required") or []:
            assert name in (node.get("properties") or {}), f"{where} requires unknown field {name}"
        if "enum" in node:
            assert node.get("type") == "string" and all(isinstance(v, str) for v in node["enum"]), where


def test_quantumjob_schema_fields() -> None:
    schema = _schema(_crds()["QuantumJob"])
    spec = schema["properties"]["spec"]
    for field in ("workspace", "provider", "target", "input", "inputDataFormat", "outputDataFormat", "inputParams",
                  "priority", "cancel", "timeoutSeconds", "ttlSecondsAfterFinished", "tags"):
        assert field in spec["properties"], field
    assert set(spec["required"]) >= {"workspace", "provider", "target", "input"}
    job_input = spec["properties"]["input"]["properties"]
    assert set(job_input) == {"inline", "configMapKeyRef", "secretKeyRef", "blobUri"}
    assert job_input["inline"].get("x-kubernetes-preserve-unknown-fields") is True
    assert spec["properties"]["inputParams"].get("x-kubernetes-preserve-unknown-fields") is True
    assert set(spec["properties"]["priority"]["enum"]) == {"Standard", "High"}
    status = schema["properties"]["status"]["properties"]
    for field in ("id", "state", "observedGeneration", "conditions", "queuePosition", "inputDataUri", "outputDataUri",
                  "errorData", "creationTime", "beginExecutionTime", "endExecutionTime", "cancellationTime",
                  "providerJobId", "usage", "costEstimate", "duration"):
        assert field in status, field
    assert set(status["state"]["enum"]) == {"Waiting", "Executing", "Succeeded", "Failed", "Cancelled"}
    condition = status["conditions"]["items"]["properties"]
    assert {"type", "status", "reason", "message", "lastTransitionTime"} <= set(condition)


def test_fixed_field_names_of_workspace_and_provider() -> None:
    crds = _crds()
    ws = _schema(crds["QuantumWorkspace"])["properties"]["spec"]
    ref = ws["properties"]["storage"]["properties"]["connectionStringSecretRef"]["properties"]
    assert set(ref) == {"name", "key"}
    provider = _schema(crds["Provider"])["properties"]["spec"]["properties"]
    assert {"workspace", "providerId", "billingPlan", "credentialsSecretRef", "endpoint", "targets"} <= set(provider)
    assert {"name", "limits"} <= set(provider["billingPlan"]["properties"])


def test_generated_files_carry_the_do_not_edit_header() -> None:
    for text in GENERATED.values():
        assert text.startswith("# Generated by `make crds`")
