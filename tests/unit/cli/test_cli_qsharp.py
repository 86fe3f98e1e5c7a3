"""`kuantum submit program.qs --entry 'Main()'` and `program.ll|.bc`: input preparation (no cluster)."""

from __future__ import annotations

import pytest
import qdk  # noqa: F401 - a test dependency: a missing QDK fails, never skips
from kuantum.cli.input import CliError, name_base, prepare_program

from tests.unit.solvers.test_qir import BELL, TELEPORT, compile_qsharp


def test_qsharp_file_compiles_to_bitcode() -> None:
    data, fmt, params = prepare_program("bell.qs", BELL.encode(), "Main()", None, None)
    assert data.startswith(b"BC\xc0\xde") and fmt == "qir.v1"
    assert params == {"entryPoint": "ENTRYPOINT__main", "arguments": []}
    assert name_base("bell.qs") == "bell" and name_base("prog.ll") == "prog"


def test_qsharp_profile_from_params_and_errors() -> None:
    _data, _, params = prepare_program("t.qs", TELEPORT.encode(), None, None, {"target_profile": "Adaptive_RI"})
    assert params is not None and params["target_profile"] == "Adaptive_RI"
    with pytest.raises(CliError, match="Q# compilation failed"):
        prepare_program("t.qs", TELEPORT.encode(), None, None, None)  # base profile cannot branch
    with pytest.raises(CliError, match="Q# compilation failed"):
        prepare_program("x.qs", b"operation Main() : Unit { nonsense }", None, None, None)
    with pytest.raises(CliError, match="unknown QIR profile"):
        prepare_program("x.qs", BELL.encode(), None, None, {"target_profile": "Fancy"})


def test_qir_text_and_other_inputs() -> None:
    text = compile_qsharp(BELL)
    data, fmt, params = prepare_program("prog.txt", text, None, None, {"shots": 5})
    assert data == text and fmt == "qir.v1"
    assert params == {"shots": 5, "entryPoint": "ENTRYPOINT__main", "arguments": []}
    with pytest.raises(CliError, match="invalid QIR bitcode"):
        prepare_program("bad.bc", b"BC\xc0\xde\x00", None, None, None)
    qasm = b'OPENQASM 2.0;\ninclude "qelib1.inc";\nqreg q[1];\n'
    assert prepare_program("c.qasm", qasm, None, None, None) == (qasm, None, None)
    with pytest.raises(CliError, match="--entry"):
        prepare_program("c.qasm", qasm, "Main()", None, None)
