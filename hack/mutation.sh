#!/usr/bin/env bash
# Mutation testing of the operator's core modules, the QIO solvers' Python side and the solver's readers and
# formats (OpenQASM, IonQ JSON, QIR, Quil, Pasqal sequences, QIR result formats, the pod contract) with
# cosmic-ray (PyPI), run by `make mutation`. The solver's readers and formats run against their own fast
# tests (test_qasm_parse.py, test_qir_load.py, ...), not the simulations against qiskit-aer: a mutant's run
# takes seconds, not half a minute.
#
# Each module is mutated in scratch copies of the repository under build/mutation (never in the work
# tree, so editors and other test runs are undisturbed), against the unit tests that cover it; a
# module's mutants are split into MUTATION_JOBS shards (default 2) run side by side. Mutants inside
# type annotations are left out (never evaluated: no test could kill them). Prints each module's
# score and every surviving mutant, then the total. A module is named by its dotted path under
# operator/kuantum (`execution.providers.http` is operator/kuantum/execution/providers/http.py;
# `execution/providers/http` works too), or,
# for the solver image, `solvers.<path>` under solver-image/kuantum_solvers (`solvers.qio.problem` is
# solver-image/kuantum_solvers/qio/problem.py). The solver's numba kernels are compiled once per
# scratch copy (their cache is copied along and warmed by one unmutated run); a mutant inside a
# kernel recompiles that kernel for its test run.
# Rerunning a subset replaces only those modules' results under build/mutation/run.
#
#   MUTATION_MODULES="jobs.statemachine scheduling.queues" make mutation    # a subset
#   MUTATION_MODULES="solvers.qio.problem" make mutation      # a solver module
#   MUTATION_TIMEOUT=20                                       # seconds per mutant's test run (default 30)
#   MUTATION_MAX=0           # every mutant (~6,700 over the default modules: many hours on 2 cores); default 40 per
#                            # module, spread evenly over the file: an estimate in bounded time (see the Makefile)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
PY="$ROOT/.venv/bin/python"  # the project's venv runs the tests (make venv)
VENV="$ROOT/build/mutation/venv"
COSMIC_RAY_VERSION="8.7.0"
MODULES=${MUTATION_MODULES:-"jobs.statemachine scheduling.queues scheduling.admission execution.pod.builders
  storage.blobs jobs.validation accepted_spec scheduling.usage labels execution.providers.http
  execution.providers.circuits execution.providers.ionq.api execution.providers.quantinuum.api objects
  execution.pod.backend execution.pod.startup execution.providers.backend
  solvers.qio.problem solvers.qio.quadratic solvers.qio.solvers.common
  solvers.formats.circuits.qasm solvers.formats.circuits.qasm_syntax solvers.formats.circuits.ionq
  solvers.formats.circuits.qir_load solvers.formats.results solvers.formats.contract solvers.rigetti.quil
  solvers.pasqal.sequence"}
MODULES=$(echo "$MODULES" | tr '/' '.' | sed 's/\.py\b//g')
TIMEOUT=${MUTATION_TIMEOUT:-30}
JOBS=${MUTATION_JOBS:-2}
MAX=${MUTATION_MAX:-40}  # 0: every mutant

# test_annealing.py without its minute-long timeout cases.
ANNEALING=$(printf 'tests/unit/solvers/test_annealing.py::%s ' test_instances_trap_descent \
  test_annealers_leave_a_local_minimum_descent_cannot test_sa_cold_beta_range_is_honoured \
  test_sa_beta_start_and_stop_are_not_interchangeable test_pt_betas_are_honoured test_pa_beta_schedule_is_honoured \
  test_sweeps_run_are_the_sweeps_asked test_one_sweep_cannot_anneal test_restarts_are_independent_runs)

tests_for() {
  case "$1" in
    jobs.statemachine) echo "tests/unit/jobs/test_statemachine.py" ;;
    scheduling.queues) echo "tests/unit/scheduling/test_queues.py tests/unit/scheduling/test_admission.py" ;;
    scheduling.admission) echo "tests/unit/scheduling/test_admission.py" ;;
    execution.pod.builders) echo "tests/unit/execution/pod/test_builders.py tests/unit/test_persisted_names.py" ;;
    storage.blobs) echo "tests/unit/storage/test_blobs.py tests/unit/test_persisted_names.py" ;;
    jobs.validation) echo "tests/unit/jobs/test_validation.py" ;;
    accepted_spec) echo "tests/unit/test_accepted_spec.py" ;;
    scheduling.usage) echo "tests/unit/scheduling/test_usage.py" ;;
    labels) echo "tests/unit/test_labels.py" ;;
    execution.providers.http) echo "tests/unit/execution/providers/test_http.py" ;;
    execution.providers.circuits) echo "tests/unit/execution/providers/test_circuits.py" \
      "tests/unit/execution/providers/test_qir.py" ;;
    execution.providers.ionq.api) echo "tests/unit/execution/providers/ionq/test_api.py" ;;
    execution.providers.quantinuum.api) echo "tests/unit/execution/providers/quantinuum/test_api.py" \
      "tests/unit/execution/providers/quantinuum/test_api_scripted.py" ;;
    objects) echo "tests/unit/test_objects.py tests/unit/runtime/test_store.py" \
      "tests/unit/scheduling/test_admission.py" ;;
    execution.pod.backend) echo "tests/unit/execution/pod/test_backend.py" \
      "tests/unit/jobs/test_reconciler_pod.py tests/unit/jobs/test_reconciler_lifecycle.py" \
      "tests/unit/jobs/test_reconciler_admission.py" ;;
    execution.pod.startup) echo "tests/unit/execution/pod/test_startup.py tests/unit/execution/pod/test_backend.py" ;;
    execution.providers.backend) echo "tests/unit/execution/providers/test_backend.py" \
      "tests/unit/jobs/test_reconciler_ionq.py tests/unit/jobs/test_reconciler_lifecycle.py" \
      "tests/unit/jobs/test_reconciler_quantinuum.py tests/unit/execution/providers/test_poller.py" ;;
    # The solver image's QIO modules. test_annealing's timeout cases (a minute) are left to `make test`; the
    # Runner's deadline logic is checked with a fake clock in test_qio_common.py.
    solvers.qio.problem) echo "tests/unit/solvers/test_problem.py" \
      "tests/unit/solvers/test_kernels.py" ;;
    solvers.qio.quadratic) echo "tests/unit/solvers/test_quadratic.py tests/unit/solvers/test_lanes.py" ;;
    solvers.qio.solvers.common) echo "tests/unit/solvers/test_qio_common.py tests/unit/solvers/test_qio_solvers.py" \
      "$ANNEALING" ;;
    solvers.qio.solvers.sa) echo "tests/unit/solvers/test_qio_solvers.py $ANNEALING" ;;
    solvers.qio.run) echo "tests/unit/solvers/test_qio_solvers.py tests/unit/solvers/test_cli.py" ;;
    # The solver image's formats: what the operator and the solver share (circuit parsers, result formats,
    # the pod's contract, the target catalog), against both sides' tests.
    solvers.formats.circuits.qasm|solvers.formats.circuits.qasm_syntax)
      echo "tests/unit/solvers/test_qasm_parse.py tests/unit/solvers/test_qasm_errors.py" ;;
    solvers.formats.circuits.gates) echo "tests/unit/solvers/test_circuits.py" ;;
    solvers.formats.circuits.ionq) echo "tests/unit/solvers/test_ionq_parse.py" ;;
    solvers.formats.circuits.qir_load) echo "tests/unit/solvers/test_qir_load.py" ;;
    solvers.formats.results) echo "tests/unit/solvers/test_results.py" ;;
    solvers.formats.contract) echo "tests/unit/solvers/test_contract.py tests/unit/execution/pod/test_pod_contract.py" ;;
    solvers.formats.targets) echo "tests/unit/solvers/test_targets.py" ;;
    solvers.rigetti.quil) echo "tests/unit/solvers/test_rigetti.py tests/unit/solvers/test_quil_gates.py" ;;
    solvers.pasqal.sequence) echo "tests/unit/solvers/test_pasqal.py" ;;
    *) echo "unknown module $1 (known: jobs.statemachine scheduling.queues scheduling.admission" \
         "execution.pod.builders storage.blobs jobs.validation accepted_spec scheduling.usage labels" \
         "execution.providers.http execution.providers.circuits execution.providers.ionq.api" \
         "execution.providers.quantinuum.api objects execution.pod.backend execution.pod.startup" \
         "execution.providers.backend" \
         "solvers.qio.problem solvers.qio.quadratic solvers.qio.solvers.common solvers.qio.solvers.sa" \
         "solvers.qio.run solvers.formats.circuits.qasm solvers.formats.circuits.qasm_syntax" \
         "solvers.formats.circuits.gates solvers.formats.circuits.ionq solvers.formats.circuits.qir_load" \
         "solvers.formats.results solvers.formats.contract solvers.formats.targets solvers.rigetti.quil" \
         "solvers.pasqal.sequence)" >&2; return 1 ;;
  esac
}

