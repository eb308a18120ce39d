"""FastF1 pointed at Pitlane's upstreams: base URLs from settings, its cache under ``cache_dir``,
urllib3 retries on 5xx and 429, each archive file fetched once, and every real HTTP call counted.

FastF1 keeps its hosts in module globals and its HTTP sessions on ``fastf1.req.Cache``;
:func:`point_fastf1` sets them (idempotent, once per import: an instance imports one session at a
time). Nothing here imports FastF1 at module level: pandas and FastF1 load only when an import runs.

* Archive (``f1_static_url``): FastF1 falls back to a public mirror (another host, outside the
  quota ledger) for every file the archive lacks. The mirror is pointed at the archive and the
  fallback list is de-duplicated, so a missing file costs one request, not two.
* MultiViewer (``multiviewer_url``): circuit info (corners, marshal sectors, rotation).
* Throttling: FastF1 spaces its requests 0.25 s apart and stops a process at 500 an hour, per
  host pattern, to be polite to the public servers. Those limits stay for every real host; only
  a loopback host (the local upstream server over the recorded data) is exempt, since the quota
  ledger, not FastF1, is what Pitlane's limits rest on.
* Retries: every adapter of FastF1's sessions gets a urllib3 ``Retry`` (``Retry-After`` honoured),
  under requests-cache, so only good responses are cached; retried attempts count as calls.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from shared.config import Settings
from shared.feed.archive import STREAM_SUFFIX
from shared.imports.gaps import Host

RETRY_STATUSES = (429, 500, 502, 503, 504)
RETRIES = 3
BACKOFF_S = 0.2  # urllib3: 0, 0.4, 0.8 s between attempts (capped by Retry-After when given)


@dataclass
class CallLog:
    """What FastF1 asked upstream during one import: calls per host (retries included), archive
    topics that answered 404 (the file does not exist) and whether Jolpica answered 404."""

    calls: dict[Host, int] = field(default_factory=dict)
    absent_topics: set[str] = field(default_factory=set)
    jolpica_404: bool = False
    multiviewer_404: bool = False


def host_of(url: str, settings: Settings) -> Host | None:
    if url.startswith(settings.f1_static_url.rstrip("/") + "/static/"):
        return Host.F1_STATIC
    if url.startswith(settings.jolpica_url.rstrip("/") + "/ergast/"):
        return Host.JOLPICA
    if url.startswith(settings.f1_schedule_folder):
        return Host.F1SCHEDULE
    if url.startswith(settings.multiviewer_url.rstrip("/") + "/api/v1/circuits/"):
        return Host.MULTIVIEWER
    return None


def counter(settings: Settings, log: CallLog) -> Callable[..., Any]:
    """A requests response hook recording real HTTP calls in ``log`` (cache hits are not calls)."""

    def count(resp: Any, *args: Any, **kwargs: Any) -> Any:
        # requests-cache dispatches hooks again on the response it returns: count each one once
        if getattr(resp, "from_cache", False) or getattr(resp, "_pitlane_counted", False):
            return resp
        resp._pitlane_counted = True
        retries = getattr(getattr(resp, "raw", None), "retries", None)
        url = str(resp.url).split("?", 1)[0]
        host = host_of(url, settings)
        if host is not None:
            log.calls[host] = log.calls.get(host, 0) + 1 + len(getattr(retries, "history", ()) or ())
        if getattr(resp, "status_code", 0) == 404:
            if host is Host.F1_STATIC and url.endswith(STREAM_SUFFIX):
                log.absent_topics.add(url.rsplit("/", 1)[-1].removesuffix(STREAM_SUFFIX))
            elif host is Host.JOLPICA:
                log.jolpica_404 = True
            elif host is Host.MULTIVIEWER:
                log.multiviewer_404 = True
        return resp

    count._pitlane = 1  # type: ignore[attr-defined]
    return count


def point_fastf1(settings: Settings, log: CallLog) -> None:
    """FastF1's hosts from settings, its cache under ``cache_dir``, retries, and ``log`` counting."""
    import fastf1
    import fastf1._api
    import fastf1.ergast.interface
    import fastf1.ergast.legacy
    import fastf1.events
    import fastf1.mvapi.api
    import fastf1.req
    from urllib3.util.retry import Retry

    root = settings.f1_static_url.rstrip("/")
    fastf1._api.base_url = root
    fastf1._api.base_url_mirror = root
    _fetch_each_url_once(fastf1.req.Cache)
    _exempt_loopback(fastf1.req._SessionWithRateLimiting)
    fastf1.ergast.interface.BASE_URL = settings.jolpica_url.rstrip("/") + "/ergast/f1"
    fastf1.ergast.legacy.base_url = fastf1.ergast.interface.BASE_URL
    fastf1.events._SCHEDULE_BASE_URL = settings.f1_schedule_folder
    proto, _, host = settings.multiviewer_url.rstrip("/").partition("://")
    fastf1.mvapi.api.PROTO, fastf1.mvapi.api.HOST = proto, host
    cache_dir = settings.cache_dir / "fastf1"
    cache_dir.mkdir(parents=True, exist_ok=True)
    fastf1.Cache.configure(cache_dir=str(cache_dir))
    fastf1.Cache.offline_mode(False)
    fastf1.set_log_level("WARNING")
    retry = Retry(
        total=RETRIES,
        status_forcelist=RETRY_STATUSES,
        backoff_factor=BACKOFF_S,
        allowed_methods=None,
        raise_on_status=False,  # the last bad response goes back to FastF1, which gives up on it
    )
    hook = counter(settings, log)
    for http in (fastf1.Cache._requests_session, fastf1.Cache._requests_session_cached):
        if http is None:
            continue
        for adapter in http.adapters.values():
            adapter.max_retries = retry
        http.hooks["response"] = [h for h in http.hooks["response"] if not getattr(h, "_pitlane", 0)]
        http.hooks["response"].append(hook)


def _fetch_each_url_once(cache: Any) -> None:
    """Make ``Cache._request`` try each distinct URL of its fallback list once (idempotent)."""
    request = cache.__dict__["_request"].__func__
    if getattr(request, "_pitlane", False):
        return

    def _request(cls: Any, method: str, url: Any, **kwargs: Any) -> Any:
        urls = url if isinstance(url, str) else list(dict.fromkeys(url))
        return request(cls, method, urls, **kwargs)

    _request._pitlane = True  # type: ignore[attr-defined]
    cache._request = classmethod(_request)


LOOPBACK = r"(?!(127\.0\.0\.1|localhost|\[::1\])(:\d+)?/)"


def _exempt_loopback(session_cls: Any) -> None:
    """Keep FastF1's rate limits for every host but loopback (idempotent)."""
    limits = session_cls._RATE_LIMITS
    if any(p.pattern.startswith("^https?://" + LOOPBACK) for p in limits):
        return
    session_cls._RATE_LIMITS = {
        re.compile(p.pattern.replace("^https?://", "^https?://" + LOOPBACK, 1)): v for p, v in limits.items()
    }


def circuit_json(year: int, circuit_key: int) -> dict[str, Any] | None:
    """MultiViewer's circuit info for ``circuit_key`` in ``year`` through FastF1's cached session
    (None when the server has none)."""
    import fastf1.mvapi.api

    return fastf1.mvapi.api.get_circuit(year=year, circuit_key=circuit_key)
