"""`kuantum-gateway`: the aiohttp application, its error handling, and the process (informers + server)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import ssl
import sys
from collections.abc import Awaitable, Callable

from aiohttp import web
from aiohttp.typedefs import Middleware
from kubernetes.client.rest import ApiException

from ..runtime import tracing as traces
from ..runtime.client import ConfigError, KubeClient, load_api_client
from . import metrics, tracing
from .auth import Secrets
from .cache import Cache
from .errors import ApiError, error_response
from .routes import Gateway, Writer
from .sas import StorageAccess

log = logging.getLogger("kuantum.gateway")
MAX_BODY = 1024 * 1024  # bytes; JobDetails are small (inputs go to blob storage, not through here)
HANDLER_TIMEOUT = 30.0  # seconds; azure-core retries a 504
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def error_middleware(timeout: float) -> Middleware:
    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        try:
            return await asyncio.wait_for(handler(request), timeout)
        except ApiError as e:
            return error_response(e.status, e.code, e.message)
        except web.HTTPRequestEntityTooLarge:
            return error_response(413, "RequestEntityTooLarge", "the request body is too large")
        except (web.HTTPNotFound, web.HTTPMethodNotAllowed):
            return error_response(404, "NotFound", f"no such resource: {request.method} {request.path}")
        except web.HTTPException as e:
            return error_response(e.status, e.reason.replace(" ", ""), e.reason)
        except TimeoutError:
            log.warning("%s %s timed out after %gs", request.method, request.path, timeout)
            return error_response(504, "GatewayTimeout", "the request took too long; try again")
        except ApiException as e:  # the API server refused or failed; its status only (bodies may quote objects)
            log.warning("%s %s: API server answered %s", request.method, request.path, e.status)
            return error_response(503, "ServiceUnavailable", f"the Kubernetes API answered {e.status}; try again")
        except Exception:
            log.exception("%s %s failed", request.method, request.path)
            return error_response(500, "InternalError", "internal error")
    return middleware


def build_app(gateway: Gateway, max_body: int = MAX_BODY, timeout: float = HANDLER_TIMEOUT) -> web.Application:
    # Outermost first: the trace span and the metrics see the status code the error handling chose.
    app = web.Application(client_max_size=max_body,
                          middlewares=[tracing.middleware(), metrics.middleware(), error_middleware(timeout)])
    app.add_routes(gateway.routes())
    metrics.init(app)
    return app


def new_gateway(cache: Cache, writer: Writer, secrets: Secrets) -> Gateway:
    return Gateway(cache, tracing.TracedWriter(writer), secrets, StorageAccess(secrets))


def _listen(text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    try:
        return host.strip("[]") or "0.0.0.0", int(port)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not HOST:PORT") from None


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="kuantum-gateway",
                                description="Azure Quantum's data-plane REST API over Kuantum QuantumJobs.")
    p.add_argument("--listen", type=_listen, default=("127.0.0.1", 8480), metavar="HOST:PORT",
                   help="address to serve on (default 127.0.0.1:8480)")
    p.add_argument("--kubeconfig", help="kubeconfig file (default: $KUBECONFIG, ~/.kube/config, else in-cluster)")
    p.add_argument("-n", "--namespace", action="append", dest="namespaces", metavar="NAMESPACE",
                   help="serve only this namespace (repeatable; default: all)")
    p.add_argument("--tls-cert", help="serve https with this certificate (PEM)")
    p.add_argument("--tls-key", help="the certificate's private key (PEM)")
    p.add_argument("--max-body-bytes", type=int, default=MAX_BODY, help="request body limit (413 beyond)")
    p.add_argument("--timeout", type=float, default=HANDLER_TIMEOUT, help="seconds per request")
    p.add_argument("--access-log", action="store_true", help="log every request")
    p.add_argument("--metrics-listen", type=_listen, default=None, metavar="HOST:PORT",
                   help="serve Prometheus metrics (/metrics) on this address, apart from the API (default: off)")
    return p


async def serve(args: argparse.Namespace) -> None:
    api_client, _ = load_api_client(args.kubeconfig)
    kube = KubeClient(api_client)
    cache = Cache(args.namespaces)
    secrets = Secrets(kube.secret_data)
    informers = cache.watch(api_client)
    app = build_app(new_gateway(cache, kube, secrets), args.max_body_bytes, args.timeout)
    runner = web.AppRunner(app, access_log=log if args.access_log else None, handle_signals=False)
    await runner.setup()
    tls = None
    if args.tls_cert:
        tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        tls.load_cert_chain(args.tls_cert, args.tls_key)
    host, port = args.listen
    await web.TCPSite(runner, host, port, ssl_context=tls).start()
    metrics_runner = None
    if args.metrics_listen:
        metrics_runner = web.AppRunner(metrics.metrics_app(), access_log=None, handle_signals=False)
        await metrics_runner.setup()
        await web.TCPSite(metrics_runner, *args.metrics_listen).start()
        log.info("kuantum-gateway metrics on http://%s:%d/metrics", *args.metrics_listen)
    scheme = "https" if tls else "http"
    log.info("kuantum-gateway serving %s://%s:%d/ (namespaces: %s)", scheme, host, port,
             ", ".join(args.namespaces or ["all"]))
    done = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, done.set)
    await done.wait()
    log.info("kuantum-gateway stopping")
    with contextlib.suppress(Exception):
        await informers.stop()
    await runner.cleanup()
    if metrics_runner is not None:
        await metrics_runner.cleanup()
    kube.close()


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if bool(args.tls_cert) != bool(args.tls_key):
        print("kuantum-gateway: error: --tls-cert and --tls-key go together", file=sys.stderr)
        return 2
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    traces.configure("kuantum-gateway")
    try:
        asyncio.run(serve(args))
    except ConfigError as e:
        print(f"kuantum-gateway: error: {e}", file=sys.stderr)
        return 1
    except OSError as e:
        print(f"kuantum-gateway: error: {e}", file=sys.stderr)
        return 1
    finally:
        traces.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
