"""Weekend timeline and supporting-series matching, on the recorded 2025 feeds plus one hand-made
F1 Academy event (the recorded calendars hold no 2025 sprint weekend with all four series)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from shared.errors import BadRequestError
from shared.models.schedule import Meeting, Series, Session, SupportSession
from shared.schedule.f1schedule import parse_schedule
from shared.schedule.supporting import parse_calendar, sessions_for
from shared.schedule.timeline import in_zone, weekend_timeline

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"
FIXTURES = Path(__file__).resolve().parents[1] / "data" / "calendars"
needs_data = pytest.mark.skipif(not DATA.is_dir(), reason="recorded data folder not present")


def _season(year: int) -> tuple[list[Meeting], list[Session]]:
    parsed = parse_schedule(
        json.loads((DATA / "f1schedule" / f"schedule_{year}.json").read_text()), year=year
    )
    return parsed.meetings, parsed.sessions


def _calendar(series: Series, year: int) -> list[SupportSession]:
    return parse_calendar(
        json.loads((DATA / "calendars" / series / f"{year}.json").read_text()), series=series
    ).sessions


@needs_data
def test_2025_sprint_weekend_with_all_four_series_in_order() -> None:
    meetings, sessions = _season(2025)
    spa = next(m for m in meetings if m.meeting_id == "2025_belgian_grand_prix")
    assert spa.event_format == "sprint_qualifying"
    academy = parse_calendar(
        json.loads((FIXTURES / "f1-academy-spa-2025.json").read_text()), series="f1-academy"
    )
    assert academy.skipped == 1
    supporting = _calendar("f2", 2025) + _calendar("f3", 2025) + academy.sessions
    timeline = weekend_timeline(spa, sessions=sessions, supporting=supporting, tz="Asia/Tokyo")
    rows = [(e.series, e.name, e.start_local.strftime("%a %H:%M")) for e in timeline.entries]
    assert rows[:7] == [
        ("f1-academy", "Practice 1", "Fri 10:00"),
        ("f2", "Practice", "Fri 10:10"),
        ("f1", "Practice 1", "Fri 12:30"),
        ("f3", "Practice", "Fri 14:00"),
        ("f2", "Qualifying", "Fri 15:00"),
        ("f1-academy", "Qualifying 1", "Fri 15:05"),
        ("f1", "Sprint Qualifying", "Fri 16:30"),
    ]
    assert rows[-4:] == [
        ("f3", "Feature Race", "Sun 08:30"),
        ("f2", "Feature Race", "Sun 10:00"),
        ("f1-academy", "Race 2", "Sun 11:00"),
        ("f1", "Race", "Sun 15:00"),
    ]
    assert len(rows) == 17
    assert {e.series for e in timeline.entries} == {"f1", "f2", "f3", "f1-academy"}
    assert [e.code for e in timeline.entries if e.series == "f1"] == ["fp1", "sq", "s", "q", "r"]
    assert [e.start_utc for e in timeline.entries] == sorted(e.start_utc for e in timeline.entries)
    assert "Same weekend" not in {e.name for e in timeline.entries}  # Austin is not Spa
    race = next(e for e in timeline.entries if e.session_id == "2025_belgian_grand_prix_r")
    assert race.start_local == datetime(2025, 7, 27, 15, 0)  # circuit time, Europe/Brussels (CEST)
    assert race.start_in_tz.isoformat() == "2025-07-27T22:00:00+09:00"  # the caller's zone
    assert timeline.time_zone == "Europe/Brussels" and timeline.tz == "Asia/Tokyo"
    in_london = in_zone(timeline, "Europe/London")
    assert (
        next(e for e in in_london.entries if e.code == "r").start_in_tz.isoformat()
        == "2025-07-27T14:00:00+01:00"
    )


@needs_data
def test_every_recorded_supporting_event_joins_exactly_one_f1_weekend() -> None:
    for year in (2023, 2024, 2025):
        meetings, _ = _season(year)
        supporting = [s for series in ("f2", "f3", "f1-academy") for s in _calendar(series, year)]
        owners: dict[tuple[str, int], list[str]] = {}
        for m in meetings:
            for s in sessions_for(m, supporting):
                owners.setdefault((s.series, s.round), []).append(m.meeting_id)
        multiple = {k: set(v) for k, v in owners.items() if len(set(v)) != 1}
        assert multiple == {}
        # F1 Academy 2023 mostly raced away from F1: only its Austin round joins an F1 weekend
        if year == 2023:
            assert {k for k in owners if k[0] == "f1-academy"} == {("f1-academy", 7)}


def test_unknown_zone_is_a_bad_request() -> None:
    meeting = Meeting(
        meeting_id="2030_x",
        year=2030,
        round=1,
        name="X",
        official_name="X",
        country="X",
        location="Nowhere",
        event_format="conventional",
        gmt_offset="+02:00",
        start_utc=datetime(2030, 1, 1, tzinfo=UTC),
        end_utc=datetime(2030, 1, 3, tzinfo=UTC),
        session_ids=[],
    )
    timeline = weekend_timeline(meeting, sessions=[], supporting=[])
    assert timeline.time_zone == "Etc/GMT-2" and timeline.entries == []
    with pytest.raises(BadRequestError):
        weekend_timeline(meeting, sessions=[], supporting=[], tz="Mars/Olympus")
