"""Kopf registrations (the only place handlers are registered) and the `kuantum-operator` entry point.

Kopf runs the process through its public API: startup and cleanup (the controller), a liveness probe (with the
informers' state), the admission webhook and its server, its settings. It watches none of our resources: the
informers do (runtime/informer.py), because a Kopf watch answered 404 ends Kopf's whole operator, which a
just-restarted API server does for custom resources until its CRD informer has synced (see README).
"""

from __future__ import annotations

import argparse
import hashlib
import logging
import os
import re
import socket
import uuid
from typing import Any

import kopf
from kubernetes import client
from prometheus_client import start_http_server

from . import __version__, webhooks
from .controller import Controller
from .models.common import API_GROUP, API_VERSION
from .runtime import logconfig, metrics, tracing
from .runtime.client import load_api_client
from .runtime.leader import LeaderElection
from .runtime.settings import Settings
from .runtime.store import Store

log = logging.getLogger("kuantum")
_state: dict[str, Any] = {}
# The namespaces to serve when Kopf's own command line runs this module (`kopf run -m kuantum.main`), which
# never calls run(): one namespace name or pattern (runtime/namespaces.py).
NAMESPACE_ENV = "KUANTUM_NAMESPACE"


def _api_client() -> client.ApiClient:
    """Like kubectl and the CLI (kubeclient): $KUBECONFIG or ~/.kube/config, else the pod's service account."""
    return load_api_client(os.environ.get("KUBECONFIG"))[0]


@kopf.on.startup()
async def startup(settings: kopf.OperatorSettings, **_: Any) -> None:
    # Our own prefix for anything Kopf persists, set before anything is stored (changing it later re-runs handlers).
    # Kopf's own finalizer must differ from ours: Kopf strips its finalizer from objects it has no
    # deletion handlers for, and our kuantum.dev/cleanup is managed by the job reconciler.
    settings.persistence.finalizer = f"{API_GROUP}/kopf-finalizer"
    settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix=API_GROUP)
    settings.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(
        prefix=API_GROUP, key="last-handled-configuration")
    # Kopf's own watch (of CRDs, to notice new resources for the webhook) must reconnect when silently stalled.
    settings.watching.server_timeout = 60
    settings.watching.client_timeout = 90
    settings.watching.connect_timeout = 10
    settings.networking.request_timeout = 60
    settings.posting.level = logging.WARNING  # our reconcilers post the Events users read
    webhook = _state.get("webhook")
    if webhook:
        host, port, certfile, keyfile, service = webhook
        if not certfile:
            certfile, keyfile = webhooks.self_signed_certificate(host)
        if service:  # the configuration names the Service; the API server resolves it itself
            settings.admission.server = webhooks.ServiceWebhookServer(
                service_namespace=service[0], service_name=service[1], addr="0.0.0.0", port=port, host=host,
                certfile=certfile, pkeyfile=keyfile)
        else:
            settings.admission.server = kopf.WebhookServer(addr="0.0.0.0", port=port, host=host,
                                                           certfile=certfile, pkeyfile=keyfile)
        settings.admission.managed = _state["webhook_name"]
    tracing.configure("kuantum-operator")
    api_client = _api_client()
    controller = Controller(api_client, Settings(), _namespaces())
    election = None
    if _state.get("leader_elect"):
        namespace, name = _state["leader_elect"]
        election = LeaderElection(api_client, namespace, name, identity=_identity())
    await controller.start(election)
    _state["controller"] = controller
    port = _state.get("metrics_port")
    if port:
        metrics.init(__version__)
        start_http_server(int(port), addr=_state.get("metrics_addr", "0.0.0.0"))


@kopf.on.cleanup()
async def cleanup(**_: Any) -> None:
    controller: Controller | None = _state.pop("controller", None)
    if controller is not None:
        await controller.stop()
    tracing.shutdown()


def _namespaces() -> list[str]:
    """The -n values of run(), else $KUANTUM_NAMESPACE (Kopf's command line), else none: all namespaces."""
    if "namespaces" in _state:
        return list(_state["namespaces"])
    return [os.environ[NAMESPACE_ENV]] if os.environ.get(NAMESPACE_ENV) else []


@kopf.on.probe(id="watches")
def watches(**_: Any) -> dict[str, Any]:
    """The liveness endpoint's report: per informer, listed yet and its failures in a row (an API server away
    is the cluster's problem, not a reason to restart the operator: this reports, it never fails)."""
    controller: Controller | None = _state.get("controller")
    return controller.informers.state() if controller is not None else {}


def _store() -> Store | None:
    """The running controller's cache (the webhook looks a new job's id up there)."""
    controller: Controller | None = _state.get("controller")
    return controller.store if controller is not None else None


