"""What the two packages import, read from their source (ast), against what their pyproject.toml files declare.

- Every third-party import is declared: in the base dependencies, or in the extra of the part that needs it
  (kuantum: `gateway` for kuantum/gateway/, `qsharp` for kuantum/cli/; kuantum_solvers: `engines`, `gpu` and
  `tracing` outside its formats), and every program (a [project.scripts] entry and all it imports) needs nothing beyond
  the base and its own extras. Nothing is declared that nothing imports.
- The operator imports the solver's formats only, and the formats import no engine: the operator's image
  installs kuantum-solvers without its `engines` extra.
- Neither package has an import circle.

Imports inside functions count (they run when the function does); those under `if TYPE_CHECKING:` do not, and
`importlib.import_module("name")` with a literal name counts as an import of that name.
"""

from __future__ import annotations

import ast
import functools
import importlib.metadata as metadata
import re
import sys
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[3]

# Import names that no installed distribution provides here, and the requirement that declares them.
NOT_INSTALLED_HERE = {
    "cupy": "cupy-cuda12x",  # named after the CUDA major version; the dev venv has no GPU
    "qsharp": "qdk",  # the QDK's older name, imported only when `qdk` is missing
}


@dataclass(frozen=True, eq=False)
class Package:
    name: str  # the import name
    source: Path  # the folder holding the package's folder
    pyproject: Path
    runtime_extras: frozenset[str]  # extras a user installs to run something (not dev, test or bench)
    scopes: dict[str, frozenset[str]]  # module prefix -> the extras its modules may import from
    programs: dict[str, frozenset[str]]  # [project.scripts] name -> the extras that program needs
    siblings: dict[str, str] = field(default_factory=dict)  # first-party import name -> its distribution

    @functools.cached_property
    def project(self) -> dict[str, Any]:
        project: dict[str, Any] = tomllib.loads(self.pyproject.read_text())["project"]
        return project

    def requirements(self, extra: str | None = None) -> set[str]:
        reqs = self.project["dependencies"] if extra is None else self.project["optional-dependencies"][extra]
        return {canonical(re.split(r"[\s\[<>=!~;]", r, maxsplit=1)[0]) for r in reqs}

    def allowed(self, module: str) -> set[str]:
        """The base, and the extras of the innermost scope the module is in."""
        scopes = [prefix for prefix in self.scopes if within(module, prefix)]
        extras = self.scopes[max(scopes, key=len)] if scopes else frozenset()
        return self.requirements().union(*(self.requirements(e) for e in extras))


OPERATOR = Package(
    "kuantum", REPO / "operator", REPO / "pyproject.toml", frozenset({"gateway", "qsharp"}),
    scopes={"kuantum.gateway": frozenset({"gateway"}), "kuantum.cli": frozenset({"qsharp"})},
    programs={"kuantum-operator": frozenset(), "kuantum-gateway": frozenset({"gateway"}),
              "kuantum": frozenset({"qsharp"})},
    siblings={"kuantum_solvers": "kuantum-solvers"})
SOLVER = Package(
    "kuantum_solvers", REPO / "solver-image", REPO / "solver-image" / "pyproject.toml",
    frozenset({"engines", "gpu", "tracing"}),
    scopes={"kuantum_solvers": frozenset({"engines", "gpu", "tracing"}), "kuantum_solvers.formats": frozenset()},
    programs={"kuantum-solve": frozenset({"engines", "gpu", "tracing"}),
              "kuantum-solve-worker": frozenset({"engines", "gpu", "tracing"})})
PACKAGES = [OPERATOR, SOLVER]
FORMATS = "kuantum_solvers.formats"


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def within(module: str, prefix: str) -> bool:
    return module == prefix or module.startswith(prefix + ".")


@dataclass(frozen=True)
class Import:
    module: str
    line: int
    lazy: bool  # inside a function: it runs when the function does, not when the module loads


def _absolute(module: str, is_package: bool, node: ast.ImportFrom) -> list[str]:
    if not node.level:
        base = node.module or ""
    else:
        parts = module.split(".") if is_package else module.split(".")[:-1]
        parts = parts[: len(parts) - (node.level - 1)]
        base = ".".join(parts + ([node.module] if node.module else []))
    # `from pkg import name` may import the module pkg.name
    return [base, *(f"{base}.{alias.name}" for alias in node.names)]


