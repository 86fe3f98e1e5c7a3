# Names, ports and paths of the dev cluster; sourced by the hack/ scripts and read by the test harness.
# shellcheck shell=bash
STATE="$KUANTUM_STATE"
PKI="$STATE/pki"
KUBECONFIG_ADMIN="$STATE/admin.kubeconfig"
NODE_NAME="${KUANTUM_NODE_NAME:-kuantum-node}"
ETCD_PORT="${KUANTUM_ETCD_PORT:-23790}"
ETCD_PEER_PORT="${KUANTUM_ETCD_PEER_PORT:-23800}"
APISERVER_PORT="${KUANTUM_APISERVER_PORT:-16443}"
KCM_PORT="${KUANTUM_KCM_PORT:-16457}"
SCHEDULER_PORT="${KUANTUM_SCHEDULER_PORT:-16459}"
AZURITE_PORT="${KUANTUM_AZURITE_PORT:-10000}"
# Azurite's documented, public development account key (not a secret).
AZURITE_CONNECTION_STRING="DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==;BlobEndpoint=http://127.0.0.1:$AZURITE_PORT/devstoreaccount1;"
