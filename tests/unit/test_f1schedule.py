"""The f1schedule feed parsed into meetings and sessions, on the recorded feeds."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from shared.errors import BadRequestError
from shared.ids import is_session_id, meeting_id, session_code, session_id, slug
from shared.schedule.f1schedule import parse_offset, parse_schedule

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "f1schedule"
needs_data = pytest.mark.skipif(not DATA.is_dir(), reason="recorded data folder not present")


def test_ids_are_deterministic_and_documented() -> None:
    assert slug("São Paulo Grand Prix") == "sao_paulo_grand_prix"
    assert meeting_id(2018, "Azerbaijan Grand Prix") == "2018_azerbaijan_grand_prix"
    assert session_id(2018, "Azerbaijan Grand Prix", "Race") == "2018_azerbaijan_grand_prix_r"
    assert session_code("Sprint Shootout") == session_code("Sprint Qualifying") == "sq"
    assert is_session_id("2024_singapore_grand_prix_q")
    assert not is_session_id("../etc/passwd")
    with pytest.raises(BadRequestError):
        session_code("Warm Up")


def test_offsets() -> None:
    assert parse_offset("+08:00").total_seconds() == 8 * 3600
    assert parse_offset("-05:30").total_seconds() == -(5 * 3600 + 1800)


@needs_data
def test_singapore_2024_in_local_and_utc_time() -> None:
    parsed = parse_schedule(json.loads((DATA / "schedule_2024.json").read_text()), year=2024)
    assert parsed.skipped == 0
    race = next(s for s in parsed.sessions if s.session_id == "2024_singapore_grand_prix_r")
    assert race.gmt_offset == "+08:00"
    assert race.start_local == datetime(2024, 9, 22, 20, 0)
    assert race.start_utc == datetime(2024, 9, 22, 12, 0, tzinfo=UTC)
    meeting = next(m for m in parsed.meetings if m.meeting_id == "2024_singapore_grand_prix")
    assert [s.rsplit("_", 1)[1] for s in meeting.session_ids] == ["fp1", "fp2", "fp3", "q", "r"]


@needs_data
@pytest.mark.parametrize("year", range(2018, 2027))
def test_every_season_parses_with_unique_ids(year: int) -> None:
    parsed = parse_schedule(json.loads((DATA / f"schedule_{year}.json").read_text()), year=year)
    ids = [s.session_id for s in parsed.sessions]
    assert len(ids) == len(set(ids))
    assert len({m.meeting_id for m in parsed.meetings}) == len(parsed.meetings)
    assert all(is_session_id(i) for i in ids)
    assert parsed.skipped == 0


def test_bad_rows_are_skipped_and_counted() -> None:
    doc = {
        "event_name": {"0": "Good GP", "1": "Bad GP"},
        "round_number": {"0": 1, "1": 2},
        "country": {"0": "X", "1": "Y"},
        "location": {"0": "X", "1": "Y"},
        "official_event_name": {"0": "GOOD", "1": "BAD"},
        "event_format": {"0": "conventional", "1": "conventional"},
        "gmt_offset": {"0": "+01:00", "1": "garbage"},
        "session1": {"0": "Race", "1": "Race"},
        "session1_date": {"0": "2030-05-05T15:00:00", "1": "2030-05-12T15:00:00"},
    }
    parsed = parse_schedule(doc, year=2030)
    assert [m.meeting_id for m in parsed.meetings] == ["2030_good_gp"]
    assert parsed.skipped == 1
    with pytest.raises(BadRequestError):
        parse_schedule({"nope": 1}, year=2030)
