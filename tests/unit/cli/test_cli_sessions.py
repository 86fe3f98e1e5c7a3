"""`kuantum session list|show|close` and `kuantum submit --session`, against a fake of the CLI's API access."""

from __future__ import annotations

from typing import Any

import pytest
from kuantum.cli import main as cli
from kuantum.cli.format import sessions_table
from kuantum.cli.input import CliError


def _session(name: str, state: str | None, close: bool = False, **status: Any) -> dict[str, Any]:
    return {"metadata": {"name": name, "namespace": "ns", "creationTimestamp": "2026-11-28T08:00:00Z"},
            "spec": {"workspace": "ws", "provider": "ionq", "target": "ionq.simulator", "close": close,
                     "jobFailurePolicy": "Continue"},
            "status": {"state": state, "id": f"id-{name}", **status} if state else {}}


class FakeSession:
    namespace = "ns"

    def __init__(self) -> None:
        self.sessions = {"loop": _session("loop", "Executing", jobCounts={"Executing": 1, "Succeeded": 2}),
                         "done": _session("done", "Succeeded", close=True)}
        self.jobs = [{"metadata": {"name": "j1", "creationTimestamp": "2026-11-28T08:00:00Z"},
                      "spec": {"session": "loop", "provider": "ionq", "target": "ionq.simulator"},
                      "status": {"state": "Executing", "id": "job-1"}},
                     {"metadata": {"name": "other", "creationTimestamp": "2026-11-28T08:00:00Z"}, "spec": {}}]
        self.closed: list[str] = []
        self.created: list[dict[str, Any]] = []

    def list_sessions(self) -> dict[str, Any]:
        return {"items": list(self.sessions.values())}

    def list_jobs(self) -> dict[str, Any]:
        return {"items": self.jobs}

    def get(self, plural: str, name: str) -> dict[str, Any]:
        if name not in self.sessions:
            raise CliError(f"QuantumSession {name!r} not found in namespace 'ns'")
        return self.sessions[name]

    def close_session(self, name: str) -> dict[str, Any]:
        self.closed.append(name)
        return self.sessions[name]

    def create_job(self, body: dict[str, Any]) -> dict[str, Any]:
        self.created.append(body)
        return {**body, "metadata": {"name": "made"}}

    def exists(self, plural: str, name: str) -> bool:
        return True


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> FakeSession:
    session = FakeSession()
    monkeypatch.setattr(cli, "connect", lambda *_: session)
    return session


def test_list_shows_state_policy_jobs_and_closed(fake: FakeSession, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["session", "list"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["NAME", "STATE", "TARGET", "POLICY", "JOBS", "CLOSED", "AGE"]
    assert lines[1].startswith("done") and "Succeeded" in lines[1] and lines[1].split()[-2] == "yes"
    assert "1 Executing, 2 Succeeded" in lines[2] and "Continue" in lines[2]


def test_show_prints_the_status_and_the_sessions_jobs(fake: FakeSession, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["session", "show", "loop"]) == 0
    out = capsys.readouterr().out
    assert "State:" in out and "Executing" in out and "ID:" in out and "id-loop" in out
    assert "Failure policy:" in out and "Continue" in out
    jobs = out.split("Jobs:\n", 1)[1]
    assert "j1" in jobs and "other" not in jobs


def test_close_sets_spec_close_unless_the_session_ended(fake: FakeSession, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["session", "close", "loop"]) == 0
    assert fake.closed == ["loop"] and "closed" in capsys.readouterr().out
    assert cli.main(["session", "close", "done"]) == 0
    assert fake.closed == ["loop"] and "already ended (Succeeded)" in capsys.readouterr().out
    assert cli.main(["session", "close", "nope"]) == 1
    assert "QuantumSession 'nope' not found" in capsys.readouterr().err


def test_submit_joins_a_session(fake: FakeSession, tmp_path: Any) -> None:
    problem = tmp_path / "bell.json"
    problem.write_text('{"qubits": 1, "circuit": [{"gate": "h", "target": 0}]}')
    assert cli.main(["submit", str(problem), "-w", "ws", "-p", "kuantum", "-t", "kuantum.simulator",
                     "--session", "loop"]) == 0
    assert fake.created[0]["spec"]["session"] == "loop"


def test_an_empty_table_is_just_the_header() -> None:
    assert sessions_table([]).split() == ["NAME", "STATE", "TARGET", "POLICY", "JOBS", "CLOSED", "AGE"]
