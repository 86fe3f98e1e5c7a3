"""Fuzzing `kuantum-solve`'s inputs (issue 12): whatever the input file and parameters, the CLI
never prints a traceback, and either succeeds (exit 0, JSON output) or exits 2 with the JSON error
`{"code", "message"}` of a user error as its last stderr line, writing no output.

Runs in-process through `cli.main` with files (no subprocess per example). Valid examples are kept
cheap (tiny problems, few sweeps and shots) and hostile numbers are out of range, so a run stays
well under a minute.
"""

from __future__ import annotations

import contextlib
import gzip
import io
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from kuantum_solvers import cli
from kuantum_solvers.formats.errors import USER_ERROR_CODES

QIO = "microsoft.qio.v2"
IONQ = "ionq.circuit.v1"
HONEYWELL = "honeywell.openqasm.v1"
QUANTINUUM = "quantinuum.openqasm.v1"
SIM = "kuantum.simulator"
# Parameters that make a valid example cheap, per target.
CHEAP: dict[str, dict[str, Any]] = {
    "microsoft.simulatedannealing.cpu": {"params": {"sweeps": 5, "restarts": 1, "seed": 1}},
    "microsoft.paralleltempering.cpu": {"params": {"sweeps": 5, "replicas": 2, "seed": 1}},
    "microsoft.tabu.cpu": {"params": {"sweeps": 5, "restarts": 1, "seed": 1}},
    "microsoft.populationannealing.cpu": {"params": {"sweeps": 3, "population": 4, "seed": 1}},
    "microsoft.qmc.cpu": {"params": {"sweeps": 3, "trotter_number": 2, "restarts": 1, "seed": 1}},
    "microsoft.substochasticmontecarlo.cpu": {"params": {"step_limit": 3, "target_population": 4, "seed": 1}},
    "microsoft.tabu-parameterfree.cpu": {"params": {"timeout": 0.01, "seed": 1}},
    SIM: {"shots": 3, "seed": 1},
}
QIO_TARGETS = [t for t in CHEAP if t != SIM]
# (target, --input-format or None to let the CLI pick)
TARGET_FORMATS = [(t, QIO) for t in QIO_TARGETS] + [(SIM, IONQ), (SIM, HONEYWELL), (SIM, QUANTINUUM), (SIM, None)]

# Fixed examples in CI (bounded time, reproducible); KUANTUM_FUZZ_EXAMPLES=2000 explores at random.
EXPLORE = int(os.environ.get("KUANTUM_FUZZ_EXAMPLES", "0"))
FUZZ = settings(max_examples=EXPLORE or 60, deadline=None, derandomize=not EXPLORE,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@pytest.fixture(scope="module", autouse=True)
def _environment() -> Iterator[None]:
    saved = {k: os.environ.get(k) for k in ("KUANTUM_PARAMS", "KUANTUM_TERMINATION_LOG")}
    os.environ.pop("KUANTUM_PARAMS", None)
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["KUANTUM_TERMINATION_LOG"] = str(Path(tmp) / "termination-log")
        yield
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


@pytest.fixture(scope="module")
def workdir() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="kuantum-fuzz-") as tmp:
        yield Path(tmp)


def solve(workdir: Path, target: str, data: bytes, params: str | None, input_format: str | None) -> None:
    """Run the CLI once and check the contract."""
    inp, out = workdir / "input", workdir / "output.json"
    inp.write_bytes(data)
    out.unlink(missing_ok=True)
    argv = ["--target", target, "--input", str(inp), "--output", str(out)]
    if params is not None:
        argv.append(f"--params={params}")
    if input_format is not None:
        argv += ["--input-format", input_format]
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        rc = cli.main(argv)
    stderr = err.getvalue()
    assert "Traceback" not in stderr
    if rc == 0:
        json.loads(out.read_bytes())
        return
    lines = stderr.strip().splitlines()
    assert lines, "an error must be reported on stderr"
    error = json.loads(lines[-1])
    assert rc == 2, error
    assert set(error) == {"code", "message"} and error["code"] in USER_ERROR_CODES, error
    assert isinstance(error["message"], str) and error["message"]
    assert not out.exists(), "no output may be written on error"


