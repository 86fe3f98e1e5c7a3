#!/usr/bin/env bash
# `make demo`: the dev cluster is up (make's prerequisite); install the CRDs, run the operator, apply
# examples/, wait for the jobs and show their status and the first job's output.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/.." && pwd)"
. "$here/lib.sh"
. "$here/cluster-env.sh"
export KUBECONFIG="$KUBECONFIG_ADMIN"
kubectl() { "$KUANTUM_BIN/kubectl" "$@"; }
NS="${KUANTUM_DEMO_NAMESPACE:-kuantum-demo}"
VENV_BIN="$repo/.venv/bin"

step "installing the CRDs"
kubectl apply -f "$repo/helm/kuantum-crds/templates/" >/dev/null
kubectl wait --for condition=established --timeout=60s crd/quantumjobs.kuantum.dev crd/providers.kuantum.dev \
  crd/quantumworkspaces.kuantum.dev >/dev/null

# Like the chart's default (all namespaces), except the namespaces tests and benchmarks create for their own
# operators: t-<hex> (tests/conftest.py) and bench-* (benchmarks/). One Kopf namespace pattern: a leading
# `!` glob implies "all namespaces but"; Kopf watches every other namespace, including ones created later.
WATCH="${KUANTUM_DEMO_WATCH:-!t-*,!bench-*}"
pidf="$STATE/pids/operator.pid"
if [ -f "$pidf" ] && grep -qa kuantum-operator "/proc/$(cat "$pidf")/cmdline" 2>/dev/null; then
  info "operator already running (pid $(cat "$pidf"))"
  if ! tr '\0' ' ' < "/proc/$(cat "$pidf")/cmdline" | grep -qF -- "-n $WATCH"; then
    info "it was started with other namespaces; to watch '$WATCH': kill $(cat "$pidf") && make demo"
  fi
else
  step "starting the operator for all namespaces but '$WATCH' (log: $STATE/logs/operator.log)"
  setsid "$VENV_BIN/kuantum-operator" --kubeconfig "$KUBECONFIG_ADMIN" -n "$WATCH" --metrics-addr 127.0.0.1 \
    --liveness http://127.0.0.1:8081/healthz >>"$STATE/logs/operator.log" 2>&1 < /dev/null &
  echo $! > "$pidf"
  printf 'kuantum-operator' > "$STATE/pids/operator.cmd"
  for _ in $(seq 60); do curl -fs --max-time 1 http://127.0.0.1:8081/healthz >/dev/null 2>&1 && break; sleep 0.5; done
fi

step "applying examples/ in namespace $NS"
kubectl create namespace "$NS" --dry-run=client -o yaml | kubectl apply -f - >/dev/null
kubectl -n "$NS" create secret generic demo-storage --from-literal=connectionString="$AZURITE_CONNECTION_STRING" \
  --dry-run=client -o yaml | kubectl apply -f - >/dev/null
[ -s "$STATE/gateway.key" ] || python3 -c 'import secrets; print(secrets.token_urlsafe(24))' > "$STATE/gateway.key"
kubectl -n "$NS" create secret generic demo-gateway-key --from-literal=apiKey="$(cat "$STATE/gateway.key")" \
  --dry-run=client -o yaml | kubectl apply -f - >/dev/null
kubectl -n "$NS" apply -f "$repo/examples/"

gw_pidf="$STATE/pids/gateway.pid"
if [ -f "$gw_pidf" ] && grep -qa kuantum-gateway "/proc/$(cat "$gw_pidf")/cmdline" 2>/dev/null; then
  info "kuantum-gateway already running (pid $(cat "$gw_pidf"))"
else
  step "starting kuantum-gateway on 127.0.0.1:8480 (log: $STATE/logs/gateway.log)"
  setsid "$VENV_BIN/kuantum-gateway" --listen 127.0.0.1:8480 --kubeconfig "$KUBECONFIG_ADMIN" \
    >>"$STATE/logs/gateway.log" 2>&1 < /dev/null &
  echo $! > "$gw_pidf"
  printf 'kuantum-gateway' > "$STATE/pids/gateway.cmd"
fi

step "waiting for the jobs to finish (at most 3 minutes)"
for _ in $(seq 180); do
  pending=$(kubectl -n "$NS" get qjob -o jsonpath='{range .items[*]}{.status.state}{"\n"}{end}' \
            | grep -cvE '^(Succeeded|Failed|Cancelled)$' || true)
  [ "$pending" = 0 ] && break
  sleep 1
done
kubectl -n "$NS" get quantum
echo
step "why ising-bad-params failed"
kubectl -n "$NS" get qjob ising-bad-params -o jsonpath='{.status.errorData.code}: {.status.errorData.message}{"\n"}'
step "output of ising-sa (kuantum output ising-sa -n $NS)"
"$VENV_BIN/kuantum" --kubeconfig "$KUBECONFIG_ADMIN" -n "$NS" output ising-sa
echo
cat >&2 <<MSG
    The operator keeps running and watches every namespace (except t-* and bench-*, the tests' own). Try:
      export KUBECONFIG=$KUBECONFIG_ADMIN PATH=$KUANTUM_BIN:$VENV_BIN:\$PATH
      kubectl -n $NS get quantum
      kubectl -n default create secret generic demo-storage --from-literal=connectionString="\$(cat $STATE/azurite.connection-string)"
      kubectl -n default apply -f examples/00-workspace.yaml -f examples/20-job-simulated-annealing.yaml
      kuantum -n $NS submit problem.json --workspace demo --provider microsoft-qio \\
          --target microsoft.simulatedannealing.cpu --wait
    The azure-quantum SDK reaches workspace demo through kuantum-gateway (API key in $STATE/gateway.key):
      from azure.core.credentials import AzureKeyCredential
      from azure.quantum import Workspace
      ws = Workspace(subscription_id="00000000-0000-0000-0000-000000000000", resource_group="$NS", name="demo",
                     location="local", credential=AzureKeyCredential(open("$STATE/gateway.key").read().strip()),
                     _quantum_endpoint="http://127.0.0.1:8480", _from_connection_string=True)
      job = ws.get_targets(name="kuantum.simulator").submit(b'{"qubits": 2, "circuit": [{"gate": "h", "target": 0}]}',
          input_data_format="ionq.circuit.v1", output_data_format="ionq.quantum-results.v1", shots=100)
      print(job.get_results())
    Stop everything with: make cluster-down
MSG
