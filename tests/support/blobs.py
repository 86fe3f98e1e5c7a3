"""The jobs' blob containers a test session or a benchmark made, removed at its end.

Azurite keeps its whole index in one JSON file that it rewrites on every change, so containers left by earlier
runs slow every later storage call down (a 6,000-job benchmark on a dev cluster that had kept a day of test runs'
containers took 2.39 s per input upload on average, against 0.36 s on a fresh one)."""

from __future__ import annotations

import contextlib
import time
from concurrent.futures import ThreadPoolExecutor

from azure.storage.blob import BlobServiceClient
from kuantum.storage.blobs import container_name

JOB_CONTAINER_PREFIX = container_name("")  # every job's container name begins so


def job_containers(connection_string: str) -> set[str]:
    """The jobs' blob containers in the storage now."""
    service = BlobServiceClient.from_connection_string(connection_string)
    return {c.name for c in service.list_containers(name_starts_with=JOB_CONTAINER_PREFIX)}


def remove_job_containers(connection_string: str, before: set[str], seconds: float = 300.0) -> int:
    """Deletes the jobs' blob containers made since `before` was taken, from 8 threads, for at most `seconds`;
    returns how many there were."""
    service = BlobServiceClient.from_connection_string(connection_string)
    made = sorted(job_containers(connection_string) - before)
    deadline = time.monotonic() + seconds

    def delete(name: str) -> None:
        if time.monotonic() < deadline:
            with contextlib.suppress(Exception):
                service.delete_container(name)

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(delete, made))
    return len(made)
