"""Sessions: the schedule document with its live fields, and per session the timing tower's rows,
laps, race control messages, weather samples and the tower itself (``sessions/{id}/...``)."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any

from annotated_types import Ge, Le
from pydantic import Field

from functions.routes.table import TABLE, SessionPath, db
from shared.api.cursor import DEFAULT_LIMIT, page
from shared.api.models import (
    DriverList,
    LapPage,
    RaceControlList,
    SessionOut,
    WeatherList,
    stored,
)
from shared.api.params import STRICT, Params
from shared.api.router import LIVE, SESSION, Call
from shared.errors import NotFoundError
from shared.timing.models import DriverRow, TimingTower

MAX_LAP = 200
CURRENT_WINDOW = timedelta(hours=3)  # a session lasts at most ~3 hours, suspensions included
DriverNumber = Annotated[
    str, Field(pattern=r"^[0-9]{1,3}$", description="a car number (1 to 3 digits)", examples=["44"])
]
LapNumber = Annotated[int, Ge(1), Le(MAX_LAP), STRICT]
MAX_LAPS_PAGE = 2000


class DriverPath(SessionPath):
    driver_number: DriverNumber


class LapPath(SessionPath):
    lap: LapNumber = Field(description="a lap number", examples=[3])


class LapQuery(Params):
    driver: DriverNumber | None = Field(None, description="a car number (1 to 3 digits)")
    lap: LapNumber | None = Field(None, description="a lap number")
    limit: Annotated[int, Ge(1), Le(MAX_LAPS_PAGE), STRICT] = Field(1000, description="laps per page")
    cursor: Annotated[str, Field(max_length=512, description="from next_cursor of the previous page")] = ""


def current(call: Call) -> SessionOut:
    """The session under way now, else the next one to start."""
    from google.cloud.firestore import FieldFilter

    from shared.stores.schedule import SESSIONS

    query = (
        db(call)
        .collection(SESSIONS)
        .where(filter=FieldFilter("start_utc", ">=", call.now - CURRENT_WINDOW))
        .order_by("start_utc")
        .limit(5)
    )
    for snap in query.stream():
        found = stored(SessionOut, snap.to_dict())
        if found is not None:
            return found
    raise NotFoundError("no current or upcoming session")


@TABLE.get("/api/sessions/current", response=SessionOut, cache=LIVE, tags=["sessions"], errors=(404,))
def current_session(call: Call) -> SessionOut:
    """The session under way now, else the next one to start.

    A session counts as under way for three hours after its scheduled start."""
    return current(call)


def session_doc(call: Call, session_id: str) -> SessionOut:
    from shared.stores.schedule import get_session

    found = stored(SessionOut, get_session(db(call), session_id))
    if found is None:
        raise NotFoundError(f"no session {session_id!r}")
    return found


@TABLE.get(
    "/api/sessions/{session_id}", response=SessionOut, path=SessionPath, cache=SESSION, tags=["sessions"]
)
def session(call: Call) -> SessionOut:
    """One session: schedule (UTC, circuit time, zone) and live fields (status, track status, lap)."""
    return session_doc(call, call.path.session_id)


def known(call: Call) -> Any:
    from shared.stores import session_reads

    client = db(call)
    if not session_reads.session_exists(client, call.path.session_id):
        raise NotFoundError(f"no session {call.path.session_id!r}")
    return client


@TABLE.get(
    "/api/sessions/{session_id}/drivers", response=DriverList, path=SessionPath, cache=LIVE, tags=["sessions"]
)
def session_drivers(call: Call) -> DriverList:
    """The timing tower's rows, one per driver, by position."""
    from shared.stores import session_reads

    sid = call.path.session_id
    return DriverList(session_id=sid, items=session_reads.list_drivers(known(call), sid))


@TABLE.get(
    "/api/sessions/{session_id}/drivers/{driver_number}", response=DriverRow, path=DriverPath, cache=LIVE,
    tags=["sessions"],
)  # fmt: skip
def session_driver(call: Call) -> DriverRow:
    """One driver's row of the timing tower."""
    from shared.stores import session_reads

    sid, number = call.path.session_id, call.path.driver_number
    row = session_reads.get_driver(known(call), sid, number)
    if row is None:
        raise NotFoundError(f"no driver {number} in session {sid!r}")
    return row


def _lap_key(lap: Any) -> tuple[int, int, int]:
    number = int(lap.driver_number) if lap.driver_number.isdigit() else 10_000
    return (lap.lap_number, lap.position or 10_000, number)


@TABLE.get(
    "/api/sessions/{session_id}/laps", response=LapPage, path=SessionPath, query=LapQuery, cache=SESSION,
    tags=["sessions"],
)  # fmt: skip
def session_laps(call: Call) -> LapPage:
    """Laps by lap number, then position at the lap's end; ``driver`` and ``lap`` filter them.

    Long lists come in pages: pass ``next_cursor`` back as ``cursor``."""
    from shared.stores import session_reads

    q, sid = call.query, call.path.session_id
    laps = session_reads.list_laps(known(call), sid, driver=q.driver, lap=q.lap)
    filters = {"s": sid, "d": q.driver, "l": q.lap}
    items, cursor = page(
        laps, key=_lap_key, limit=q.limit or DEFAULT_LIMIT, cursor=q.cursor or None, filters=filters
    )
    return LapPage(session_id=sid, items=items, next_cursor=cursor)


@TABLE.get(
    "/api/sessions/{session_id}/laps/{lap}", response=LapPage, path=LapPath, cache=SESSION, tags=["sessions"]
)
def session_lap(call: Call) -> LapPage:
    """Every driver's lap ``lap``, by position at its end."""
    from shared.stores import session_reads

    sid = call.path.session_id
    return LapPage(session_id=sid, items=session_reads.list_laps(known(call), sid, lap=call.path.lap))


@TABLE.get(
    "/api/sessions/{session_id}/race-control", response=RaceControlList, path=SessionPath, cache=SESSION,
    tags=["sessions"],
)  # fmt: skip
def session_race_control(call: Call) -> RaceControlList:
    """Race control messages (flags, penalties, safety car) in F1's order."""
    from shared.stores import session_reads

    sid = call.path.session_id
    return RaceControlList(session_id=sid, items=session_reads.list_race_control(known(call), sid))


@TABLE.get(
    "/api/sessions/{session_id}/weather",
    response=WeatherList,
    path=SessionPath,
    cache=SESSION,
    tags=["sessions"],
)
def session_weather(call: Call) -> WeatherList:
    """Weather samples (about one a minute): air and track temperature, rain, wind."""
    from shared.stores import session_reads

    sid = call.path.session_id
    return WeatherList(session_id=sid, items=session_reads.list_weather(known(call), sid))


@TABLE.get(
    "/api/sessions/{session_id}/live", response=TimingTower, path=SessionPath, cache=LIVE, tags=["sessions"]
)
def session_live(call: Call) -> TimingTower:
    """The timing tower (``sessions/{id}/live/state``, the document clients listen to)."""
    from shared.stores import session_reads

    tower = session_reads.get_tower(known(call), call.path.session_id)
    if tower is None:
        raise NotFoundError(f"no live timing for session {call.path.session_id!r} yet")
    return tower
