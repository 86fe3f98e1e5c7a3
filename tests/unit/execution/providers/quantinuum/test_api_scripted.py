"""QuantinuumApi against a scripted transport (httpx.MockTransport): token expiry and renewal on a controlled wall
clock, JWT payloads of every length, refused logins, result shots, a duplicated submit found, a submit answer
without a job id. The loopback fake qapi's tests are in test_api.py.
"""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from kuantum.execution.providers.api import (
    CredentialsRejected,
    Program,
    ProviderError,
    ProviderUnavailable,
)
from kuantum.execution.providers.quantinuum import api as quantinuum
from kuantum.execution.providers.quantinuum.api import QuantinuumApi, results_blob, token_expiry

pytestmark = pytest.mark.timeout(180)

USER, PASSWORD = "alice@example.com", "correct-horse-battery-staple"


class Qapi:
    """A scripted qapi: logins hand out numbered opaque tokens (or `tokens`); a job read needs the latest one."""

    def __init__(self, tokens: list[str] | None = None, login_status: int = 200) -> None:
        self.tokens = tokens
        self.login_status = login_status
        self.issued: list[str] = []
        self.sent: list[str | None] = []  # the Authorization of every job read

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/login"):
            if self.login_status != 200:
                return httpx.Response(self.login_status, json={"error": {"code": 21, "text": "bad credentials"}})
            n = len(self.issued)
            token = self.tokens[n] if self.tokens else f"opaque-token-{n}"
            self.issued.append(token)
            return httpx.Response(200, json={"id-token": token, "refresh-token": f"refresh-{n}"})
        self.sent.append(request.headers.get("Authorization"))
        if request.headers.get("Authorization") != self.issued[-1]:
            return httpx.Response(401, json={"error": {"code": 1, "text": "expired"}})
        return httpx.Response(200, json={"job": "j", "status": "queued"})


@asynccontextmanager
async def _api(qapi: Qapi) -> AsyncIterator[QuantinuumApi]:
    api = QuantinuumApi("http://qapi.test/v1", {"username": "u@example.com", "password": "pw-0123456789"},
                        transport=httpx.MockTransport(qapi), max_attempts=2)
    try:
        yield api
    finally:
        await api.aclose()


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    now = [1_000_000.0]
    monkeypatch.setattr(quantinuum.time, "time", lambda: now[0])
    return now


async def test_a_token_without_expiry_is_renewed_after_1530_s(clock: list[float]) -> None:
    """Tokens with no readable `exp` last ID_TOKEN_LIFETIME (30 min), renewed 15 % (4.5 min) ahead."""
    qapi = Qapi()
    async with _api(qapi) as api:
        await api.get("j")
        clock[0] += 1530.0 - 0.5
        await api.get("j")
        assert api.refreshes == 0
        clock[0] += 1.0
        await api.get("j")
        assert api.refreshes == 1
        assert qapi.sent == ["opaque-token-0", "opaque-token-0", "opaque-token-1"]  # never a stale one


def _jwt(claims: dict[str, Any]) -> str:
    payload = base64.urlsafe_b64encode(json.dumps(claims).encode()).decode().rstrip("=")
    return f"eyJhbGciOiJub25lIn0.{payload}.sig"


@pytest.mark.parametrize("pad", ["", "x", "xy", "xyz"])
def test_jwt_expiry_is_read_whatever_the_payload_length(pad: str) -> None:
    token = _jwt({"exp": 1_900_000_000, "sub": pad})
    assert token_expiry(token) == 1_900_000_000.0
    assert len({len(_jwt({"exp": 1_900_000_000, "sub": p}).split(".")[1]) % 4 for p in ("", "x", "xy", "xyz")}) > 2


@pytest.mark.parametrize("token", ["a.%%%%.c", "a.bm90IGpzb24.c", "a.WzFd.c", "a.eyJleHAiOiAieCJ9.c", "opaque",
                                   "a.eyJleHAiOjV9", "a.eyJleHAiOjV9.c.d"])  # {"exp":5} in 2 or 4 parts
def test_an_unreadable_token_has_no_expiry(token: str) -> None:
    assert token_expiry(token) is None


