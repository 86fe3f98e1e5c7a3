#!/usr/bin/env bash
# Starts the Kuantum dev cluster: etcd, kube-apiserver (secure port only, RBAC + Node authorization, token and
# certificate auth), kube-controller-manager, kube-scheduler, Azurite, and one node (hack/node-up.sh: a kubelet
# on containerd, kube-proxy, a CNI bridge). Idempotent: components already running (by PID file) are reused.
# A start that fails stops what it started. Stop with hack/cluster-down.sh.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
. "$here/lib.sh"
. "$here/cluster-env.sh"

bash "$here/install-tools.sh"
mkdir -p "$STATE/pids" "$STATE/logs" "$PKI"

# ---------- certificates, keys and tokens (made once per state folder) ----------
# The API server is reached at 127.0.0.1 from the host, at the node's IP and at the `kubernetes` Service's IP
# from pods.
SANS="IP:127.0.0.1,IP:$NODE_IP,IP:$KUBERNETES_SERVICE_IP,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc"
if [ ! -f "$PKI/ca.crt" ]; then
  step "generating certificates and service-account keys in $PKI"
  (
    cd "$PKI"
    openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.crt -days 3650 -subj /CN=kuantum-dev-ca 2>/dev/null
    openssl genrsa -out sa.key 2048 2>/dev/null
    openssl rsa -in sa.key -pubout -out sa.pub 2>/dev/null
    tok() { head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n'; }
    {
      echo "$(tok),admin,admin,system:masters"
      echo "$(tok),system:kube-controller-manager,kcm"
      echo "$(tok),system:kube-scheduler,sched"
    } > tokens.csv
    chmod 600 tokens.csv ./*.key
  )
fi
if [ ! -f "$PKI/apiserver.san" ] || [ "$(cat "$PKI/apiserver.san")" != "$SANS" ]; then
  (
    cd "$PKI"
    openssl req -newkey rsa:2048 -nodes -keyout apiserver.key -out apiserver.csr -subj /CN=kube-apiserver 2>/dev/null
    printf 'subjectAltName=%s\n' "$SANS" > san.ext
    openssl x509 -req -in apiserver.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out apiserver.crt -days 3650 \
      -extfile san.ext 2>/dev/null
    rm -f apiserver.csr san.ext; chmod 600 apiserver.key
    printf '%s' "$SANS" > apiserver.san
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

trap stop_started EXIT
https_ok() { curl -fsk --max-time 2 "$1"; }
kubectl_admin() { "$KUANTUM_BIN/kubectl" --kubeconfig "$KUBECONFIG_ADMIN" "$@"; }

step "starting the dev cluster (state: $STATE)"
# The pods' bridge first: the API server advertises, and Azurite listens on, the node's address on it.
bash "$here/node-network.sh"
start etcd "$STATE/etcd" "$KUANTUM_BIN/etcd" --name kuantum-dev --data-dir "$STATE/etcd" \
  --listen-client-urls "http://127.0.0.1:$ETCD_PORT" --advertise-client-urls "http://127.0.0.1:$ETCD_PORT" \
  --listen-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" --initial-advertise-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" \
  --initial-cluster "kuantum-dev=http://127.0.0.1:$ETCD_PEER_PORT" --quota-backend-bytes 2147483648
wait_healthy etcd 30 curl -fs --max-time 2 "http://127.0.0.1:$ETCD_PORT/health"

start kube-apiserver "--secure-port=$APISERVER_PORT" "$KUANTUM_BIN/kube-apiserver" \
  --etcd-servers "http://127.0.0.1:$ETCD_PORT" --bind-address 0.0.0.0 --advertise-address "$NODE_IP" \
  "--secure-port=$APISERVER_PORT" --insecure-port 0 \
  --tls-cert-file "$PKI/apiserver.crt" --tls-private-key-file "$PKI/apiserver.key" --client-ca-file "$PKI/ca.crt" \
  --token-auth-file "$PKI/tokens.csv" --authorization-mode Node,RBAC --kubelet-preferred-address-types InternalIP \
  --enable-admission-plugins NodeRestriction --disable-admission-plugins TaintNodesByCondition \
  --anonymous-auth=false \
  --service-account-key-file "$PKI/sa.pub" --service-account-signing-key-file "$PKI/sa.key" \
  --service-account-issuer https://kubernetes.default.svc.cluster.local \
  --service-cluster-ip-range "$SERVICE_CIDR" --allow-privileged=false \
  --endpoint-reconciler-type lease --event-ttl 1h
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

start azurite "$STATE/azurite" "$KUANTUM_BIN/azurite-blob" --blobHost "$AZURITE_HOST" --blobPort "$AZURITE_PORT" \
  --location "$STATE/azurite" --skipApiVersionCheck --loose --silent --disableTelemetry
wait_healthy azurite 60 bash -c "curl -s --max-time 2 -o /dev/null http://$AZURITE_HOST:$AZURITE_PORT/devstoreaccount1"

bash "$here/node-up.sh"

printf '%s\n' "$AZURITE_CONNECTION_STRING" > "$STATE/azurite.connection-string"
step "dev cluster is up"
cat >&2 <<MSG
    export KUBECONFIG=$KUBECONFIG_ADMIN
    export PATH=$KUANTUM_BIN:\$PATH        # kubectl and helm
    Azurite connection string: $STATE/azurite.connection-string
    Stop it with: make cluster-down
MSG
