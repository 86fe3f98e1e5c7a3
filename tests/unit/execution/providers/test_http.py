"""ResilientClient against httpx.MockTransport: retries, Retry-After, deadline, refusals, refresh hook.

Sleeps go to a fake clock, so the delays the client asks for are asserted, never wall time.
"""

from __future__ import annotations

import email.utils
import logging
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from kuantum.execution.providers.api import CredentialsRejected, ProviderUnavailable, RequestRejected
from kuantum.execution.providers.http import ResilientClient

KEY = "sk-live-0123456789abcdef"
Handler = Callable[[httpx.Request], httpx.Response]


class Clock:
    """A monotonic clock that only moves when the client sleeps."""

    def __init__(self) -> None:
        self.now = 0.0
        self.delays: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, delay: float) -> None:
        self.delays.append(delay)
        self.now += delay


def script(*steps: httpx.Response | Exception) -> tuple[Handler, list[httpx.Request]]:
    """A handler answering with `steps` in order (the last one repeats); it records the requests."""
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        step = steps[min(len(seen) - 1, len(steps) - 1)]
        if isinstance(step, Exception):
            raise step
        return step

    return handler, seen


def make(handler: Handler, clock: Clock, **options: Any) -> ResilientClient:
    async def headers() -> dict[str, str]:
        return {"Authorization": f"apiKey {KEY}"}

    options.setdefault("jitter", lambda: 1.0)  # backoff without randomness: base * 2^(n-1), capped
    return ResilientClient("http://provider.test/v0.4", headers, transport=httpx.MockTransport(handler),
                           sleep=clock.sleep, clock=clock, **options)


def ok(body: Any = None, status: int = 200) -> httpx.Response:
    return httpx.Response(status, json=body if body is not None else {"ok": True})


async def test_joins_paths_under_the_version_and_sends_params() -> None:
    handler, seen = script(ok({"jobs": []}))
    client = make(handler, Clock())
    assert await client.request("GET", "jobs", params={"limit": 5}) == {"jobs": []}
    assert str(seen[0].url) == "http://provider.test/v0.4/jobs?limit=5"
    assert seen[0].headers["Authorization"] == f"apiKey {KEY}"
    assert client.requests_sent == 1
    await client.aclose()


async def test_empty_body_is_none() -> None:
    handler, _ = script(httpx.Response(204))
    client = make(handler, Clock())
    assert await client.request("PUT", "jobs/1/status/cancel") is None
    await client.aclose()


async def test_retries_5xx_with_exponential_backoff() -> None:
    clock = Clock()
    handler, seen = script(httpx.Response(503), httpx.Response(502), ok({"id": "x"}))
    client = make(handler, clock, backoff_base=0.2)
    assert await client.request("GET", "jobs/x") == {"id": "x"}
    assert len(seen) == 3 and client.requests_sent == 3
    assert clock.delays == pytest.approx([0.2, 0.4])
    await client.aclose()


async def test_full_jitter_stays_under_the_exponential_bound() -> None:
    clock = Clock()
    draws = iter([0.5, 0.25, 0.0])
    handler, _ = script(httpx.Response(500), httpx.Response(500), httpx.Response(500), ok())
    client = make(handler, clock, backoff_base=1.0, backoff_cap=3.0, jitter=lambda: next(draws))
    await client.request("GET", "x")
    assert clock.delays == pytest.approx([0.5, 0.5, 0.0])  # 0.5*1, 0.25*2, 0*min(3, 4)
    await client.aclose()


@pytest.mark.parametrize("error", [httpx.ConnectError("refused"), httpx.ReadTimeout("slow"),
                                   httpx.RemoteProtocolError("Server disconnected")])
async def test_retries_connection_errors_and_timeouts(error: Exception) -> None:
    handler, seen = script(error, ok({"id": "y"}))
    client = make(handler, Clock())
    assert await client.request("GET", "jobs/y") == {"id": "y"}
    assert len(seen) == 2
    await client.aclose()


