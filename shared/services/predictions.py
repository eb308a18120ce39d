"""Live predictions of a race, driven by its ``race-events``.

What each event does (race sessions, ids ending ``_r``; qualifying ones go to
:mod:`shared.services.grid_predictions`):

* the first event of a session (before the start: the cars leaving the pit lane, the session
  status) stores the pre-race prediction (``history/000_prerace``, and the current document),
  computed from the grid (:mod:`shared.services.prerace`) unless the qualifying session's end
  stored it already; a race without a grid raises :class:`MissingGridError` (acknowledged,
  logged: no guess);
* from the start (``sessions/{id}.started_utc``) on, ``lap_completed`` by the car in first place
  (a lap of the race), ``track_status`` (safety car, VSC, red flag, green), ``pit_in``/``pit_out``,
  ``retirement``, ``leader_change`` and the chequered flag (``session_status`` Finished) recompute
  the probabilities from the race state at the event's time (:mod:`shared.predict.state`,
  :mod:`shared.predict.live`): a history entry per event (created once; a redelivered event finds
  it), and the current document; other events only release a waiting prediction;
* ``session_status`` Finalised or Ends: the final prediction (every lap in), written at once, then
  every stored prediction is scored against the classification
  (:mod:`shared.services.prediction_scoring`).

The current document is written at most once a second: a prediction made less than a second after
the last write waits in this instance (:class:`Pending`) and goes out with the next event after
the second has passed, or at once when it is the session's last (the chequered flag: the service
then sleeps out the rest of the second). Writes carry a precondition on the version read, so two
instances never interleave, and an older prediction never replaces a newer one (``seq``).
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from shared.history.tables import HistoryTables
from shared.predict.documents import DriverOdds, Prediction, PredictionKind, history_key
from shared.predict.features import MissingGridError, points_places
from shared.predict.live import simulate
from shared.predict.model import PreRaceModel
from shared.predict.params import RaceParams
from shared.predict.state import race_state, track_state
from shared.services.prerace import prerace_for_session
from shared.stores import predictions as store
from shared.stores.session_store import SESSIONS, session_path
from shared.timing.models import EventKind, Lap, RaceControlMessage, RaceEvent

if TYPE_CHECKING:
    from google.cloud import firestore

log = logging.getLogger(__name__)
MIN_INTERVAL_S = 1.0
NO_GRID_RETRY_S = 60.0
WINDOW_LAPS = 3  # earlier laps read for a state: cars up to two laps down are seen running
LIVE_TRACK = {"sc", "vsc", "red", "green", "vsc_ending", "sc_ending"}
FINAL_STATUSES = {"Finalised", "Ends"}


@dataclass
class Resources:
    """What a pre-race prediction needs, loaded only when one is computed."""

    tables: Callable[[], HistoryTables]
    model: Callable[[], PreRaceModel]


@dataclass
class Pending:
    """Per instance: predictions waiting for their session's one-second slot, and what this
    instance already read of each session."""

    waiting: dict[str, Prediction] = field(default_factory=dict)
    written_at: dict[str, float] = field(default_factory=dict)  # session -> monotonic time of last write
    sessions: dict[str, dict[str, Any]] = field(default_factory=dict)  # sessions/{id} once complete
    prerace: dict[str, Prediction] = field(default_factory=dict)  # the stored pre-race predictions
    no_grid: dict[str, tuple[float, str]] = field(default_factory=dict)  # session -> (when, why)


class Outcome(BaseModel):
    session_id: str
    action: str  # ignored, predicted, duplicate, flushed, scored
    key: str | None = None
    current_written: bool = False


def is_trigger(event: RaceEvent) -> bool:
    kind, data = event.kind, event.data
    if kind is EventKind.LAP_COMPLETED:
        return data.get("position") == 1
    if kind is EventKind.TRACK_STATUS:
        return data.get("status") in LIVE_TRACK
    if kind is EventKind.SESSION_STATUS:
        return data.get("status") == "Finished"  # the chequered flag
    return kind in (EventKind.PIT_IN, EventKind.PIT_OUT, EventKind.RETIREMENT, EventKind.LEADER_CHANGE)


def handle_event(
    event: RaceEvent,
    *,
    db: firestore.Client,
    resources: Resources,
    pending: Pending,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> Outcome:
    """React to one race event of a race session (see module docstring)."""
    sid = event.session_id
    prior = ensure_prerace(sid, db=db, resources=resources, pending=pending, clock=clock, now=now)
    final = event.kind is EventKind.SESSION_STATUS and event.data.get("status") in FINAL_STATUSES
    if not final and not is_trigger(event):
        wrote = sid in pending.waiting and flush(sid, db=db, pending=pending, clock=clock, sleep=sleep)
        return Outcome(session_id=sid, action="flushed" if wrote else "ignored", current_written=wrote)
    info = session_info(db, sid, pending)
    started = info.get("started_utc")
    if not final and (started is None or event.utc < started):
        return Outcome(session_id=sid, action="ignored")  # before the start: the pre-race one stands
    if final:
        return finish(event, prior=prior, info=info, db=db, resources=resources, pending=pending,
                      clock=clock, sleep=sleep, now=now)  # fmt: skip
    prediction = live_prediction(event, prior=prior, info=info, db=db, now=now())
    created = store.create_history(db, prediction)
    wrote = offer(prediction, db=db, pending=pending, clock=clock, sleep=sleep)
    return Outcome(
        session_id=sid,
        action="predicted" if created else "duplicate",
        key=prediction.key,
        current_written=wrote,
    )


def finish(
    event: RaceEvent,
    *,
    prior: Prediction,
    info: dict[str, Any],
    db: firestore.Client,
    resources: Resources,
    pending: Pending,
    clock: Callable[[], float],
    sleep: Callable[[float], None],
    now: Callable[[], datetime],
) -> Outcome:
    """The session is over (Finalised, Ends): the final prediction, written at once, then the score."""
    from shared.services.prediction_scoring import score_session

    sid = event.session_id
    current, _ = store.read_current(db, sid)
    key = None
    if current is None or current.kind != "final":
        prediction = live_prediction(event, prior=prior, info=info, db=db, now=now(), kind="final")
        store.create_history(db, prediction)
        offer(prediction, db=db, pending=pending, clock=clock, sleep=sleep, force=True)
        key = prediction.key
    scored = score_session(sid, db=db, tables=resources.tables, now=now())
    return Outcome(session_id=sid, action="scored" if scored else "finished", key=key)


def session_info(db: firestore.Client, session_id: str, pending: Pending) -> dict[str, Any]:
    """``sessions/{id}`` (start, total laps, names), kept per instance once it has both."""
    cached = pending.sessions.get(session_id)
    if cached is not None:
        return cached
    snap = db.document(session_path(session_id)).get()
    info = (snap.to_dict() or {}) if snap.exists else {}
    if info.get("started_utc") and info.get("total_laps"):
        pending.sessions[session_id] = info
    return info


def ensure_prerace(
    session_id: str,
    *,
    db: firestore.Client,
    resources: Resources,
    pending: Pending,
    clock: Callable[[], float],
    now: Callable[[], datetime],
) -> Prediction:
    """The session's stored pre-race prediction, computed and stored on first need (kept per
    instance; a race found to have no grid is not tried again for ``NO_GRID_RETRY_S``)."""
    if session_id in pending.prerace:
        return pending.prerace[session_id]
    failed = pending.no_grid.get(session_id)
    if failed is not None and clock() - failed[0] < NO_GRID_RETRY_S:
        raise MissingGridError(failed[1])
    stored = store.get_history_entry(db, session_id, history_key(0, "prerace"))
    if stored is not None:
        pending.prerace[session_id] = stored
        return stored
    meeting = session_info(db, session_id, pending).get("meeting_name")
    try:
        prior = prerace_for_session(
            session_id,
            db=db,
            tables=resources.tables(),
            model=resources.model(),
            now=now(),
            race_name=meeting,
        )
    except MissingGridError as exc:
        pending.no_grid[session_id] = (clock(), str(exc))
        raise
    if store.create_history(db, prior):
        log.info("pre-race prediction stored", extra={"json_fields": {"session_id": session_id}})
    current, _ = store.read_current(db, session_id)
    if current is None and store.replace_current(db, prior.model_copy(update={"revision": 1}), read_at=None):
        pending.written_at[session_id] = clock()
    stored = store.get_history_entry(db, session_id, prior.key) or prior
    pending.prerace[session_id] = stored
    return stored


def live_prediction(
    event: RaceEvent,
    *,
    prior: Prediction,
    info: dict[str, Any],
    db: firestore.Client,
    now: datetime,
    kind: PredictionKind = "live",
) -> Prediction:
    """The probabilities at the event's time, from the laps and race control stored by then."""
    sid, at = event.session_id, event.utc
    laps = _recent_laps(db, sid, at)
    messages = _race_control(db, sid)
    track = track_state(messages, laps, at=at)
    if event.kind is EventKind.TRACK_STATUS and event.data.get("status") in LIVE_TRACK:
        track = str(event.data["status"]).replace("vsc_ending", "green")
    total = info.get("total_laps")
    params = prior.params or RaceParams()
    entrants = [
        (d.driver_number, d.grid, d.pace_score if d.pace_score is not None else 0.5) for d in prior.drivers
    ]
    pitting = (
        str(event.data.get("driver_number")) if event.kind in (EventKind.PIT_IN, EventKind.PIT_OUT) else None
    )
    season = prior.season or int(sid[:4])
    state, places = race_state(
        laps, entrants=entrants, at=at, total_laps=int(total or prior.total_laps or 0), track=track,
        params=params, points_places=points_places(season), pitting=pitting,
    )  # fmt: skip
    seed = int(hashlib.sha256(event.event_id.encode()).hexdigest()[:8], 16)
    out = simulate(state, params, seed=seed)
    by_number = {d.driver_number: d for d in prior.drivers}
    drivers = []
    for i, car in enumerate(state.cars):
        base = by_number[car.driver_number]
        drivers.append(base.model_copy(update={
            "position": places.get(car.driver_number), "running": car.running,
            **out.of(i),
            "gap_s": round(car.gap_s, 3) if car.running else None, "stops_made": car.stops_made,
        }))  # fmt: skip
    drivers.sort(key=lambda d: (-d.p_win, d.position or 99))
    return Prediction(
        session_id=sid, kind=kind, model_version=prior.model_version,
        season=prior.season, race_name=prior.race_name, lap=state.laps_done, total_laps=state.total_laps,
        track_status=track, trigger=event.kind.value, event_id=event.event_id, as_of_utc=at, computed_utc=now,
        seq=f"{at.astimezone(UTC).isoformat()}|{event.event_id}", drivers=drivers, params=params,
    )  # fmt: skip