def imports(module: str, path: Path) -> Iterator[Import]:
    is_package = path.name == "__init__.py"

    def visit(node: ast.AST, lazy: bool) -> Iterator[Import]:
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            yield from (i for child in node.orelse for i in visit(child, lazy))
            return
        if isinstance(node, ast.Import):
            yield from (Import(alias.name, node.lineno, lazy) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            yield from (Import(name, node.lineno, lazy) for name in _absolute(module, is_package, node))
        elif (isinstance(node, ast.Call) and ast.unparse(node.func) in ("importlib.import_module", "import_module")
              and node.args and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)):
            yield Import(node.args[0].value, node.lineno, lazy)
        inner = lazy or isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda)
        for child in ast.iter_child_nodes(node):
            yield from visit(child, inner)

    yield from visit(ast.parse(path.read_text(), str(path)), False)


@functools.cache
def modules(package: Package) -> dict[str, Path]:
    found = {}
    for path in sorted((package.source / package.name).rglob("*.py")):
        parts = path.relative_to(package.source).with_suffix("").parts
        found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


@functools.cache
def imports_of(package: Package) -> dict[str, list[Import]]:
    return {module: list(imports(module, path)) for module, path in modules(package).items()}


def first_party(package: Package, name: str) -> str | None:
    """The package's module `name` is (or is in), or None for anything else."""
    known = modules(package)
    while name:
        if name in known:
            return name
        name = name.rpartition(".")[0]
    return None


@functools.cache
def _distributions() -> dict[str, list[str]]:
    return metadata.packages_distributions()


@functools.cache
def distribution(module: str) -> str | None:
    """The distribution that provides `module` (a namespace package like `azure` has several)."""
    top = module.split(".")[0]
    if top in NOT_INSTALLED_HERE:
        return NOT_INSTALLED_HERE[top]
    candidates = _distributions().get(top, [])
    if len(candidates) > 1:
        parts = module.split(".")
        for depth in range(len(parts), 0, -1):
            prefix = "/".join(parts[:depth])
            owners = [d for d in candidates if any(str(f) == f"{prefix}.py" or str(f).startswith(f"{prefix}/")
                                                   for f in metadata.files(d) or [])]
            if len(owners) == 1:
                candidates = owners
                break
    return canonical(candidates[0]) if len(candidates) == 1 else None


def third_party(package: Package, module: str) -> list[tuple[Import, str]]:
    """The module's imports of other distributions, each with the distribution it comes from."""
    out = []
    for imp in imports_of(package)[module]:
        top = imp.module.split(".")[0]
        if top in sys.stdlib_module_names or first_party(package, imp.module):
            continue
        if top in package.siblings:
            out.append((imp, package.siblings[top]))
            continue
        dist = distribution(imp.module)
        assert dist is not None, (f"{module}:{imp.line} imports {imp.module}, which no installed distribution (or "
                                  "exactly one) provides: install it and declare it")
        out.append((imp, dist))
    return out


def closure(package: Package, start: str) -> set[str]:
    """The modules a program loads, starting from `start`: everything it imports, directly or not."""
    seen, todo = set(), [start]
    while todo:
        module = todo.pop()
        if module in seen:
            continue
        seen.add(module)
        for imp in imports_of(package)[module]:
            target = first_party(package, imp.module)
            if target:
                todo.extend(_with_parents(target))
    return seen


def _with_parents(module: str) -> list[str]:
    parts = module.split(".")
    return [".".join(parts[:k]) for k in range(1, len(parts) + 1)]


@pytest.mark.parametrize("package", PACKAGES, ids=lambda p: p.name)
def test_every_import_is_declared_where_its_module_belongs(package: Package) -> None:
    wrong = []
    for module in modules(package):
        allowed = package.allowed(module)
        for imp, dist in third_party(package, module):
            if dist not in allowed:
                wrong.append(f"{module}:{imp.line} imports {imp.module} ({dist}), declared for it: {sorted(allowed)}")
    assert not wrong, "undeclared imports:\n" + "\n".join(wrong)


