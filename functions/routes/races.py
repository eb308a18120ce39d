"""Race-weekend travel planning: races, the weekend timeline in any zone, an iCalendar file, this
weekend's weather in past years and a travel plan for the sessions a fan chose.

A race id is a travel-app race (``races/{race_id}``, e.g. ``bhr-2024``) or a Pitlane meeting id
(``2025_sao_paulo_grand_prix``). A travel race reaches its meeting through its OpenF1 mapping
(``pitlane races map``) or, unmapped, through its season, place and local race day, as the mapping
itself matches them (:mod:`shared.races.places`).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from annotated_types import Ge, Le
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator
from pydantic.json_schema import JsonDict, JsonValue

from functions.routes import reads
from functions.routes.meetings import Season, season_meetings
from functions.routes.table import ID_PATTERN, TABLE, db
from shared.api.cursor import page
from shared.api.models import MeetingOut, Page, stored
from shared.api.params import STRICT, Params
from shared.api.router import HISTORY, SCHEDULE, Call
from shared.errors import NotFoundError
from shared.travel.ics import weekend_calendar
from shared.travel.plan import TravelPlan, travel_plan
from shared.travel.weather import PastSession, WeekendWeather, weekend_weather
from shared.travel.weekend import F1_CODES, Weekend, weekend

_CODES = "|".join(F1_CODES)
_SERIES = "f1|f2|f3|f1-academy"
MATCH_DAYS = 1  # a travel app may have written the UTC day or its user's day


class RacePath(Params):
    race_id: Annotated[str, Field(pattern=ID_PATTERN)] = Field(
        description="a travel-app race id ('bhr-2024') or a meeting id ('2025_sao_paulo_grand_prix')",
        examples=["2025_british_grand_prix"],
    )


def _zones(schema: JsonDict) -> None:
    from zoneinfo import available_timezones

    schema["enum"] = list[JsonValue](sorted(available_timezones()))


class ZoneQuery(Params):
    tz: str | None = Field(
        None, max_length=64, description="an IANA time zone, e.g. 'Europe/London' (default: the circuit's)",
        json_schema_extra=_zones,
    )  # fmt: skip

    @field_validator("tz")
    @classmethod
    def _known_zone(cls, value: str | None) -> str | None:
        from shared.errors import BadRequestError
        from shared.schedule.timeline import zone

        if value is not None:
            try:
                zone(value)
            except BadRequestError:
                raise ValueError("must be an IANA time zone such as 'Europe/London'") from None
        return value


class ScheduleQuery(ZoneQuery):
    series: Annotated[str, Field(pattern=f"^({_SERIES})(,({_SERIES})){{0,3}}$")] | None = Field(
        None, description="comma-separated series to include: f1, f2, f3, f1-academy (default: all)"
    )


class CalendarQuery(Params):
    series: Annotated[str, Field(pattern=f"^({_SERIES})(,({_SERIES})){{0,3}}$")] | None = Field(
        None, description="comma-separated series to include: f1, f2, f3, f1-academy (default: all)"
    )


class PlanQuery(ZoneQuery):
    sessions: Annotated[str, Field(pattern=f"^({_CODES})(,({_CODES})){{0,6}}$")] = Field(
        description="the F1 sessions you will attend, comma-separated: fp1, fp2, fp3, sq, s, q, r",
        examples=["q,r"],
    )
    arrive_before_min: Annotated[int, Ge(0), Le(1440), STRICT] = Field(
        120, description="minutes to be at the circuit before the first session (getting in)"
    )
    leave_after_min: Annotated[int, Ge(0), Le(1440), STRICT] = Field(
        90, description="minutes after the last session ends before you can leave (getting out)"
    )


class RaceOut(BaseModel):
    model_config = ConfigDict(frozen=True, defer_build=True)

    race_id: str = Field(description="the id asked for (a travel-app race id or the meeting id)")
    meeting_id: str
    name: str
    season: int
    round: int
    country: str | None
    location: str | None
    circuit_id: str | None = Field(description="for /api/circuits/{circuit_id}")
    event_format: str | None
    time_zone: str | None = Field(description="the circuit's IANA zone")
    first_session_utc: AwareDatetime
    last_session_utc: AwareDatetime
    session_ids: list[str]


class RacePage(Page[RaceOut]):
    season: int


class RaceSchedule(Weekend):
    race_id: str
    name: str


def _race_out(call: Call, race_id: str, m: MeetingOut) -> RaceOut:
    entry = reads.circuit_at(call, m.location)
    return RaceOut(
        race_id=race_id,
        meeting_id=m.meeting_id,
        name=m.name,
        season=m.year,
        round=m.round,
        country=m.country,
        location=m.location,
        circuit_id=entry.circuit_id if entry else None,
        event_format=m.event_format,
        time_zone=m.time_zone,
        first_session_utc=m.start_utc,
        last_session_utc=m.end_utc,
        session_ids=m.session_ids,
    )


def _travel_meeting(call: Call, doc: dict[str, object]) -> MeetingOut | None:
    """The meeting a travel-app race document names (mapped key, else season + place + day)."""
    from datetime import date

    from shared.races.places import openf1_keys, race_keys
    from shared.stores.schedule import get_meeting_by_key

    key = doc.get("openf1_meeting_key")
    if doc.get("mapping_status") == "mapped" and isinstance(key, int):
        found = stored(MeetingOut, get_meeting_by_key(db(call), key))
        if found is not None:
            return found
    try:
        day = date.fromisoformat(str(doc.get("date")))
    except ValueError:
        return None
    season = doc.get("season") if isinstance(doc.get("season"), int) else day.year
    wanted = race_keys(str(doc.get("circuit") or "")) | race_keys(str(doc.get("location") or ""))
    for m in season_meetings(call, int(season)):  # type: ignore[call-overload]
        if not wanted & openf1_keys([m.location, m.country, m.name.removesuffix(" Grand Prix")]):
            continue
        last_day = m.end_utc.date()
        if abs((last_day - day).days) <= MATCH_DAYS:
            return m
    return None


def resolve(call: Call) -> tuple[str, MeetingOut]:
    from shared.stores.races import get_race
    from shared.stores.schedule import get_meeting

    race_id = call.path.race_id
    doc = get_race(db(call), race_id)
    if doc is not None:
        meeting = _travel_meeting(call, doc)
        if meeting is None:
            raise NotFoundError(f"race {race_id!r} has no F1 weekend in the schedule yet")
        return race_id, meeting
    meeting = stored(MeetingOut, get_meeting(db(call), race_id))
    if meeting is None:
        raise NotFoundError(f"no race {race_id!r}")
    return race_id, meeting


def _weekend(call: Call, meeting: MeetingOut, *, tz: str | None, series: str | None) -> Weekend:
    from shared.stores.schedule import get_timeline

    timeline = get_timeline(db(call), meeting.meeting_id)
    if timeline is None:
        raise NotFoundError(f"no weekend timeline for {meeting.meeting_id!r} yet")
    wanted = set(series.split(",")) if series else None
    return weekend(timeline, tz=tz, series=wanted)


class RaceQuery(Params):
    season: Season | None = Field(None, description="a season (year); default: this year")
    limit: Annotated[int, Ge(1), Le(100), STRICT] = Field(50, description="races per page")
    cursor: Annotated[str, Field(max_length=512)] = Field("", description="next_cursor of the previous page")


@TABLE.get("/api/races", response=RacePage, query=RaceQuery, cache=SCHEDULE, tags=["travel"], errors=(400,))
def races(call: Call) -> RacePage:
    """The season's race weekends by date (default: this year), in pages."""
    q = call.query
    season = q.season or call.now.year
    out = [_race_out(call, m.meeting_id, m) for m in season_meetings(call, season)]
    items, cursor = page(
        out, key=lambda r: (r.first_session_utc.isoformat(), r.meeting_id), limit=q.limit,
        cursor=q.cursor or None, filters={"season": season},
    )  # fmt: skip
    return RacePage(season=season, items=items, next_cursor=cursor)