# --- strategies ---------------------------------------------------------------------------------

HUGE_NUMBERS = st.sampled_from([10**400, -(10**400), 2**63, 2**64 + 1, -(2**63) - 1, 1e308, -1e308, 5e-324])
scalars = st.one_of(
    st.none(), st.booleans(), st.integers(), HUGE_NUMBERS, st.floats(), st.text(max_size=20),
    st.sampled_from(["", "NaN", "1e999", "0x10", "٣", "\x00", "\ud800", "-1"]),
)
json_values = st.recursive(scalars, lambda c: st.lists(c, max_size=5) | st.dictionaries(st.text(max_size=8), c,
                                                                                        max_size=5), max_leaves=25)


def dumps(value: Any) -> str:
    """JSON as a hostile client may write it: NaN/Infinity included, any unicode."""
    return json.dumps(value, allow_nan=True, ensure_ascii=False)


def deep(depth: int, kind: str) -> str:
    if kind == "list":
        return "[" * depth + "]" * depth
    return '{"a":' * depth + "1" + "}" * depth


deep_json = st.builds(deep, st.sampled_from([10, 900, 1100, 5000, 200_000]), st.sampled_from(["list", "dict"]))


def encode_text(text: str) -> bytes:
    return text.encode("utf-8", "surrogatepass")


@st.composite
def qio_documents(draw: st.DrawFn) -> Any:
    """QIO problems close to valid, with any part replaced by something hostile."""
    anything = json_values
    term = st.one_of(
        st.fixed_dictionaries({"c": st.one_of(st.floats(-5, 5), st.integers(-5, 5), HUGE_NUMBERS,
                                              st.sampled_from([1e-320, 1e101, 1e-101])),
                               "ids": st.lists(st.integers(0, 6), max_size=4)}),
        st.fixed_dictionaries({"c": anything, "ids": st.one_of(anything, st.lists(anything, max_size=3))}),
        anything,
    )
    cost_function: dict[str, Any] = {
        "version": draw(st.sampled_from(["1.0", "1.1", 1.0, None, "2"])),
        "type": draw(st.sampled_from(["ising", "pubo", "ISING", "maxsat", None])),
        "terms": draw(st.one_of(st.lists(term, max_size=8), anything)),
    }
    if draw(st.booleans()):
        cost_function["terms_slc"] = draw(st.one_of(
            st.lists(st.fixed_dictionaries({"c": anything, "terms": st.lists(term, max_size=4)}), max_size=3),
            anything))
    if draw(st.booleans()):
        cost_function["initial_configuration"] = draw(st.one_of(
            st.dictionaries(st.one_of(st.sampled_from(["0", "1", "x", "1e3", "-1", "99999999999999999999"]),
                                      st.text(max_size=4)), anything, max_size=4), anything))
    if draw(st.integers(0, 3)) == 0:
        return {"cost_function": draw(anything)}
    return {"cost_function": cost_function}


@st.composite
def ionq_documents(draw: st.DrawFn) -> Any:
    anything = json_values
    gate_names = st.sampled_from(["h", "x", "cnot", "rx", "swap", "ms", "gpi", "zz", "xx", "p", "cp", "nope", ""])
    qubit = st.one_of(st.integers(-1, 4), anything)
    gate = st.one_of(
        st.fixed_dictionaries(
            {"gate": gate_names, "target": qubit},
            optional={"targets": st.lists(qubit, max_size=3), "control": qubit, "controls": st.lists(qubit, max_size=3),
                      "rotation": st.one_of(st.floats(), HUGE_NUMBERS, anything), "phase": anything,
                      "phases": st.lists(st.one_of(st.floats(), anything), max_size=3), "angle": anything}),
        anything,
    )
    document: dict[str, Any] = {"qubits": draw(st.one_of(st.integers(-1, 4), HUGE_NUMBERS, anything)),
                                "circuit": draw(st.one_of(st.lists(gate, max_size=6), anything))}
    if draw(st.booleans()):
        document["gateset"] = draw(st.sampled_from(["qis", "native", "other", 1]))
    return draw(st.sampled_from([document, {"input": document}, document]))