@pytest.mark.parametrize("package", PACKAGES, ids=lambda p: p.name)
def test_every_program_needs_only_the_base_and_its_extras(package: Package) -> None:
    scripts = package.project["scripts"]
    assert set(scripts) == set(package.programs), "a new program: say which extras it needs (PROGRAMS above)"
    for script, extras in package.programs.items():
        entry = scripts[script].split(":")[0]
        allowed = package.requirements().union(*(package.requirements(e) for e in extras))
        needed = {dist: f"{module}:{imp.line}" for module in sorted(closure(package, entry))
                  for imp, dist in third_party(package, module)}
        missing = {dist: where for dist, where in needed.items() if dist not in allowed}
        assert not missing, f"{script} ({entry}) with extras {sorted(extras)} lacks {missing}"


@pytest.mark.parametrize("package", PACKAGES, ids=lambda p: p.name)
def test_nothing_is_declared_that_nothing_imports(package: Package) -> None:
    imported = {dist for module in modules(package) for _, dist in third_party(package, module)}
    for extra in (None, *sorted(package.runtime_extras)):
        stale = package.requirements(extra) - imported
        assert not stale, f"{package.pyproject.relative_to(REPO)} declares {sorted(stale)} " \
                          f"({'base' if extra is None else extra}), which {package.name} never imports"


def test_the_operator_imports_the_solvers_formats_only() -> None:
    wrong = [f"{module}:{imp.line} imports {imp.module}" for module in modules(OPERATOR)
             for imp in imports_of(OPERATOR)[module]
             if within(imp.module, SOLVER.name) and not within(imp.module, FORMATS) and imp.module != SOLVER.name]
    assert not wrong, "the operator's image has no solver engine:\n" + "\n".join(wrong)


def test_the_formats_import_no_engine() -> None:
    formats = [m for m in modules(SOLVER) if within(m, FORMATS)]
    assert formats
    for module in formats:
        for imp in imports_of(SOLVER)[module]:
            target = first_party(SOLVER, imp.module)
            assert target is None or within(target, FORMATS) or target == SOLVER.name, \
                f"{module}:{imp.line} imports {imp.module}: the formats must not import the engines"


@pytest.mark.parametrize("extra", ["gpu", "tracing"])
def test_gpu_and_tracing_imports_are_lazy(extra: str) -> None:
    """The solver runs without cupy and without OpenTelemetry: cupy is imported only when a GPU is looked for, the
    OpenTelemetry SDK only when the pod contract's tracing environment is set; never as a module loads."""
    wanted = SOLVER.requirements(extra)
    eager = [f"{module}:{imp.line} imports {imp.module}" for module in modules(SOLVER)
             for imp, dist in third_party(SOLVER, module) if dist in wanted and not imp.lazy]
    assert not eager, "\n".join(eager)


def test_an_untraced_solver_imports_no_opentelemetry() -> None:
    """kuantum-solve's start stays cheap: without TRACEPARENT and an endpoint, nothing of OpenTelemetry loads."""
    import subprocess

    script = ("import sys; from kuantum_solvers import cli, tracing; tracing.start(); "
              "print(sorted(m for m in sys.modules if m.startswith('opentelemetry')))")
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(REPO / "solver-image")}
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=120)
    assert out.returncode == 0 and out.stdout.strip() == "[]", out.stderr


@pytest.mark.parametrize("package", PACKAGES, ids=lambda p: p.name)
def test_no_import_circle(package: Package) -> None:
    graph = {module: {t for imp in found if (t := first_party(package, imp.module)) and t != module}
             for module, found in imports_of(package).items()}
    for module, targets in graph.items():
        for target in targets:
            assert module not in _reachable(graph, target), f"{module} and {target} import each other (a circle)"


def _reachable(graph: dict[str, set[str]], start: str) -> set[str]:
    seen, todo = set(), [start]
    while todo:
        module = todo.pop()
        if module not in seen:
            seen.add(module)
            todo.extend(graph[module])
    return seen