def _recent_laps(db: firestore.Client, session_id: str, at: datetime) -> list[Lap]:
    from google.cloud.firestore import FieldFilter, Query

    laps = db.collection(f"{SESSIONS}/{session_id}/laps")
    latest = list(
        laps.where(filter=FieldFilter("completed_utc", "<=", at))
        .order_by("completed_utc", direction=Query.DESCENDING)
        .limit(1)
        .stream()
    )
    if not latest:
        return []
    newest = int((latest[0].to_dict() or {}).get("lap_number") or 0)
    window = laps.where(filter=FieldFilter("lap_number", ">=", max(newest - WINDOW_LAPS, 1))).where(
        filter=FieldFilter("lap_number", "<=", newest)
    )
    docs = window.stream()
    return [Lap.model_validate(d.to_dict()) for d in docs]


def _race_control(db: firestore.Client, session_id: str) -> list[RaceControlMessage]:
    from google.cloud.firestore import FieldFilter

    ref = db.collection(f"{SESSIONS}/{session_id}/race_control")
    found: dict[int, RaceControlMessage] = {}
    for query in (
        ref.where(filter=FieldFilter("category", "==", "SafetyCar")),
        ref.where(filter=FieldFilter("flag", "==", "RED")),
    ):
        for snap in query.stream():
            msg = RaceControlMessage.model_validate(snap.to_dict())
            found[msg.n] = msg
    return list(found.values())


