"""Circuits: facts for travellers (place, zone, length, laps, corners, layout) and history for
viewers (winners and grid slots, pole wins, strategies, durations, safety cars, red flags)."""

from __future__ import annotations

from typing import Annotated

from annotated_types import Ge, Le
from pydantic import BaseModel, ConfigDict, Field

from functions.routes import reads
from functions.routes.table import TABLE, CircuitPath, db
from shared.api.cursor import page
from shared.api.models import Page
from shared.api.params import STRICT, Params
from shared.api.router import HISTORY, Call
from shared.ids import meeting_id
from shared.travel.history import CircuitHistory, circuit_history, stint_compounds
from shared.travel.info import CircuitInfo, circuit_info


class CircuitSummary(BaseModel):
    model_config = ConfigDict(frozen=True, defer_build=True)

    circuit_id: str
    name: str
    location: str | None
    country: str | None
    time_zone: str | None
    races_held: int
    last_race_year: int | None


class CircuitPage(Page[CircuitSummary]):
    pass


class CircuitQuery(Params):
    limit: Annotated[int, Ge(1), Le(200), STRICT] = Field(100, description="circuits per page")
    cursor: Annotated[str, Field(max_length=512)] = Field("", description="next_cursor of the previous page")


@TABLE.get(
    "/api/circuits", response=CircuitPage, query=CircuitQuery, cache=HISTORY, tags=["circuits"], errors=(400,)
)
def circuits(call: Call) -> CircuitPage:
    """Every circuit F1 has raced at (and the new ones on the calendar), by id."""
    ref = reads.reference(call)
    summaries = []
    for entry in ref.catalogue.all():
        info = circuit_info(entry, ref.history, with_layout=False)
        summaries.append(CircuitSummary(**info.model_dump(include=set(CircuitSummary.model_fields))))
    q = call.query
    items, cursor = page(
        summaries, key=lambda c: (c.circuit_id,), limit=q.limit, cursor=q.cursor or None, filters={}
    )
    return CircuitPage(items=items, next_cursor=cursor)


@TABLE.get(
    "/api/circuits/{circuit_id}", response=CircuitInfo, path=CircuitPath, cache=HISTORY, tags=["circuits"]
)
def circuit(call: Call) -> CircuitInfo:
    """A circuit: place, coordinates, IANA zone, length, race laps, corners, GeoJSON layout."""
    return circuit_info(reads.circuit(call, call.path.circuit_id), reads.reference(call).history)


@TABLE.get(
    "/api/circuits/{circuit_id}/history", response=CircuitHistory, path=CircuitPath, cache=HISTORY,
    tags=["circuits"],
)  # fmt: skip
def circuit_history_route(call: Call) -> CircuitHistory:
    """Past winners and their grid slots, pole wins, winning stops and compounds, durations,
    safety car and red flag frequency, overtakes where recorded.

    From the Ergast-schema history (to 2023) and the sessions Pitlane stored: compounds come from
    the winner's stored laps, session lengths from stored schedules."""
    from shared.stores import session_reads

    ref = reads.reference(call)
    entry = reads.circuit(call, call.path.circuit_id)
    tables = ref.history
    client = db(call)
    strategies: dict[int, list[str]] = {}
    for race in tables.at_circuit(entry.history_id) if entry.history_id is not None else []:
        win = next((r for r in tables.results_of(race.race_id) if r.position == 1), None)
        sid = f"{meeting_id(race.year, race.name)}_r"
        if win is None or win.number is None or not session_reads.session_exists(client, sid):
            continue
        compounds = stint_compounds(session_reads.list_laps(client, sid, driver=str(win.number)))
        if compounds:
            strategies[race.year] = compounds
    minutes: dict[str, list[float]] = {}
    for m in reads.meetings_at(call, entry):
        for s in reads.sessions_of(call, m):
            if s.code and s.start_utc and s.end_utc and s.end_utc > s.start_utc and s.start_utc < call.now:
                minutes.setdefault(s.code, []).append((s.end_utc - s.start_utc).total_seconds() / 60)
    return circuit_history(
        tables,
        circuit_id=entry.circuit_id,
        history_id=entry.history_id,
        name=entry.name,
        strategies=strategies,
        session_minutes=minutes,
    )
