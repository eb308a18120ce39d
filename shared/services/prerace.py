"""Pre-race predictions: the model applied to a race's starting grid.

The grid comes from the history tables when they hold the race (a replay of a past race: its
``results.grid``, known before the start), else from the session's qualifying classification in
Firestore (``sessions/{meeting}_q/drivers``, the live pipeline's or the import's), drivers matched
to the history by car number. A race with neither gets :class:`MissingGridError`: no prediction is
better than one from a guessed grid. Form figures come from the races run before the race's day.
"""

from __future__ import annotations

import functools
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING

from shared.history.rows import Race
from shared.history.tables import HistoryTables
from shared.ids import slug
from shared.predict.circuit import race_params
from shared.predict.documents import DriverOdds, Prediction
from shared.predict.features import FormTracker, MissingGridError, Starter
from shared.predict.model import PreRaceModel

if TYPE_CHECKING:
    from google.cloud import firestore

UNKNOWN_CIRCUIT = -1


def find_history_race(tables: HistoryTables, session_id: str) -> Race | None:
    """The history's race of a race session id (``2018_azerbaijan_grand_prix_r``), if it holds it."""
    year_text, _, rest = session_id.partition("_")
    if not year_text.isdigit() or not rest.endswith("_r"):
        return None
    meeting = rest.removesuffix("_r")
    return next((r for r in tables.season(int(year_text)) if slug(r.name) == meeting), None)


@functools.lru_cache(maxsize=8)
def _tracker_before(tables: HistoryTables, day: date) -> FormTracker:
    return FormTracker.before(tables, day)


def prerace_for_history_race(
    race: Race,
    *,
    tables: HistoryTables,
    model: PreRaceModel,
    session_id: str | None = None,
    now: datetime | None = None,
) -> Prediction:
    """The prediction for a race the history holds, from its recorded grid."""
    tracker = _tracker_before(tables, race.date)
    starters = tracker.starters(race.race_id)
    return _predict(race, starters, tracker=tracker, tables=tables, model=model,
                    session_id=session_id or f"{race.year}_{slug(race.name)}_r", now=now)  # fmt: skip


def prerace_for_session(
    session_id: str,
    *,
    db: firestore.Client,
    tables: HistoryTables,
    model: PreRaceModel,
    now: datetime | None = None,
    race_name: str | None = None,
) -> Prediction:
    """The prediction for race session ``session_id`` (see module docstring for the grid)."""
    race = find_history_race(tables, session_id)
    if race is not None and tables.results_of(race.race_id):
        return prerace_for_history_race(race, tables=tables, model=model, session_id=session_id, now=now)
    year = int(session_id[:4])
    today = (now or datetime.now(UTC)).date()
    target = race or Race(
        race_id=-1, year=year, round=0, circuit_id=UNKNOWN_CIRCUIT, name=race_name or session_id,
        date=today, start_utc=None, quali_date=None, sprint_date=None,
    )  # fmt: skip
    tracker = _tracker_before(tables, target.date)
    starters, quali_ms = _grid_from_qualifying(session_id, db=db, tables=tables)
    return _predict(target, starters, tracker=tracker, tables=tables, model=model, session_id=session_id,
                    now=now, quali_ms=quali_ms)  # fmt: skip


def _grid_from_qualifying(
    session_id: str, *, db: firestore.Client, tables: HistoryTables
) -> tuple[list[Starter], dict[int, int | None]]:
    from shared.stores.session_reads import list_drivers

    quali_id = session_id.removesuffix("_r") + "_q"
    rows = [r for r in list_drivers(db, quali_id) if r.position]
    if not rows:
        raise MissingGridError(f"no starting grid for {session_id}: {quali_id} has no classification")
    by_number = _drivers_by_number(tables)
    starters, quali_ms = [], {}
    for row in rows:
        number = int(row.driver_number) if row.driver_number.isdigit() else None
        driver_id, team_id = by_number.get(number, (-(number or 0) - 1000, -1)) if number else (-1000, -1)
        starters.append(Starter(driver_id, team_id, row.position or 0, number))
        quali_ms[driver_id] = row.best_lap_ms
    return starters, quali_ms


@functools.lru_cache(maxsize=4)
def _drivers_by_number(tables: HistoryTables) -> dict[int, tuple[int, int]]:
    """Car number -> (driver id, constructor id) of the latest race each number was raced in."""
    out: dict[int, tuple[int, int]] = {}
    for race in tables.races:
        for r in tables.results_of(race.race_id):
            if r.number is not None:
                out[r.number] = (r.driver_id, r.constructor_id)
    return out


def _predict(
    race: Race,
    starters: list[Starter],
    *,
    tracker: FormTracker,
    tables: HistoryTables,
    model: PreRaceModel,
    session_id: str,
    now: datetime | None,
    quali_ms: dict[int, int | None] | None = None,
) -> Prediction:
    rows = tracker.features(race, starters, quali_ms)
    out = model.predict(rows)
    drivers = []
    for i, s in enumerate(starters):
        d = tables.drivers.get(s.driver_id)
        team = tables.constructors.get(s.constructor_id)
        drivers.append(DriverOdds(
            driver_number=str(s.number) if s.number is not None else str(s.driver_id),
            name=d.full_name if d else None, code=d.code if d else None, team=team.name if team else None,
            grid=s.grid, position=None,
            pace_score=float(out.finish_score[i]), **out.of(i),
        ))  # fmt: skip
    drivers.sort(key=lambda o: (-o.p_win, -o.p_podium, o.grid or 99))
    as_of = race.start_utc or datetime.combine(race.date, datetime.min.time(), UTC)
    circuit = race.circuit_id if race.circuit_id != UNKNOWN_CIRCUIT else None
    laps = max((r.laps for r in tables.results_of(race.race_id)), default=0) if race.race_id > 0 else 0
    return Prediction(
        session_id=session_id, kind="prerace", model_version=model.version, season=race.year,
        race_name=race.name, lap=0, total_laps=laps or None, trigger="prerace", event_id=None,
        as_of_utc=as_of, computed_utc=now or datetime.now(UTC), seq="0|prerace",
        drivers=drivers, params=race_params(tables, circuit, race.date),
    )  # fmt: skip
