"""OpenF1 transport (``<openf1_url>/v1/<endpoint>?<filters>``): raw records, no parsing.

``OpenF1Client.get("laps", q("session_key", "=", 9606))`` returns OpenF1's records as decoded
JSON (a list of dicts); :mod:`shared.openf1.parse` turns them into models. Every request, retries
included, first takes a slot from the process-wide rate limiter (:func:`shared_limiter`), so all
clients and threads of one process together stay under OpenF1's limits.

Retry policy (README, "Retry policy", as in :mod:`shared.sources.http`): timeouts, dropped
connections and 5xx are retried with exponential backoff; a 429 waits its ``Retry-After`` and
pauses the shared limiter for that long, so every caller backs off, not just this one. Still
failing after the last attempt: ``TransientError``. OpenF1 answers an empty result with
``404 {"detail": "No results found."}``: that is an empty list here, not an error; any other 404
(an unknown endpoint) is ``NotFoundError``.

Caching (:mod:`shared.openf1.cache`): requests are conditional (``If-None-Match`` /
``If-Modified-Since``) when the server sent validators, and the data of a finished session
(its ``date_end`` an hour or more past, looked up once via ``/v1/sessions``) is reused from memory
for ``openf1_cache_ttl_s`` with no request. ``client.cache_stats`` counts hits.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from tenacity import Retrying, retry_if_exception_type, stop_after_attempt

from shared.config import Settings
from shared.errors import PitlaneError, RateLimitedError, TransientError
from shared.openf1.cache import CacheStats, ResponseCache
from shared.openf1.limiter import SlidingWindowLimiter, windows_for
from shared.openf1.query import FilterArg, build_query, q, single_value
from shared.sources.http import MAX_RETRY_AFTER_S, _raise_for_status, _WaitRetryAfter

Record = dict[str, Any]
ATTEMPTS = 4
# Added to each rate window: the server counts arrival times, which trail our send times by a
# varying few milliseconds; without a margin two requests exactly one window apart could land in it.
# 3% of each window (1.8 s of a minute, 30 ms of a second) on top of LIMIT_MARGIN_S: measured on
# a loaded 2-core machine, the server saw the first request of a minute up to ~1 s after its grant.
LIMIT_MARGIN_FRACTION = 0.03
LIMIT_MARGIN_S = 0.05
# OpenF1 may still correct a session's data shortly after it ends; only then is it final.
FINAL_AFTER = timedelta(hours=1)
# Endpoints describing the calendar rather than one session's data: never treated as final.
_CALENDAR = frozenset({"meetings", "sessions"})

_limiters: dict[tuple[str, float, int], SlidingWindowLimiter] = {}
_limiters_lock = threading.Lock()


def shared_limiter(settings: Settings) -> SlidingWindowLimiter:
    """The process's one limiter for this server and these rates, built on first use (never at
    import). Quotas are per server: another base URL (a test's own upstream) has its own."""
    key = (settings.openf1_url, settings.openf1_rate_per_s, settings.openf1_rate_per_min)
    with _limiters_lock:
        if key not in _limiters:
            windows = windows_for(settings.openf1_rate_per_s, settings.openf1_rate_per_min)
            _limiters[key] = SlidingWindowLimiter(
                windows, margin_s=LIMIT_MARGIN_S, margin_fraction=LIMIT_MARGIN_FRACTION
            )
        return _limiters[key]


def _no_results(resp: httpx.Response) -> bool:
    try:
        body = resp.json()
    except ValueError:
        return False
    return isinstance(body, dict) and body.get("detail") == "No results found."


class OpenF1Client:
    """OpenF1 over ``http`` (from ``make_http_client``); see the module docstring."""

    def __init__(
        self,
        *,
        settings: Settings,
        http: httpx.Client,
        limiter: SlidingWindowLimiter | None = None,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._http = http
        self._base = settings.openf1_url.rstrip("/") + "/v1/"
        self._limiter = limiter or shared_limiter(settings)
        self._cache = ResponseCache(settings.openf1_cache_size)
        self._ttl_s = settings.openf1_cache_ttl_s
        self._now = now
        self._headers = {"Accept": "application/json"}
        if settings.openf1_token is not None:
            self._headers["Authorization"] = f"Bearer {settings.openf1_token.get_secret_value()}"
        self._session_ends: dict[int, datetime | None] = {}
        self._ends_lock = threading.Lock()

    @property
    def cache_stats(self) -> CacheStats:
        return self._cache.stats()

    @property
    def limiter(self) -> SlidingWindowLimiter:
        return self._limiter

    def url(self, endpoint: str, *filters: FilterArg, csv: bool = False) -> str:
        query = build_query(*filters, csv=csv)
        return f"{self._base}{endpoint}" + (f"?{query}" if query else "")

    def get(self, endpoint: str, *filters: FilterArg) -> list[Record]:
        """The records of ``/v1/<endpoint>`` matching every filter (``[]`` when none match)."""
        url = self.url(endpoint, *filters)
        body = self._cache.fresh(url)
        if body is None:
            body = self._fetch(url, ttl_s=self._final_ttl(endpoint, filters))
        records = json.loads(body)
        if not isinstance(records, list):
            raise TransientError(f"GET {url}: expected a JSON list, got {type(records).__name__}")
        if endpoint == "sessions":
            self._note_session_ends(records)
        return records

    def get_csv(self, endpoint: str, *filters: FilterArg) -> str:
        """The same query as CSV text (``csv=true``; OpenF1 sorts the columns by name); not cached."""
        return self._fetch(self.url(endpoint, *filters, csv=True), ttl_s=None, cache=False).decode()

    # --- transport ------------------------------------------------------------------------------

    def _fetch(self, url: str, *, ttl_s: float | None, cache: bool = True) -> bytes:
        retrying = Retrying(
            retry=retry_if_exception_type(TransientError),
            stop=stop_after_attempt(ATTEMPTS),
            wait=_WaitRetryAfter(),
            reraise=True,
        )
        for attempt in retrying:
            with attempt:
                return self._attempt(url, ttl_s=ttl_s, cache=cache)
        raise AssertionError("unreachable: tenacity re-raises the last error")  # pragma: no cover

    def _attempt(self, url: str, *, ttl_s: float | None, cache: bool) -> bytes:
        self._limiter.acquire()
        headers = {**self._headers, **(self._cache.validators(url) if cache else {})}
        try:
            resp = self._http.get(url, headers=headers)
        except (httpx.TimeoutException, httpx.TransportError) as exc:
            raise TransientError(f"GET {url}: {type(exc).__name__}: {exc}") from exc
        if resp.status_code == 304 and cache:
            body = self._cache.revalidated(url, ttl_s=ttl_s)
            if body is None:  # evicted since the request went out: ask again, unconditionally
                raise TransientError(f"GET {url}: 304 but the cached response is gone")
            return body
        if resp.status_code == 404 and _no_results(resp):
            body = b"[]"
        else:
            try:
                _raise_for_status(resp)
            except RateLimitedError as exc:
                self._limiter.pause(min(exc.retry_after or 1.0, MAX_RETRY_AFTER_S))
                raise
            body = resp.content
        if cache:
            self._cache.store(
                url,
                body,
                etag=resp.headers.get("ETag"),
                last_modified=resp.headers.get("Last-Modified"),
                ttl_s=ttl_s,
            )
        return body

    # --- finished sessions ----------------------------------------------------------------------

    def _final_ttl(self, endpoint: str, filters: tuple[FilterArg, ...]) -> float | None:
        """``openf1_cache_ttl_s`` when the query is about one session that has finished."""
        if endpoint in _CALENDAR or self._ttl_s <= 0:
            return None
        key = single_value(filters, "session_key")
        if not isinstance(key, int) or isinstance(key, bool):
            return None
        end = self._session_end(key)
        return self._ttl_s if end is not None and self._now() >= end + FINAL_AFTER else None

    def _session_end(self, session_key: int) -> datetime | None:
        with self._ends_lock:
            if session_key in self._session_ends:
                return self._session_ends[session_key]
        try:
            self.get("sessions", q("session_key", "=", session_key))  # records it
        except PitlaneError:  # cannot tell now: treat as not final, ask again next time
            return None
        with self._ends_lock:
            return self._session_ends.setdefault(session_key, None)

    def _note_session_ends(self, sessions: list[Record]) -> None:
        for record in sessions:
            key, text = record.get("session_key"), record.get("date_end")
            if not isinstance(key, int) or not isinstance(text, str):
                continue
            try:
                end = datetime.fromisoformat(text)
            except ValueError:
                continue
            with self._ends_lock:
                self._session_ends[key] = end if end.tzinfo else end.replace(tzinfo=UTC)
