"""Import a finished session with FastF1: load it once, write every missing data type.

FastF1 is pointed at the configured upstreams (``f1_static_url``, ``jolpica_url``,
``f1_schedule_url``; its mirror is the archive itself, never the public mirror) with its cache
under ``settings.cache_dir/fastf1`` (``/tmp`` in Cloud Functions: warm instances reuse it).
``Session.load`` runs once with only what the wanted types need; FastF1 turns a topic it could
not fetch into a warning and leaves that part unloaded, so each type then succeeds or fails on its
own. FastF1 does not retry 5xx or 429 itself: every adapter of its HTTP sessions gets a urllib3
``Retry`` (``Retry-After`` honoured), under requests-cache, so only good responses are cached.

Upstream calls are reserved in the quota ledger before loading (estimates of
``shared.imports.gaps``) and what was not spent is refunded. A session whose every wanted type
failed raises :class:`TransientError` (Cloud Tasks retries); a partial one returns, and the gap
planner asks again for the failed types only.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field

from shared.config import Settings
from shared.errors import TransientError
from shared.feed.archive import STREAM_SUFFIX
from shared.imports import extract, quota
from shared.imports.gaps import TOPICS, DataType, Host, ImportState, SessionSpec, estimate_calls
from shared.stores import imports as store
from shared.stores.session_store import lap_path, race_control_path, weather_path
from shared.timing.models import SessionLive

if TYPE_CHECKING:
    from google.cloud import firestore

log = logging.getLogger(__name__)
RETRY_STATUSES = (429, 500, 502, 503, 504)
RETRIES = 3
BACKOFF_S = 0.2  # urllib3: 0, 0.4, 0.8 s between attempts (capped by Retry-After when given)
# What each type needs FastF1 to load (Session.load keyword arguments).
_LOADS = {DataType.LAPS: "laps", DataType.STINTS: "laps", DataType.WEATHER: "weather"}


class ImportRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    session_id: str = Field(min_length=1)
    year: int = Field(ge=2018, le=2100)
    event: str | int = Field(description="FastF1 event name or round number")
    session: str = Field(min_length=1, description="FastF1 session identifier: 'R', 'Q', 'FP1', ...")
    data_types: list[DataType] = Field(min_length=1)


class ImportResult(BaseModel):
    session_id: str
    status: ImportState
    types: dict[DataType, ImportState]
    laps: int = Field(0, description="lap documents written")
    race_control: int = 0
    weather: int = 0
    drivers: int = 0
    calls: dict[Host, int] = Field(default_factory=dict, description="upstream HTTP requests made")


def overall(types: dict[DataType, ImportState]) -> ImportState:
    states = set(types.values())
    if states <= {"complete", "unavailable"}:
        return "complete"
    if not states & {"complete", "partial"}:
        return "failed"
    return "partial"


def _host_of(url: str, settings: Settings) -> Host | None:
    if url.startswith(settings.f1_static_url.rstrip("/") + "/static/"):
        return Host.F1_STATIC
    if url.startswith(settings.jolpica_url.rstrip("/") + "/ergast/"):
        return Host.JOLPICA
    if url.startswith(settings.f1_schedule_folder):
        return Host.F1SCHEDULE
    return Host.MULTIVIEWER if "/api/v1/circuits/" in url else None


def _point_fastf1(settings: Settings, counter: Callable[[Any], None]) -> None:
    """FastF1's hosts from settings, its cache under ``cache_dir``, retries and a call counter."""
    import fastf1
    import fastf1._api
    import fastf1.ergast.interface
    import fastf1.ergast.legacy
    import fastf1.events
    from urllib3.util.retry import Retry

    root = settings.f1_static_url.rstrip("/")
    fastf1._api.base_url = root
    fastf1._api.base_url_mirror = root  # the public mirror is another host: never reached from here
    fastf1.ergast.interface.BASE_URL = settings.jolpica_url.rstrip("/") + "/ergast/f1"
    fastf1.ergast.legacy.base_url = fastf1.ergast.interface.BASE_URL
    fastf1.events._SCHEDULE_BASE_URL = settings.f1_schedule_folder
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
    for http in (fastf1.Cache._requests_session, fastf1.Cache._requests_session_cached):
        if http is None:
            continue
        for adapter in http.adapters.values():
            adapter.max_retries = retry
        http.hooks["response"] = [h for h in http.hooks["response"] if not getattr(h, "_pitlane", 0)]
        http.hooks["response"].append(counter)


def _counter(
    settings: Settings, calls: dict[Host, int], missing: set[str] | None = None
) -> Callable[..., Any]:
    """A requests hook counting real HTTP calls per host; archive topics answered 404 go to
    ``missing`` (the archive does not have them: retrying cannot help)."""

    def count(resp: Any, *args: Any, **kwargs: Any) -> Any:
        # requests-cache dispatches hooks again on the response it returns: count each one once
        if getattr(resp, "from_cache", False) or getattr(resp, "_pitlane_counted", False):
            return resp
        resp._pitlane_counted = True
        retries = getattr(getattr(resp, "raw", None), "retries", None)
        host = _host_of(str(resp.url), settings)
        if host is not None:
            calls[host] = calls.get(host, 0) + 1 + len(getattr(retries, "history", ()) or ())
        url = str(resp.url).split("?", 1)[0]
        if missing is not None and getattr(resp, "status_code", 0) == 404 and url.endswith(STREAM_SUFFIX):
            missing.add(url.rsplit("/", 1)[-1].removesuffix(STREAM_SUFFIX))
        return resp

    count._pitlane = 1  # type: ignore[attr-defined]
    return count