@TABLE.get("/api/races/{race_id}", response=RaceOut, path=RacePath, cache=SCHEDULE, tags=["travel"])
def race(call: Call) -> RaceOut:
    """One race weekend: name, place, circuit, format, zone, first and last session."""
    race_id, meeting = resolve(call)
    return _race_out(call, race_id, meeting)


@TABLE.get(
    "/api/races/{race_id}/schedule", response=RaceSchedule, path=RacePath, query=ScheduleQuery,
    cache=SCHEDULE, tags=["travel"],
)  # fmt: skip
def race_schedule(call: Call) -> RaceSchedule:
    """The weekend timeline: F1, F2, F3 and F1 Academy sessions in circuit time and in ``tz``."""
    race_id, meeting = resolve(call)
    w = _weekend(call, meeting, tz=call.query.tz, series=call.query.series)
    return RaceSchedule(race_id=race_id, name=meeting.name, **w.model_dump())


@TABLE.get(
    "/api/races/{race_id}/calendar.ics", response=None, path=RacePath, query=CalendarQuery, cache=SCHEDULE,
    tags=["travel"], media_type="text/calendar",
)  # fmt: skip
def race_calendar(call: Call) -> bytes:
    """The weekend as an iCalendar file a phone imports (times in the circuit's zone)."""
    _, meeting = resolve(call)
    w = _weekend(call, meeting, tz=None, series=call.query.series)
    entry = reads.circuit_at(call, meeting.location)
    where = f"{entry.name}, {meeting.location}" if entry else meeting.location
    geo = (entry.lat, entry.lon) if entry else None
    return weekend_calendar(w, title=f"{meeting.year} {meeting.name}", location=where, geo=geo)


