"""The shared informer: a relist hands on what is gone and what changed (nothing else); 410 Gone lists again; a
failure (the API server away, a custom resource answered 404 while a restarted API server syncs its CRDs) is
tried again after a doubling, bounded backoff, never ending the program; a watch resumes where it ended."""

from __future__ import annotations

import asyncio
import json
import logging
import threading
from collections import deque
from collections.abc import Iterator
from typing import Any

import pytest
from kuantum.runtime import informer as informer_module
from kuantum.runtime.informer import Informer, Informers, Resource, Timing
from kubernetes import client
from kubernetes.client.rest import ApiException

from tests.support.waiting import until

JOBS = Resource("QuantumJob", "kuantum.dev", "v1alpha1", "quantumjobs")
FAST = Timing(backoff_first=0.001, backoff_max=0.004)


def _obj(name: str, rv: str, ns: str = "ns", uid: str | None = None) -> dict[str, Any]:
    return {"metadata": {"name": name, "namespace": ns, "uid": uid or f"uid-{name}", "resourceVersion": rv,
                         "managedFields": [{"manager": "kubectl"}]}}


class Response:
    """A raw HTTP response of the official client (_preload_content=False)."""

    def __init__(self, status: int = 200, data: Any = None, events: list[dict[str, Any]] | None = None,
                 linger: float = 0.0) -> None:
        self.status, self.reason = status, {404: "Not Found", 410: "Gone"}.get(status, "OK")
        self.data = json.dumps(data).encode() if data is not None else b""
        self.events = events or []
        self.linger = linger

    def stream(self, amt: Any = None, decode_content: bool = False) -> Iterator[bytes]:
        for event in self.events:
            yield json.dumps(event).encode() + b"\n"
        threading.Event().wait(self.linger)  # a watch with nothing to say holds the connection a while

    def release_conn(self) -> None:
        pass


def listing(rv: str, *items: dict[str, Any]) -> Response:
    return Response(data={"metadata": {"resourceVersion": rv}, "items": list(items)})


class Server:
    """Answers the informer's calls in order (then watches with nothing to say); records each call's arguments."""

    def __init__(self, *answers: Response | Exception) -> None:
        self.answers = deque(answers)
        self.calls: list[dict[str, Any]] = []

    def __call__(self, *args: Any, **kwargs: Any) -> Response:
        self.calls.append(kwargs)
        answer = self.answers.popleft() if self.answers else Response(linger=0.01)
        if isinstance(answer, Exception):
            raise answer
        return answer


@pytest.fixture
def events() -> list[tuple[str, str, str]]:
    return []


def _informer(monkeypatch: pytest.MonkeyPatch, server: Server, seen: list[tuple[str, str, str]],
              accept: Any = None) -> Informer:
    monkeypatch.setattr(informer_module, "_list_call", lambda *args: (server, ()))

    def handle(event_type: str, obj: dict[str, Any]) -> None:
        seen.append((event_type, obj["metadata"]["name"], obj["metadata"]["resourceVersion"]))
        assert "managedFields" not in obj["metadata"], "stripped at the boundary"
    return Informer(client.ApiClient(), JOBS, "ns", handle, accept, FAST)


def test_a_relist_hands_on_what_is_gone_new_or_changed_and_nothing_else(
        monkeypatch: pytest.MonkeyPatch, events: list[tuple[str, str, str]]) -> None:
    informer = _informer(monkeypatch, Server(), events)
    informer.replace([_obj("a", "1"), _obj("b", "2"), _obj("c", "3")])
    assert events == [("ADDED", "a", "1"), ("ADDED", "b", "2"), ("ADDED", "c", "3")] and informer.synced.is_set()
    events.clear()
    informer.apply("MODIFIED", _obj("a", "4"))
    informer.replace([_obj("a", "4"), _obj("b", "5"), _obj("c", "9", uid="uid-c2"), _obj("d", "6")])
    assert events == [("MODIFIED", "a", "4"),  # the watch's event
                      ("MODIFIED", "b", "5"), ("DELETED", "c", "3"), ("ADDED", "c", "9"), ("ADDED", "d", "6")]
    events.clear()
    informer.replace([_obj("d", "6")])
    assert sorted(events) == [("DELETED", "a", "4"), ("DELETED", "b", "5"), ("DELETED", "c", "9")], \
        "deleted during the gap: handed on with the last object known"


def test_namespaces_outside_the_patterns_are_never_handed_on(
        monkeypatch: pytest.MonkeyPatch, events: list[tuple[str, str, str]]) -> None:
    informer = _informer(monkeypatch, Server(), events, accept=lambda ns: not ns.startswith("t-"))
    informer.replace([_obj("a", "1"), _obj("b", "2", ns="t-1")])
    informer.apply("ADDED", _obj("c", "3", ns="t-2"))
    informer.apply("DELETED", _obj("b", "2", ns="t-1"))
    assert events == [("ADDED", "a", "1")]


