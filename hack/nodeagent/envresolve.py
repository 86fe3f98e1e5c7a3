"""Builds a container's environment from its spec, as the kubelet does (values, valueFrom, envFrom)."""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Any

from .expand import expand

# Reads one object by kind ("secret" | "configmap"), namespace and name; None when it does not exist.
ObjectReader = Callable[[str, str, str], dict[str, Any] | None]


class EnvError(Exception):
    """A referenced Secret/ConfigMap/key is missing: the container cannot start yet (CreateContainerConfigError)."""


def _data(kind: str, obj: dict[str, Any]) -> dict[str, str]:
    if kind == "secret":
        return {k: base64.b64decode(v).decode() for k, v in (obj.get("data") or {}).items()}
    return dict(obj.get("data") or {})


def _lookup(read: ObjectReader, kind: str, namespace: str, ref: dict[str, Any]) -> str | None:
    obj = read(kind, namespace, ref["name"])
    optional = bool(ref.get("optional"))
    if obj is None:
        if optional:
            return None
        raise EnvError(f'{kind} "{ref["name"]}" not found')
    data = _data(kind, obj)
    if ref["key"] not in data:
        if optional:
            return None
        raise EnvError(f'couldn\'t find key {ref["key"]} in {kind} {namespace}/{ref["name"]}')
    return data[ref["key"]]


def _field(pod: dict[str, Any], path: str) -> str:
    meta = pod["metadata"]
    simple = {
        "metadata.name": meta.get("name", ""),
        "metadata.namespace": meta.get("namespace", ""),
        "metadata.uid": meta.get("uid", ""),
        "spec.nodeName": pod["spec"].get("nodeName", ""),
        "spec.serviceAccountName": pod["spec"].get("serviceAccountName", ""),
        "status.podIP": "127.0.0.1",
        "status.hostIP": "127.0.0.1",
    }
    if path in simple:
        return simple[path]
    for prefix, source in (("metadata.labels", "labels"), ("metadata.annotations", "annotations")):
        if path.startswith(prefix + "['") and path.endswith("']"):
            return (meta.get(source) or {}).get(path[len(prefix) + 2 : -2], "")
    raise EnvError(f"unsupported fieldRef {path}")


def container_env(
    pod: dict[str, Any], container: dict[str, Any], read: ObjectReader, base: dict[str, str]
) -> dict[str, str]:
    """The environment of one container: base, then envFrom, then env (later wins, as in Kubernetes)."""
    namespace = pod["metadata"]["namespace"]
    env = dict(base)
    for source in container.get("envFrom") or []:
        prefix = source.get("prefix", "")
        for kind, key in (("secret", "secretRef"), ("configmap", "configMapRef")):
            if key not in source:
                continue
            ref = source[key]
            obj = read(kind, namespace, ref["name"])
            if obj is None:
                if ref.get("optional"):
                    continue
                raise EnvError(f'{kind} "{ref["name"]}" not found')
            env.update({prefix + k: v for k, v in _data(kind, obj).items()})
    for item in container.get("env") or []:
        name = item["name"]
        if "valueFrom" not in item:
            env[name] = expand(item.get("value", ""), env)
            continue
        source = item["valueFrom"]
        value: str | None
        if "secretKeyRef" in source:
            value = _lookup(read, "secret", namespace, source["secretKeyRef"])
        elif "configMapKeyRef" in source:
            value = _lookup(read, "configmap", namespace, source["configMapKeyRef"])
        elif "fieldRef" in source:
            value = _field(pod, source["fieldRef"]["fieldPath"])
        else:
            raise EnvError(f"env {name}: unsupported valueFrom {sorted(source)}")
        if value is not None:
            env[name] = value
    return env
