#!/usr/bin/env bash
# `make demo`: Kuantum as users run it. The dev cluster is up with the images `make images` built (make's
# prerequisites); this installs the kuantum-crds and kuantum charts with Helm from those images (admission
# webhook and gateway on), applies examples/, shows the jobs' status and output, runs `helm test`, and prints an
# azure-quantum snippet (also written to $STATE/demo-sdk.py) that runs as printed against the gateway's Service.
#
# Settings (environment): KUANTUM_DEMO_NAMESPACE (kuantum-demo: the examples), KUANTUM_DEMO_RELEASE_NAMESPACE
# (kuantum-system: the release), KUANTUM_DEMO_RELEASE (kuantum), KUANTUM_DEMO_WATCH (empty: every namespace but
# the tests' and benchmarks' own, t-*, e2e-* and bench-*; else a comma-separated list of namespaces to watch),
# KUANTUM_DEMO_SDK_FILE (the snippet's file, $STATE/demo-sdk.py).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/.." && pwd)"
. "$here/lib.sh"
. "$here/cluster-env.sh"
export KUBECONFIG="$KUBECONFIG_ADMIN"
kubectl() { "$KUANTUM_BIN/kubectl" "$@"; }
helm() { "$KUANTUM_BIN/helm" "$@"; }
NS="${KUANTUM_DEMO_NAMESPACE:-kuantum-demo}"
SYSTEM_NS="${KUANTUM_DEMO_RELEASE_NAMESPACE:-kuantum-system}"
RELEASE="${KUANTUM_DEMO_RELEASE:-kuantum}"
WATCH="${KUANTUM_DEMO_WATCH:-}"
SDK_FILE="${KUANTUM_DEMO_SDK_FILE:-$STATE/demo-sdk.py}"
VENV_BIN="$repo/.venv/bin"
[ -f "$repo/build/images.env" ] || die "no build/images.env: run 'make images' first"
# shellcheck disable=SC1091
. "$repo/build/images.env"
started=$SECONDS

step "installing the CRDs (helm: kuantum-crds)"
# --take-ownership: CRDs applied earlier with kubectl (the tests do) become the release's, as the README's
# upgrade path describes.
helm upgrade --install kuantum-crds "$repo/helm/kuantum-crds" --take-ownership --wait --timeout 120s >/dev/null
kubectl wait --for condition=established --timeout=60s crd/quantumjobs.kuantum.dev crd/providers.kuantum.dev \
  crd/quantumworkspaces.kuantum.dev >/dev/null

scope=()
if [ -n "$WATCH" ]; then
  scope=(--set "watchNamespaces={$WATCH}")
else
  # Like the chart's default (all namespaces), but for those where the tests and benchmarks run operators
  # of their own.
  scope=(--set "excludeNamespaces={t-*,e2e-*,bench-*}")
fi
step "installing Kuantum (helm: $RELEASE in $SYSTEM_NS, images ${KUANTUM_OPERATOR_IMAGE##*/}, ${KUANTUM_SOLVER_IMAGE##*/})"
kubectl create namespace "$NS" --dry-run=client -o yaml | kubectl apply -f - >/dev/null
helm upgrade --install "$RELEASE" "$repo/helm/kuantum" -n "$SYSTEM_NS" --create-namespace \
  --set "image.repository=${KUANTUM_OPERATOR_IMAGE%:*}" --set "image.tag=${KUANTUM_OPERATOR_IMAGE##*:}" \
  --set "solverImage.repository=${KUANTUM_SOLVER_IMAGE%:*}" --set "solverImage.tag=${KUANTUM_SOLVER_IMAGE##*:}" \
  --set webhook.enabled=true --set gateway.enabled=true --set "tests.namespace=$NS" --set tests.workspace=demo \
  "${scope[@]}" --wait --timeout 300s >/dev/null \
  || die "helm could not install $RELEASE: kubectl -n $SYSTEM_NS get pods; kubectl -n $SYSTEM_NS logs deploy/$RELEASE"

