"""Which namespaces a program serves: plain names one by one, patterns in Kopf's documented syntax."""

from __future__ import annotations

import pytest
from kuantum.runtime.namespaces import match, scopes, serves


@pytest.mark.parametrize("namespace, pattern, expected", [
    ("team-a", "team-a", True), ("team-b", "team-a", False),
    ("t-0123", "!t-*,!bench-*", False), ("bench-ab", "!t-*,!bench-*", False), ("default", "!t-*,!bench-*", True),
    # Kopf's own examples: the first glob matches initially; a later inclusion re-matches only what it matched.
    ("myapp-test", "myapp-*, !*-pr-*, *pr-123", True), ("myapp-pr-123", "myapp-*, !*-pr-*, *pr-123", True),
    ("myapp-pr-456", "myapp-*, !*-pr-*, *pr-123", False), ("otherapp-pr-123", "myapp-*, !*-pr-*, *pr-123", False),
    ("otherapp-pr-123", "!*-pr-*, *pr-123", True), ("myapp-pr-456", "!*-pr-*, *pr-123", False),
])
def test_patterns_match_as_kopf_documents_them(namespace: str, pattern: str, expected: bool) -> None:
    assert match(namespace, pattern) is expected


def test_plain_names_are_scopes_of_their_own_and_patterns_filter_the_cluster_wide_stream() -> None:
    assert scopes([]) == ([None], None)
    assert scopes(["a", "b", "a"]) == (["a", "b"], None)
    watched, accept = scopes(["team-*", "kuantum-demo"])
    assert watched == [None] and accept is not None
    assert [ns for ns in ("team-a", "kuantum-demo", "default") if accept(ns)] == ["team-a", "kuantum-demo"]


def test_serves() -> None:
    assert serves([], "anything")
    assert serves(["a"], "a") and not serves(["a"], "b")
    assert serves(["!t-*"], "default") and not serves(["!t-*"], "t-1")


@pytest.mark.parametrize(("namespace", "patterns", "served"), [
    ("team-a", [], True),
    ("team-a", ["team-a"], True),
    ("team-b", ["team-a"], False),
    ("t-1234", ["!t-*,!bench-*"], False),  # `make demo`: all but the tests' and benchmarks' namespaces
    ("bench-scale", ["!t-*,!bench-*"], False),
    ("kuantum-demo", ["!t-*,!bench-*"], True),
    ("ci-pr-7", ["ci-*,!ci-pr-7"], False),
    ("ci-pr-8", ["ci-*,!ci-pr-7"], True),
    ("other", ["ci-*,!ci-pr-7", "other"], True),  # served when any pattern serves it
])
def test_an_operator_serves_namespaces_as_kopf_matches_its_patterns(
    namespace: str, patterns: list[str], served: bool
) -> None:
    assert serves(patterns, namespace) is served