async def test_retries_malformed_json() -> None:
    handler, seen = script(httpx.Response(200, text='{"id": "trunc'), ok({"id": "z"}))
    client = make(handler, Clock())
    assert await client.request("GET", "jobs/z") == {"id": "z"}
    assert len(seen) == 2
    await client.aclose()


async def test_gives_up_after_max_attempts() -> None:
    clock = Clock()
    handler, seen = script(httpx.Response(500))
    client = make(handler, clock, max_attempts=4, backoff_base=0.01)
    with pytest.raises(ProviderUnavailable) as info:
        await client.request("GET", "jobs")
    assert len(seen) == 4 and len(clock.delays) == 3
    assert info.value.retryable and "500" in info.value.message
    await client.aclose()


async def test_deadline_bounds_the_whole_call() -> None:
    clock = Clock()
    handler, seen = script(httpx.Response(503))
    client = make(handler, clock, deadline=1.0, backoff_base=0.4, max_attempts=100)
    with pytest.raises(ProviderUnavailable):
        await client.request("GET", "jobs")
    assert clock.delays == pytest.approx([0.4])  # the next wait (0.8) would pass the deadline
    assert len(seen) == 2
    await client.aclose()


async def test_per_request_timeout_never_exceeds_the_deadline_left() -> None:
    clock = Clock()
    timeouts: list[Any] = []

    def handler(request: httpx.Request) -> httpx.Response:
        timeouts.append(request.extensions["timeout"]["read"])
        clock.now += 0.7  # the provider is slow
        return httpx.Response(503)

    client = make(handler, clock, timeout=10.0, deadline=2.0, backoff_base=0.1)
    with pytest.raises(ProviderUnavailable):
        await client.request("GET", "jobs")
    assert timeouts[0] == 2.0 and all(t <= 2.0 for t in timeouts) and timeouts[-1] < 1.0
    await client.aclose()


async def test_429_honours_retry_after_seconds() -> None:
    clock = Clock()
    handler, _ = script(httpx.Response(429, headers={"Retry-After": "7"}), ok())
    client = make(handler, clock, deadline=60.0)
    await client.request("GET", "jobs")
    assert clock.delays == [7.0]
    await client.aclose()


async def test_429_honours_retry_after_http_date() -> None:
    clock = Clock()
    when = email.utils.formatdate(time.time() + 30, usegmt=True)
    handler, _ = script(httpx.Response(429, headers={"Retry-After": when}), ok())
    client = make(handler, clock, deadline=60.0)
    await client.request("GET", "jobs")
    assert len(clock.delays) == 1 and 25.0 <= clock.delays[0] <= 31.0
    await client.aclose()


async def test_429_without_retry_after_backs_off() -> None:
    clock = Clock()
    handler, _ = script(httpx.Response(429), ok())
    client = make(handler, clock, backoff_base=0.3)
    await client.request("GET", "jobs")
    assert clock.delays == pytest.approx([0.3])
    await client.aclose()


async def test_429_past_the_deadline_fails_at_once() -> None:
    clock = Clock()
    handler, seen = script(httpx.Response(429, headers={"Retry-After": "120"}), ok())
    client = make(handler, clock, deadline=60.0)
    with pytest.raises(ProviderUnavailable) as info:
        await client.request("GET", "jobs")
    assert clock.delays == [] and len(seen) == 1
    assert info.value.status == 429 and "Retry-After" in info.value.message
    await client.aclose()


@pytest.mark.parametrize("status", [400, 404, 409, 422, 499])
async def test_other_4xx_is_rejected_without_retry(status: int) -> None:
    body = {"error": "Bad Request", "message": "backend 'qpu.nope' is not a known backend", "statusCode": status}
    handler, seen = script(httpx.Response(status, json=body), ok())
    client = make(handler, Clock())
    with pytest.raises(RequestRejected) as info:
        await client.request("GET", "jobs")
    assert len(seen) == 1
    assert info.value.status == status and not info.value.retryable
    assert info.value.code == "BadRequest" and info.value.message == body["message"]
    await client.aclose()


