"""One async Kubernetes client for the gateway and the CLI, usable inside and outside a running event loop.

The official client is synchronous; its calls run on a private thread pool (so many concurrent requests
do not queue behind asyncio's small default pool). Synchronous callers (the CLI) use `run_sync`, which
runs a coroutine on a private background loop: it works whether or not the caller's thread already has
a running loop, where `asyncio.run` raises.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
import os
import threading
from collections.abc import Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar, cast

from kubernetes import client, config
from kubernetes.client.rest import ApiException

from ..models.common import API_GROUP, API_VERSION
from . import metrics

log = logging.getLogger("kuantum.kubeclient")
T = TypeVar("T")
TIMEOUT = 30  # seconds per API call
SA_NAMESPACE = Path("/var/run/secrets/kubernetes.io/serviceaccount/namespace")

_loop: asyncio.AbstractEventLoop | None = None
_loop_lock = threading.Lock()


def run_sync(coro: Coroutine[Any, Any, T]) -> T:
    """Runs coro to completion from synchronous code, with or without a running loop in this thread."""
    global _loop
    with _loop_lock:
        if _loop is None:
            _loop = asyncio.new_event_loop()
            threading.Thread(target=_loop.run_forever, name="kuantum-kubeclient-loop", daemon=True).start()
    return asyncio.run_coroutine_threadsafe(coro, _loop).result()


class ConfigError(Exception):
    """No usable kubeconfig or in-cluster configuration."""


def kubeconfig_namespace(kubeconfig: str | None, context: str | None) -> str | None:
    contexts, active = config.list_kube_config_contexts(config_file=kubeconfig)
    chosen = next((c for c in contexts if c.get("name") == context), None) if context else active
    if context and chosen is None:
        raise ConfigError(f"context {context!r} is not in the kubeconfig")
    return cast(str | None, ((chosen or {}).get("context") or {}).get("namespace"))


def load_api_client(kubeconfig: str | None, context: str | None = None,
                    namespace: str | None = None) -> tuple[client.ApiClient, str]:
    """Like kubectl: --kubeconfig, else $KUBECONFIG, else ~/.kube/config, else in-cluster (service account)."""
    if kubeconfig and not Path(kubeconfig).is_file():
        raise ConfigError(f"kubeconfig {kubeconfig} does not exist")
    if kubeconfig or os.environ.get("KUBECONFIG") or Path("~/.kube/config").expanduser().is_file():
        try:
            namespace = namespace or kubeconfig_namespace(kubeconfig, context)
            api_client = config.new_client_from_config(config_file=kubeconfig, context=context, persist_config=False)
        except config.ConfigException as e:
            raise ConfigError(f"cannot load the kubeconfig: {e}") from e
    else:
        try:
            config.load_incluster_config()
        except config.ConfigException as e:
            raise ConfigError("no kubeconfig: pass --kubeconfig or set KUBECONFIG") from e
        api_client = client.ApiClient()
        if not namespace and SA_NAMESPACE.is_file():
            namespace = SA_NAMESPACE.read_text().strip()
    return api_client, namespace or "default"


class KubeClient:
    """Reads and writes of kuantum.dev objects and Secrets; every method is a coroutine."""

    def __init__(self, api_client: client.ApiClient, workers: int = 16) -> None:
        self.api_client = api_client
        # The urllib3 pool must hold a connection per thread, or they queue (watches have clients of their own).
        api_client.rest_client.pool_manager.connection_pool_kw["maxsize"] = max(
            workers + 8, api_client.rest_client.pool_manager.connection_pool_kw.get("maxsize") or 1)
        self.custom = client.CustomObjectsApi(api_client)
        self.core = client.CoreV1Api(api_client)
        self._pool = ThreadPoolExecutor(workers, thread_name_prefix="kuantum-kube")

    async def _call(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        return await self.run(fn, *args, _request_timeout=TIMEOUT, **kwargs)

    async def run(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Any blocking call of the official client on this client's thread pool (the operator's kubeapi uses it)."""
        loop = asyncio.get_running_loop()
        with metrics.API_REQUEST_SECONDS.labels(call=getattr(fn, "__name__", "call")).time():
            return await loop.run_in_executor(self._pool, lambda: fn(*args, **kwargs))

    # ----- kuantum.dev objects -----
    async def get(self, plural: str, namespace: str, name: str) -> dict[str, Any] | None:
        try:
            obj = await self._call(self.custom.get_namespaced_custom_object, API_GROUP, API_VERSION, namespace,
                                   plural, name)
        except ApiException as e:
            if e.status == 404:
                return None
            raise
        return cast(dict[str, Any], obj)

    async def list(self, plural: str, namespace: str | None) -> dict[str, Any]:
        if namespace:
            result = await self._call(self.custom.list_namespaced_custom_object, API_GROUP, API_VERSION, namespace,
                                      plural)
        else:
            result = await self._call(self.custom.list_cluster_custom_object, API_GROUP, API_VERSION, plural)
        return cast(dict[str, Any], result)

    async def create(self, plural: str, namespace: str, body: dict[str, Any]) -> dict[str, Any]:
        """The created object; ApiException 409 when the name is taken."""
        created = await self._call(self.custom.create_namespaced_custom_object, API_GROUP, API_VERSION, namespace,
                                   plural, body)
        return cast(dict[str, Any], created)

    async def merge_patch(self, plural: str, namespace: str, name: str, patch: dict[str, Any]
                          ) -> dict[str, Any] | None:
        """The patched object, or None when it does not exist."""
        try:
            patched = await self._call(self.custom.patch_namespaced_custom_object, API_GROUP, API_VERSION, namespace,
                                       plural, name, patch, _content_type="application/merge-patch+json")
        except ApiException as e:
            if e.status == 404:
                return None
            raise
        return cast(dict[str, Any], patched)

    async def delete(self, plural: str, namespace: str, name: str) -> bool:
        """False when it was already gone."""
        try:
            await self._call(self.custom.delete_namespaced_custom_object, API_GROUP, API_VERSION, namespace, plural,
                             name)
        except ApiException as e:
            if e.status == 404:
                return False
            raise
        return True

    # ----- Secrets -----
    async def secret_data(self, namespace: str, name: str) -> dict[str, str] | None:
        """A Secret's data, decoded, or None when it does not exist."""
        try:
            secret = await self._call(self.core.read_namespaced_secret, name, namespace)
        except ApiException as e:
            if e.status == 404:
                return None
            raise
        return {k: base64.b64decode(v).decode("utf-8", "replace") for k, v in (secret.data or {}).items()}

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
        with contextlib.suppress(Exception):
            self.api_client.close()
