"""Reads of live session state for the API (the documents ``session_store`` writes).

Documents are validated with their model on the way out (pydantic at the boundary); one that does
not validate (an older shape) is left out with a counted warning rather than failing the request.
Ordering is done here, not by Firestore indexes: a session has at most ~1,500 laps.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, TypeVar

from pydantic import BaseModel, ValidationError

from shared.stores.session_store import SESSIONS, driver_path, tower_path
from shared.timing.models import DriverRow, Lap, RaceControlMessage, TimingTower, WeatherSample

if TYPE_CHECKING:
    from google.cloud import firestore

log = logging.getLogger(__name__)
M = TypeVar("M", bound=BaseModel)
_LAST = 10_000  # sorts unknown positions after every real one


def _valid(model: type[M], docs: Iterable[tuple[str, dict[str, Any] | None]]) -> list[M]:
    out: list[M] = []
    for path, data in docs:
        try:
            out.append(model.model_validate(data or {}))
        except ValidationError as exc:
            log.warning(
                "skipped a stored document", extra={"json_fields": {"path": path, "error": str(exc)[:200]}}
            )
    return out


def _collection(db: firestore.Client, session_id: str, name: str, model: type[M]) -> list[M]:
    snaps = db.collection(f"{SESSIONS}/{session_id}/{name}").stream()
    return _valid(model, ((s.reference.path, s.to_dict()) for s in snaps))


def session_exists(db: firestore.Client, session_id: str) -> bool:
    return bool(db.collection(SESSIONS).document(session_id).get().exists)


def list_drivers(db: firestore.Client, session_id: str) -> list[DriverRow]:
    """Rows ordered by position (drivers without one last, by number)."""
    rows = _collection(db, session_id, "drivers", DriverRow)
    return sorted(rows, key=lambda r: (r.position or _LAST, _number(r.driver_number)))


def get_driver(db: firestore.Client, session_id: str, driver_number: str) -> DriverRow | None:
    snap = db.document(driver_path(session_id, driver_number)).get()
    found = _valid(DriverRow, [(snap.reference.path, snap.to_dict())]) if snap.exists else []
    return found[0] if found else None


def list_laps(
    db: firestore.Client, session_id: str, *, driver: str | None = None, lap: int | None = None
) -> list[Lap]:
    """Laps ordered by lap number, then position at the end of the lap; optional equality filters."""
    from google.cloud.firestore import FieldFilter

    query: Any = db.collection(f"{SESSIONS}/{session_id}/laps")
    if driver is not None:
        query = query.where(filter=FieldFilter("driver_number", "==", driver))
    if lap is not None:
        query = query.where(filter=FieldFilter("lap_number", "==", lap))
    laps = _valid(Lap, ((s.reference.path, s.to_dict()) for s in query.stream()))
    return sorted(laps, key=lambda x: (x.lap_number, x.position or _LAST, _number(x.driver_number)))


def list_race_control(db: firestore.Client, session_id: str) -> list[RaceControlMessage]:
    return sorted(_collection(db, session_id, "race_control", RaceControlMessage), key=lambda m: m.n)


def list_weather(db: firestore.Client, session_id: str) -> list[WeatherSample]:
    return sorted(_collection(db, session_id, "weather", WeatherSample), key=lambda w: w.n)


def get_tower(db: firestore.Client, session_id: str) -> TimingTower | None:
    snap = db.document(tower_path(session_id)).get()
    found = _valid(TimingTower, [(snap.reference.path, snap.to_dict())]) if snap.exists else []
    return found[0] if found else None


def _number(driver_number: str) -> int:
    return int(driver_number) if driver_number.isdigit() else _LAST
