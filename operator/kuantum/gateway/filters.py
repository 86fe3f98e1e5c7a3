"""The OData subset the SDK's `list_jobs` sends, as a predicate over JobDetails, plus `orderby`.

Grammar (keywords case-insensitive; `and` binds tighter than `or`):
    expr    := and ('or' and)*          and := unary ('and' unary)*      unary := 'not' unary | primary
    primary := '(' expr ')' | FUNC '(' FIELD ',' literal ')' | FIELD OP literal
    FUNC: startswith endswith contains   OP: eq ne gt ge lt le
    literal: 'text' (a quote doubled inside) | a date or date-time | a number | true | false | null
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from ..runtime.timeutil import parse as parse_time
from .errors import ApiError

Details = dict[str, Any]
Predicate = Callable[[Details], bool]

# OData property -> JobDetails field; values of the case-insensitive ones are compared case-insensitively.
FIELDS = {"name": "name", "state": "status", "status": "status", "providerid": "providerId", "target": "target",
          "itemtype": "itemType", "jobtype": "jobType", "creationtime": "creationTime", "id": "id",
          "sessionid": "sessionId", "priority": "priority"}
_CASELESS = {"status", "providerId", "itemType", "jobType", "priority", "id"}
_TOKEN = re.compile(r"\s*(?:(?P<str>'(?:[^']|'')*')|(?P<punct>[(),])|(?P<word>[^\s(),']+))")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}$")
_OPS: dict[str, Callable[[Any, Any], bool]] = {
    "eq": lambda a, b: a == b, "ne": lambda a, b: a != b, "gt": lambda a, b: a > b, "ge": lambda a, b: a >= b,
    "lt": lambda a, b: a < b, "le": lambda a, b: a <= b}
_FUNCS: dict[str, Callable[[str, str], bool]] = {
    "startswith": str.startswith, "endswith": str.endswith, "contains": lambda a, b: b in a}


def _invalid(message: str) -> ApiError:
    return ApiError(400, "InvalidFilter", f"invalid filter: {message}")


def _tokens(text: str) -> list[tuple[str, str]]:
    out, pos = [], 0
    while pos < len(text):
        if not text[pos:].strip():
            break
        m = _TOKEN.match(text, pos)
        if not m:
            raise _invalid(f"unexpected text at {text[pos:pos + 20]!r}")
        kind = m.lastgroup or ""
        out.append((kind, m.group(kind)))
        pos = m.end()
    return out


class _Parser:
    def __init__(self, text: str) -> None:
        self.toks = _tokens(text)
        self.i = 0

    def peek(self) -> str | None:
        return self.toks[self.i][1] if self.i < len(self.toks) else None

    def take(self, expected: str | None = None) -> tuple[str, str]:
        if self.i >= len(self.toks):
            raise _invalid("unexpected end" + (f", expected {expected!r}" if expected else ""))
        tok = self.toks[self.i]
        if expected is not None and tok[1].lower() != expected:
            raise _invalid(f"expected {expected!r}, found {tok[1]!r}")
        self.i += 1
        return tok

    def parse(self) -> Predicate:
        pred = self.expr()
        if self.peek() is not None:
            raise _invalid(f"unexpected {self.peek()!r}")
        return pred

    def expr(self) -> Predicate:
        parts = [self.and_()]
        while (self.peek() or "").lower() == "or":
            self.take()
            parts.append(self.and_())
        return parts[0] if len(parts) == 1 else (lambda d: any(p(d) for p in parts))

    def and_(self) -> Predicate:
        parts = [self.unary()]
        while (self.peek() or "").lower() == "and":
            self.take()
            parts.append(self.unary())
        return parts[0] if len(parts) == 1 else (lambda d: all(p(d) for p in parts))

    def unary(self) -> Predicate:
        if (self.peek() or "").lower() == "not":
            self.take()
            inner = self.unary()
            return lambda d: not inner(d)
        return self.primary()

    def primary(self) -> Predicate:
        kind, word = self.take()
        if word == "(":
            inner = self.expr()
            self.take(")")
            return inner
        if kind != "word":
            raise _invalid(f"unexpected {word!r}")
        if word.lower() in _FUNCS and self.peek() == "(":
            self.take("(")
            field = self.field(self.take()[1])
            self.take(",")
            value = self.literal()
            self.take(")")
            if not isinstance(value, str):
                raise _invalid(f"{word} needs a quoted text")
            return _func(_FUNCS[word.lower()], field, value)
        field = self.field(word)
        op = self.take()[1].lower()
        if op not in _OPS:
            raise _invalid(f"unknown operator {op!r}")
        return _compare(_OPS[op], field, self.literal())

    @staticmethod
    def field(word: str) -> str:
        field = FIELDS.get(word.lower())
        if field is None:
            raise _invalid(f"unknown property {word!r} (known: {', '.join(sorted({*FIELDS}))})")
        return field

    def literal(self) -> Any:
        kind, word = self.take()
        if kind == "str":
            return word[1:-1].replace("''", "'")
        if kind != "word":
            raise _invalid(f"expected a value, found {word!r}")
        low = word.lower()
        if low in ("true", "false"):
            return low == "true"
        if low == "null":
            return None
        if _DATE.match(word):
            return datetime.fromisoformat(word).date()
        try:
            return parse_time(word) if "T" in word else float(word)
        except ValueError as e:
            raise _invalid(f"cannot read value {word!r}") from e


def _normal(field: str, value: Any) -> Any:
    if isinstance(value, str) and field in _CASELESS:
        return value.lower()
    return value


def _compare(op: Callable[[Any, Any], bool], field: str, literal: Any) -> Predicate:
    def pred(d: Details) -> bool:
        value = d.get(field)
        if literal is None or value is None:
            return op(value, literal) if op in (_OPS["eq"], _OPS["ne"]) else False
        if field == "creationTime":
            moment = parse_time(value)
            # A date compares at day precision: `CreationTime le 2026-11-28` includes that whole day.
            left: Any = moment.date() if not isinstance(literal, datetime) else moment
            return bool(op(left, literal.astimezone(UTC) if isinstance(literal, datetime) else literal))
        try:
            return bool(op(_normal(field, value), _normal(field, literal)))
        except TypeError:
            return False
    return pred


def _func(fn: Callable[[str, str], bool], field: str, literal: str) -> Predicate:
    def pred(d: Details) -> bool:
        value = d.get(field)
        if not isinstance(value, str):
            return False
        return fn(_normal(field, value), _normal(field, literal))
    return pred


def parse_filter(text: str | None) -> Predicate:
    """A predicate over JobDetails; everything when text is empty. ApiError 400 when it does not parse."""
    if not text or not text.strip():
        return lambda d: True
    return _Parser(text).parse()


def sort_key(orderby: str | None) -> tuple[Callable[[Details], Any], bool]:
    """(key, reverse) for `orderby=<Property> [asc|desc]`; default newest first, as Azure lists."""
    if not orderby or not orderby.strip():
        return (lambda d: (d.get("creationTime") or "", d.get("id") or "")), True
    words = orderby.split()
    if len(words) > 2 or (len(words) == 2 and words[1].lower() not in ("asc", "desc")):
        raise ApiError(400, "InvalidOrderBy", f"invalid orderby {orderby!r}: expected '<Property> [asc|desc]'")
    field = FIELDS.get(words[0].lower())
    if field is None:
        raise ApiError(400, "InvalidOrderBy", f"cannot order by {words[0]!r}")
    reverse = len(words) == 2 and words[1].lower() == "desc"
    return (lambda d: (str(_normal(field, d.get(field)) or ""), d.get("id") or "")), reverse
