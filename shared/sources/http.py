"""HTTP transport shared by every upstream client.

Retry policy (README, "Retry policy"): timeouts, connection errors, 5xx and 429 are transient and
retried here a few times with exponential backoff (honouring ``Retry-After`` on 429); if they
persist they are raised as ``TransientError`` so Pub/Sub or Cloud Tasks redeliver later. 4xx
other than 429 are permanent: 404 becomes ``NotFoundError``, the rest ``BadRequestError``.
"""

from __future__ import annotations

import logging
from typing import Any

import httpx
from tenacity import (
    retry,
    retry_if_exception_type,
    stop_after_attempt,
    wait_exponential_jitter,
)
from tenacity.wait import wait_base

from shared.config import Settings
from shared.errors import BadRequestError, NotFoundError, RateLimitedError, TransientError

log = logging.getLogger(__name__)
USER_AGENT = "pitlane/0.1 (+https://github.com/pitlane)"
MAX_RETRY_AFTER_S = 60.0


def make_http_client(settings: Settings, **kwargs: Any) -> httpx.Client:
    """An ``httpx.Client`` with Pitlane's timeouts and user agent (pass ``transport=`` in tests)."""
    timeout = httpx.Timeout(settings.http_timeout_s, connect=min(5.0, settings.http_timeout_s))
    return httpx.Client(timeout=timeout, headers={"User-Agent": USER_AGENT}, follow_redirects=True, **kwargs)


class _WaitRetryAfter(wait_base):
    """Wait what the server asked for on 429, else exponential backoff with jitter."""

    def __init__(self) -> None:
        self._fallback = wait_exponential_jitter(multiplier=0.5, max=8.0)

    def __call__(self, retry_state: Any) -> float:
        exc = retry_state.outcome.exception() if retry_state.outcome else None
        if isinstance(exc, RateLimitedError) and exc.retry_after is not None:
            return min(exc.retry_after, MAX_RETRY_AFTER_S)
        return float(self._fallback(retry_state))


def _raise_for_status(resp: httpx.Response) -> None:
    code = resp.status_code
    if code < 400:
        return
    where = f"{resp.request.method} {resp.request.url}"
    if code == 429:
        header = resp.headers.get("Retry-After")
        after = float(header) if header and header.replace(".", "", 1).isdigit() else None
        raise RateLimitedError(f"{where}: 429 rate limited", retry_after=after)
    if code >= 500:
        raise TransientError(f"{where}: HTTP {code}")
    if code == 404:
        raise NotFoundError(f"{where}: not found")
    raise BadRequestError(f"{where}: HTTP {code}")


@retry(
    retry=retry_if_exception_type(TransientError),
    stop=stop_after_attempt(4),
    wait=_WaitRetryAfter(),
    reraise=True,
)
def get(client: httpx.Client, url: str, *, params: dict[str, Any] | None = None) -> httpx.Response:
    """GET ``url``; transient failures are retried, then raised as ``TransientError``."""
    try:
        resp = client.get(url, params=params)
    except (httpx.TimeoutException, httpx.TransportError) as exc:
        raise TransientError(f"GET {url}: {type(exc).__name__}: {exc}") from exc
    _raise_for_status(resp)
    return resp


def get_json(client: httpx.Client, url: str, *, params: dict[str, Any] | None = None) -> Any:
    resp = get(client, url, params=params)
    try:
        return resp.json()
    except ValueError as exc:
        raise TransientError(f"GET {url}: body is not JSON ({exc})") from exc