def _estimate(req: ImportRequest, code: str, wanted: Sequence[DataType]) -> dict[Host, int]:
    spec = SessionSpec(
        session_id=req.session_id, meeting_id="", year=req.year, code=code, start_utc=_utcnow()
    )
    calls = estimate_calls(spec, wanted)
    calls[Host.F1SCHEDULE] = calls.get(Host.F1SCHEDULE, 0) + 1  # FastF1 reads the season first
    calls.pop(Host.MULTIVIEWER, None)  # circuit info is not imported (yet)
    return calls


def _utcnow() -> datetime:
    return datetime.now(UTC)


def import_session(
    req: ImportRequest, *, db: firestore.Client, settings: Settings, now: Callable[[], datetime] = _utcnow
) -> ImportResult:
    """Load ``req``'s session once and write the wanted types not already held (see module doc)."""
    import fastf1
    from fastf1.exceptions import DataNotLoadedError

    held = store.read_holdings(db, req.session_id)
    wanted = [
        t for t in dict.fromkeys(req.data_types) if not held.holds(t) and t is not DataType.CIRCUIT_INFO
    ]
    result = ImportResult(session_id=req.session_id, status="complete", types={}, laps=0)
    if not wanted:
        result.status = overall(dict(held.types)) if held.types else "complete"
        return result
    code = req.session_id.rsplit("_", 1)[-1]
    started = now()
    reserved = _estimate(req, code, wanted)
    if not quota.reserve_all(db, reserved, limits=quota.limits(settings), now=started):
        raise TransientError(f"import quota used up this hour: {reserved}")
    absent: set[str] = set()  # archive topics that answered 404
    _point_fastf1(settings, _counter(settings, result.calls, absent))
    try:
        session = fastf1.get_session(req.year, req.event, req.session)
        session.load(
            laps=any(_LOADS.get(t) == "laps" for t in wanted),
            telemetry=False,
            weather=DataType.WEATHER in wanted,
            messages=DataType.RACE_CONTROL in wanted,
        )
    except (ValueError, KeyError, DataNotLoadedError, fastf1.req.RateLimitExceededError) as exc:
        _refund(db, reserved, result.calls, started)
        raise TransientError(f"FastF1 could not load {req.session_id}: {exc}") from exc
    _refund(db, reserved, result.calls, started)
    try:
        status = session.session_status
    except DataNotLoadedError:
        status = None
    start_utc = extract.stream_start_utc(session.date, status)
    skipped = extract.Skipped()
    for kind in wanted:
        try:
            result.types[kind] = _import_type(
                kind,
                session=session,
                db=db,
                sid=req.session_id,
                start_utc=start_utc,
                skipped=skipped,
                result=result,
            )
        except DataNotLoadedError as exc:
            log.warning("import %s: %s not loaded: %s", req.session_id, kind.value, exc)
            result.types[kind] = "failed"
    for failed in [k for k, state in result.types.items() if state == "failed"]:
        if TOPICS.get(failed, frozenset()) & absent:
            # The archive has no such file (404): this type does not exist upstream. Recording
            # it as unavailable keeps the planner from retrying it every run.
            result.types[failed] = "unavailable"
    if any(s == "complete" for s in result.types.values()):
        store.ensure_session(db, _session_live(req.session_id, session, start_utc))
    merged = {**held.types, **result.types}
    result.status = overall(merged)
    store.write_status(db, req.session_id, types=result.types, status=result.status, now=now())
    log.info(
        "import %s: %s",
        req.session_id,
        result.status,
        extra={"json_fields": {"types": result.types, "skipped": skipped.counts, "calls": result.calls}},
    )
    if all(s == "failed" for s in result.types.values()):
        raise TransientError(f"import of {req.session_id} failed for every type: {sorted(result.types)}")
    return result


def _refund(db: firestore.Client, reserved: dict[Host, int], spent: dict[Host, int], at: datetime) -> None:
    for host, n in reserved.items():
        if n > spent.get(host, 0):
            quota.refund(db, host, n - spent.get(host, 0), now=at)


def _import_type(
    kind: DataType,
    *,
    session: Any,
    db: firestore.Client,
    sid: str,
    start_utc: datetime | None,
    skipped: extract.Skipped,
    result: ImportResult,
) -> ImportState:
    if kind in (DataType.LAPS, DataType.STINTS):  # stints live in the lap documents (stint, tyres)
        laps = extract.laps(sid, session.laps, start_utc=start_utc, skipped=skipped)
        if kind is DataType.LAPS:
            result.laps += store.write_changed(db, [(lap_path(x), x) for x in laps])
        return "complete" if laps else "unavailable"
    if kind is DataType.WEATHER:
        samples = extract.weather(sid, session.weather_data, start_utc=start_utc, skipped=skipped)
        result.weather += store.write_changed(db, [(weather_path(x), x) for x in samples])
        return "complete" if samples else "unavailable"
    if kind is DataType.RACE_CONTROL:
        msgs = extract.race_control(sid, session.race_control_messages, skipped=skipped)
        result.race_control += store.write_changed(db, [(race_control_path(x), x) for x in msgs])
        return "complete" if msgs else "unavailable"
    rows = extract.results(session.results, skipped=skipped)
    result.drivers += store.write_results(db, sid, rows, fields=extract.RESULT_FIELDS)
    classified = any(r.position is not None for r in rows)
    return "complete" if rows and classified else "partial" if rows else "failed"


def _session_live(sid: str, session: Any, start_utc: datetime | None) -> SessionLive:
    info = getattr(session, "session_info", None) or {}
    return SessionLive(
        session_id=sid,
        meeting_name=str(session.event["EventName"]),
        session_name=str(session.name),
        session_type=(info.get("Type") if isinstance(info, dict) else None),
        f1_session_key=(info.get("Key") if isinstance(info, dict) else None),
        status="Finalised",
        started_utc=start_utc,
        updated_utc=datetime.now(UTC),
    )