async def test_a_custom_resource_not_served_yet_is_listed_again_until_it_is(
        monkeypatch: pytest.MonkeyPatch, events: list[tuple[str, str, str]]) -> None:
    """A just-restarted API server answers 404 for custom resources until its CRD informer has synced: the
    informer waits (doubling its backoff) and lists again; nothing ends the program."""
    server = Server(Response(404), Response(404), ApiException(status=503, reason="Service Unavailable"),
                    listing("10", _obj("a", "10")))
    informer = _informer(monkeypatch, server, events)
    waits: list[float] = []
    real_wait = informer._stop.wait
    monkeypatch.setattr(informer._stop, "wait", lambda delay: waits.append(delay) or real_wait(0))
    informer.start()
    try:
        assert await asyncio.wait_for(informer.synced.wait(), 10)
        await until(lambda: informer.failures == 0)
    finally:
        await informer.stop()
    assert events == [("ADDED", "a", "10")]
    assert waits == [0.001, 0.002, 0.004], "doubling from backoff_first, bounded by backoff_max"
    assert informer.last_error is None


async def test_410_gone_lists_again_and_says_so(monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture,
                                                events: list[tuple[str, str, str]]) -> None:
    """A restarted API server lost its watch cache: a watch resumed from an older resourceVersion is answered
    410 Gone (as an ERROR event, or as the response's status); the informer lists again and misses nothing."""
    gone = {"type": "ERROR", "object": {"kind": "Status", "code": 410, "reason": "Expired", "message": "too old"}}
    server = Server(listing("10", _obj("a", "10"), _obj("b", "10")),
                    Response(events=[{"type": "MODIFIED", "object": _obj("a", "11")}, gone]),
                    listing("20", _obj("a", "11"), _obj("c", "15")),
                    Response(410),
                    listing("30", _obj("a", "11"), _obj("c", "15")))
    informer = _informer(monkeypatch, server, events)
    with caplog.at_level(logging.INFO, logger="kuantum.informer"):
        informer.start()
        try:
            await until(lambda: len(server.calls) >= 6)
        finally:
            await informer.stop()
    assert events == [("ADDED", "a", "10"), ("ADDED", "b", "10"), ("MODIFIED", "a", "11"),
                      ("DELETED", "b", "10"), ("ADDED", "c", "15")]
    restarts = [r.getMessage() for r in caplog.records if "Restarting the watch-stream" in r.getMessage()]
    assert len(restarts) == 2 and all("quantumjobs in ns" in line for line in restarts), restarts
    watches = [c for c in server.calls if c.get("watch")]
    assert [c["resource_version"] for c in watches[:2]] == ["10", "20"]
    assert all(c["allow_watch_bookmarks"] and c["timeout_seconds"] == FAST.watch_seconds for c in watches)


async def test_a_watch_resumes_from_the_last_version_it_saw_bookmarks_too(
        monkeypatch: pytest.MonkeyPatch, events: list[tuple[str, str, str]]) -> None:
    bookmark = {"type": "BOOKMARK", "object": {"metadata": {"resourceVersion": "17"}}}
    server = Server(listing("10"), Response(events=[{"type": "ADDED", "object": _obj("a", "12")}, bookmark]),
                    ConnectionRefusedError("the API server is away"),
                    Response(events=[{"type": "DELETED", "object": _obj("a", "18")}]))
    informer = _informer(monkeypatch, server, events)
    informer.start()
    try:
        await until(lambda: len(server.calls) >= 5)
    finally:
        await informer.stop()
    assert [c.get("resource_version") for c in server.calls[:5]] == [None, "10", "17", "17", "18"]
    assert len([c for c in server.calls if not c.get("watch")]) == 1, "no relist: the watch resumed"
    assert events == [("ADDED", "a", "12"), ("DELETED", "a", "18")]


def test_informers_scope_plain_namespaces_one_by_one_and_patterns_cluster_wide() -> None:
    handlers = [(JOBS, lambda event_type, obj: None)]
    plain = Informers(client.ApiClient(), ["a", "b", "a"], handlers)
    assert [i.namespace for i in plain.all] == ["a", "b"]
    everywhere = Informers(client.ApiClient(), [], handlers)
    assert [i.namespace for i in everywhere.all] == [None]
    patterns = Informers(client.ApiClient(), ["team-*", "kuantum-demo"], handlers)
    assert [i.namespace for i in patterns.all] == [None]
    state = plain.state()
    assert state == {"quantumjobs in a": {"synced": False, "failures": 0},
                     "quantumjobs in b": {"synced": False, "failures": 0}}
