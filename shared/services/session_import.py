"""Import a finished session with FastF1: load it once, write every missing data type.

FastF1 is pointed at the configured upstreams (:mod:`shared.sources.fastf1_client`: base URLs
from settings, its cache under ``settings.cache_dir/fastf1`` (``/tmp`` in Cloud Functions: warm
instances reuse it), urllib3 retries on 5xx and 429, each archive file fetched once).
``Session.load`` runs once with only what the wanted types need; FastF1 turns a topic it could
not fetch into a warning and leaves that part unloaded (and its post-processing then raises
``DataNotLoadedError``, which is caught: what did load is still used), so each type succeeds or
fails on its own:

* ``complete``: written; ``partial``: written but incomplete (results without a classification);
* ``unavailable``: upstream does not have it (the archive answered 404 for its topic, Jolpica
  404 for the results, MultiViewer 404 for the circuit): the planner never asks again;
* ``failed``: anything else (5xx after retries, a parse problem): the planner asks again later,
  for that type alone.

The session's status is over every type held: all unavailable is ``unavailable``, complete and
unavailable only is ``complete``, no complete or partial type is ``failed``, else ``partial``.

Upstream calls are reserved in the quota ledger before loading (estimates of
``shared.imports.gaps``) and what was not spent is refunded. A session whose every wanted type
failed raises :class:`TransientError` (Cloud Tasks retries); a partial one returns.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import requests
from pydantic import BaseModel, ConfigDict, Field

from shared.config import Settings
from shared.errors import PermanentError, TransientError
from shared.imports import extract, quota
from shared.imports.circuit import parse_circuit
from shared.imports.gaps import TOPICS, DataType, Host, ImportState, SessionSpec, estimate_calls
from shared.sources import fastf1_client
from shared.stores import imports as store
from shared.stores.session_store import lap_path, race_control_path, weather_path
from shared.timing.models import SessionLive

if TYPE_CHECKING:
    from google.cloud import firestore

log = logging.getLogger(__name__)
# What each type needs FastF1 to load (Session.load keyword arguments).
_LOADS = {DataType.LAPS: "laps", DataType.STINTS: "laps", DataType.WEATHER: "weather"}


class ImportRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    session_id: str = Field(min_length=1)
    year: int = Field(ge=2018, le=2100)
    event: str | int = Field(description="FastF1 event name or round number")
    session: str = Field(min_length=1, description="FastF1 session identifier: 'R', 'Q', 'FP1', ...")
    data_types: list[DataType] = Field(min_length=1)
    run_id: str | None = Field(None, max_length=128, description="the planning run this task belongs to")


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
    if states == {"unavailable"}:
        return "unavailable"
    if states <= {"complete", "unavailable"}:
        return "complete"
    if not states & {"complete", "partial"}:
        return "failed"
    return "partial"


def _estimate(req: ImportRequest, code: str, wanted: Sequence[DataType]) -> dict[Host, int]:
    spec = SessionSpec(
        session_id=req.session_id, meeting_id="", year=req.year, code=code, start_utc=_utcnow()
    )
    calls = estimate_calls(spec, wanted)
    calls[Host.F1SCHEDULE] = calls.get(Host.F1SCHEDULE, 0) + 1  # FastF1 reads the season first
    return calls


def _utcnow() -> datetime:
    return datetime.now(UTC)


def import_session(
    req: ImportRequest, *, db: firestore.Client, settings: Settings, now: Callable[[], datetime] = _utcnow
) -> ImportResult:
    """Load ``req``'s session once and write the wanted types not already held (see module doc)."""
    held = store.read_holdings(db, req.session_id)
    wanted = [t for t in dict.fromkeys(req.data_types) if not held.holds(t)]
    result = ImportResult(session_id=req.session_id, status="complete", types={}, laps=0)
    if not wanted:
        result.status = overall(dict(held.types)) if held.types else "complete"
        return result
    code = req.session_id.rsplit("_", 1)[-1]
    started = now()
    reserved = _estimate(req, code, wanted)
    if not quota.reserve_all(db, reserved, limits=quota.limits(settings), now=started):
        raise TransientError(f"import quota used up this hour: {reserved}")
    calls = fastf1_client.CallLog(calls=result.calls)
    try:
        session = _load(req, wanted, settings=settings, calls=calls)
        circuit: ImportState | None = None
        if DataType.CIRCUIT_INFO in wanted:
            circuit = _import_circuit(session, db=db, year=req.year, calls=calls)
    finally:
        _refund(db, reserved, result.calls, started)
    start_utc = _write_types(session, wanted, db=db, result=result, circuit=circuit)
    _unavailable(result.types, calls)
    if any(s == "complete" for k, s in result.types.items() if k is not DataType.CIRCUIT_INFO):
        store.ensure_session(db, _session_live(req.session_id, session, start_utc))
    merged = {**held.types, **result.types}
    result.status = overall(merged)
    store.write_status(db, req.session_id, types=result.types, status=result.status, now=now())
    log.info(
        "import %s: %s",
        req.session_id,
        result.status,
        extra={"json_fields": {"types": result.types, "calls": result.calls}},
    )
    if all(s == "failed" for s in result.types.values()):
        raise TransientError(f"import of {req.session_id} failed for every type: {sorted(result.types)}")
    return result