def webhook_config_name(namespaces: list[str]) -> str:
    """kuantum-<scope>.kuantum.dev: `cluster`, the watched namespaces joined by '-', or for patterns a stable name
    of their own (what the chart names when it passes no --webhook-config-name)."""
    scope = "-".join(namespaces) or "cluster"
    if not re.fullmatch(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?", scope):
        scope = "ns-" + hashlib.sha256("\0".join(namespaces).encode()).hexdigest()[:10]
    return f"kuantum-{scope}.kuantum.dev"[:253]


def run(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="kuantum-operator", description="Run the Kuantum operator.")
    parser.add_argument("-n", "--namespace", action="append", default=[],
                        help="watch only this namespace (repeatable); default: all namespaces. Namespace patterns "
                             "(Kopf's syntax) work too: globs and comma-separated '!' exclusions in one argument, e.g. "
                             "-n '!t-*,!bench-*' (all but those); a namespace matching any -n is watched")
    parser.add_argument("--kubeconfig", help="kubeconfig file (default: in-cluster, then $KUBECONFIG)")
    parser.add_argument("--liveness", default=os.environ.get("KUANTUM_LIVENESS", "http://0.0.0.0:8081/healthz"),
                        help="Kopf liveness endpoint URL")
    parser.add_argument("--metrics-port", type=int, default=int(os.environ.get("KUANTUM_METRICS_PORT", "8080")))
    parser.add_argument("--metrics-addr", default=os.environ.get("KUANTUM_METRICS_ADDR", "0.0.0.0"))
    parser.add_argument("--webhook-port", type=int, default=int(os.environ.get("KUANTUM_WEBHOOK_PORT", "0")),
                        help="serve the validating admission webhook on this port (0: off)")
    parser.add_argument("--webhook-host", default=os.environ.get("KUANTUM_WEBHOOK_HOST", "127.0.0.1"),
                        help="host name or IP the API server reaches the webhook at")
    parser.add_argument("--webhook-service", default=os.environ.get("KUANTUM_WEBHOOK_SERVICE"),
                        metavar="NAMESPACE/NAME",
                        help="publish a service reference to this Service (port: --webhook-port) instead of "
                             "https://HOST:PORT; --webhook-host stays the certificate's name")
    parser.add_argument("--webhook-cert", default=os.environ.get("KUANTUM_WEBHOOK_CERT"),
                        help="TLS certificate (PEM); default: a self-signed one")
    parser.add_argument("--webhook-key", default=os.environ.get("KUANTUM_WEBHOOK_KEY"))
    parser.add_argument("--webhook-config-name", default=os.environ.get("KUANTUM_WEBHOOK_CONFIG_NAME"),
                        help="the (Validating|Mutating)WebhookConfiguration to manage (default: "
                             "kuantum-<scope>.kuantum.dev from the -n arguments; the chart names the one it made)")
    parser.add_argument("--webhook-failure-policy", choices=("Ignore", "Fail"),
                        default=os.environ.get("KUANTUM_WEBHOOK_FAILURE_POLICY", "Ignore"),
                        help="what the API server does when the webhook cannot answer (default Ignore)")
    parser.add_argument("--leader-elect", action="store_true",
                        default=os.environ.get("KUANTUM_LEADER_ELECT", "") in ("1", "true"),
                        help="of several replicas exactly one acts: a coordination.k8s.io Lease elects it")
    parser.add_argument("--leader-elect-namespace", default=os.environ.get("POD_NAMESPACE"),
                        help="namespace of the Lease (default: $POD_NAMESPACE, else the first watched namespace)")
    parser.add_argument("--leader-elect-name", default="kuantum-operator", help="name of the Lease")
    parser.add_argument("--verbose", action="store_true", help="per-event detail at DEBUG")
    parser.add_argument("--log-format", choices=("text", "json"), default=os.environ.get("KUANTUM_LOG_FORMAT", "text"),
                        help="text (default) or one JSON object per line, for log search engines")
    args = parser.parse_args(argv)
    if args.kubeconfig:
        from kubernetes.config import kube_config

        os.environ["KUBECONFIG"] = args.kubeconfig
        # The client fixed its default path from $KUBECONFIG at import; Kopf's login reads that default.
        kube_config.KUBE_CONFIG_DEFAULT_LOCATION = args.kubeconfig
    logconfig.configure(args.verbose, args.log_format)
    _state.update(namespaces=args.namespace, metrics_port=args.metrics_port, metrics_addr=args.metrics_addr)
    if args.webhook_port:
        service = None
        if args.webhook_service:
            try:
                service = webhooks.parse_service(args.webhook_service)
            except ValueError as e:
                parser.error(f"--webhook-service: {e}")
        _state["webhook"] = (args.webhook_host, args.webhook_port, args.webhook_cert, args.webhook_key, service)
        _state["webhook_name"] = args.webhook_config_name or webhook_config_name(args.namespace)
        # Registered only when served: Kopf refuses to start with admission handlers but no server.
        # Failures are ignored so a stopped operator never blocks edits; the operator still guards
        # immutability itself (SpecChangeIgnored).
        kopf.on.validate(API_GROUP, API_VERSION, "quantumjobs", id="validate-quantumjob",
                         operations=["CREATE", "UPDATE"],
                         ignore_failures=args.webhook_failure_policy == "Ignore")(
            webhooks.quantumjob_validator(args.namespace, store=_store))
        kopf.on.validate(API_GROUP, API_VERSION, "quantumsessions", id="validate-quantumsession",
                         operations=["CREATE", "UPDATE"],
                         ignore_failures=args.webhook_failure_policy == "Ignore")(
            webhooks.quantumsession_validator(args.namespace))
    if args.leader_elect:
        lease_namespace = args.leader_elect_namespace or (args.namespace[0] if args.namespace else "default")
        _state["leader_elect"] = (lease_namespace, args.leader_elect_name)
    # Kopf serves the webhook and the probes and watches nothing of ours (the informers do): its namespace
    # settings would only make it watch Namespaces for nothing.
    kopf.run(standalone=True, clusterwide=True, liveness_endpoint=args.liveness or None)


def _identity() -> str:
    """This replica's name in the Lease: the pod's name where there is one, unique per process anyway."""
    return f"{os.environ.get('POD_NAME') or socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"