QASM_HEADER = 'OPENQASM 2.0;\ninclude "qelib1.inc";\n'
qasm_lines = st.sampled_from([
    "qreg q[2];", "creg c[2];", "h q[0];", "cx q[0], q[1];", "cx q[0] q[1];", "measure q -> c;",
    "measure q[0] -> c[0];", "rx(pi/2) q[0];", "rx(1e400) q[0];", "rx(2**10000) q[0];", "u3(0,0) q[0];",
    "qreg r[99999999999999999999];", "qreg big[40];", "if (c == 1) x q[0];", "reset q[0];", "barrier q;",
    "gate g(a) x { rz(a) x; }", "g(1) q[0];", "gate r x { r x; }", "r q[0];", "h q[5];", "x q;",
    "rz(sin(1e308*10)) q[0];", "rz(ln(0)) q[0];", "rz(sqrt(-1)) q[0];", "rz(1/0) q[0];", "OPENQASM 3;",
    'include "x.inc";', "qubit[2] z;", "bit[2] b;", "for int i in [0:2] { h q[0]; }", "}", "{", ";", "(((",
    "creg c[0];", "qreg q[0];", "if (c == 99999999999999999999) x q[0];", "U(0,0,0) q[0];", "CX q[0], q[1];",
])


@st.composite
def qasm_programs(draw: st.DrawFn) -> str:
    header = draw(st.sampled_from([QASM_HEADER, "OPENQASM 2.0;\n", "", "OPENQASM 3.0;\n", "OPENQASM 2.0\n"]))
    body = draw(st.lists(st.one_of(qasm_lines, st.text(max_size=12)), max_size=8))
    return header + "\n".join(body) + "\n"


def documents_for(input_format: str | None) -> st.SearchStrategy[Any]:
    if input_format == QIO:
        return qio_documents()
    return ionq_documents()


def params_text() -> st.SearchStrategy[str | None]:
    """Parameters as the CLI receives them: text, valid or hostile (never valid-and-slow)."""
    keys = st.sampled_from(["sweeps", "restarts", "replicas", "seed", "timeout", "beta_start", "beta_stop",
                            "all_betas", "population", "alpha", "beta", "trotter_number", "step_limit",
                            "target_population", "shots", "count", "tabu_tenure", "unknown", ""])
    hostile_values = st.one_of(
        HUGE_NUMBERS, st.sampled_from([-1, 0, 0.5, True, None, "10", [], {}, [1e400], [0.1, -1], float("nan"),
                                       float("inf"), {"type": "linear", "initial": 1, "final": 1e400},
                                       {"type": "geometric", "initial": 0, "final": 1}]),
        json_values)
    flat = st.dictionaries(keys, hostile_values, max_size=3)
    return st.one_of(
        st.none(),
        st.builds(dumps, st.one_of(flat, st.builds(lambda p: {"params": p}, flat), json_values)),
        deep_json,
        st.text(max_size=30),
        st.sampled_from(["", "   ", "{", "NaN", "[1,2]", '{"params": null}', '{"params": 1}',
                         '{"params": {}, "x": 1}', '{"shots": ' + "9" * 5000 + "}"]),
    )


# --- the tests ---------------------------------------------------------------------------------

@FUZZ
@given(st.sampled_from(TARGET_FORMATS), st.binary(max_size=300))
def test_random_bytes(workdir: Path, target_format: tuple[str, str | None], data: bytes) -> None:
    target, input_format = target_format
    solve(workdir, target, data, dumps(CHEAP[target]), input_format)


@FUZZ
@given(st.sampled_from(TARGET_FORMATS), st.one_of(st.builds(dumps, json_values), deep_json))
def test_random_json(workdir: Path, target_format: tuple[str, str | None], text: str) -> None:
    target, input_format = target_format
    solve(workdir, target, encode_text(text), dumps(CHEAP[target]), input_format)