[ -x "$PY" ] || { echo "mutation: $PY is missing; run make venv" >&2; exit 1; }
if [[ "$("$VENV/bin/cosmic-ray" --version 2>/dev/null)" != *"$COSMIC_RAY_VERSION"* ]]; then
  echo "==> installing cosmic-ray $COSMIC_RAY_VERSION into $VENV"
  rm -rf "$VENV"
  "${PYTHON:-python3}" -m venv "$VENV"
  "$VENV/bin/pip" install -q --disable-pip-version-check "cosmic-ray==$COSMIC_RAY_VERSION"
fi

WORK="$ROOT/build/mutation/run"
mkdir -p "$WORK"
is_solver() { [[ $1 == solvers.* ]]; }
source_of() {
  if is_solver "$1"; then
    local path=${1#solvers.}
    echo "solver-image/kuantum_solvers/${path//.//}.py"
  else
    echo "operator/kuantum/${1//.//}.py"
  fi
}
# --noconftest keeps tests/conftest.py (the dev cluster's fixtures) out; the solver tests' fixtures come in as a plugin.
pytest_opts() { if is_solver "$1"; then echo "-p tests.unit.solvers.conftest"; fi; }

# Drops the mutants inside type annotations (`str | None` -> `str - None`) and keeps this shard's share.
prune() {
  "$PY" - "$@" <<'PRUNE'
import ast
import sqlite3
import sys

db, source, shard, shards, most = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
tree = ast.parse(open(source).read())
spans = []
for node in ast.walk(tree):
    found = []
    if isinstance(node, ast.arg) and node.annotation is not None:
        found.append(node.annotation)
    if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.returns is not None:
        found.append(node.returns)
    if isinstance(node, ast.AnnAssign):
        found.append(node.annotation)
    spans += [((a.lineno, a.col_offset), (a.end_lineno, a.end_col_offset)) for a in found]
con = sqlite3.connect(db)
# Job ids are random per `cosmic-ray init`: order by what the mutant is, so every shard splits the same list.
rows = con.execute("SELECT job_id, start_pos_row, start_pos_col FROM mutation_specs ORDER BY start_pos_row, "
                   "start_pos_col, end_pos_row, end_pos_col, operator_name, occurrence").fetchall()
annotation = {job for job, row, col in rows if any(lo <= (row, col) < hi for lo, hi in spans)}
kept = [job for job, _, _ in rows if job not in annotation]
print(len(kept))  # the module's mutants, for the report
if 0 < most < len(kept):  # an even spread over the file, the same in every shard
    kept = [kept[i * len(kept) // most] for i in range(most)]
drop = {job for job, _, _ in rows} - {job for i, job in enumerate(kept) if i % shards == shard}
for job in drop:
    con.execute("DELETE FROM mutation_specs WHERE job_id = ?", (job,))
    con.execute("DELETE FROM work_items WHERE job_id = ?", (job,))
con.commit()
PRUNE
}

run_shard() {
  local module=$1 shard=$2 tests=$3
  local dir="$WORK/$module-$shard" source
  source=$(source_of "$module")
  rm -rf "$dir"
  mkdir -p "$dir"
  # A scratch copy: the tests import kuantum and kuantum_solvers from here (PYTHONPATH wins over the
  # editable installs).
  cp -r "$ROOT/operator" "$ROOT/tests" "$ROOT/pyproject.toml" "$dir/"
  find "$dir" -name __pycache__ -prune -exec rm -rf {} +
  # The solver package keeps its numba cache (__pycache__/*.nbi, *.nbc) and its sources' times (-p): a cache
  # entry holds while its source file's mtime and size are unchanged, so only a mutated module's kernels
  # compile again.
  mkdir -p "$dir/solver-image"
  cp -rp "$ROOT/solver-image/kuantum_solvers" "$ROOT/solver-image/pyproject.toml" "$dir/solver-image/"
  find "$dir/solver-image" -name '*.pyc' -delete
  local run="env PYTHONPATH=$dir/operator:$dir/solver-image PYTHONDONTWRITEBYTECODE=1 $PY -m pytest -x -q"
  run+=" -p no:cacheprovider --noconftest $(pytest_opts "$module") $tests"
  config() {
    cat > "$dir/cosmic-ray.toml" <<TOML
[cosmic-ray]
module-path = "$source"
timeout = $1.0
excluded-modules = []
test-command = "$run"

[cosmic-ray.distributor]
name = "local"
TOML
  }
  config "$TIMEOUT"
  cd "$dir"
  "$VENV/bin/cosmic-ray" init cosmic-ray.toml session.sqlite >/dev/null
  prune session.sqlite "$source" "$shard" "$JOBS" "$MAX" >mutants
  if is_solver "$module"; then
    # One unmutated run first compiles whatever kernels the copied cache lacks, so that no mutant's run
    # pays for it (and times out: a false kill); a second, warm one is timed: the solver tests take longer
    # than the operator's, so a mutant's run may take three times as long before it counts as a hang.
    $run >warmup.log 2>&1 || { echo "mutation: the unmutated tests of $module fail in $dir (warmup.log)" >&2; return 1; }
    local began=$SECONDS
    $run >>warmup.log 2>&1
    local took=$((SECONDS - began))
    config $((TIMEOUT > 3 * took ? TIMEOUT : 3 * took))
  fi
  "$VENV/bin/cosmic-ray" --verbosity=ERROR exec cosmic-ray.toml session.sqlite >exec.log 2>&1
}

status=0
for module in $MODULES; do
  tests=$(tests_for "$module") || { status=1; continue; }
  rm -rf "$WORK/$module"-*
  echo "==> mutating $(source_of "$module") against $tests ($JOBS shards)"
  # shellcheck disable=SC2086
  if ! "$PY" -m pytest -x -q -p no:cacheprovider --noconftest $(pytest_opts "$module") $tests >/dev/null; then
    echo "mutation: the unmutated tests of $module fail; fix them first" >&2
    status=1
    continue
  fi
  pids=()
  for shard in $(seq 0 $((JOBS - 1))); do
    (run_shard "$module" "$shard" "$tests") &
    pids+=($!)
  done
  for pid in "${pids[@]}"; do wait "$pid" || status=1; done
done

# shellcheck disable=SC2086
"$PY" - "$WORK" $MODULES <<'REPORT'
import sqlite3
import sys
from pathlib import Path

work, modules = Path(sys.argv[1]), sys.argv[2:]
total = killed = 0
for module in modules:
    rows, unrun, of = [], 0, 0
    for db in sorted(work.glob(f"{module}-*/session.sqlite")):
        counted = db.parent / "mutants"
        of = int(counted.read_text()) if counted.exists() else 0
        con = sqlite3.connect(db)
        rows += con.execute(
            "SELECT m.module_path, m.operator_name, m.occurrence, m.start_pos_row, m.start_pos_col, "
            "r.test_outcome, r.diff, r.output FROM mutation_specs m JOIN work_results r ON m.job_id = r.job_id"
        ).fetchall()
        unrun += con.execute("SELECT count(*) FROM mutation_specs WHERE job_id NOT IN "
                             "(SELECT job_id FROM work_results)").fetchone()[0]
    rows.sort(key=lambda r: (r[3], r[4], r[1], r[2]))
    if len({r[:5] for r in rows}) != len(rows):
        print(f"mutation: {module}'s shards ran a mutant twice (they did not split one list)", file=sys.stderr)
    alive = [r for r in rows if str(r[5]).lower().endswith("survived")]
    # A timeout counts as killed (cosmic-ray's rule: the mutant made the tests hang), but on a loaded
    # machine it may be a slow unmutated run: they are listed, to rerun with a larger MUTATION_TIMEOUT.
    slow = [r for r in rows if r[7] == "timeout"]
    total += len(rows)
    killed += len(rows) - len(alive)
    score = 100.0 * (len(rows) - len(alive)) / len(rows) if rows else 0.0
    extra = (f", {len(slow)} of them by timeout" if slow else "") + (f"; {unrun} not run" if unrun else "")
    if of > len(rows) + unrun:
        extra += f"; a sample of the module's {of} (MUTATION_MAX)"
    print(f"\n{module}: {len(rows) - len(alive)}/{len(rows)} mutants killed ({score:.1f} %){extra}")
    for path, op, _occ, row, col, outcome, diff, _output in alive + slow:
        changed = [line for line in (diff or "").splitlines() if line[:1] in "+-" and line[:3] not in ("+++", "---")]
        what = "survived" if str(outcome).lower().endswith("survived") else "timed out"
        print(f"  {what} {path}:{row}:{col} {op}: {' | '.join(changed)}")
score = 100.0 * killed / total if total else 0.0
print(f"\nmutation score: {killed}/{total} killed ({score:.1f} %)")
REPORT
exit $status