async def test_nested_error_body_and_plain_text() -> None:
    handler, _ = script(httpx.Response(400, json={"error": {"code": "InvalidJob", "text": "no program"}}))
    client = make(handler, Clock())
    with pytest.raises(RequestRejected) as info:
        await client.request("POST", "job")
    assert (info.value.code, info.value.message) == ("InvalidJob", "no program")
    handler, _ = script(httpx.Response(404, text="nothing here"))
    client2 = make(handler, Clock())
    with pytest.raises(RequestRejected) as info:
        await client2.request("GET", "x")
    assert (info.value.code, info.value.message) == ("HTTP404", "nothing here")
    await client.aclose()
    await client2.aclose()


async def test_401_is_credentials_rejected_and_never_shows_the_key() -> None:
    echo = {"error": "Unauthorized", "message": f"Invalid key provided: apiKey {KEY}", "statusCode": 401}
    handler, seen = script(httpx.Response(401, json=echo))
    client = make(handler, Clock())
    with pytest.raises(CredentialsRejected) as info:
        await client.request("GET", "jobs")
    assert len(seen) == 1 and info.value.status == 401
    assert "Invalid key provided" in str(info.value) and KEY not in str(info.value) and KEY not in repr(info.value)
    await client.aclose()


async def test_401_refresh_hook_retries_once_with_new_headers() -> None:
    tokens = iter(["old-token-aaaaaaaa", "new-token-bbbbbbbb"])
    current = {"value": next(tokens)}
    calls: list[int] = []

    async def headers() -> dict[str, str]:
        return {"Authorization": current["value"]}

    async def refresh() -> bool:
        calls.append(1)
        current["value"] = next(tokens)
        return True

    def handler(request: httpx.Request) -> httpx.Response:
        if request.headers["Authorization"] == "new-token-bbbbbbbb":
            return ok({"job": "1"})
        return httpx.Response(401, json={"error": {"code": "TokenExpired", "message": "expired"}})

    clock = Clock()
    client = ResilientClient("http://q.test/v1", headers, transport=httpx.MockTransport(handler),
                             on_unauthorized=refresh, sleep=clock.sleep, clock=clock)
    assert await client.request("GET", "job/1") == {"job": "1"}
    assert calls == [1] and clock.delays == []
    await client.aclose()


@pytest.mark.parametrize("refreshed", [True, False])
async def test_401_after_refresh_or_refused_refresh_is_rejected(refreshed: bool) -> None:
    calls: list[int] = []

    async def refresh() -> bool:
        calls.append(1)
        return refreshed

    handler, seen = script(httpx.Response(403, json={"error": "Forbidden", "message": "no access"}))
    client = make(handler, Clock(), on_unauthorized=refresh)
    with pytest.raises(CredentialsRejected) as info:
        await client.request("GET", "jobs")
    assert calls == [1] and len(seen) == (2 if refreshed else 1)
    assert info.value.message == "no access" and info.value.status == 403
    await client.aclose()


@pytest.mark.parametrize("failure", [httpx.Response(503), httpx.Response(200, text="<html>"),
                                     httpx.ReadError("reset"), httpx.ReadTimeout("slow")])
async def test_post_is_not_repeated_once_it_may_have_landed(failure: httpx.Response | Exception) -> None:
    handler, seen = script(failure, ok({"id": "dup"}))
    client = make(handler, Clock())
    with pytest.raises(ProviderUnavailable):
        await client.request("POST", "jobs", json={"name": "x"})
    assert len(seen) == 1
    await client.aclose()