@FUZZ
@given(st.data())
def test_near_valid_documents(workdir: Path, data: st.DataObject) -> None:
    target, input_format = data.draw(st.sampled_from([tf for tf in TARGET_FORMATS if tf[1] in (QIO, IONQ)]))
    document = data.draw(documents_for(input_format))
    solve(workdir, target, encode_text(dumps(document)), dumps(CHEAP[target]), input_format)


@FUZZ
@given(st.sampled_from([(SIM, HONEYWELL), (SIM, QUANTINUUM), (SIM, None)]), qasm_programs())
def test_qasm_ish_garbage(workdir: Path, target_format: tuple[str, str | None], program: str) -> None:
    target, input_format = target_format
    solve(workdir, target, encode_text(program), dumps(CHEAP[target]), input_format)


@FUZZ
@given(st.sampled_from(TARGET_FORMATS), st.data())
def test_gzip_whole_and_truncated(workdir: Path, target_format: tuple[str, str | None], data: st.DataObject) -> None:
    target, input_format = target_format
    if input_format in (HONEYWELL, QUANTINUUM) or (input_format is None and data.draw(st.booleans())):
        raw = encode_text(data.draw(qasm_programs()))
    else:
        raw = encode_text(dumps(data.draw(documents_for(input_format))))
    packed = gzip.compress(raw)
    cut = data.draw(st.integers(0, len(packed)))
    variant = data.draw(st.sampled_from(["whole", "truncated", "corrupted", "double"]))
    if variant == "truncated":
        packed = packed[:cut]
    elif variant == "corrupted":
        packed = packed[:cut] + bytes([packed[cut] ^ 0xFF]) + packed[cut + 1:] if cut < len(packed) else packed + b"x"
    elif variant == "double":
        packed = gzip.compress(packed)
    solve(workdir, target, packed, dumps(CHEAP[target]), input_format)


@FUZZ
@given(st.sampled_from([tf for tf in TARGET_FORMATS if tf[1] is not None]), params_text())
def test_hostile_parameters(workdir: Path, target_format: tuple[str, str | None], params: str | None) -> None:
    target, input_format = target_format
    if target == "microsoft.tabu-parameterfree.cpu":
        return  # its default 5 s budget would make valid-parameter examples slow; tabu covers the schema
    valid_input = {
        QIO: {"cost_function": {"version": "1.0", "type": "ising",
                                "terms": [{"c": 1, "ids": [0, 1]}, {"c": -1, "ids": [1]}]}},
        IONQ: {"qubits": 2, "circuit": [{"gate": "h", "target": 0}, {"gate": "cnot", "control": 0, "target": 1}]},
    }
    if input_format in (QIO, IONQ):
        data = encode_text(dumps(valid_input[input_format]))
    else:
        data = (QASM_HEADER + "qreg q[2];\ncreg c[2];\nh q[0];\ncx q[0], q[1];\nmeasure q -> c;\n").encode()
    solve(workdir, target, data, params, input_format)


@pytest.mark.parametrize(
    ("target", "argv_tail"),
    [
        ("no.such.target", []),
        (SIM, ["--input-format", QIO]),
        (SIM, ["--input-format", IONQ, "--output-format", "x"]),
        ("microsoft.tabu.cpu", ["--unknown-flag"]),
    ],
)
def test_bad_command_lines(workdir: Path, target: str, argv_tail: list[str]) -> None:
    inp, out = workdir / "input", workdir / "output.json"
    inp.write_text("{}")
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        rc = cli.main(["--target", target, "--input", str(inp), "--output", str(out), *argv_tail])
    assert rc == 2 and "Traceback" not in err.getvalue()
    assert set(json.loads(err.getvalue().strip().splitlines()[-1])) == {"code", "message"}


def _qio(terms: list[Any], **extra: Any) -> bytes:
    return json.dumps({"cost_function": {"version": "1.0", "type": "ising", "terms": terms, **extra}}).encode()


QASM_2Q = QASM_HEADER + "qreg q[2];\ncreg c[2];\n"
SA = "microsoft.simulatedannealing.cpu"


