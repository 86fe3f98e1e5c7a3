"""Kubernetes client models → plain JSON-like dicts, times in Kubernetes' own `Z` format.

`ApiClient.sanitize_for_serialization` writes datetimes with `isoformat()` (`+00:00`), so objects
read through the typed client carried times in another format than the same objects from a watch,
and status fields copied from them (a pod's `startedAt`) mixed both.
"""

from __future__ import annotations

import datetime
from typing import Any

from .timeutil import format_time


def to_plain(obj: Any) -> Any:
    """The same result as `ApiClient().sanitize_for_serialization(obj)`, except datetimes as `...Z`."""
    if obj is None or isinstance(obj, str | int | float | bool):
        return obj
    if isinstance(obj, datetime.datetime):
        return format_time(obj)
    if isinstance(obj, datetime.date):
        return obj.isoformat()
    if isinstance(obj, list | tuple):
        return [to_plain(item) for item in obj]
    if isinstance(obj, dict):
        return {key: to_plain(value) for key, value in obj.items()}
    # A generated model: its attributes under their JSON names, unset ones left out.
    return {obj.attribute_map[attr]: to_plain(getattr(obj, attr))
            for attr in obj.openapi_types if getattr(obj, attr) is not None}


def without_managed_fields(body: dict[str, Any]) -> dict[str, Any]:
    """The object without metadata.managedFields, which nothing here reads: about 40 % of a QuantumJob's memory
    in a cache (as controller-runtime's caches strip them). The caller's dict is left as it is."""
    meta = body.get("metadata")
    if not isinstance(meta, dict) or "managedFields" not in meta:
        return body
    return {**body, "metadata": {k: v for k, v in meta.items() if k != "managedFields"}}
