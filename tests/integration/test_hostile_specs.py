"""Every QuantumJob the operator watches gets a truthful status, whatever its spec (issue 12's invariant).

Hostile specs (odd strings, unicode, deep nesting, wrong types, inputs near the API server's limits) are
created through the API server; those it accepts must each reach a state, or Failed with a reason, and
every job that is not final must say, in a condition, what it waits for.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from kubernetes import client
from kubernetes.client.rest import ApiException

from tests.support import quantum as q
from tests.support.kube import wait_for
from tests.support.operator import OperatorProcess

pytestmark = pytest.mark.integration

ODD_TEXT = st.one_of(
    st.sampled_from(["ws", "other-ns/ws", "microsoft/sa", "ionq", "microsoft-qio", "kuantum", "x" * 300, "-", ".",
                     "ﾃｽﾄ", "a b", "microsoft.simulatedannealing.cpu", "ionq.simulator", "kuantum.simulator"]),
    st.text(min_size=1, max_size=80))
JSONISH = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
                       lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner,
                                                                                    max_size=4),
                       max_leaves=30)
INPUTS = st.one_of(
    st.builds(lambda v: {"inline": v}, JSONISH),
    st.builds(lambda v: {"inline": v}, st.just(q.ISING)),
    st.builds(lambda n: {"configMapKeyRef": {"name": n, "key": "k"}}, st.sampled_from(["missing", "x" * 250])),
    st.builds(lambda u: {"blobUri": u}, st.sampled_from(["http://127.0.0.1:1/nowhere/blob", "not a uri", ""])),
    st.just({}))
SPECS = st.fixed_dictionaries(
    {"workspace": ODD_TEXT, "provider": ODD_TEXT, "target": ODD_TEXT, "input": INPUTS},
    optional={"inputParams": st.dictionaries(st.text(max_size=10), JSONISH, max_size=4)
              | st.builds(lambda p: {"params": p}, st.dictionaries(st.sampled_from(["sweeps", "seed", "beta_start",
                                                                                    "restarts", "timeout"]),
                                                                   JSONISH, max_size=3)),
              "priority": st.sampled_from(["High", "Standard"]),
              "timeoutSeconds": st.integers(min_value=1, max_value=10**6),
              "tags": st.lists(st.text(max_size=30), max_size=3)})


def _explained(status: dict[str, Any]) -> bool:
    """A state, and for a job that is not final a condition that says what it waits for or does."""
    state = status.get("state")
    if state in q.FINAL:
        return state != "Failed" or bool((status.get("errorData") or {}).get("code"))
    if state in ("Waiting", "Executing"):
        return any(c.get("status") in ("True", "False") and c.get("message") for c in status.get("conditions") or [])
    return False


@settings(max_examples=1, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
@given(specs=st.lists(SPECS, min_size=24, max_size=24))
def test_every_accepted_job_gets_a_truthful_status(
        specs: list[dict[str, Any]], api_client: client.ApiClient, core: client.CoreV1Api, namespace: str,
        azurite_connection_string: str, operator: OperatorProcess) -> None:
    if not q.get(api_client, namespace, "quantumworkspaces", "ws"):
        q.storage_secret(core, namespace, azurite_connection_string)
        q.workspace(api_client, namespace)
    created = []
    known = [  # the reported cases, always among the generated ones
        {"workspace": "other-ns/ws", "provider": "microsoft-qio", "target": "microsoft.simulatedannealing.cpu",
         "input": {"inline": q.ISING}},
        {"workspace": "ws", "provider": "ns/p", "target": "microsoft/sa", "input": {"inline": q.ISING}},
        {"workspace": "ws", "provider": "microsoft-qio", "target": "a" * 62 + "-b" + "c" * 20,
         "input": {"inline": q.ISING}},
    ]
    for spec in known + specs:
        name = f"h-{uuid.uuid4().hex[:10]}"
        try:
            q.create(api_client, namespace, "quantumjobs", {"kind": "QuantumJob", "metadata": {"name": name},
                                                           "spec": spec})
        except ApiException as e:
            assert e.status in (400, 413, 422), e  # refused by the schema: a clear answer at admission
            continue
        created.append(name)
    assert created, "the schema refused every generated spec: the test checks nothing"
    for name in created:
        status = wait_for(lambda name=name: (s := q.job_status(api_client, namespace, name)) and _explained(s) and s,
                          timeout=90, what=f"a truthful status on {name}")
        assert status["state"] in ("Waiting", "Executing", *q.FINAL)
    log = operator.log()
    assert "Traceback" not in log, log[-3000:]


def test_a_large_inline_input_gets_a_status_and_runs(
        api_client: client.ApiClient, core: client.CoreV1Api, namespace: str, azurite_connection_string: str,
        operator: OperatorProcess) -> None:
    """A QIO problem of 20,000 terms (about 560 KB) inline: the accepted-spec annotation keeps its digest, not
    the input (annotations are limited to 256 KiB), so the job gets its status and runs."""
    q.storage_secret(core, namespace, azurite_connection_string)
    q.workspace(api_client, namespace)
    terms = [{"c": 1 if i % 2 else -1, "ids": [i % 1000, (i * 7 + 1) % 1000]} for i in range(20000)]
    problem = {"cost_function": {"version": "1.0", "type": "ising", "terms": terms}}
    assert len(json.dumps(problem)) > 262144
    q.sa_job(api_client, namespace, "big", sweeps=10, input={"inline": problem})
    status = q.wait_state(api_client, namespace, "big", q.FINAL, timeout=180)
    assert status["state"] == "Succeeded", status
    annotations = (q.get(api_client, namespace, "quantumjobs", "big") or {})["metadata"]["annotations"]
    assert len(annotations["kuantum.dev/accepted-spec"]) < 4096
