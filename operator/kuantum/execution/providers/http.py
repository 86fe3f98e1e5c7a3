"""A resilient async JSON client shared by the provider API clients (IonQ, Quantinuum).

One pooled httpx.AsyncClient per provider endpoint; every call has a per-request timeout and a total
deadline; transient failures are retried with exponential backoff and full jitter; the provider's
refusals are turned into the error classes of `kuantum.execution.providers.api`. Headers (which carry keys and
tokens) are never logged, and any header value a provider echoes back is scrubbed from error text.
"""

from __future__ import annotations

import asyncio
import email.utils
import json as jsonlib
import logging
import random
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import httpx

from kuantum.execution.providers.api import CredentialsRejected, ProviderUnavailable, RequestRejected
from kuantum.runtime import metrics, tracing

log = logging.getLogger(__name__)

HeadersFactory = Callable[[], Awaitable[dict[str, str]]]
Sleep = Callable[[float], Awaitable[None]]

_IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
# Failures where the request certainly never reached the provider: safe to repeat even for a POST.
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
_MAX_MESSAGE = 500
_SENSITIVE = ("auth", "key", "token", "cookie", "secret")


class ResilientClient:
    """JSON over HTTP with retries. `base_url` includes the API's version path (e.g. .../v0.4)."""

    def __init__(
        self,
        base_url: str,
        headers: HeadersFactory,
        *,
        timeout: float = 10.0,
        deadline: float = 60.0,
        max_attempts: int = 6,
        backoff_base: float = 0.2,
        backoff_cap: float = 10.0,
        transport: httpx.AsyncBaseTransport | None = None,
        on_unauthorized: Callable[[], Awaitable[bool]] | None = None,
        sleep: Sleep | None = None,
        clock: Callable[[], float] = time.monotonic,
        jitter: Callable[[], float] = random.random,
        provider: str = metrics.OTHER,
    ) -> None:
        self.provider = metrics.provider_label(provider)  # the metrics' label
        self.base_url = base_url.rstrip("/")
        self._headers = headers
        self.timeout = timeout
        self.deadline = deadline
        self.max_attempts = max(1, max_attempts)
        self.backoff_base = backoff_base
        self.backoff_cap = backoff_cap
        self._on_unauthorized = on_unauthorized
        self._sleep: Sleep = sleep or asyncio.sleep
        self._clock = clock
        self._jitter = jitter
        self.requests_sent = 0  # every HTTP request put on the wire (retries included), for benchmarks
        # One pool for all calls: connections to the provider are reused across polls.
        self._client = httpx.AsyncClient(transport=transport, follow_redirects=False,
                                         limits=httpx.Limits(max_connections=20, max_keepalive_connections=10))

    async def __aenter__(self) -> ResilientClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._client.aclose()

    def url(self, path: str) -> str:
        """`path` joined under the base URL; an absolute http(s) URL is used as it is."""
        if path.startswith(("http://", "https://")):
            return path
        return f"{self.base_url}/{path.lstrip('/')}"

    async def request(self, method: str, path: str, *, json: Any = None, params: dict[str, Any] | None = None,
                      idempotent: bool | None = None) -> Any:
        """Sends the request; returns the parsed JSON body (None for an empty body). With tracing on, the call is a
        span of the current trace (the job's reconcile) and every attempt carries its `traceparent` header.

        `idempotent` defaults to True for GET/PUT/DELETE. A non-idempotent call (POST) is repeated only
        when the provider surely did not act on it (connection refused, 429); any other failure raises
        ProviderUnavailable at once, because the provider may have acted (a submit may have created a job).
        """
        method = method.upper()
        if not tracing.enabled():
            return await self._request(method, path, json, params, idempotent)
        with tracing.span(f"{method} {self.provider}", kind="CLIENT",
                          attributes={"http.request.method": method, "kuantum.provider": self.provider}) as span:
            try:
                return await self._request(method, path, json, params, idempotent)
            except Exception as e:
                tracing.failed(span, f"{type(e).__name__}: {e}"[:300])
                raise

    async def _request(self, method: str, path: str, json: Any, params: dict[str, Any] | None,
                       idempotent: bool | None) -> Any:
        safe = method in _IDEMPOTENT if idempotent is None else idempotent
        url = self.url(path)
        start = self._clock()
        refreshed = False
        last = "no attempt made"
        attempt = 0
        while attempt < self.max_attempts:
            attempt += 1
            remaining = self.deadline - (self._clock() - start)
            if remaining <= 0:
                break
            headers = await self._headers()
            secrets = _secrets(headers)
            if (context := tracing.traceparent()) is not None:
                headers = {**headers, "traceparent": context}
            retry_after: float | None = None
            sent = self._clock()
            try:
                self.requests_sent += 1
                response = await self._client.request(method, url, json=json, params=params, headers=headers,
                                                      timeout=min(self.timeout, remaining))
            except _NOT_SENT as exc:
                self._count(method, "connect_error", sent)
                last = f"cannot connect: {type(exc).__name__}"
            except httpx.TimeoutException as exc:
                self._count(method, "timeout", sent)
                last = f"timed out: {type(exc).__name__}"
                if not safe:
                    raise ProviderUnavailable(f"{method} {path}: {last}; the provider may have acted on it") from exc
            except httpx.TransportError as exc:
                self._count(method, "transport_error", sent)
                last = f"connection failed: {type(exc).__name__}"
                if not safe:
                    raise ProviderUnavailable(f"{method} {path}: {last}; the provider may have acted on it") from exc
            else:
                status = response.status_code
                self._count(method, _outcome(status, response.content), sent)
                if 200 <= status < 300:
                    body = response.content
                    if not body.strip():
                        return None
                    try:
                        return jsonlib.loads(body)
                    except (ValueError, UnicodeDecodeError) as exc:
                        last = f"malformed JSON in a {status} answer"
                        if not safe:
                            raise ProviderUnavailable(f"{method} {path}: {last}", status) from exc
                elif status in (401, 403):
                    if self._on_unauthorized is not None and not refreshed:
                        refreshed = True
                        if await self._on_unauthorized():
                            attempt -= 1  # a refreshed credential gets a fresh try, once
                            continue
                    raise CredentialsRejected(_scrub(_message(response), secrets), status)
                elif status == 429:
                    retry_after = _retry_after(response.headers.get("Retry-After"))
                    last = "rate limited (429)"
                elif status >= 500:
                    last = f"server error {status}: {_scrub(_message(response), secrets)}"
                    if not safe:
                        raise ProviderUnavailable(f"{method} {path}: {last}; the provider may have acted on it",
                                                  status)
                else:
                    code, message = _error(response)
                    raise RequestRejected(code, _scrub(message, secrets), status)
            if attempt >= self.max_attempts:
                break
            delay = self._backoff(attempt) if retry_after is None else retry_after
            remaining = self.deadline - (self._clock() - start)
            if delay >= remaining:
                if retry_after is not None:  # waiting as asked would pass the call's deadline
                    raise ProviderUnavailable(f"{method} {path}: {last}; Retry-After {retry_after:g}s is past "
                                              f"the call's deadline", 429)
                break
            log.info("%s %s: %s; retrying in %.2fs (attempt %d/%d)", method, path, last, delay, attempt,
                     self.max_attempts)
            metrics.PROVIDER_RETRIES.labels(self.provider).inc()
            await self._sleep(delay)
        raise ProviderUnavailable(f"{method} {path}: {last} (gave up after {attempt} attempt(s), "
                                  f"{self._clock() - start:.1f}s)")

    def _count(self, method: str, outcome: str, sent: float) -> None:
        """One request on the wire: its outcome and how long it took (kuantum_provider_request*)."""
        metrics.PROVIDER_REQUESTS.labels(self.provider, method, outcome).inc()
        metrics.PROVIDER_REQUEST_SECONDS.labels(self.provider, method).observe(max(0.0, self._clock() - sent))

    def _backoff(self, attempt: int) -> float:
        """Full jitter: uniform in [0, min(cap, base * 2^(attempt-1)))."""
        return self._jitter() * min(self.backoff_cap, self.backoff_base * (2 ** (attempt - 1)))