def _load(
    req: ImportRequest, wanted: Sequence[DataType], *, settings: Settings, calls: fastf1_client.CallLog
) -> Any:
    """The FastF1 session, loaded once with what ``wanted`` needs."""
    import fastf1
    from fastf1.exceptions import DataNotLoadedError

    fastf1_client.point_fastf1(settings, calls)
    try:
        session = fastf1.get_session(req.year, req.event, req.session)
    except (ValueError, KeyError) as exc:  # no such event or session in the season's schedule
        raise PermanentError(f"FastF1 has no session {req.session!r} of {req.event!r} in {req.year}") from exc
    try:
        session.load(
            laps=any(_LOADS.get(t) == "laps" for t in wanted),
            telemetry=False,
            weather=DataType.WEATHER in wanted,
            messages=DataType.RACE_CONTROL in wanted,
        )
    except DataNotLoadedError as exc:
        # A topic was missing and FastF1's post-processing tripped on it: what loaded is used.
        log.info("import %s: FastF1 loaded part of the session: %s", req.session_id, exc)
    except fastf1.req.RateLimitExceededError as exc:
        raise TransientError(f"FastF1 rate limit while loading {req.session_id}: {exc}") from exc
    except requests.RequestException as exc:  # connection refused, timeouts: retry later
        raise TransientError(f"upstream unreachable while loading {req.session_id}: {exc}") from exc
    return session


def _write_types(
    session: Any,
    wanted: Sequence[DataType],
    *,
    db: firestore.Client,
    result: ImportResult,
    circuit: ImportState | None,
) -> datetime | None:
    """Write each wanted type, recording its state in ``result.types``; the stream's UTC start."""
    from fastf1.exceptions import DataNotLoadedError

    try:
        status = session.session_status
    except DataNotLoadedError:
        status = None
    start_utc = extract.stream_start_utc(session.date, status)
    skipped = extract.Skipped()
    for kind in wanted:
        if kind is DataType.CIRCUIT_INFO:
            result.types[kind] = circuit or "failed"
            continue
        try:
            result.types[kind] = _import_type(
                kind,
                session=session,
                db=db,
                sid=result.session_id,
                start_utc=start_utc,
                skipped=skipped,
                result=result,
            )
        except DataNotLoadedError as exc:
            log.info("import %s: %s not loaded: %s", result.session_id, kind.value, exc)
            result.types[kind] = "failed"
    if skipped.counts:
        log.warning(
            "import %s: rows skipped", result.session_id, extra={"json_fields": {"skipped": skipped.counts}}
        )
    return start_utc


def _unavailable(types: dict[DataType, ImportState], calls: fastf1_client.CallLog) -> None:
    """Failed types whose source answered 404 do not exist upstream: ``unavailable``, so the
    planner does not retry them every run."""
    no_identity = {"SessionInfo", "DriverList"} <= calls.absent_topics
    for kind, state in list(types.items()):
        if state == "partial" and kind is DataType.RESULTS:
            # drivers without a classification: Jolpica has none and there is no timing to
            # compute one from, so none exists upstream (the driver rows stay written)
            gone = calls.jolpica_404 and "TimingData" in calls.absent_topics
        elif state != "failed":
            continue
        elif kind is DataType.RESULTS:
            gone = calls.jolpica_404 and (no_identity or "TimingData" in calls.absent_topics)
        elif kind is DataType.CIRCUIT_INFO:
            gone = calls.multiviewer_404 or "SessionInfo" in calls.absent_topics
        else:
            # stints live in the lap documents: no laps, no stints (and FastF1 skips TimingAppData
            # once TimingData is missing, so only the latter's 404 may be seen)
            needs = TOPICS[kind] | (TOPICS[DataType.LAPS] if kind is DataType.STINTS else frozenset())
            gone = bool(needs & calls.absent_topics) or no_identity
        if gone:
            types[kind] = "unavailable"


def _import_circuit(
    session: Any, *, db: firestore.Client, year: int, calls: fastf1_client.CallLog
) -> ImportState:
    """The session's circuit layout (``circuit_layouts/{key}_{year}``), fetched once per circuit
    and season: a session of a meeting whose circuit is stored costs no call."""
    try:
        key = int(_session_info(session)["Meeting"]["Circuit"]["Key"])
    except (KeyError, TypeError, ValueError):
        return "failed"  # no SessionInfo: _unavailable decides from the 404
    known = store.circuit_layout_state(db, key, year)
    if known is not None:
        return known
    try:
        payload = fastf1_client.circuit_json(year, key)
    except requests.RequestException as exc:
        log.warning("circuit %s/%s: MultiViewer unreachable: %s", key, year, exc)
        return "failed"
    layout = parse_circuit(payload, circuit_key=key, year=year) if payload else None
    if layout is None:
        if payload is None and not calls.multiviewer_404:
            return "failed"  # 5xx after retries: ask again later
        store.mark_circuit_unavailable(db, key, year)
        return "unavailable"
    store.write_circuit_layout(db, layout)
    return "complete"


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


def _session_info(session: Any) -> dict[str, Any]:
    """FastF1's ``SessionInfo`` topic ({} when the archive had none)."""
    from fastf1.exceptions import DataNotLoadedError

    try:
        info = session.session_info
    except (AttributeError, DataNotLoadedError):
        return {}
    return info if isinstance(info, dict) else {}


def _session_live(sid: str, session: Any, start_utc: datetime | None) -> SessionLive:
    info = _session_info(session)
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
