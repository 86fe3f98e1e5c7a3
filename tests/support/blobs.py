"""The jobs' blob containers a test session or a benchmark made, removed at its end.

Azurite keeps its whole index in one JSON file that it rewrites on every change, so containers left by earlier
runs slow every later storage call down (a 6,000-job benchmark on a dev cluster that had kept a day of test runs'
containers took 2.39 s per input upload on average, against 0.36 s on a fresh one)."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from azure.storage.blob import BlobServiceClient
from kuantum.storage.blobs import OWNER_NAME, container_name

JOB_CONTAINER_PREFIX = container_name("")  # every job's container name begins so


def job_containers(connection_string: str) -> set[str]:
    """The jobs' blob containers in the storage now."""
    service = BlobServiceClient.from_connection_string(connection_string)
    return {c.name for c in service.list_containers(name_starts_with=JOB_CONTAINER_PREFIX)}


def _owners(connection_string: str) -> dict[str, str | None]:
    """Each job container's recorded job namespace (None where no job claimed it)."""
    service = BlobServiceClient.from_connection_string(connection_string)
    return {c.name: ((c.metadata or {}).get(OWNER_NAME) or "/").split("/")[0] or None
            for c in service.list_containers(name_starts_with=JOB_CONTAINER_PREFIX, include_metadata=True)}


def remove_job_containers(connection_string: str, before: set[str], seconds: float = 300.0,
                          still_used: Callable[[str], bool] = lambda _namespace: False) -> int:
    """Deletes the jobs' blob containers made since `before` was taken, from 8 threads, for at most `seconds`,
    except those of jobs in namespaces `still_used` (another test session's or benchmark's, running beside this
    one on the same Azurite); returns how many it deleted."""
    service = BlobServiceClient.from_connection_string(connection_string)
    made = sorted(name for name, owner in _owners(connection_string).items()
                  if name not in before and not (owner and still_used(owner)))
    deadline = time.monotonic() + seconds

    def delete(name: str) -> None:
        if time.monotonic() < deadline:
            with contextlib.suppress(Exception):
                service.delete_container(name)

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(delete, made))
    return len(made)
