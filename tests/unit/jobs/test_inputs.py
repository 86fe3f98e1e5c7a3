"""Reading spec.input: inline JSON or text, ConfigMap and Secret keys; size limit; JSON checks."""

from __future__ import annotations

import base64
import gzip
import json
from typing import Any

import pytest
from kuantum.jobs.inputs import MAX_INLINE_BYTES, InputPending, InvalidInput, check_json, read_input
from kuantum.models import JobInput

QASM = 'OPENQASM 2.0;\ninclude "qelib1.inc";\nqreg q[1];\n'


def reader(objects: dict[tuple[str, str], dict[str, Any]]) -> Any:
    calls: list[tuple[str, str]] = []

    def read(kind: str, name: str) -> dict[str, Any] | None:
        calls.append((kind, name))
        return objects.get((kind, name))

    read.calls = calls  # type: ignore[attr-defined]
    return read


def no_reads(kind: str, name: str) -> dict[str, Any] | None:
    raise AssertionError(f"inline input must not read {kind} {name}")


def _input(**kwargs: Any) -> JobInput:
    return JobInput.model_validate(kwargs)


def test_inline_json_object() -> None:
    problem = {"cost_function": {"type": "ising", "version": "1.0", "terms": [{"c": 1, "ids": [0, 1]}]}}
    data = read_input(_input(inline=problem), no_reads)
    assert json.loads(data) == problem


def test_inline_string_is_taken_verbatim() -> None:
    assert read_input(_input(inline=QASM), no_reads) == QASM.encode()
    assert read_input(_input(inline="ünïcode"), no_reads) == "ünïcode".encode()


def test_inline_empty_object() -> None:
    assert json.loads(read_input(_input(inline={}), no_reads)) == {}


def test_configmap_data() -> None:
    read = reader({("configmap", "cm"): {"data": {"problem.json": '{"a": 1}'}}})
    assert read_input(_input(configMapKeyRef={"name": "cm", "key": "problem.json"}), read) == b'{"a": 1}'
    assert read.calls == [("configmap", "cm")]


def test_configmap_binary_data() -> None:
    blob = gzip.compress(b'{"a": 1}')
    read = reader({("configmap", "cm"): {"binaryData": {"p.gz": base64.b64encode(blob).decode()}}})
    assert read_input(_input(configMapKeyRef={"name": "cm", "key": "p.gz"}), read) == blob


def test_configmap_data_wins_over_nothing_and_empty_value_is_valid() -> None:
    read = reader({("configmap", "cm"): {"data": {"k": ""}}})
    assert read_input(_input(configMapKeyRef={"name": "cm", "key": "k"}), read) == b""


def test_secret_is_base64_decoded() -> None:
    read = reader({("secret", "s"): {"data": {"qasm": base64.b64encode(QASM.encode()).decode()}}})
    assert read_input(_input(secretKeyRef={"name": "s", "key": "qasm"}), read) == QASM.encode()
    assert read.calls == [("secret", "s")]


@pytest.mark.parametrize(("field", "kind", "label"), [("configMapKeyRef", "configmap", "ConfigMap"),
                                                       ("secretKeyRef", "secret", "Secret")])
def test_missing_object_is_pending_and_names_it(field: str, kind: str, label: str) -> None:
    with pytest.raises(InputPending) as info:
        read_input(_input(**{field: {"name": "my-problem", "key": "k"}}), reader({}))
    assert "my-problem" in str(info.value)
    assert label in str(info.value)


@pytest.mark.parametrize(("field", "kind"), [("configMapKeyRef", "configmap"), ("secretKeyRef", "secret")])
def test_missing_key_is_pending_and_names_it(field: str, kind: str) -> None:
    read = reader({(kind, "obj"): {"data": {"other": "eA=="}}})
    with pytest.raises(InputPending) as info:
        read_input(_input(**{field: {"name": "obj", "key": "wanted-key"}}), read)
    assert "obj" in str(info.value) and "wanted-key" in str(info.value)