@pytest.mark.parametrize("failure", [httpx.ConnectError("refused"), httpx.Response(429, headers={"Retry-After": "1"})])
async def test_post_is_repeated_when_it_surely_did_not_land(failure: httpx.Response | Exception) -> None:
    handler, seen = script(failure, ok({"id": "one"}))
    client = make(handler, Clock())
    assert await client.request("POST", "jobs", json={"name": "x"}) == {"id": "one"}
    assert len(seen) == 2
    await client.aclose()


async def test_post_marked_idempotent_is_retried() -> None:
    handler, seen = script(httpx.Response(502), ok({"id-token": "t"}))
    client = make(handler, Clock())
    assert await client.request("POST", "login", json={}, idempotent=True) == {"id-token": "t"}
    assert len(seen) == 2
    await client.aclose()


async def test_retry_logs_never_carry_headers(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    handler, _ = script(httpx.Response(500, json={"message": f"echo apiKey {KEY}"}), ok())
    client = make(handler, Clock())
    await client.request("GET", "jobs")
    assert "retrying" in caplog.text and KEY not in caplog.text
    await client.aclose()


async def test_absolute_urls_are_used_as_given() -> None:
    handler, seen = script(ok({"0": 1.0}))
    client = make(handler, Clock())
    await client.request("GET", "http://provider.test/v0.4/jobs/1/results/probabilities")
    assert str(seen[0].url) == "http://provider.test/v0.4/jobs/1/results/probabilities"
    await client.aclose()


# --- scrubbed secrets, bounded errors, the default retry budget, Retry-After, redirects -----------------

async def test_a_bare_key_echoed_without_its_scheme_is_scrubbed() -> None:
    echo = {"error": "Unauthorized", "message": f"key {KEY} was revoked"}
    handler, _ = script(httpx.Response(401, json=echo))
    client = make(handler, Clock())
    with pytest.raises(CredentialsRejected) as info:
        await client.request("GET", "jobs")
    assert info.value.message == "key *** was revoked"
    await client.aclose()


async def test_error_code_and_message_are_bounded() -> None:
    body = {"error": {"code": "C" * 300, "message": "m" * 2000}}
    handler, _ = script(httpx.Response(400, json=body))
    client = make(handler, Clock())
    with pytest.raises(RequestRejected) as info:
        await client.request("GET", "jobs")
    assert info.value.code == "C" * 100 and info.value.message == "m" * 500
    await client.aclose()


async def test_429_with_a_retry_after_date_already_past_retries_at_once() -> None:
    clock = Clock()
    when = email.utils.formatdate(time.time() - 30, usegmt=True)
    handler, seen = script(httpx.Response(429, headers={"Retry-After": when}), ok())
    client = make(handler, clock)
    await client.request("GET", "jobs")
    assert clock.delays == [0.0] and len(seen) == 2
    await client.aclose()


async def test_defaults_six_attempts_backing_off_from_a_fifth_of_a_second() -> None:
    """The provider clients run on the defaults: they are the operator's retry policy."""
    clock = Clock()
    timeouts: list[Any] = []

    def handler(request: httpx.Request) -> httpx.Response:
        timeouts.append(request.extensions["timeout"]["read"])
        return httpx.Response(500)

    client = make(handler, clock)
    with pytest.raises(ProviderUnavailable):
        await client.request("GET", "jobs")
    assert clock.delays == pytest.approx([0.2, 0.4, 0.8, 1.6, 3.2])
    assert timeouts == [10.0] * 6
    await client.aclose()


async def test_defaults_wait_at_most_ten_seconds_and_give_up_after_a_minute() -> None:
    clock = Clock()
    handler, seen = script(httpx.Response(503))
    client = make(handler, clock, max_attempts=100, backoff_base=9.5)
    with pytest.raises(ProviderUnavailable):
        await client.request("GET", "jobs")
    # 49.5 s spent, 10.5 s left: one more 10 s wait fits; after it 0.5 s is left and the call ends.
    assert clock.delays == pytest.approx([9.5, 10.0, 10.0, 10.0, 10.0, 10.0])
    assert len(seen) == 7
    await client.aclose()


async def test_no_request_once_the_deadline_is_spent() -> None:
    clock = Clock()
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        clock.now += 2.0  # the answer comes exactly at the deadline
        return httpx.Response(401, json={"error": {"code": "TokenExpired", "message": "expired"}})

    async def refresh() -> bool:
        return True

    client = make(handler, clock, deadline=2.0, on_unauthorized=refresh)
    with pytest.raises(ProviderUnavailable):
        await client.request("GET", "jobs")
    assert len(seen) == 1
    await client.aclose()


@pytest.mark.parametrize("status", [300, 302])
async def test_redirects_are_refused_not_read_or_followed(status: int) -> None:
    handler, seen = script(httpx.Response(status, json={"id": "x"}, headers={"Location": "http://elsewhere/"}))
    client = make(handler, Clock())
    with pytest.raises(RequestRejected) as info:
        await client.request("GET", "jobs/x")
    assert info.value.status == status and len(seen) == 1
    await client.aclose()


@pytest.mark.parametrize("value", ["0", "-5"])
async def test_429_retry_after_zero_or_negative_retries_at_once(value: str) -> None:
    clock = Clock()
    handler, _ = script(httpx.Response(429, headers={"Retry-After": value}), ok())
    client = make(handler, clock)
    await client.request("GET", "jobs")
    assert clock.delays == [0.0]
    await client.aclose()


@pytest.mark.parametrize("zone", ["-0000", "+0100"])
async def test_429_retry_after_date_in_any_zone(zone: str) -> None:
    """RFC 5322 dates: "-0000" (no zone: read as UTC) and offsets other than GMT."""
    clock = Clock()
    offset = 3600 if zone == "+0100" else 0
    when = time.strftime("%a, %d %b %Y %H:%M:%S ", time.gmtime(time.time() + 30 + offset)) + zone
    handler, _ = script(httpx.Response(429, headers={"Retry-After": when}), ok())
    client = make(handler, clock)
    await client.request("GET", "jobs")
    assert len(clock.delays) == 1 and 25.0 <= clock.delays[0] <= 31.0
    await client.aclose()


async def test_an_eight_character_secret_is_scrubbed() -> None:
    async def headers() -> dict[str, str]:
        return {"X-Api-Token": "s3cr3t!!"}

    handler, _ = script(httpx.Response(403, json={"message": "token s3cr3t!! refused"}))
    client = ResilientClient("http://p.test", headers, transport=httpx.MockTransport(handler))
    with pytest.raises(CredentialsRejected) as info:
        await client.request("GET", "x")
    assert info.value.message == "token *** refused"
    await client.aclose()


def _sample(name: str, **labels: str) -> float:
    from prometheus_client import REGISTRY

    return REGISTRY.get_sample_value(name, labels) or 0.0


async def test_requests_are_counted_by_outcome_and_retries_by_provider() -> None:
    """kuantum_provider_requests_total{provider,method,outcome} per request on the wire, retries apart; the label is
    the canonical provider id, never a path or job id."""
    before = {o: _sample("kuantum_provider_requests_total", provider="ionq", method="GET", outcome=o)
              for o in ("ok", "server_error", "rate_limited")}
    retries = _sample("kuantum_provider_request_retries_total", provider="ionq")
    handler, _ = script(httpx.Response(503), httpx.Response(429), ok({"id": "x"}))
    client = make(handler, Clock(), provider="IonQ")
    assert await client.request("GET", "jobs/0b3c-job-id") == {"id": "x"}
    after = {o: _sample("kuantum_provider_requests_total", provider="ionq", method="GET", outcome=o)
             for o in before}
    assert {o: after[o] - before[o] for o in before} == {"ok": 1, "server_error": 1, "rate_limited": 1}
    assert _sample("kuantum_provider_request_retries_total", provider="ionq") - retries == 2
    await client.aclose()
