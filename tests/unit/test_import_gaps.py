"""Gap detection over the recorded 2023 f1schedule feed and archive session folders."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from shared.imports.gaps import (
    BASE_TOPICS,
    DataType,
    Host,
    SessionHoldings,
    SessionSpec,
    estimate_calls,
    find_gaps,
    topics_from_index,
    topics_from_listing,
    upstream_types,
)
from shared.schedule.f1schedule import parse_schedule

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"
ARCHIVE_2023 = DATA / "livetiming" / "static" / "2023"
needs_data = pytest.mark.skipif(not DATA.is_dir(), reason="recorded data folder not present")
AFTER_SEASON = datetime(2024, 1, 1, tzinfo=UTC)
T0 = datetime(2023, 3, 5, 15, tzinfo=UTC)


def season_2023() -> list[SessionSpec]:
    parsed = parse_schedule(json.loads((DATA / "f1schedule" / "schedule_2023.json").read_text()), year=2023)
    return [SessionSpec.from_session(s) for s in parsed.sessions]


def spec(
    code: str = "r", *, topics: set[str] | None = None, start: datetime = T0, sid: str = ""
) -> SessionSpec:
    return SessionSpec(
        session_id=sid or f"2023_bahrain_grand_prix_{code}",
        meeting_id="2023_bahrain_grand_prix",
        year=2023,
        code=code,
        start_utc=start,
        topics=frozenset(topics) if topics is not None else None,
    )


def complete(session_id: str, *kinds: DataType) -> SessionHoldings:
    return SessionHoldings(session_id=session_id, types=dict.fromkeys(kinds or tuple(DataType), "complete"))


@needs_data
def test_an_empty_database_misses_the_whole_season() -> None:
    sessions = season_2023()
    report = find_gaps(2023, sessions, held_meetings=[], holdings={}, now=AFTER_SEASON)
    assert len(report.missing_meetings) == 23  # 22 Grands Prix and pre-season testing
    assert len(report.missing_sessions) == len(sessions) == 113
    assert report.not_yet == ()
    starts = [g.start_utc for g in report.sessions]
    assert starts == sorted(starts)
    races = sum(s.code == "r" for s in sessions)
    sprints = sum(s.code == "s" for s in sessions)
    shootouts = sum(s.code == "sq" for s in sessions)
    # Unknown topics: every type of its session type, one FastF1 load each. Archive: SessionInfo,
    # DriverList, SessionStatus, TrackStatus, TimingData, TimingAppData, WeatherData,
    # RaceControlMessages, and LapCount for races and sprints. Jolpica: a classification for every
    # session but sprint qualifying, and lap 1 for races and sprints.
    assert report.calls == {
        Host.F1SCHEDULE: 1,
        Host.F1_STATIC: 8 * len(sessions) + races + sprints,
        Host.JOLPICA: len(sessions) - shootouts + races + sprints,
        Host.MULTIVIEWER: len(sessions),
    }
    assert report.season_calls == {Host.F1SCHEDULE: 1}


@needs_data
def test_topics_of_a_real_archive_folder_limit_what_is_missing() -> None:
    """The 2023 Bahrain race folder has no TimingData and no WeatherData: no laps, no weather."""
    folder = ARCHIVE_2023 / "2023-03-05_Bahrain_Grand_Prix" / "2023-03-05_Race"
    topics = topics_from_listing(p.name for p in folder.iterdir())
    assert "TimingData" not in topics and "TimingAppData" in topics
    race = spec("r", topics=set(topics))
    assert upstream_types(race) == {
        DataType.RESULTS,
        DataType.RACE_CONTROL,
        DataType.STINTS,
        DataType.CIRCUIT_INFO,
    }
    report = find_gaps(2023, [race], held_meetings=["2023_bahrain_grand_prix"], holdings={}, now=AFTER_SEASON)
    (gap,) = report.sessions
    assert gap.missing == (DataType.RESULTS, DataType.RACE_CONTROL, DataType.STINTS, DataType.CIRCUIT_INFO)
    # identity and drivers, session and track status, lap count, TimingAppData, race control;
    # Jolpica: the classification and lap 1 (stints load the laps)
    assert gap.calls == {Host.F1_STATIC: len(BASE_TOPICS) + 5, Host.JOLPICA: 2, Host.MULTIVIEWER: 1}
    assert report.missing_meetings == ()


@needs_data
def test_sprint_shootout_has_no_results_but_laps() -> None:
    folder = ARCHIVE_2023 / "2023-04-30_Azerbaijan_Grand_Prix" / "2023-04-29_Sprint_Shootout"
    sq = spec("sq", topics=set(topics_from_listing(p.name for p in folder.iterdir())))
    assert DataType.RESULTS not in upstream_types(sq)
    assert DataType.LAPS in upstream_types(sq) and DataType.WEATHER not in upstream_types(sq)


def test_session_types_when_topics_are_unknown() -> None:
    assert DataType.RESULTS not in upstream_types(spec("fp2"))
    assert upstream_types(spec("q")) == set(DataType)
    # no lap count and no Jolpica lap 1 outside races and sprints; no Jolpica for sprint qualifying
    assert estimate_calls(spec("q"), [DataType.LAPS]) == {Host.F1_STATIC: 6, Host.JOLPICA: 1}
    assert estimate_calls(spec("sq"), [DataType.LAPS]) == {Host.F1_STATIC: 6}
    assert estimate_calls(spec("r"), [DataType.LAPS]) == {Host.F1_STATIC: 7, Host.JOLPICA: 2}
    # the circuit key is in SessionInfo: a load all the same
    assert estimate_calls(spec("r"), [DataType.CIRCUIT_INFO]) == {
        Host.F1_STATIC: 2,
        Host.JOLPICA: 1,
        Host.MULTIVIEWER: 1,
    }
    assert estimate_calls(spec("r"), []) == {}


def test_complete_and_unavailable_are_held_partial_and_failed_are_not() -> None:
    race = spec("r")
    doc = {"types": {"laps": "partial", "weather": "unavailable", "results": "failed", "stints": "complete"}}
    doc["types"].update({"race_control": "complete", "circuit_info": "complete", "telemetry": "complete"})
    have = SessionHoldings.from_status_doc(race.session_id, doc, stored=True)
    assert DataType.WEATHER in have.types and "telemetry" not in have.types
    report = find_gaps(
        2023, [race], held_meetings=[race.meeting_id], holdings={race.session_id: have}, now=AFTER_SEASON
    )
    (gap,) = report.sessions
    assert gap.missing == (DataType.RESULTS, DataType.LAPS)
    assert not gap.session_missing and report.missing_sessions == ()
    assert SessionHoldings.from_status_doc("x", None, stored=False).types == {}


def test_a_fully_held_session_is_no_gap_and_costs_nothing() -> None:
    race = spec("r")
    report = find_gaps(
        2023,
        [race],
        held_meetings=[race.meeting_id],
        holdings={race.session_id: complete(race.session_id)},
        now=AFTER_SEASON,
    )
    assert report.sessions == () and report.calls == {} and report.season_calls == {}


def test_a_session_document_missing_is_reported_even_with_data_held() -> None:
    race = spec("r")
    have = complete(race.session_id).model_copy(update={"stored": False})
    report = find_gaps(2023, [race], held_meetings=[], holdings={race.session_id: have}, now=AFTER_SEASON)
    assert report.missing_sessions == (race.session_id,)
    assert report.missing_meetings == (race.meeting_id,)


def test_recent_future_and_cancelled_sessions_are_not_gaps() -> None:
    done = spec("q", start=T0 - timedelta(days=1))
    running = spec("r", start=T0 - timedelta(hours=1))
    future = spec("fp1", start=T0 + timedelta(days=7), sid="2023_saudi_arabian_grand_prix_fp1")
    cancelled = spec("s").model_copy(update={"cancelled": True})
    report = find_gaps(2023, [future, running, done, cancelled], held_meetings=[], holdings={}, now=T0)
    assert [g.session_id for g in report.sessions] == [done.session_id]
    assert report.not_yet == (running.session_id, future.session_id)


def test_topics_from_a_session_index() -> None:
    index = {
        "Feeds": {"TimingData": {"StreamPath": "TimingData.jsonStream"}, "Position.z": {}, "WeatherData": {}}
    }
    assert topics_from_index(index) == {"TimingData", "Position", "WeatherData"}
    assert topics_from_index({}) == frozenset()
    assert topics_from_listing(["Index.json", "CarData.z.jsonStream", "notes.txt"]) == {"CarData"}