@pytest.mark.parametrize(("field", "kind"), [("configMapKeyRef", "configmap"), ("secretKeyRef", "secret")])
def test_object_without_data_is_pending(field: str, kind: str) -> None:
    read = reader({(kind, "obj"): {"metadata": {"name": "obj"}}})
    with pytest.raises(InputPending):
        read_input(_input(**{field: {"name": "obj", "key": "k"}}), read)


def test_exactly_one_mebibyte_is_accepted() -> None:
    text = "x" * MAX_INLINE_BYTES
    assert len(read_input(_input(inline=text), no_reads)) == MAX_INLINE_BYTES


@pytest.mark.parametrize("source", ["inline", "configmap", "secret"])
def test_over_one_mebibyte_is_invalid_and_points_at_blob_uri(source: str) -> None:
    big = b"x" * (MAX_INLINE_BYTES + 1)
    objects = {("configmap", "o"): {"data": {"k": big.decode()}},
               ("secret", "o"): {"data": {"k": base64.b64encode(big).decode()}}}
    spec = {"inline": _input(inline=big.decode()),
            "configmap": _input(configMapKeyRef={"name": "o", "key": "k"}),
            "secret": _input(secretKeyRef={"name": "o", "key": "k"})}[source]
    with pytest.raises(InvalidInput) as info:
        read_input(spec, reader(objects))
    assert "blobUri" in str(info.value)
    assert str(MAX_INLINE_BYTES + 1) in str(info.value)


def test_job_input_needs_exactly_one_source() -> None:
    with pytest.raises(ValueError, match="exactly one"):
        _input()
    with pytest.raises(ValueError, match="exactly one"):
        _input(inline={}, blobUri="http://x/y")


# ---------------------------------------------------------------------------------------------- check_json
def accepted(data: bytes, fmt: str) -> bool:
    """Whether check_json lets the input through (it raises InvalidInput otherwise)."""
    try:
        check_json(data, fmt)
    except InvalidInput:
        return False
    return True


@pytest.mark.parametrize("fmt", ["microsoft.qio.v2", "ionq.circuit.v1"])
def test_check_json_accepts_json(fmt: str) -> None:
    assert accepted(b'{"a": [1, 2]}', fmt)
    assert not accepted(b'{"a": [1, 2]', fmt)  # the same document, truncated


@pytest.mark.parametrize("fmt", ["microsoft.qio.v2", "ionq.circuit.v1"])
@pytest.mark.parametrize("data", [b"{not json", b"", b"\xff\xfe\x00", b'{"a": 1'])
def test_check_json_rejects_non_json(fmt: str, data: bytes) -> None:
    with pytest.raises(InvalidInput) as info:
        check_json(data, fmt)
    assert fmt in str(info.value)


@pytest.mark.parametrize("fmt", ["honeywell.openqasm.v1", "quantinuum.openqasm.v1"])
def test_check_json_leaves_qasm_alone(fmt: str) -> None:
    assert accepted(QASM.encode(), fmt)
    assert not accepted(QASM.encode(), "ionq.circuit.v1")  # QASM is not JSON: the format is what lets it in


def test_check_json_leaves_gzip_to_the_solver() -> None:
    assert accepted(gzip.compress(b"{not json"), "microsoft.qio.v2")
    assert not accepted(b"{not json", "microsoft.qio.v2")  # uncompressed, the same bytes are refused


def test_check_json_ignores_unversioned_formats() -> None:
    assert accepted(b"\x00\x01binary", "application/octet-stream")
    assert not accepted(b"\x00\x01binary", "microsoft.qio.v2")


def test_qir_and_openqasm_inputs_are_not_checked_as_json() -> None:
    check_json(b"%Result = type opaque\ndefine i64 @ENTRYPOINT__main() #0 {", "qir.v1")
    check_json(b"BC\xc0\xde\x35\x14", "qir.v1")  # bitcode
    check_json(b'OPENQASM 2.0;\ninclude "qelib1.inc";', "honeywell.openqasm.v1")
    with pytest.raises(InvalidInput):
        check_json(b"%Result = type opaque", "ionq.circuit.v1")
