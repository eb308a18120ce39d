"""OpenF1 models and parsing (shared.openf1.models, .parse): recorded data and hand-made rows."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from shared.openf1 import parse, parse_as
from shared.openf1.models import ENDPOINT_MODELS, Lap, Meeting, Pit, SessionResult, Weather

SINGAPORE = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "openf1" / "2024_singapore"
needs_data = pytest.mark.skipif(not SINGAPORE.is_dir(), reason="recorded data folder not present")

# One record per endpoint, in the shape OpenF1's documentation shows.
DOC_EXAMPLES: dict[str, dict[str, Any]] = {
    "meetings": {"meeting_key": 1219, "meeting_name": "Singapore Grand Prix", "gmt_offset": "08:00:00",
                 "date_start": "2023-09-15T09:30:00+00:00", "year": 2023, "circuit_key": 61},
    "sessions": {"meeting_key": 1219, "session_key": 9165, "session_name": "Race", "session_type": "Race",
                 "date_start": "2023-09-17T12:00:00+00:00", "date_end": "2023-09-17T14:00:00+00:00"},
    "drivers": {"meeting_key": 1219, "session_key": 9158, "driver_number": 1, "name_acronym": "VER",
                "team_colour": "3671C6", "headshot_url": None},
    "laps": {"meeting_key": 1219, "session_key": 9161, "driver_number": 63, "lap_number": 8,
             "date_start": "2023-09-16T13:59:07.606000+00:00", "lap_duration": 91.743,
             "segments_sector_1": [2049, 2049, None], "is_pit_out_lap": False},
    "intervals": {"meeting_key": 1219, "session_key": 9165, "driver_number": 1,
                  "date": "2023-09-17T13:31:02.395000+00:00", "gap_to_leader": "+1 LAP", "interval": 0.003},
    "position": {"meeting_key": 1219, "session_key": 9144, "driver_number": 40, "position": 2,
                 "date": "2023-08-26T09:30:47.199000+00:00"},
    "pit": {"meeting_key": 1219, "session_key": 9158, "driver_number": 63, "lap_number": 5,
            "date": "2023-09-15T09:38:23.038000+00:00", "pit_duration": 24.5, "stop_duration": 2.4},
    "stints": {"meeting_key": 1219, "session_key": 9165, "driver_number": 16, "stint_number": 1,
               "lap_start": 1, "lap_end": 20, "compound": "SOFT", "tyre_age_at_start": 3},
    "race_control": {"meeting_key": 1219, "session_key": 9102, "date": "2023-06-04T14:21:01+00:00",
                     "category": "Flag", "flag": "BLACK AND WHITE", "driver_number": 1, "lap_number": 59,
                     "scope": "Driver", "sector": None, "message": "BLACK AND WHITE FLAG FOR CAR 1"},
    "weather": {"meeting_key": 1208, "session_key": 9078, "date": "2023-05-07T18:42:25.233000+00:00",
                "air_temperature": 27.8, "track_temperature": 52.5, "humidity": 58, "pressure": 1018.7,
                "rainfall": 0, "wind_direction": 136, "wind_speed": 2.4},
    "session_result": {"meeting_key": 1143, "session_key": 9222, "driver_number": 1, "position": 1,
                       "number_of_laps": 57, "dnf": False, "dns": False, "dsq": False,
                       "duration": [81.5, 80.2, 79.9], "gap_to_leader": [0, 0, 0]},
    "starting_grid": {"meeting_key": 1143, "session_key": 9221, "driver_number": 1, "position": 1,
                      "lap_duration": 76.732},
    "overtakes": {"meeting_key": 1246, "session_key": 9606, "overtaking_driver_number": 16,
                  "overtaken_driver_number": 22, "date": "2024-09-22T12:04:06.628000+00:00", "position": 8},
    "car_data": {"meeting_key": 1219, "session_key": 9159, "driver_number": 55, "speed": 315, "rpm": 11141,
                 "n_gear": 8, "throttle": 99, "brake": 0, "drs": 12,
                 "date": "2023-09-15T13:08:19.923000+00:00"},
    "location": {"meeting_key": 1219, "session_key": 9161, "driver_number": 81, "x": 567, "y": 3195, "z": 187,
                 "date": "2023-09-16T13:03:35.292000+00:00"},
    "team_radio": {"meeting_key": 1219, "session_key": 9158, "driver_number": 11,
                   "date": "2023-09-15T09:40:43.005000+00:00", "recording_url": "https://example.test/r.mp3"},
    "championship_drivers": {"meeting_key": 1229, "session_key": 9472, "driver_number": 1,
                             "position_start": 1, "position_current": 1,
                             "points_start": 0, "points_current": 25},
    "championship_teams": {"meeting_key": 1229, "session_key": 9472, "team_name": "McLaren",
                           "position_start": 1, "position_current": 1,
                           "points_start": 0, "points_current": 33},
}  # fmt: skip


def test_every_endpoint_has_a_model_and_a_documented_example() -> None:
    assert set(ENDPOINT_MODELS) == set(DOC_EXAMPLES)
    for endpoint, record in DOC_EXAMPLES.items():
        parsed = parse(endpoint, [record])
        assert parsed.skipped == [], endpoint
        model = parsed.items[0]
        assert isinstance(model, ENDPOINT_MODELS[endpoint])
        assert model.model_dump(exclude_unset=True) == {
            k: (datetime.fromisoformat(v) if k.startswith("date") and isinstance(v, str) else v)
            for k, v in record.items()
        }


@needs_data
@pytest.mark.parametrize(
    "endpoint", ["meetings", "sessions", "drivers", "laps", "position", "pit", "overtakes"]
)
def test_recorded_singapore_data_parses_without_a_skipped_row(endpoint: str) -> None:
    records = json.loads((SINGAPORE / f"{endpoint}.json").read_text())
    parsed = parse(endpoint, records)
    assert parsed.skipped_count == 0
    assert len(parsed.items) == len(records)


@needs_data
def test_recorded_laps_values() -> None:
    laps = parse_as(Lap, json.loads((SINGAPORE / "laps.json").read_text())).items
    assert len(laps) == 1159
    first = laps[0]
    assert (first.driver_number, first.lap_number, first.lap_duration) == (4, 2, 98.48)
    assert first.date_start == datetime(2024, 9, 22, 12, 5, 37, 990000, tzinfo=UTC)
    assert first.segments_sector_1 is not None and len(first.segments_sector_1) == 8
    # OpenF1 sends null for a time it did not get; the recording has two such laps.
    assert [(lap.driver_number, lap.lap_number) for lap in laps if lap.lap_duration is None] == [
        (23, 16),
        (20, 58),
    ]


def test_bad_rows_are_skipped_counted_and_logged(caplog: pytest.LogCaptureFixture) -> None:
    rows: list[Any] = [
        {"meeting_key": 1, "session_key": 2, "driver_number": 1, "lap_number": 1},
        {"meeting_key": 1, "session_key": 2, "driver_number": 1},  # no lap_number
        "not a record",
        {"meeting_key": 1, "session_key": 2, "driver_number": "one", "lap_number": 2},
        {"meeting_key": 1, "session_key": 2, "driver_number": 1, "lap_number": 3, "date_start": "yesterday"},
        {"meeting_key": 1, "session_key": 2, "driver_number": 1, "lap_number": 4},
    ]
    with caplog.at_level(logging.WARNING, logger="shared.openf1.parse"):
        parsed = parse("laps", rows)
    assert [lap.lap_number for lap in parsed.items if isinstance(lap, Lap)] == [1, 4]
    assert [index for index, _ in parsed.skipped] == [1, 2, 3, 4]
    assert parsed.skipped[0][1].startswith("lap_number")
    assert "not an object" in parsed.skipped[1][1]
    assert len(caplog.records) == 1
    assert "skipped 4 of 6 rows" in caplog.records[0].getMessage()


def test_extra_fields_are_kept_and_dates_must_be_aware() -> None:
    meeting = Meeting.model_validate({"meeting_key": 1, "circuit_type": "Temporary - Street"})
    assert meeting.model_extra == {"circuit_type": "Temporary - Street"}
    naive = parse_as(Weather, [{"meeting_key": 1, "session_key": 2, "date": "2024-09-22T12:00:00"}])
    assert naive.skipped_count == 1  # a time without a zone is not a UTC time we can trust


def test_field_shapes() -> None:
    race = SessionResult.model_validate(
        {
            "meeting_key": 1,
            "session_key": 2,
            "driver_number": 4,
            "duration": 5933.3,
            "gap_to_leader": "+1 LAP",
        }
    )
    assert (race.duration, race.gap_to_leader) == (5933.3, "+1 LAP")
    pit = Pit.model_validate(
        {"meeting_key": 1, "session_key": 2, "driver_number": 4, "date": "2024-09-22T12:21:17+00:00"}
    )
    assert pit.pit_duration is None and pit.lap_number is None
    with pytest.raises(ValueError, match="unknown OpenF1 endpoint"):
        parse("teleportation", [])
