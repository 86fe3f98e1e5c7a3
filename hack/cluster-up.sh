#!/usr/bin/env bash
# Starts the Kuantum dev cluster on loopback: etcd, kube-apiserver (secure port only, RBAC + Node
# authorization, token auth), kube-controller-manager, kube-scheduler, the node agent and Azurite.
# Idempotent: components already running (by PID file) are reused. Stop with hack/cluster-down.sh.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
. "$here/lib.sh"
. "$here/cluster-env.sh"

PYTHON="${KUANTUM_PYTHON:-}"
if [ -z "$PYTHON" ]; then
  PYTHON=python3
  [ -x "$here/../.venv/bin/python" ] && PYTHON="$(cd "$here/.." && pwd)/.venv/bin/python"
fi
"$PYTHON" -c 'import kubernetes' 2>/dev/null \
  || die "the node agent needs the Python 'kubernetes' package in $PYTHON (run 'make venv' or set KUANTUM_PYTHON)"

bash "$here/install-tools.sh"
mkdir -p "$STATE/pids" "$STATE/logs" "$PKI"

# ---------- certificates, keys and tokens (made once per state folder) ----------
if [ ! -f "$PKI/ca.crt" ]; then
  step "generating certificates and service-account keys in $PKI"
  (
    cd "$PKI"
    openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.crt -days 3650 -subj /CN=kuantum-dev-ca 2>/dev/null
    openssl req -newkey rsa:2048 -nodes -keyout apiserver.key -out apiserver.csr -subj /CN=kube-apiserver 2>/dev/null
    printf 'subjectAltName=IP:127.0.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc\n' > san.ext
    openssl x509 -req -in apiserver.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out apiserver.crt -days 3650 -extfile san.ext 2>/dev/null
    openssl genrsa -out sa.key 2048 2>/dev/null
    openssl rsa -in sa.key -pubout -out sa.pub 2>/dev/null
    rm -f apiserver.csr san.ext
    tok() { head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n'; }
    {
      echo "$(tok),admin,admin,system:masters"
      echo "$(tok),system:kube-controller-manager,kcm"
      echo "$(tok),system:kube-scheduler,sched"
      echo "$(tok),system:node:$NODE_NAME,node,system:nodes"
    } > tokens.csv
    chmod 600 tokens.csv ./*.key
  )
fi

# Writes a kubeconfig for one of the token users above.
write_kubeconfig() { # user file
  local token; token=$(awk -F, -v u="$1" '$2==u {print $1}' "$PKI/tokens.csv")
  cat > "$2" <<KC
apiVersion: v1
kind: Config
clusters:
- name: kuantum-dev
  cluster: {server: "https://127.0.0.1:$APISERVER_PORT", certificate-authority: "$PKI/ca.crt"}
users:
- name: $1
  user: {token: "$token"}
contexts:
- name: kuantum-dev
  context: {cluster: kuantum-dev, user: $1, namespace: default}
current-context: kuantum-dev
KC
  chmod 600 "$2"
}
write_kubeconfig admin "$KUBECONFIG_ADMIN"
write_kubeconfig system:kube-controller-manager "$STATE/kcm.kubeconfig"
write_kubeconfig system:kube-scheduler "$STATE/scheduler.kubeconfig"
write_kubeconfig "system:node:$NODE_NAME" "$STATE/node.kubeconfig"

# ---------- process helpers ----------
alive() { recorded_pid "$1" >/dev/null; }  # name -> 0 if its recorded PID runs the recorded command
start() { # name marker cmd... ; marker is a string of the command line used to recognise the PID later
  local name=$1 marker=$2; shift 2
  if alive "$name"; then info "$name already running (pid $(cat "$STATE/pids/$name.pid"))"; return 0; fi
  info "starting $name"
  # setsid: its own session, so it outlives `make` and is stopped only by cluster-down, by PID.
  setsid "$@" >>"$STATE/logs/$name.log" 2>&1 < /dev/null &
  local pid=$!
  echo "$pid" > "$STATE/pids/$name.pid"
  printf '%s' "$marker" > "$STATE/pids/$name.cmd"
  STARTED=("$name" "${STARTED[@]}")
  # Until its exec the forked shell's command line is this script's: a liveness check then would take the
  # process for dead (seen: kube-controller-manager "did not become healthy" in under a second, no log line).
  for _ in $(seq 50); do alive "$name" && return 0; gone "$pid" && return 0; sleep 0.1; done
}
# A start that fails stops what it started itself (newest first), so a retry begins clean and nothing is left
# running; what was already running when it began is left alone.
STARTED=()
stop_started() {
  local status=$?
  if [ "$status" -ne 0 ] && [ "${#STARTED[@]}" -gt 0 ]; then
    info "stopping what this failed start started: ${STARTED[*]}"
    for name in "${STARTED[@]}"; do stop_one "$name"; done
  fi
}
trap stop_started EXIT
wait_healthy() { # name seconds check-cmd...
  local name=$1 secs=$2; shift 2
  local deadline=$((SECONDS + secs))
  while [ $SECONDS -lt $deadline ]; do
    if "$@" >/dev/null 2>&1; then info "$name is healthy"; return 0; fi
    if ! alive "$name"; then break; fi
    sleep 0.5
  done
  printf '\nkuantum: %s did not become healthy. Last lines of %s:\n' "$name" "$STATE/logs/$name.log" >&2
  tail -n 25 "$STATE/logs/$name.log" >&2 || true
  exit 1
}
https_ok() { curl -fsk --max-time 2 "$1"; }
kubectl_admin() { "$KUANTUM_BIN/kubectl" --kubeconfig "$KUBECONFIG_ADMIN" "$@"; }

step "starting the dev cluster (state: $STATE)"
start etcd "$STATE/etcd" "$KUANTUM_BIN/etcd" --name kuantum-dev --data-dir "$STATE/etcd" \
  --listen-client-urls "http://127.0.0.1:$ETCD_PORT" --advertise-client-urls "http://127.0.0.1:$ETCD_PORT" \
  --listen-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" --initial-advertise-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" \
  --initial-cluster "kuantum-dev=http://127.0.0.1:$ETCD_PEER_PORT" --quota-backend-bytes 2147483648
wait_healthy etcd 30 curl -fs --max-time 2 "http://127.0.0.1:$ETCD_PORT/health"

start kube-apiserver "--secure-port=$APISERVER_PORT" "$KUANTUM_BIN/kube-apiserver" \
  --etcd-servers "http://127.0.0.1:$ETCD_PORT" --bind-address 127.0.0.1 --advertise-address 127.0.0.1 \
  "--secure-port=$APISERVER_PORT" --insecure-port 0 \
  --tls-cert-file "$PKI/apiserver.crt" --tls-private-key-file "$PKI/apiserver.key" --client-ca-file "$PKI/ca.crt" \
  --token-auth-file "$PKI/tokens.csv" --authorization-mode Node,RBAC \
  --enable-admission-plugins NodeRestriction --disable-admission-plugins TaintNodesByCondition \
  --anonymous-auth=false \
  --service-account-key-file "$PKI/sa.pub" --service-account-signing-key-file "$PKI/sa.key" \
  --service-account-issuer https://kubernetes.default.svc.cluster.local \
  --service-cluster-ip-range 10.96.0.0/24 --allow-privileged=false \
  --endpoint-reconciler-type none --event-ttl 1h
wait_healthy kube-apiserver 90 kubectl_admin get --raw /readyz

# Client rate limits as Kubernetes' own scalability tests set them (--kube-api-qps/--kube-api-burst 100): at the
# defaults (20/30) the Job controller's pod creates waited up to 0.3 s each in its client-side limiter once ~50
# slots hand over at a time, a delay of the dev cluster's configuration, not of the operator under test.
start kube-controller-manager "--secure-port=$KCM_PORT" "$KUANTUM_BIN/kube-controller-manager" \
  --kubeconfig "$STATE/kcm.kubeconfig" --kube-api-qps 100 --kube-api-burst 100 \
  --authentication-kubeconfig "$STATE/kcm.kubeconfig" --authorization-kubeconfig "$STATE/kcm.kubeconfig" \
  --bind-address 127.0.0.1 "--secure-port=$KCM_PORT" --port 0 --leader-elect=false \
  --service-account-private-key-file "$PKI/sa.key" --root-ca-file "$PKI/ca.crt" --use-service-account-credentials \
  --controllers='*,-nodeipam,-nodelifecycle,-attachdetach,-persistentvolume-binder,-persistentvolume-expander,-ttl,-route,-service,-cloud-node-lifecycle'
wait_healthy kube-controller-manager 120 https_ok "https://127.0.0.1:$KCM_PORT/healthz"

start kube-scheduler "--secure-port=$SCHEDULER_PORT" "$KUANTUM_BIN/kube-scheduler" \
  --kubeconfig "$STATE/scheduler.kubeconfig" --kube-api-qps 100 --kube-api-burst 100 \
  --authentication-kubeconfig "$STATE/scheduler.kubeconfig" --authorization-kubeconfig "$STATE/scheduler.kubeconfig" \
  --bind-address 127.0.0.1 "--secure-port=$SCHEDULER_PORT" --port 0 --leader-elect=false
wait_healthy kube-scheduler 120 https_ok "https://127.0.0.1:$SCHEDULER_PORT/healthz"

start azurite "$STATE/azurite" "$KUANTUM_BIN/azurite-blob" --blobHost 127.0.0.1 --blobPort "$AZURITE_PORT" \
  --location "$STATE/azurite" --skipApiVersionCheck --loose --silent --disableTelemetry
wait_healthy azurite 60 bash -c "curl -s --max-time 2 -o /dev/null http://127.0.0.1:$AZURITE_PORT/devstoreaccount1"

start node-agent "$here/node_agent.py" "$PYTHON" "$here/node_agent.py" \
  --kubeconfig "$STATE/node.kubeconfig" --node-name "$NODE_NAME" --state-dir "$STATE/node"
wait_healthy node-agent 60 bash -c "'$KUANTUM_BIN/kubectl' --kubeconfig '$KUBECONFIG_ADMIN' get node '$NODE_NAME' -o jsonpath='{.status.conditions[?(@.type==\"Ready\")].status}' | grep -qx True"

printf '%s\n' "$AZURITE_CONNECTION_STRING" > "$STATE/azurite.connection-string"
step "dev cluster is up"
cat >&2 <<MSG
    export KUBECONFIG=$KUBECONFIG_ADMIN
    export PATH=$KUANTUM_BIN:\$PATH        # kubectl and helm
    Azurite connection string: $STATE/azurite.connection-string
    Stop it with: make cluster-down
MSG