async def test_an_expired_token_is_renewed_before_it_is_sent(clock: list[float]) -> None:
    first, second = _jwt({"exp": 1_000_600}), _jwt({"exp": 1_002_000})
    qapi = Qapi(tokens=[first, second])
    async with _api(qapi) as api:
        await api.get("j")
        clock[0] += 600.0
        await api.get("j")
        assert qapi.sent == [first, second]


async def test_a_refused_password_login_is_credentials_rejected() -> None:
    qapi = Qapi(login_status=400)
    async with _api(qapi) as api:
        with pytest.raises(CredentialsRejected) as info:
            await api.get("j")
        assert info.value.message == "Quantinuum login refused: bad credentials"


def test_integer_shots_of_a_register_of_unknown_width_are_minimal_bitstrings() -> None:
    assert json.loads(results_blob({"c": [1, 0, 5]}, {})) == {"c": ["1", "0", "101"]}
    assert json.loads(results_blob({"c": [1, 0]}, {"c": 3})) == {"c": ["001", "000"]}


def test_a_shot_that_is_not_a_bitstring_is_final_not_retried() -> None:
    for shot in ("2", "", -1, True, 0.5):
        with pytest.raises(ProviderError) as info:
            results_blob({"c": [shot]}, {"c": 1})
        assert info.value.code == "MalformedResults" and info.value.retryable is False


def test_keys_that_are_not_registers_are_skipped_wherever_they_are() -> None:
    assert json.loads(results_blob({"meta": {"n": 1}, "c": ["1"], "x": 3, "d": ["01"]}, {"c": 1, "d": 2})) == {
        "c": ["1"], "d": ["01"]}


async def test_requests_sent_counts_logins_and_calls() -> None:
    async with _api(Qapi()) as api:
        await api.get("j")
        await api.get("j")
        assert api.requests_sent == 3


async def test_find_of_a_duplicated_submit_gives_the_earliest_job() -> None:
    listed = [{"job": "late", "name": "qjob-kj-1", "status": "queued", "submit-date": "2026-11-28T10:00:05"},
              {"job": "early", "name": "qjob-kj-1", "status": "queued", "submit-date": "2026-11-28T10:00:01"},
              {"job": "other", "name": "qjob-kj-2", "status": "queued", "submit-date": "2026-11-28T10:00:00"}]

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/login"):
            return httpx.Response(200, json={"id-token": "opaque-token", "refresh-token": "r"})
        if request.url.path.endswith("/jobs"):
            return httpx.Response(200, json=listed)
        job_id = request.url.path.rsplit("/", 1)[-1]
        return httpx.Response(200, json=next(j for j in listed if j["job"] == job_id))

    api = QuantinuumApi("http://qapi.test/v1", {"refresh-token": "r0"}, transport=httpx.MockTransport(handler))
    try:
        found = await api.find("kj-1", datetime(2026, 11, 28, 10, tzinfo=UTC))
        assert found is not None and found.id == "early"
    finally:
        await api.aclose()


@pytest.mark.parametrize(("answer", "accepted"), [
    ({"job": "5f1e"}, True), ({"job": ""}, False), ({"job": 7}, False), ({"status": "queued"}, False)])
async def test_a_submit_answer_without_a_job_id_is_unclear_not_accepted(answer: dict[str, Any],
                                                                        accepted: bool) -> None:
    def qapi(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/login"):
            return httpx.Response(200, json={"id-token": "t", "refresh-token": "r"})
        return httpx.Response(200, json=answer)

    api = QuantinuumApi("http://qapi.test/v1", {"username": "u@example.com", "password": "pw-0123456789"},
                        transport=httpx.MockTransport(qapi), max_attempts=1)
    prog = Program("quantinuum.sim.h2-1sc", 'OPENQASM 2.0;\ninclude "qelib1.inc";\nqreg q[1];\ncreg c[1];\n'
                   "measure q[0] -> c[0];\n", 10, "bell", "3d2c1b0a", {"c": 1})
    try:
        if accepted:
            assert await api.submit(prog) == answer["job"]
        else:
            with pytest.raises(ProviderUnavailable, match="no job id"):
                await api.submit(prog)  # the caller settles it with find()
    finally:
        await api.aclose()
