"""Parse and validate a `microsoft.qio.v2` problem and compile it into flat arrays for the kernels.

Variables keep their original (possibly sparse) ids for the output but are renumbered 0..n-1
internally. Terms are canonicalised (ising: s*s = 1, pubo: x*x = x), merged and stored CSR-style
both term→vars and var→terms so kernels can update costs incrementally.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from kuantum_solvers.formats.errors import invalid_input
from kuantum_solvers.formats.numbers import finite_float, is_number, show

ISING = "ising"
PUBO = "pubo"
_TYPES = {"ising": ISING, "pubo": PUBO, "ising_grouped": ISING, "pubo_grouped": PUBO}
_VERSIONS = {"1.0", "1.1"}
MAX_VARIABLES = 50_000_000
MAX_EXPANDED_TERMS = 200_000_000
# Non-zero coefficients (after merging equal terms) must lie within these magnitudes: then every
# energy, energy difference and temperature derived from them stays finite (1e308 + 1e308 is inf,
# 1/1e-320 is inf), which the solvers and the JSON output need. Real problems sit far inside.
MIN_COEFFICIENT = 1e-100
MAX_COEFFICIENT = 1e100


@dataclass
class Problem:
    kind: str  # ISING or PUBO
    ids: npt.NDArray[np.int64]  # compact index -> original id
    offset: float  # constant part of the cost
    term_ptr: npt.NDArray[np.int64]  # term t uses term_vars[term_ptr[t]:term_ptr[t+1]]
    term_vars: npt.NDArray[np.int32]
    term_coef: npt.NDArray[np.float64]
    var_ptr: npt.NDArray[np.int64]  # var v is in terms var_terms[var_ptr[v]:var_ptr[v+1]]
    var_terms: npt.NDArray[np.int32]
    initial: npt.NDArray[np.int8] | None  # initial configuration in kernel encoding (0/1)

    @property
    def is_ising(self) -> bool:
        return self.kind == ISING

    @property
    def n(self) -> int:
        return int(self.ids.shape[0])

    @property
    def n_terms(self) -> int:
        return int(self.term_coef.shape[0])

    def to_values(self, state: npt.NDArray[np.int8]) -> npt.NDArray[np.int64]:
        """Kernel encoding (0/1 bits) -> user values (ising: bit 1 means spin -1; pubo: the bit)."""
        bits = state.astype(np.int64)
        return 1 - 2 * bits if self.is_ising else bits

    def configuration(self, state: npt.NDArray[np.int8]) -> dict[str, int]:
        values = self.to_values(state)
        return {str(int(i)): int(v) for i, v in zip(self.ids, values, strict=True)}

    def energy(self, state: npt.NDArray[np.int8]) -> float:
        """Reference (vectorised numpy) cost of one configuration; used to double-check results."""
        return float(self.energies(state[np.newaxis, :])[0])

    def energies(self, states: npt.NDArray[np.int8], rows_per_pass: int = 64) -> npt.NDArray[np.float64]:
        """Reference costs of configurations given as rows, `rows_per_pass` rows at a time (bounds
        the memory of the [rows, term entries] gather)."""
        states = np.atleast_2d(states)
        out = np.full(states.shape[0], self.offset, dtype=np.float64)
        if self.n_terms == 0:
            return out
        lengths = np.diff(self.term_ptr)
        starts = self.term_ptr[:-1]
        for first in range(0, states.shape[0], rows_per_pass):
            bits = states[first:first + rows_per_pass].astype(np.int64)[:, self.term_vars]
            if self.is_ising:
                # product of spins = (-1)^(number of 1-bits)
                ones = np.add.reduceat(bits, starts, axis=1) if bits.shape[1] else np.zeros((bits.shape[0], 1))
                ones = np.where(lengths > 0, ones, 0)
                vals = 1.0 - 2.0 * (ones % 2)
            else:
                zeros = np.add.reduceat(1 - bits, starts, axis=1) if bits.shape[1] else np.zeros((bits.shape[0], 1))
                zeros = np.where(lengths > 0, zeros, 0)
                vals = (zeros == 0).astype(np.float64)
            out[first:first + rows_per_pass] += vals @ self.term_coef
        return out


def _number(value: Any, where: str) -> float:
    if not is_number(value):
        raise invalid_input(f"{where}: coefficient 'c' must be a number, got {show(value)}")
    number = finite_float(value)
    if number is None:
        raise invalid_input(f"{where}: coefficient 'c' must be finite and within float range, got {show(value)}")
    return number


def _check_magnitudes(merged: dict[tuple[int, ...], float]) -> None:
    for ids, c in merged.items():
        if c != 0.0 and not MIN_COEFFICIENT <= abs(c) <= MAX_COEFFICIENT:
            where = f"term with ids {list(ids)}" if ids else "constant term"
            raise invalid_input(f"{where}: coefficient {c!r} (after adding equal terms) is outside the supported "
                                f"magnitude range [{MIN_COEFFICIENT:g}, {MAX_COEFFICIENT:g}]; rescale the problem")


def _ids(value: Any, where: str) -> list[int]:
    if not isinstance(value, list):
        raise invalid_input(f"{where}: 'ids' must be a list of integers, got {show(value)}")
    out = []
    for x in value:
        if isinstance(x, bool) or not isinstance(x, int):
            if isinstance(x, float) and x.is_integer():
                x = int(x)
            else:
                raise invalid_input(f"{where}: ids must be integers, got {show(x)}")
        if x < 0 or x >= 2**62:
            raise invalid_input(f"{where}: ids must be non-negative integers below 2**62, got {show(x)}")
        out.append(x)
    return out


def _canonical(ids: list[int], kind: str) -> tuple[int, ...]:
    if kind == PUBO:
        return tuple(sorted(set(ids)))
    odd: set[int] = set()
    for i in ids:
        odd ^= {i}
    return tuple(sorted(odd))


def _term(raw: Any, where: str) -> tuple[float, list[int]]:
    if not isinstance(raw, dict):
        raise invalid_input(f"{where}: must be an object {{\"c\": number, \"ids\": [...]}}, got {show(raw)}")
    if "c" not in raw:
        raise invalid_input(f"{where}: missing coefficient 'c'")
    if "ids" not in raw:
        raise invalid_input(f"{where}: missing 'ids'")
    return _number(raw["c"], where), _ids(raw["ids"], where)


def parse_problem(document: Any) -> Problem:
    """Validate the decoded JSON document and compile it."""
    if not isinstance(document, dict):
        raise invalid_input("problem must be a JSON object with a 'cost_function'")
    cf = document.get("cost_function")
    if not isinstance(cf, dict):
        raise invalid_input("missing or invalid 'cost_function' object")
    version = cf.get("version", "1.0")
    if version not in _VERSIONS:
        raise invalid_input(f"cost_function.version must be one of {sorted(_VERSIONS)}, got {show(version)}")
    ptype = cf.get("type")
    if ptype not in _TYPES:
        raise invalid_input(f"cost_function.type must be one of {sorted(_TYPES)}, got {show(ptype)}")
    kind = _TYPES[ptype]
    terms = cf.get("terms", [])
    slc = cf.get("terms_slc", [])
    if terms is None:
        terms = []
    if slc is None:
        slc = []
    if not isinstance(terms, list):
        raise invalid_input("cost_function.terms must be a list")
    if not isinstance(slc, list):
        raise invalid_input("cost_function.terms_slc must be a list")
    if not terms and not slc:
        raise invalid_input("cost_function has no terms")

    merged: dict[tuple[int, ...], float] = {}
    all_ids: set[int] = set()
    for k, raw in enumerate(terms):
        c, ids = _term(raw, f"term {k}")
        all_ids.update(ids)
        key = _canonical(ids, kind)
        merged[key] = merged.get(key, 0.0) + c

    expanded = 0
    for g, group in enumerate(slc):
        where = f"terms_slc {g}"
        if not isinstance(group, dict) or not isinstance(group.get("terms"), list):
            raise invalid_input(f"{where}: must be an object {{\"c\": number, \"terms\": [...]}}")
        gc = _number(group.get("c", 1.0), where)
        inner = [_term(t, f"{where} term {j}") for j, t in enumerate(group["terms"])]
        expanded += len(inner) ** 2
        if expanded > MAX_EXPANDED_TERMS:
            raise invalid_input(f"{where}: grouped terms expand to more than {MAX_EXPANDED_TERMS} terms")
        # c * (sum_i c_i m_i)^2 = c * sum_{i,j} c_i c_j m_i m_j
        for ci, ids_i in inner:
            all_ids.update(ids_i)
            for cj, ids_j in inner:
                key = _canonical(ids_i + ids_j, kind)
                merged[key] = merged.get(key, 0.0) + gc * ci * cj

    initial_raw = cf.get("initial_configuration")
    if initial_raw is not None:
        if not isinstance(initial_raw, dict):
            raise invalid_input("cost_function.initial_configuration must be an object {\"id\": value}")
        for key in initial_raw:
            try:
                all_ids.add(int(key))
            except (TypeError, ValueError):
                raise invalid_input(f"initial_configuration: ids must be integers, got {show(key)}") from None

    if len(all_ids) > MAX_VARIABLES:
        raise invalid_input(f"problem has {len(all_ids)} variables; at most {MAX_VARIABLES} are supported")
    id_array = np.array(sorted(all_ids), dtype=np.int64)
    index = {int(v): i for i, v in enumerate(id_array)}

    _check_magnitudes(merged)
    offset = merged.pop((), 0.0)
    keys = [k for k, c in merged.items() if c != 0.0]
    coef = np.array([merged[k] for k in keys], dtype=np.float64)
    lengths = np.array([len(k) for k in keys], dtype=np.int64)
    term_ptr = np.zeros(len(keys) + 1, dtype=np.int64)
    np.cumsum(lengths, out=term_ptr[1:])
    term_vars = np.fromiter((index[i] for k in keys for i in k), dtype=np.int32, count=int(term_ptr[-1]))
    term_of_entry = np.repeat(np.arange(len(keys), dtype=np.int32), lengths)
    order = np.argsort(term_vars, kind="stable")
    var_terms = term_of_entry[order].astype(np.int32)
    n = len(id_array)
    counts = np.bincount(term_vars, minlength=n) if term_vars.size else np.zeros(n, np.int64)
    var_ptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(counts, out=var_ptr[1:])

    initial = None
    if initial_raw is not None:
        initial = np.zeros(n, dtype=np.int8)
        for key, value in initial_raw.items():
            initial[index[int(key)]] = _initial_bit(key, value, kind)
    return Problem(kind, id_array, float(offset), term_ptr, term_vars, coef, var_ptr, var_terms, initial)


def _initial_bit(key: str, value: Any, kind: str) -> int:
    allowed = (1, -1) if kind == ISING else (0, 1)
    if isinstance(value, bool) or value not in allowed:
        raise invalid_input(f"initial_configuration[{show(key)}] must be one of {list(allowed)}, got {show(value)}")
    return int(value == -1) if kind == ISING else int(value)
