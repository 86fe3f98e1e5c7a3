"""OpenQASM syntax errors name line, column, token and ANTLR's hint (issue 12, item 7)."""

from __future__ import annotations

import openqasm3
import pytest
from kuantum_solvers.formats.circuits.qasm import parse_program
from kuantum_solvers.formats.circuits.qasm_syntax import parse_tree
from kuantum_solvers.formats.errors import INVALID_INPUT_DATA, SolverError

HEADER = 'OPENQASM 2.0;\ninclude "qelib1.inc";\nqreg q[2];\ncreg c[2];\n'


def _message(text: str) -> str:
    with pytest.raises(SolverError) as info:
        parse_program(text)
    assert info.value.code == INVALID_INPUT_DATA
    return info.value.message


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # Missing separator: the place to fix is right after the previous token, not at the next one.
        (HEADER + "cx q[0] q[1];\n",
         "OpenQASM syntax error at line 5, column 8 after ']' in 'cx q[0] q[1];': missing ';' at 'q'"),
        ("OPENQASM 2.0;\nqreg q[2]\nh q[0];\n",
         "OpenQASM syntax error at line 2, column 10 after ']' in 'qreg q[2]': missing ';' at 'h'"),
        # Lexer error: a character OpenQASM has no token for.
        (HEADER + "h q[0]$;\n",
         "OpenQASM syntax error at line 5, column 7 near '$' in 'h q[0]$;': token recognition error at: '$;'"),
        (HEADER + "h q[0", "OpenQASM syntax error at line 5, column 6 at end of input in 'h q[0': "
                            "no viable alternative at input '0'"),
        # Checks of the tree builder keep their position too.
        (HEADER + "break;\n",
         "OpenQASM error at line 5, column 1 near 'break' in 'break;': 'break' statement outside loop"),
    ],
)
def test_syntax_error_names_line_column_and_token(text: str, expected: str) -> None:
    assert _message(text) == expected


def test_long_expected_token_sets_are_shortened() -> None:
    message = _message(HEADER + "}}}}\n")
    assert message.startswith("OpenQASM syntax error at line 5, column 1 near '}' in '}}}}': extraneous input '}' ")
    assert "expecting one of {<EOF>, 'include'," in message
    assert message.endswith("options)")
    assert len(message) < 400


@pytest.mark.parametrize("text", ["", "  \n\t\n"])
def test_empty_program(text: str) -> None:
    assert _message(text) == "OpenQASM program is empty"


def test_deep_nesting_is_bad_input_not_a_crash() -> None:
    depth = 5000
    text = HEADER + "U(" + "(" * depth + "1" + ")" * depth + ",0,0) q[0];\n"
    assert _message(text) == "OpenQASM program nests too deeply"


def test_long_lines_and_tokens_are_clipped() -> None:
    message = _message(HEADER + "h q[0] " + "x" * 5000 + ";\n")
    assert "line 5" in message
    assert len(message) < 600


def test_nothing_printed_by_antlr(capsys: pytest.CaptureFixture[str]) -> None:
    _message(HEADER + "h q[0]$;\n")
    captured = capsys.readouterr()
    assert captured.err == "" and captured.out == ""


@pytest.mark.parametrize(
    "text",
    [
        HEADER + "h q[0];\ncx q[0], q[1];\nmeasure q -> c;\n",
        HEADER + "gate g(a) x, y { rz(a/2) x; cx x, y; }\ng(pi) q[0], q[1];\nif (c == 1) x q[0];\n",
    ],
)
def test_valid_programs_give_the_same_tree_as_openqasm3(text: str) -> None:
    assert parse_tree(text) == openqasm3.parse(text)