step "applying examples/ in namespace $NS"
kubectl -n "$NS" create secret generic demo-storage --from-literal=connectionString="$AZURITE_CONNECTION_STRING" \
  --dry-run=client -o yaml | kubectl apply -f - >/dev/null
[ -s "$STATE/gateway.key" ] || python3 -c 'import secrets; print(secrets.token_urlsafe(24))' > "$STATE/gateway.key"
kubectl -n "$NS" create secret generic demo-gateway-key --from-literal=apiKey="$(cat "$STATE/gateway.key")" \
  --dry-run=client -o yaml | kubectl apply -f - >/dev/null
kubectl -n "$NS" apply -f "$repo/examples/" -f "$repo/examples/qsharp/"

step "waiting for the jobs to finish (at most 3 minutes)"
kubectl -n "$NS" wait --for=condition=Ready qws/demo --timeout=120s >/dev/null
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
step "helm test $RELEASE -n $SYSTEM_NS"
helm test "$RELEASE" -n "$SYSTEM_NS" --timeout 300s | grep -E '^Phase' | tail -1 | sed 's/^/    /'

# The gateway's Service, from this machine: kube-proxy routes its ClusterIP to the gateway's pod.
gateway=$(kubectl -n "$SYSTEM_NS" get service -l "app.kubernetes.io/instance=$RELEASE" -o name | grep -- '-gateway$' | head -1)
[ -n "$gateway" ] || die "no gateway Service in $SYSTEM_NS (helm get values $RELEASE -n $SYSTEM_NS)"
endpoint="http://$(kubectl -n "$SYSTEM_NS" get "$gateway" -o jsonpath='{.spec.clusterIP}:{.spec.ports[0].port}')/"
cat > "$SDK_FILE" <<PY
from azure.core.credentials import AzureKeyCredential
from azure.quantum import Workspace

# _workspace_kind="v2": get_targets() lists every target (for a V1 workspace, only providers the SDK knows).
ws = Workspace(subscription_id="00000000-0000-0000-0000-000000000000", resource_group="$NS", name="demo",
               location="eastus", credential=AzureKeyCredential(open("$STATE/gateway.key").read().strip()),
               _quantum_endpoint="$endpoint", _from_connection_string=True, _workspace_kind="v2")
print(sorted(t.name for t in ws.get_targets()))
job = ws.get_targets(name="kuantum.simulator").submit(
    b'{"qubits": 2, "circuit": [{"gate": "h", "target": 0}, {"gate": "cnot", "control": 0, "target": 1}]}',
    name="sdk-bell", input_data_format="ionq.circuit.v1", output_data_format="ionq.quantum-results.v1", shots=100)
print(job.get_results())
PY
cat >&2 <<MSG

    Kuantum is running in $SYSTEM_NS (helm list -n $SYSTEM_NS) and watches every namespace but t-*, e2e-* and
    bench-* (the tests' own); demo ready in $((SECONDS - started)) s. Try:
      export KUBECONFIG=$KUBECONFIG_ADMIN PATH=$KUANTUM_BIN:$VENV_BIN:\$PATH
      kubectl -n $NS get quantum
      kubectl -n default create secret generic demo-storage --from-literal=connectionString="\$(cat $STATE/azurite.connection-string)"
      kubectl -n default apply -f examples/00-workspace.yaml -f examples/20-job-simulated-annealing.yaml
      kuantum -n $NS submit problem.json --workspace demo --provider microsoft-qio \\
          --target microsoft.simulatedannealing.cpu --wait
    The azure-quantum SDK reaches workspace demo through the gateway's Service ($endpoint),
    API key in $STATE/gateway.key; this runs as printed ($VENV_BIN/python $SDK_FILE):

MSG
sed 's/^/      /' "$SDK_FILE" >&2
cat >&2 <<MSG

    Stop everything with: make cluster-down
MSG
