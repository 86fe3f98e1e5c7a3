"""OpenQASM syntax errors name line, column, token and ANTLR's hint (issue 12, item 7)."""

from __future__ import annotations

import openqasm3
import pytest
from kuantum_solvers.formats.circuits.qasm import parse_program
from kuantum_solvers.formats.circuits.qasm_syntax import parse_tree, syntax_message
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


# ---------------------------------------------------------------------------------------------- syntax_message
PROGRAM = "OPENQASM 2.0;\nqreg q[2];\nh q[0]$;\n"


@pytest.mark.parametrize(("line", "column", "near"), [
    (3, 5, "near ']'"),  # no word there: the one character
    (3, 2, "near 'q'"),  # a word: the whole of it
    (2, 10, "at end of line"),  # past the end of a line that is not the last
    (4, 0, "at end of input"),  # past the last line
    (0, 0, "at end of input"),
])
def test_the_token_is_read_from_the_source_when_the_parser_gives_none(line: int, column: int, near: str) -> None:
    message = syntax_message(PROGRAM, line, column, None, "hint")
    assert message.startswith(f"OpenQASM syntax error at line {line}, column {column + 1} {near}")


def test_the_last_line_ends_the_input_and_a_line_without_a_newline_too() -> None:
    assert " at end of input" in syntax_message("OPENQASM 2.0;\nqreg q", 2, 6, None, "hint")
    assert syntax_message("OPENQASM 2.0;\nqreg q", 1, 13, None, "hint").startswith(
        "OpenQASM syntax error at line 1, column 14 at end of line in 'OPENQASM 2.0;'")


def test_the_line_is_quoted_unless_it_is_the_token_itself_or_there_is_none() -> None:
    assert syntax_message("abc zzz;\n", 1, 4, "zzz", "h") == (
        "OpenQASM syntax error at line 1, column 5 near 'zzz' in 'abc zzz;': h")
    assert syntax_message("zzz\n", 1, 0, "zzz", "h") == "OpenQASM syntax error at line 1, column 1 near 'zzz': h"
    assert syntax_message("a\nb\n", 0, 0, "x", "h") == "OpenQASM syntax error at line 0, column 1 near 'x': h"
    assert syntax_message("a\nb\n", 3, 0, "x", "h") == "OpenQASM syntax error at line 3, column 1 near 'x': h"


def test_long_lines_tokens_and_hints_are_clipped_to_their_bounds() -> None:
    line = "h " + "q" * 200 + ";"
    message = syntax_message(line + "\n", 1, 2, "q" * 200, "x" * 300)
    near = "q" * 39 + "…"
    excerpt = line[:79] + "…"
    assert message == f"OpenQASM syntax error at line 1, column 3 near {near!r} in {excerpt!r}: {'x' * 239}…"
    exact = "q" * 40
    assert f"near {exact!r} in" in syntax_message(f"h {exact};\n", 1, 2, exact, "h")
    assert f" in {'h ' + 'q' * 78!r}" in syntax_message("h " + "q" * 78 + "\n", 1, 2, "q", "h")


def test_a_few_expected_tokens_are_listed_whole_and_many_are_shortened() -> None:
    few = "mismatched input 'q' expecting {'a', 'b', 'c'}"
    assert syntax_message("q\n", 1, 0, "q", few).endswith(f": {few}")
    eight = "expecting {" + ", ".join(f"'t{i}'" for i in range(8)) + "}"
    assert syntax_message("q\n", 1, 0, "q", eight).endswith(f": {eight}")
    nine = "expecting {" + ", ".join(f"'t{i}'" for i in range(9)) + "}"
    shown = ", ".join(f"'t{i}'" for i in range(8))
    assert syntax_message("q\n", 1, 0, "q", nine).endswith(f": expecting one of {{{shown}, …}} (9 options)")


def test_a_hint_on_several_lines_is_one_line() -> None:
    assert syntax_message("q\n", 1, 0, "q", "no viable\n  alternative").endswith(": no viable alternative")


def test_a_missing_token_is_placed_after_the_one_before_it() -> None:
    assert syntax_message("qreg q[2]\n", 1, 9, "]", "missing ';'", after=True) == (
        "OpenQASM syntax error at line 1, column 10 after ']' in 'qreg q[2]': missing ';'")
    assert syntax_message("qreg q[2]\n", 1, 9, "<EOF>", "h", after=True).startswith(
        "OpenQASM syntax error at line 1, column 10 at end of input")
