"""Travel planning through the ``api`` function, on the real 2025 schedule (f1schedule and the
F2/F3/F1 Academy calendars of the data folder) stored in the Firestore emulator by the schedule
sync's own parsing and writers.

Known values are the published local times, converted by hand:

* São Paulo 2025 (sprint weekend, America/Sao_Paulo, UTC-3 all year since Brazil dropped daylight
  saving in 2019): Sprint Sat 8 Nov 11:00 local = 14:00 UTC; Race Sun 9 Nov 14:00 local = 17:00
  UTC. New York left daylight saving on Sun 2 Nov: the weekend is 09:00 and 12:00 EST (UTC-5),
  where the Austin weekend three weeks earlier was UTC-4 there.
* Belgium 2025 (sprint weekend, Europe/Brussels, CEST UTC+2): F2 and F3 race too; Sprint Sat 26 Jul
  12:00 local = 10:00 UTC = 06:00 in New York (EDT, UTC-4).
* Mexico City 2025 (no sprint, so only for the change within a weekend): London leaves daylight
  saving on Sun 26 Oct, between Qualifying (Sat 15:00 local, UTC-6 = 21:00 UTC = 22:00 BST) and the
  Race (Sun 14:00 local = 20:00 UTC = 20:00 GMT).
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from icalendar import Calendar

from functions.api import answers
from shared.config import Settings
from shared.races.mapping import TravelRace
from shared.schedule.f1schedule import parse_schedule
from shared.schedule.timeline import weekend_timeline
from shared.services.schedule_sync import load_supporting
from shared.stores.races import import_races
from shared.stores.schedule import upsert_meetings, upsert_sessions, upsert_timelines
from tests.function.conftest import load_function

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"
SAO_PAULO = "2025_sao_paulo_grand_prix"
SPA = "2025_belgian_grand_prix"


def seed_season(db: Any, settings: Settings, year: int) -> int:
    """The season as ``sync_schedule`` stores it (meetings, sessions, weekend timelines with the
    supporting series), from f1schedule alone (OpenF1's 2025 records are not in the data folder)."""
    parsed = parse_schedule(
        json.loads((DATA / "f1schedule" / f"schedule_{year}.json").read_text()), year=year
    )
    upsert_meetings(db, parsed.meetings)
    upsert_sessions(db, parsed.sessions)
    supporting = load_supporting(settings, year)
    timelines = [
        weekend_timeline(
            m, sessions=[s for s in parsed.sessions if s.meeting_id == m.meeting_id], supporting=supporting
        )
        for m in parsed.meetings
    ]
    upsert_timelines(db, timelines)
    return len(parsed.meetings)


@pytest.fixture
def client(firestore_db: Any, settings: Settings) -> Any:
    seed_season(firestore_db, settings, 2025)
    answers().clear()
    return load_function("api", signature_type="http").client


def _ok(client: Any, path: str) -> Any:
    resp = client.get(path)
    assert resp.status_code == 200, resp.get_data(as_text=True)
    return resp.get_json() if resp.mimetype == "application/json" else resp.get_data()


def _problem(client: Any, path: str, status: int) -> str:
    resp = client.get(path)
    assert resp.status_code == status, resp.get_data(as_text=True)
    assert resp.mimetype == "application/problem+json"
    return str(resp.get_json(force=True)["detail"])


def _by_code(sessions: list[dict[str, Any]], series: str = "f1") -> dict[str, dict[str, Any]]:
    return {s["code"]: s for s in sessions if s["series"] == series}


def test_sao_paulo_sprint_weekend_timeline_in_circuit_time_and_new_york(client: Any) -> None:
    body = _ok(client, f"/api/races/{SAO_PAULO}/schedule?tz=America/New_York")
    assert body["time_zone"] == "America/Sao_Paulo" and body["tz"] == "America/New_York"
    f1 = _by_code(body["sessions"])
    assert list(f1) == ["fp1", "sq", "s", "q", "r"]
    assert f1["s"]["start"] == {
        "utc": "2025-11-08T14:00:00Z",
        "local": "2025-11-08T11:00:00",
        "in_tz": "2025-11-08T09:00:00-05:00",
    }
    assert f1["r"]["start"]["in_tz"] == "2025-11-09T12:00:00-05:00"
    assert f1["fp1"]["start"]["local"] == "2025-11-07T11:30:00"
    # No published end without OpenF1: the race's usual two hours, flagged as an estimate.
    assert f1["r"]["end"]["local"] == "2025-11-09T16:00:00" and f1["r"]["end_estimated"] is True
    # Three weeks earlier, New York was still on daylight saving time (UTC-4).
    austin = _by_code(
        _ok(client, "/api/races/2025_united_states_grand_prix/schedule?tz=America/New_York")["sessions"]
    )
    assert austin["s"]["start"]["in_tz"] == "2025-10-18T13:00:00-04:00"  # 12:00 CDT in Austin
    default = _by_code(_ok(client, f"/api/races/{SAO_PAULO}/schedule")["sessions"])
    assert default["s"]["start"]["in_tz"] == "2025-11-08T11:00:00-03:00"


def test_spa_sprint_weekend_has_f2_and_f3_in_order(client: Any) -> None:
    body = _ok(client, f"/api/races/{SPA}/schedule?tz=America/New_York")
    series = {s["series"] for s in body["sessions"]}
    assert series == {"f1", "f2", "f3"}
    starts = [s["start"]["utc"] for s in body["sessions"]]
    assert starts == sorted(starts)
    sprint = _by_code(body["sessions"])["s"]["start"]
    assert (sprint["local"], sprint["in_tz"]) == ("2025-07-26T12:00:00", "2025-07-26T06:00:00-04:00")
    feature = _by_code(body["sessions"], "f2")["feature"]["start"]
    assert (feature["utc"], feature["local"]) == ("2025-07-27T08:00:00Z", "2025-07-27T10:00:00")
    only_f2 = _ok(client, f"/api/races/{SPA}/schedule?series=f2")["sessions"]
    assert {s["series"] for s in only_f2} == {"f2"} and len(only_f2) == 4


def test_daylight_saving_change_within_a_weekend(client: Any) -> None:
    f1 = _by_code(_ok(client, "/api/races/2025_mexico_city_grand_prix/schedule?tz=Europe/London")["sessions"])
    assert f1["q"]["start"]["in_tz"] == "2025-10-25T22:00:00+01:00"
    assert f1["r"]["start"]["in_tz"] == "2025-10-26T20:00:00Z"  # GMT is UTC+0 (pydantic writes Z)
    assert f1["r"]["start"]["local"] == "2025-10-26T14:00:00"


def test_sao_paulo_calendar_file(client: Any) -> None:
    resp = client.get(f"/api/races/{SAO_PAULO}/calendar.ics")
    assert resp.status_code == 200 and resp.mimetype == "text/calendar"
    cal = Calendar.from_ical(resp.get_data())
    events = {str(e["uid"]): e for e in cal.walk("VEVENT")}
    assert len(events) == 5
    sprint = events[f"{SAO_PAULO}-f1-s@pitlane"]
    start = sprint.decoded("dtstart")
    assert start.tzinfo is not None and str(start.tzinfo) == "America/Sao_Paulo"
    assert start.replace(tzinfo=None) == datetime(2025, 11, 8, 11, 0)
    assert start.astimezone(ZoneInfo("America/New_York")).isoformat() == "2025-11-08T09:00:00-05:00"
    assert "Sprint" in str(sprint["summary"]) and "São Paulo" in str(sprint["summary"])
    assert [tz["tzid"] for tz in cal.walk("VTIMEZONE")] == ["America/Sao_Paulo"]
    race = events[f"{SAO_PAULO}-f1-r@pitlane"].decoded("dtend")
    assert race.astimezone(ZoneInfo("UTC")).isoformat() == "2025-11-09T19:00:00+00:00"
    # Stable bytes: the same schedule is the same file (same ETag), whenever it is asked for.
    answers().clear()
    again = client.get(
        f"/api/races/{SAO_PAULO}/calendar.ics", headers={"If-None-Match": resp.headers["ETag"]}
    )
    assert again.status_code == 304


def test_sao_paulo_travel_plan_for_sprint_and_race(client: Any) -> None:
    plan = _ok(client, f"/api/races/{SAO_PAULO}/travel-plan?sessions=r,s&tz=America/New_York")
    assert [s["code"] for s in plan["sessions"]] == ["s", "r"]
    # Sprint 14:00 UTC less 120 min; race end (17:00 + 120 min) plus 90 min.
    assert plan["latest_arrival"] == {
        "utc": "2025-11-08T12:00:00Z",
        "local": "2025-11-08T09:00:00",
        "in_tz": "2025-11-08T07:00:00-05:00",
    }
    assert plan["earliest_departure"]["local"] == "2025-11-09T17:30:00"
    assert plan["earliest_departure"]["in_tz"] == "2025-11-09T15:30:00-05:00"
    assert plan["nights"] == 1
    assert plan["arrival_in_busy_window"] and plan["departure_in_busy_window"]
    race_rush = [w for w in plan["busy_windows"] if w["session_code"] == "r"]
    assert [(w["kind"], w["start"]["local"], w["end"]["local"]) for w in race_rush] == [
        ("arrivals", "2025-11-09T11:00:00", "2025-11-09T14:00:00"),
        ("departures", "2025-11-09T16:00:00", "2025-11-09T18:00:00"),
    ]
    early = _ok(
        client, f"/api/races/{SAO_PAULO}/travel-plan?sessions=fp1&arrive_before_min=240&leave_after_min=0"
    )
    assert early["latest_arrival"]["local"] == "2025-11-07T07:30:00"
    assert early["earliest_departure"]["local"] == "2025-11-07T12:30:00"
    assert not early["arrival_in_busy_window"]


def test_travel_race_ids_resolve_to_their_weekend(client: Any, firestore_db: Any) -> None:
    import_races(
        firestore_db,
        [TravelRace(race_id="bra-2025", name="Brazil", circuit="Interlagos", date="2025-11-09", season=2025)],
    )
    race = _ok(client, "/api/races/bra-2025")
    assert (race["race_id"], race["meeting_id"], race["circuit_id"]) == ("bra-2025", SAO_PAULO, "interlagos")
    assert race["time_zone"] == "America/Sao_Paulo"
    plan = _ok(client, "/api/races/bra-2025/travel-plan?sessions=q")
    assert plan["latest_arrival"]["local"] == "2025-11-08T13:00:00"


def test_travel_input_errors_are_problems(client: Any) -> None:
    assert "no race" in _problem(client, "/api/races/2025_atlantis_grand_prix", 404)
    assert "time zone" in _problem(client, f"/api/races/{SAO_PAULO}/schedule?tz=Mars/Olympus", 400)
    assert "has no session 'fp2'" in _problem(client, f"/api/races/{SAO_PAULO}/travel-plan?sessions=fp2", 404)
    assert "sessions" in _problem(client, f"/api/races/{SAO_PAULO}/travel-plan?sessions=warmup", 400)
    assert "required" in _problem(client, f"/api/races/{SAO_PAULO}/travel-plan", 400)
    assert "between" in _problem(
        client, f"/api/races/{SAO_PAULO}/travel-plan?sessions=r&arrive_before_min=5000", 400
    )
    races = _ok(client, "/api/races?season=2025&limit=10")
    assert len(races["items"]) == 10 and races["next_cursor"]
    rest = _ok(client, f"/api/races?season=2025&limit=100&cursor={races['next_cursor']}")
    # 2025: pre-season testing and 24 Grands Prix.
    assert len(rest["items"]) == 15 and rest["next_cursor"] is None
    assert {r["meeting_id"] for r in races["items"]}.isdisjoint(r["meeting_id"] for r in rest["items"])
    assert "other filters" in _problem(client, f"/api/races?season=2024&cursor={races['next_cursor']}", 400)
