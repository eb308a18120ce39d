"""FastF1 DataFrames -> Pitlane models (pure; frames shaped as FastF1 3.9 returns them)."""

from __future__ import annotations

from datetime import UTC, datetime

import pandas as pd

from shared.imports import extract

SID = "2024_british_grand_prix_fp1"
START = datetime(2024, 7, 5, 11, 0, tzinfo=UTC)
TD = pd.Timedelta


def test_stream_start_is_the_scheduled_start_minus_the_started_offset() -> None:
    status = pd.DataFrame(
        {"Time": [TD(seconds=10), TD(minutes=30, seconds=1)], "Status": ["Inactive", "Started"]}
    )
    assert extract.stream_start_utc(pd.Timestamp("2024-07-05 11:30:00"), status) == datetime(
        2024, 7, 5, 10, 59, 59, tzinfo=UTC
    )
    assert extract.stream_start_utc(pd.Timestamp("2024-07-05 11:30:00"), None) == datetime(
        2024, 7, 5, 11, 30, tzinfo=UTC
    )


def test_laps_map_fastf1_columns_and_skip_rows_without_a_lap_number() -> None:
    frame = pd.DataFrame(
        {
            "DriverNumber": ["1", "1"],
            "LapNumber": [4.0, float("nan")],
            "Time": [TD(minutes=21, seconds=51.32), pd.NaT],
            "LapTime": [TD(seconds=89.049), pd.NaT],
            "Sector1Time": [TD(seconds=28.681), pd.NaT],
            "Sector2Time": [TD(seconds=36.145), pd.NaT],
            "Sector3Time": [pd.NaT, pd.NaT],
            "Compound": ["HARD", None],
            "TyreLife": [4.0, float("nan")],
            "Stint": [1.0, float("nan")],
            "PitInTime": [TD(minutes=21), pd.NaT],
            "PitOutTime": [pd.NaT, pd.NaT],
            "Position": [float("nan"), float("nan")],
        }
    )
    skipped = extract.Skipped()
    (lap,) = extract.laps(SID, frame, start_utc=START, skipped=skipped)
    assert skipped.counts == {"laps": 1}
    assert lap.doc_id == "1_004" and lap.source == "fastf1"
    assert lap.lap_time_ms == 89049 and lap.sector_times_ms == [28681, 36145, None]
    assert (lap.compound, lap.tyre_age_laps, lap.stint) == ("HARD", 4, 1)
    assert lap.pit_in and not lap.pit_out and lap.position is None
    assert lap.completed_utc == datetime(2024, 7, 5, 11, 21, 51, 320000, tzinfo=UTC)


def test_weather_numbers_samples_in_order_and_rounds_wind_direction() -> None:
    frame = pd.DataFrame(
        {
            "Time": [TD(seconds=7.51), TD(seconds=67.49), TD(seconds=127)],
            "AirTemp": [15.7, float("nan"), 15.8],
            "TrackTemp": [21.4, float("nan"), 21.5],
            "Humidity": [79.0, 78.0, 77.0],
            "Pressure": [989.5, 989.6, 989.7],
            "Rainfall": [False, False, True],
            "WindDirection": [236, 229, 230.6],
            "WindSpeed": [1.1, 1.1, 1.2],
        }
    )
    skipped = extract.Skipped()
    samples = extract.weather(SID, frame, start_utc=START, skipped=skipped)
    assert [s.n for s in samples] == [0, 1] and skipped.counts == {"weather": 1}
    assert samples[1].rainfall and samples[1].wind_direction_deg == 231
    assert samples[0].utc == datetime(2024, 7, 5, 11, 0, 7, 510000, tzinfo=UTC)


def test_race_control_keeps_f1_indexes_and_results_keep_classification_fields() -> None:
    frame = pd.DataFrame(
        {
            "Time": [pd.Timestamp("2024-07-05 11:30:01"), pd.Timestamp("2024-07-05 11:34:36")],
            "Category": ["Flag", "Flag"],
            "Message": ["GREEN LIGHT - PIT EXIT OPEN", None],
            "Flag": ["GREEN", "CLEAR"],
            "Scope": ["Track", "Sector"],
            "Sector": [float("nan"), 11.0],
            "RacingNumber": [None, None],
            "Lap": [None, None],
            "Status": [None, None],
        }
    )
    skipped = extract.Skipped()
    (msg,) = extract.race_control(SID, frame, skipped=skipped)
    assert msg.n == 0 and msg.sector is None and msg.utc.tzinfo is not None
    results = pd.DataFrame(
        {
            "DriverNumber": ["4", None],
            "Abbreviation": ["NOR", "X"],
            "FullName": ["Lando Norris", "X"],
            "TeamName": ["McLaren", "X"],
            "TeamColor": ["FF8000", "X"],
            "Position": [1.0, 2.0],
        }
    )
    (row,) = extract.results(results, skipped=skipped)
    assert (row.driver_number, row.abbreviation, row.team_name, row.position) == ("4", "NOR", "McLaren", 1)
    assert skipped.counts == {"race_control": 1, "results": 1}
