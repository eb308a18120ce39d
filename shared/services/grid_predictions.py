"""The predicted grid of a qualifying session (``..._q``, ``..._sq``), driven by its race events.

Every ``lap_completed`` with a lap time recomputes it (:mod:`shared.predict.qualifying`) from the
session's laps completed by the event's time and the weekend's practice pace (the best laps of
``{meeting}_fp1..3`` in Firestore, when stored): a history entry per event and the current
``predictions/{session_id}`` (``kind = "grid"``), at most once a second, as for races
(:func:`shared.services.predictions.offer`). When the qualifying session ends (Finalised or Ends)
and the history tables and model are at hand, the race's pre-race prediction is stored from it
(``predictions/{meeting}_r``), before the race's own first event.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from shared.predict.documents import GridOdds, Prediction
from shared.predict.features import MissingGridError
from shared.predict.qualifying import QUALI_DURATION_S, DriverPace, predict_grid
from shared.services.predictions import (
    FINAL_STATUSES,
    Outcome,
    Pending,
    Resources,
    ensure_prerace,
    flush,
    offer,
)
from shared.stores import predictions as store
from shared.stores.session_store import SESSIONS, session_path
from shared.timing.models import EventKind, Lap, RaceEvent

if TYPE_CHECKING:
    from google.cloud import firestore

log = logging.getLogger(__name__)
MODEL_VERSION = "grid-1"


def handle_event(
    event: RaceEvent,
    *,
    db: firestore.Client,
    pending: Pending,
    resources: Resources | None = None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> Outcome:
    sid = event.session_id
    if event.kind is EventKind.SESSION_STATUS and event.data.get("status") in FINAL_STATUSES:
        flush(sid, db=db, pending=pending, clock=clock, sleep=sleep, force=True)
        if resources is not None and sid.endswith("_q"):
            race_sid = sid.removesuffix("_q") + "_r"
            try:
                ensure_prerace(race_sid, db=db, resources=resources, pending=pending, clock=clock, now=now)
            except MissingGridError as exc:
                log.warning("no pre-race prediction from qualifying: %s", exc)
        return Outcome(session_id=sid, action="ignored")
    if event.kind is not EventKind.LAP_COMPLETED or not event.data.get("lap_time_ms"):
        wrote = flush(sid, db=db, pending=pending, clock=clock, sleep=sleep)
        return Outcome(session_id=sid, action="flushed" if wrote else "ignored", current_written=wrote)
    prediction = grid_prediction(event, db=db, now=now())
    created = store.create_history(db, prediction)
    wrote = offer(prediction, db=db, pending=pending, clock=clock, sleep=sleep)
    return Outcome(
        session_id=sid,
        action="predicted" if created else "duplicate",
        key=prediction.key,
        current_written=wrote,
    )


def grid_prediction(event: RaceEvent, *, db: firestore.Client, now: datetime) -> Prediction:
    from shared.stores.session_reads import list_drivers

    sid, at = event.session_id, event.utc
    laps = [lap for lap in _laps_until(db, sid, at) if lap.lap_time_ms]
    best: dict[str, int] = {}
    for lap in laps:
        assert lap.lap_time_ms is not None
        best[lap.driver_number] = min(best.get(lap.driver_number, lap.lap_time_ms), lap.lap_time_ms)
    rows = {r.driver_number: r for r in list_drivers(db, sid)}
    practice = _practice_best(db, sid)
    numbers = sorted(set(rows) | set(best), key=lambda n: int(n) if n.isdigit() else 999)
    paces = [DriverPace(n, best.get(n), practice.get(n)) for n in numbers]
    snap = db.document(session_path(sid)).get()
    doc = snap.to_dict() or {} if snap.exists else {}
    started = doc.get("started_utc") or (
        min((lap.completed_utc for lap in laps if lap.completed_utc), default=at) - timedelta(minutes=2)
    )
    progress = (at - started).total_seconds() / QUALI_DURATION_S
    seed = int(hashlib.sha256(event.event_id.encode()).hexdigest()[:8], 16)
    out = predict_grid(paces, progress, seed=seed)
    grid = []
    for i, number in enumerate(out.drivers):
        row = rows.get(number)
        grid.append(GridOdds(
            driver_number=number, name=row.full_name if row else None, team=row.team_name if row else None,
            predicted_grid=int(out.predicted_grid[i]), best_lap_ms=best.get(number),
            pace_ms=round(float(out.expected_ms[i])),
            p_pole=float(out.p_pole[i]), p_top10=float(out.p_top10[i]),
        ))  # fmt: skip
    grid.sort(key=lambda g: g.predicted_grid)
    return Prediction(
        session_id=sid, kind="grid", model_version=MODEL_VERSION, season=int(sid[:4]),
        race_name=doc.get("meeting_name"), lap=len(laps), trigger=event.kind.value, event_id=event.event_id,
        as_of_utc=at, computed_utc=now, seq=f"{at.astimezone(UTC).isoformat()}|{event.event_id}", grid=grid,
    )  # fmt: skip


def _laps_until(db: firestore.Client, session_id: str, at: datetime) -> list[Lap]:
    """The session's laps with a time completed by ``at`` (only the fields the grid needs)."""
    from google.cloud.firestore import FieldFilter

    query = (
        db.collection(f"{SESSIONS}/{session_id}/laps")
        .where(filter=FieldFilter("completed_utc", "<=", at))
        .select(["driver_number", "lap_number", "lap_time_ms", "completed_utc"])
    )
    return [Lap.model_validate({"session_id": session_id, **(s.to_dict() or {})}) for s in query.stream()]


def _practice_best(db: firestore.Client, session_id: str) -> dict[str, int]:
    """Best practice lap of each driver over the meeting's practice sessions stored in Firestore."""
    from shared.stores.session_reads import list_drivers

    meeting = session_id.rsplit("_", 1)[0]
    best: dict[str, int] = {}
    for code in ("fp1", "fp2", "fp3"):
        for row in list_drivers(db, f"{meeting}_{code}"):
            if row.best_lap_ms:
                best[row.driver_number] = min(best.get(row.driver_number, row.best_lap_ms), row.best_lap_ms)
    return best
