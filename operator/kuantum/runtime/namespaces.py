"""Which namespaces a program serves: `-n` values, each a namespace name or a pattern in Kopf's documented
syntax (comma-separated globs with `*` and `?`, `!` excluding; a leading exclusion implies `*` first). The
informers list and watch by it, the webhook judges only the jobs of the namespaces served.

Plain names are listed and watched one by one (what a namespaced Role allows); patterns need the cluster-wide
list and watch, filtered here.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Callable, Sequence

PATTERN_CHARS = "*?!,["


def is_pattern(value: str) -> bool:
    return any(c in value for c in PATTERN_CHARS)


def match(namespace: str, pattern: str) -> bool:
    """Whether namespace matches one pattern: globs left to right, the first inclusive one matching initially, an
    exclusion un-matching it, a later inclusion re-matching only what the first one matched (Kopf's rule)."""
    globs = [glob.strip() for glob in pattern.split(",")]
    if not globs or globs[0].startswith("!"):
        globs.insert(0, "*")
    matches = first = fnmatch.fnmatchcase(namespace, globs[0])
    for glob in globs[1:]:
        if glob.startswith("!"):
            matches = matches and not fnmatch.fnmatchcase(namespace, glob.lstrip("!"))
        else:
            matches = matches or (first and fnmatch.fnmatchcase(namespace, glob))
    return matches


def scopes(values: Sequence[str]) -> tuple[list[str | None], Callable[[str], bool] | None]:
    """Where to list and watch (namespace names; None: all namespaces) and, for patterns, which namespaces of
    the cluster-wide stream are served (None: all of what is watched)."""
    if not values:
        return [None], None
    if not any(is_pattern(v) for v in values):
        return list(dict.fromkeys(values)), None
    patterns = list(values)
    return [None], lambda namespace: any(match(namespace, p) for p in patterns)


def serves(values: Sequence[str], namespace: str) -> bool:
    """Whether a program given these `-n` values serves namespace."""
    watched, accept = scopes(values)
    return (None in watched or namespace in watched) and (accept is None or accept(namespace))
