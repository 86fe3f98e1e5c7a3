"""OpenQASM text → the `openqasm3` syntax tree, with syntax errors a user can act on.

`openqasm3.parse` bails out on the first syntax error with an empty `QASM3ParsingError` (ANTLR's
own message only goes to stderr). Here the same generated lexer and parser run with a listener
that stops at the first error and keeps what ANTLR knows: line, column, offending token and its
hint ("missing ';' at 'q'"). Valid programs produce exactly the tree `openqasm3.parse` does.
"""

from __future__ import annotations

import re
from typing import Any

from kuantum_solvers.formats.errors import SolverError, invalid_input

_MAX_EXCERPT = 80
_MAX_HINT = 240
_MAX_EXPECTED = 8  # ANTLR may list ~60 expected tokens; a few are enough to act on
_POSITIONED = re.compile(r"^L(\d+):C(\d+):\s*(.*)$", re.DOTALL)
_EXPECTING = re.compile(r"expecting \{(.*)\}$", re.DOTALL)


class _FirstError(Exception):
    def __init__(self, line: int, column: int, token: str | None, hint: str, after: bool = False) -> None:
        super().__init__(hint)
        self.line, self.column, self.token, self.hint, self.after = line, column, token, hint, after


def _listener() -> Any:
    from antlr4.error.ErrorListener import ErrorListener

    class StopOnFirst(ErrorListener):
        """Raise on the first lexer or parser error instead of recovering (like `openqasm3.parse`)."""

        def syntaxError(self, recognizer: Any, offendingSymbol: Any, line: int, column: int,
                        msg: str, e: Any) -> None:
            token = getattr(offendingSymbol, "text", None) if offendingSymbol is not None else None
            previous = _previous_token(recognizer)
            if msg.startswith("missing ") and previous is not None:
                # ANTLR reports a missing ';' at the next token, often on the next line; the
                # place to fix is right after the previous one.
                text = str(previous.text)
                raise _FirstError(previous.line, previous.column + len(text), text, msg, after=True)
            raise _FirstError(line, column, token, msg)

    return StopOnFirst()


def _previous_token(recognizer: Any) -> Any:
    stream = getattr(recognizer, "getTokenStream", None)
    if stream is None:
        return None
    try:
        token = stream().LT(-1)
    except Exception:  # no previous token (error on the first one)
        return None
    return token if token is not None and getattr(token, "text", None) else None


def parse_tree(text: str) -> Any:
    """The `openqasm3.ast.Program` of `text`; InvalidInputData naming line, column and token if not."""
    from antlr4 import CommonTokenStream, InputStream
    from openqasm3.parser import QASM3ParsingError, QASMNodeVisitor, qasm3Lexer, qasm3Parser

    if not text.strip():
        raise invalid_input("OpenQASM program is empty")
    listener = _listener()
    lexer = qasm3Lexer(InputStream(text))
    lexer.removeErrorListeners()  # the default listener prints to stderr
    lexer.addErrorListener(listener)
    parser = qasm3Parser(CommonTokenStream(lexer))
    parser.removeErrorListeners()
    parser.addErrorListener(listener)
    try:
        return QASMNodeVisitor().visitProgram(parser.program())
    except _FirstError as err:
        raise invalid_input(syntax_message(text, err.line, err.column, err.token, err.hint, after=err.after)) from None
    except QASM3ParsingError as exc:  # the tree builder's own checks, "L3:C0: 'break' statement outside loop"
        raise _positioned(text, str(exc)) from None
    except RecursionError:
        raise invalid_input("OpenQASM program nests too deeply") from None
    except SolverError:
        raise
    except Exception as exc:  # the tree builder may trip over inputs it does not expect; still bad input
        raise invalid_input(f"OpenQASM parse error: {type(exc).__name__}: {_clip(str(exc), _MAX_HINT)}") from None


def _positioned(text: str, message: str) -> SolverError:
    match = _POSITIONED.match(message.strip())
    if match is None:
        return invalid_input(f"OpenQASM error: {_clip(message.strip(), _MAX_HINT) or 'invalid program'}")
    line, column = int(match[1]), int(match[2])
    return invalid_input(syntax_message(text, line, column, _word_at(text, line, column), match[3],
                                        kind="error"))


def syntax_message(text: str, line: int, column: int, token: str | None, hint: str, kind: str = "syntax error",
                   after: bool = False) -> str:
    """'OpenQASM syntax error at line 4, column 9 near 'q' in 'cx q[0] q[1];': missing ';' at 'q''.

    ANTLR columns count from 0; people and editors count from 1. `after`: the error sits right
    after `token` (a missing token), not at it."""
    if token is None:
        token = _word_at(text, line, column)
    where = f"line {line}, column {column + 1}"
    if after and token and token != "<EOF>":
        near = f"after {_clip(token, 40)!r}"
    elif token == "<EOF>":
        near = "at end of input"
    elif not token.strip():
        near = "at end of line"
    else:
        near = f"near {_clip(token, 40)!r}"
    excerpt = _source_line(text, line)
    context = f" in {excerpt!r}" if excerpt and excerpt != token else ""
    return f"OpenQASM {kind} at {where} {near}{context}: {_short_hint(hint)}"


def _short_hint(hint: str) -> str:
    hint = " ".join(hint.split())
    match = _EXPECTING.search(hint)
    if match is not None:
        options = match[1].split(", ")
        if len(options) > _MAX_EXPECTED:
            shown = ", ".join(options[:_MAX_EXPECTED])
            hint = f"{hint[:match.start()]}expecting one of {{{shown}, …}} ({len(options)} options)"
    return _clip(hint, _MAX_HINT)


def _source_line(text: str, line: int) -> str:
    lines = text.splitlines()
    if not 1 <= line <= len(lines):
        return ""
    return _clip(lines[line - 1].strip(), _MAX_EXCERPT)


def _word_at(text: str, line: int, column: int) -> str:
    """The token-ish word starting at (line, column): identifier/number, else one character."""
    lines = text.splitlines()
    if not 1 <= line <= len(lines):
        return "<EOF>"
    rest = lines[line - 1][column:]
    if not rest:
        return "<EOF>" if line == len(lines) else ""
    match = re.match(r"[\w.$]+", rest)
    return match[0] if match else rest[0]


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
