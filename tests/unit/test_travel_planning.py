"""Travel planning logic on hand-made weekends: instants in three zones across a daylight-saving
change, the travel plan's arithmetic, the iCalendar file, weather across past years."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from icalendar import Calendar

from shared.errors import BadRequestError, NotFoundError
from shared.models.schedule import Timeline, TimelineEntry
from shared.timing.models import WeatherSample
from shared.travel.ics import weekend_calendar
from shared.travel.plan import travel_plan
from shared.travel.weather import PastSession, weekend_weather
from shared.travel.weekend import weekend

MEXICO = ZoneInfo("America/Mexico_City")


def _entry(
    code: str, name: str, local: datetime, *, series: str = "f1", end_min: int | None = None
) -> TimelineEntry:
    utc = local.replace(tzinfo=MEXICO).astimezone(UTC)
    return TimelineEntry(
        series=series,  # type: ignore[arg-type]
        name=name,
        code=code,
        start_utc=utc,
        start_local=local,
        start_in_tz=utc,
        end_utc=utc + timedelta(minutes=end_min) if end_min else None,
        session_id=f"2025_mexico_city_grand_prix_{code}" if series == "f1" else None,
    )


# Mexico City 2025 (UTC-6): London leaves summer time on Sunday 26 October, 01:00 UTC.
TIMELINE = Timeline(
    meeting_id="2025_mexico_city_grand_prix",
    time_zone="America/Mexico_City",
    tz="America/Mexico_City",
    entries=[
        _entry("fp1", "Practice 1", datetime(2025, 10, 24, 12, 30), end_min=60),
        _entry("q", "Qualifying", datetime(2025, 10, 25, 15, 0)),
        _entry("race1", "Race 1", datetime(2025, 10, 25, 10, 0), series="f1-academy"),
        _entry("r", "Race", datetime(2025, 10, 26, 14, 0)),
    ],
)


def test_instants_in_circuit_time_and_a_zone_changing_offset() -> None:
    w = weekend(TIMELINE, tz="Europe/London")
    by_code = {s.code: s for s in w.sessions}
    assert by_code["q"].start.in_tz.isoformat() == "2025-10-25T22:00:00+01:00"
    assert by_code["r"].start.in_tz.isoformat() == "2025-10-26T20:00:00+00:00"
    assert by_code["r"].start.local == datetime(2025, 10, 26, 14, 0)
    assert by_code["fp1"].end.utc - by_code["fp1"].start.utc == timedelta(minutes=60)
    assert not by_code["fp1"].end_estimated and by_code["r"].end_estimated
    assert by_code["r"].end.local == datetime(2025, 10, 26, 16, 0)  # the usual two hours
    assert by_code["race1"].end.utc - by_code["race1"].start.utc == timedelta(minutes=40)
    assert [s.series for s in weekend(TIMELINE, series={"f1-academy"}).sessions] == ["f1-academy"]
    with pytest.raises(BadRequestError):
        weekend(TIMELINE, tz="Nowhere/Else")


def test_travel_plan_arithmetic_and_busy_windows() -> None:
    w = weekend(TIMELINE, tz="Europe/London")
    plan = travel_plan(w, ["r", "q"], arrive_before=timedelta(minutes=150), leave_after=timedelta(minutes=60))
    assert [s.code for s in plan.sessions] == ["q", "r"]
    assert plan.latest_arrival.local == datetime(2025, 10, 25, 12, 30)
    assert plan.latest_arrival.in_tz.utcoffset() == timedelta(hours=1)  # still BST on Saturday
    assert plan.earliest_departure.local == datetime(2025, 10, 26, 17, 0)
    assert plan.earliest_departure.in_tz.utcoffset() == timedelta(0)  # GMT by Sunday evening
    assert plan.nights == 1 and plan.arrive_before_min == 150 and plan.leave_after_min == 60
    kinds = [(b.kind, b.session_code) for b in plan.busy_windows]
    assert kinds == [("arrivals", "q"), ("departures", "q"), ("arrivals", "r"), ("departures", "r")]
    race_in = plan.busy_windows[2]
    assert (race_in.start.local, race_in.end.local) == (
        datetime(2025, 10, 26, 11),
        datetime(2025, 10, 26, 14),
    )
    assert not plan.arrival_in_busy_window  # 12:30 is before qualifying's rush (13:00-15:00)
    assert plan.departure_in_busy_window  # 17:00 is inside the race's departures (16:00-18:00)
    with pytest.raises(NotFoundError, match="no session 's'"):
        travel_plan(w, ["s"])


def test_calendar_file_holds_each_session_in_the_circuit_zone() -> None:
    w = weekend(TIMELINE)
    cal = Calendar.from_ical(weekend_calendar(w, title="2025 Mexico City Grand Prix", location="Mexico City"))
    events = {str(e["uid"]): e for e in cal.walk("VEVENT")}
    assert set(events) == {
        f"2025_mexico_city_grand_prix-{s}@pitlane" for s in ("f1-fp1", "f1-q", "f1-r", "f1-academy-race1")
    }
    race = events["2025_mexico_city_grand_prix-f1-r@pitlane"]
    start = race.decoded("dtstart")
    assert str(start.tzinfo) == "America/Mexico_City" and start.replace(tzinfo=None) == datetime(
        2025, 10, 26, 14
    )
    assert start.astimezone(ZoneInfo("Europe/London")).hour == 20
    assert "estimated" in str(race["description"])
    assert str(events["2025_mexico_city_grand_prix-f1-academy-race1@pitlane"]["summary"]).startswith(
        "F1 Academy"
    )
    assert weekend_calendar(w, title="x") == weekend_calendar(w, title="x")  # same schedule, same bytes


def _samples(sid: str, air: list[float], rain: bool = False) -> list[WeatherSample]:
    t0 = datetime(2024, 7, 5, 12, tzinfo=UTC)
    return [
        WeatherSample(
            session_id=sid,
            n=i,
            utc=t0 + timedelta(minutes=i),
            air_temp_c=a,
            track_temp_c=a + 15,
            rainfall=rain and i == 1,
        )
        for i, a in enumerate(air)
    ]


def test_weather_across_past_years_by_session() -> None:
    past = [
        PastSession(2023, "fp1", "Practice 1", _samples("a", [18.0, 20.0])),
        PastSession(2024, "fp1", "Practice 1", _samples("b", [24.0, 26.0], rain=True)),
        PastSession(2024, "r", "Race", _samples("c", [21.0])),
        PastSession(2022, "r", "Race", []),  # no samples: counts for nothing
    ]
    out = weekend_weather("2025_british_grand_prix", "silverstone", past)
    assert out.years == [2023, 2024]
    fp1, race = out.sessions
    assert (fp1.code, fp1.years, fp1.sessions_with_rain, fp1.rain_share) == ("fp1", [2023, 2024], 1, 0.5)
    assert (fp1.air_temp_c.min, fp1.air_temp_c.max, fp1.air_temp_c.mean) == (18.0, 26.0, 22.0)
    assert (fp1.track_temp_c.min, fp1.track_temp_c.max) == (33.0, 41.0)
    assert (race.code, race.years, race.rain_share) == ("r", [2024], 0.0)
