"""kuantum.main.run starts the operator afresh when Kopf stopped on a watch answered 404 (an API server that
has just restarted serves custom resources only once its CRD informer has synced), and only then."""

from __future__ import annotations

import sys
from typing import Any

import pytest
from kopf._cogs.clients.errors import APIConflictError, APINotFoundError
from kuantum import main


def test_only_kopfs_404_counts_as_a_watched_resource_missing() -> None:
    assert main.watched_resource_missing(APINotFoundError({"code": 404}, status=404, headers={}))
    assert not main.watched_resource_missing(APIConflictError({"code": 409}, status=409, headers={}))
    assert not main.watched_resource_missing(ValueError("404"))


def _run_with(monkeypatch: pytest.MonkeyPatch, error: Exception) -> list[tuple[str, list[str]]]:
    execs: list[tuple[str, list[str]]] = []

    def failing_run(**_: Any) -> None:
        raise error
    monkeypatch.setattr(main.kopf, "run", failing_run)
    monkeypatch.setattr(main.time, "sleep", lambda _: None)
    monkeypatch.setattr(main.os, "execv", lambda path, argv: execs.append((path, list(argv))))
    monkeypatch.setattr(main.logconfig, "configure", lambda *_: None)
    monkeypatch.setattr(main, "_state", {})
    main.run(["-n", "somewhere", "--metrics-port", "0"])
    return execs


def test_a_404_from_kopf_starts_the_same_command_again(monkeypatch: pytest.MonkeyPatch) -> None:
    execs = _run_with(monkeypatch, APINotFoundError({"code": 404}, status=404, headers={}))
    assert execs == [(sys.executable, list(sys.orig_argv))]


def test_other_errors_end_the_operator(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(APIConflictError):
        _run_with(monkeypatch, APIConflictError({"code": 409}, status=409, headers={}))


def test_kopfs_logged_fatal_404_restarts_from_a_thread_of_its_own(monkeypatch: pytest.MonkeyPatch) -> None:
    """Kopf's shutdown may hang: the restart starts when Kopf logs the fatal error, not when run() returns."""
    import logging
    import threading

    done = threading.Event()
    execs: list[list[str]] = []

    def fake_exec(path: str, argv: list[str]) -> None:
        execs.append(list(argv))
        done.set()
    monkeypatch.setattr(main.time, "sleep", lambda _: None)
    monkeypatch.setattr(main.os, "execv", fake_exec)
    monkeypatch.setattr(main, "_restart_requested", threading.Event())  # as in a fresh process
    logger = logging.getLogger("kopf._core.reactor.running")
    handler = main.RestartOnMissingResource()
    logger.addHandler(handler)
    try:
        try:
            raise APINotFoundError({"code": 404}, status=404, headers={})
        except APINotFoundError:
            logger.exception("Multidimensional multitasker has failed")
        assert done.wait(10)
        logger.error("something else failed")  # no exc_info: nothing happens
    finally:
        logger.removeHandler(handler)
    assert execs == [list(sys.orig_argv)]