def _outcome(status: int, body: bytes) -> str:
    """A response's outcome label: ok, or the kind of refusal (never the status line's free text)."""
    if 200 <= status < 300:
        if body.strip():
            try:
                jsonlib.loads(body)
            except (ValueError, UnicodeDecodeError):
                return "malformed"
        return "ok"
    if status in (401, 403):
        return "unauthorized"
    if status == 429:
        return "rate_limited"
    return "server_error" if status >= 500 else "rejected"


def _retry_after(value: str | None) -> float | None:
    """Retry-After in seconds or as an HTTP date; None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def _body(response: httpx.Response) -> Any:
    try:
        return response.json()
    except (ValueError, UnicodeDecodeError):
        return None


def _message(response: httpx.Response) -> str:
    return _error(response)[1]


def _error(response: httpx.Response) -> tuple[str, str]:
    """(code, message) from the provider's error body: IonQ {"error", "message", "statusCode"};
    nested {"error": {"code", "message"|"text"}}; else the reason phrase or the body text."""
    body = _body(response)
    code = f"HTTP{response.status_code}"
    message = ""
    if isinstance(body, dict):
        err = body.get("error")
        if isinstance(err, dict):
            code = str(err.get("code") or code)
            message = str(err.get("message") or err.get("text") or "")
        elif isinstance(err, str) and err:
            code = "".join(part for part in err.title().split() if part.isalnum()) or code
            message = err
        if isinstance(body.get("message"), str) and body["message"]:
            message = body["message"]
    if not message:
        message = response.text.strip() or response.reason_phrase or f"HTTP {response.status_code}"
    return code[:100], message[:_MAX_MESSAGE]


def _secrets(headers: dict[str, str]) -> list[str]:
    """Credential header values and their last word (the key in "apiKey <key>", "Bearer <token>")."""
    out: list[str] = []
    for name, value in headers.items():
        if any(word in name.lower() for word in _SENSITIVE) and len(value) >= 8:
            out.append(value)
            last = value.split()[-1]
            if len(last) >= 8:
                out.append(last)
    return sorted(set(out), key=len, reverse=True)


def _scrub(text: str, secrets: list[str]) -> str:
    for secret in secrets:
        text = text.replace(secret, "***")
    return text
