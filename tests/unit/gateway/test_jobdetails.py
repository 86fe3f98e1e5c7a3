"""QuantumJob <-> JobDetails mapping, the informer-fed cache's bookkeeping, API keys, and the shared client."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import pytest
from kuantum.gateway import jobdetails as jd
from kuantum.gateway.auth import Secrets, authorize
from kuantum.gateway.cache import JOBS, Cache
from kuantum.gateway.errors import ApiError
from kuantum.runtime import client as kubeclient
from kuantum.runtime.informer import Informer, Resource
from kubernetes import client

JOB_ID = "0f6a1f56-8d0c-11f1-9c4f-0242ac120002"
BODY = {"name": "qio", "containerUri": "http://h/acct/job-1?sig=x", "providerId": "Microsoft",
        "target": "microsoft.simulatedannealing.cpu", "inputDataFormat": "microsoft.qio.v2",
        "inputParams": {"params": {"sweeps": 10}}, "priority": "high", "sessionId": "s1"}


def test_round_trip_keeps_what_the_client_sent() -> None:
    req = jd.requested(BODY, JOB_ID)
    job = jd.quantum_job("ns", "ws", JOB_ID, req, session="s1")
    assert job["metadata"]["name"] == JOB_ID and job["spec"]["provider"] == "microsoft-qio"
    assert job["spec"]["priority"] == "High" and job["spec"]["input"] == {"blobUri": "http://h/acct/job-1/inputData"}
    assert job["spec"]["name"] == "qio" and job["spec"]["session"] == "s1"
    assert jd.same_request(req, jd.request_of(job, "s1"))
    assert not jd.same_request(req, jd.request_of(job, "s2"))
    # When it was submitted, to the microsecond: the queue's order among jobs created in one second.
    at = jd.quantum_job("ns", "ws", JOB_ID, req, submitted_at=datetime(2026, 1, 2, 3, 4, 5, 60, UTC))
    assert at["metadata"]["annotations"]["kuantum.dev/submitted-at"] == "2026-01-02T03:04:05.000060Z"
    assert not jd.same_request({**req, "tags": ["x"]}, jd.request_of(job, "s1"))
    # The provider id may be spelled another way (an alias, another case) and still be the same job.
    assert jd.same_request({**req, "providerId": "microsoft-qio"}, jd.request_of(job, "s1"))
    details = jd.details(job, JOB_ID, "s1")
    assert details["providerId"] == "Microsoft" and details["sessionId"] == "s1" and details["status"] == "Waiting"
    assert details["jobType"] == "Optimization" and details["priority"] == "High" and "errorData" not in details


def test_details_never_carry_a_sas_token_and_always_a_provider() -> None:
    job: dict[str, Any] = {"metadata": {"name": "j"}, "spec": {"input": {"blobUri": "http://h/a/c/in?sig=secret"}},
                           "status": {"state": "Executing", "outputDataUri": "http://h/a/job-1/outputData?sig=s"}}
    details = jd.details(job, JOB_ID)
    assert "sig=" not in str(details) and details["providerId"] == "unknown" and details["status"] == "Executing"
    assert details["containerUri"] == "http://h/a/job-1" and details["jobType"] == "Unknown"


def test_cache_indexes_jobs_by_id_and_keeps_the_newest_copy() -> None:
    cache = Cache()
    job = {"metadata": {"name": "n", "namespace": "ns", "resourceVersion": "7"},
           "spec": {"workspace": "ws", "id": JOB_ID.upper()}, "status": {}}
    cache.put(JOBS, job)
    assert cache.job("ns", "ws", JOB_ID) is job and cache.job("ns", "other", JOB_ID) is None
    cache.put(JOBS, {**job, "metadata": {**job["metadata"], "resourceVersion": "6"}})  # older: ignored
    assert cache.job("ns", "ws", JOB_ID) is job
    informer = Informer(client.ApiClient(), Resource("QuantumJob", "kuantum.dev", "v1alpha1", JOBS), "ns",
                        cache.handler(JOBS))
    informer.replace([job])
    informer.replace([])  # a relist without it: gone
    assert cache.job("ns", "ws", JOB_ID) is None and not cache.jobs("ns", "ws")


async def test_keys_are_cached_briefly_and_compared_exactly() -> None:
    reads = []

    async def read(namespace: str, name: str) -> dict[str, str] | None:
        reads.append(name)
        return {"key": "k1"}

    now = [0.0]
    secrets = Secrets(read, ttl=10, clock=lambda: now[0])
    ws = {"metadata": {"name": "ws"}, "spec": {"gateway": {"apiKeySecretRef": {"name": "s", "key": "key"}}}}
    assert await authorize(ws, "ns", "ws", "k1", secrets) is ws
    with pytest.raises(ApiError) as e:
        await authorize(ws, "ns", "ws", "k2", secrets)
    assert e.value.status == 401 and "k1" not in e.value.message and "k2" not in e.value.message
    assert reads == ["s"]
    now[0] = 11
    await authorize(ws, "ns", "ws", "k1", secrets)
    assert reads == ["s", "s"]


async def test_run_sync_works_inside_a_running_loop() -> None:
    async def answer() -> int:
        await asyncio.sleep(0)
        return 42
    assert kubeclient.run_sync(answer()) == 42  # asyncio.run would raise here