@TABLE.get(
    "/api/races/{race_id}/weather", response=WeekendWeather, path=RacePath, cache=HISTORY, tags=["travel"]
)
def race_weather(call: Call) -> WeekendWeather:
    """This weekend's weather in past years, by session: temperature ranges, share with rain.

    Past years are the stored meetings at the same circuit before this one's season; only
    sessions with weather samples (live, replayed or imported) count."""
    from shared.stores import session_reads

    _, meeting = resolve(call)
    entry = reads.reference(call).catalogue.for_location(meeting.location)
    if entry is None:
        raise NotFoundError(f"no circuit known for {meeting.location!r}")
    past: list[PastSession] = []
    for m in reads.meetings_at(call, entry):
        if m.year >= meeting.year:
            continue
        for s in reads.sessions_of(call, m):
            if s.code:
                samples = session_reads.list_weather(db(call), s.session_id)
                past.append(PastSession(year=m.year, code=s.code, name=s.name or s.code, samples=samples))
    return weekend_weather(meeting.meeting_id, entry.circuit_id, past)


@TABLE.get(
    "/api/races/{race_id}/travel-plan", response=TravelPlan, path=RacePath, query=PlanQuery, cache=SCHEDULE,
    tags=["travel"],
)  # fmt: skip
def race_travel_plan(call: Call) -> TravelPlan:
    """Latest arrival and earliest departure for the sessions chosen, and the busiest windows.

    Arrival is the first chosen session's start less ``arrive_before_min``; departure the last
    one's end plus ``leave_after_min``; busy windows are the crowd's rush around the race, sprint,
    qualifying and sprint qualifying."""
    q = call.query
    _, meeting = resolve(call)
    w = _weekend(call, meeting, tz=q.tz, series=None)
    codes = list(dict.fromkeys(q.sessions.split(",")))
    return travel_plan(
        w,
        codes,
        arrive_before=timedelta(minutes=q.arrive_before_min),
        leave_after=timedelta(minutes=q.leave_after_min),
    )