# What fuzzing found (each crashed with a traceback-like InternalError, exit 1, or hung), kept as fixed cases.
@pytest.mark.parametrize(
    ("target", "data", "input_format", "fragment"),
    [
        (SA, b"[" * 5000 + b"]" * 5000, QIO, "nests too deeply"),
        (SA, b'{"cost_function": ' + b"1" * 5000 + b"}", QIO, "not usable JSON"),
        (SA, _qio([{"c": 10**400, "ids": [0]}]), QIO, "must be finite"),
        (SA, _qio([{"c": 1e308, "ids": [0]}, {"c": 1e308, "ids": [0]}]), QIO, "magnitude range"),
        (SA, _qio([{"c": 1e308, "ids": [0]}, {"c": 1e308, "ids": [1]}]), QIO, "magnitude range"),
        ("microsoft.paralleltempering.cpu", _qio([{"c": 1e-320, "ids": [0]}]), QIO, "magnitude range"),
        (SA, _qio([{"c": 1, "ids": [0]}], initial_configuration={"0": 10**400}), QIO, "…"),
        (SIM, (QASM_2Q + "rx(1e400) q[0];\n").encode(), HONEYWELL, "not a finite number"),
        (SIM, (QASM_2Q + "rx(exp(1000)) q[0];\n").encode(), HONEYWELL, "range error"),
        (SIM, (QASM_2Q + "rx((-8)**0.5) q[0];\n").encode(), HONEYWELL, "not a real number"),
        (SIM, (QASM_2Q + "x q[0.5];\n").encode(), HONEYWELL, "must be an integer"),
        (SIM, (QASM_2Q + "creg big[1000000000000];\n").encode(), HONEYWELL, "classical bits"),
        (SIM, (QASM_2Q + "gate g0 a { x a; }\n"
               + "".join(f"gate g{i} a {{ g{i - 1} a; g{i - 1} a; }}\n" for i in range(1, 40))
               + "g39 q[0];\n").encode(), HONEYWELL, "expands to 549,755,813,888 operations"),
        (SIM, json.dumps({"qubits": 2, "circuit": [{"gate": "rx", "target": 0, "rotation": 10**400}]}).encode(),
         IONQ, "must be a finite number"),
    ],
)
def test_found_by_fuzzing(workdir: Path, target: str, data: bytes, input_format: str, fragment: str) -> None:
    solve(workdir, target, data, dumps(CHEAP[target]), input_format)
    message = json.loads(Path(os.environ["KUANTUM_TERMINATION_LOG"]).read_text())["message"]
    assert fragment in message
    assert len(message) < 400


@pytest.mark.parametrize("params", ['{"shots": ' + "9" * 5000 + "}", '{"params": {"sweeps": ' + "1" * 400 + "}}",
                                    "[" * 100_000])
def test_found_by_fuzzing_in_parameters(workdir: Path, params: str) -> None:
    target = SA if "sweeps" in params or params.startswith("[") else SIM
    data = _qio([{"c": 1, "ids": [0]}]) if target == SA else (QASM_2Q + "h q[0];\n").encode()
    solve(workdir, target, data, params, None)
    assert json.loads(Path(os.environ["KUANTUM_TERMINATION_LOG"]).read_text())["code"] == "InvalidParameters"


@pytest.mark.parametrize("data", [b"\xef\xbb\xbf" + (QASM_2Q + "h q[0];\nmeasure q -> c;\n").encode(),
                                  b"\xef\xbb\xbf" + _qio([{"c": 1, "ids": [0]}])])
def test_byte_order_mark_is_ignored(workdir: Path, data: bytes) -> None:
    target = SIM if data[3:4] == b"O" else SA
    inp, out = workdir / "input", workdir / "output.json"
    inp.write_bytes(data)
    out.unlink(missing_ok=True)
    with contextlib.redirect_stderr(io.StringIO()):
        assert cli.main(["--target", target, "--input", str(inp), "--output", str(out),
                         f"--params={dumps(CHEAP[target])}"]) == 0
    assert json.loads(out.read_text())