# -- the current document: at most one write a second --------------------------------------------


def offer(
    prediction: Prediction,
    *,
    db: firestore.Client,
    pending: Pending,
    clock: Callable[[], float],
    sleep: Callable[[float], None],
    force: bool = False,
) -> bool:
    """Make ``prediction`` the current one now if its slot is free, else keep it waiting (``force``:
    wait for the slot). True when it was written."""
    sid = prediction.session_id
    held = pending.waiting.get(sid)
    if held is None or held.seq < prediction.seq:
        pending.waiting[sid] = prediction
    return flush(sid, db=db, pending=pending, clock=clock, sleep=sleep, force=force)


def flush(
    session_id: str,
    *,
    db: firestore.Client,
    pending: Pending,
    clock: Callable[[], float],
    sleep: Callable[[float], None],
    force: bool = False,
) -> bool:
    """Write the waiting prediction of ``session_id`` if a second has passed since the last write
    of its current document (by this instance, or by anyone, per the document's commit time)."""
    prediction = pending.waiting.get(session_id)
    if prediction is None:
        return False
    mine = pending.written_at.get(session_id)
    if not force and mine is not None and clock() - mine < MIN_INTERVAL_S:
        return False  # this instance wrote it less than a second ago: no need to read
    for _ in range(5):
        current, read_at = store.read_current(db, session_id)
        if current is not None and current.seq >= prediction.seq:
            pending.waiting.pop(session_id, None)
            return False
        wait = _wait_s(pending.written_at.get(session_id), read_at, clock)
        if wait > 0:
            if not force:
                return False
            sleep(wait)
            continue
        revision = (current.revision if current is not None else 0) + 1
        if store.replace_current(db, prediction.model_copy(update={"revision": revision}), read_at=read_at):
            pending.written_at[session_id] = clock()
            pending.waiting.pop(session_id, None)
            return True
    return False


def _wait_s(written_at: float | None, read_at: datetime | None, clock: Callable[[], float]) -> float:
    mine = MIN_INTERVAL_S - (clock() - written_at) if written_at is not None else 0.0
    theirs = 0.0
    if read_at is not None:
        # The document's commit time (server clock); a small margin for clock skew between hosts.
        age = datetime.now(UTC) - read_at
        theirs = MIN_INTERVAL_S + 0.05 - age / timedelta(seconds=1)
    return max(mine, theirs, 0.0)


def odds_sum(drivers: list[DriverOdds]) -> tuple[float, float, float]:
    """Sums of the win, podium and points probabilities (1, 3 and the points places)."""
    return (
        sum(d.p_win for d in drivers),
        sum(d.p_podium for d in drivers),
        sum(d.p_points for d in drivers),
    )
