"""The session-state reducer on real and broken input: malformed messages are skipped and
counted, events fire once per occurrence (checked against the race's own race control messages and
track status stream), and checkpoint/restore is the same as never stopping."""

from __future__ import annotations

import itertools
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from shared.config import Settings
from shared.feed import FeedMessage, ParseStats, parse_stream_line, read_archive_dir, read_recording
from shared.timing.models import EventKind, TrackStatus
from shared.timing.reducer import Changes, SessionReducer
from tests.unit.reducer_support import BAKU, archive_feed, feed

T0 = datetime(2024, 7, 5, 11, 30, tzinfo=UTC)


@pytest.fixture
def data_dir(settings: Settings) -> Path:
    return settings.require_data_dir


@pytest.fixture(scope="module")
def baku_feed() -> list[FeedMessage]:
    from shared.config import load_settings

    return archive_feed(load_settings().require_data_dir / BAKU)


@pytest.fixture(scope="module")
def baku_run(baku_feed: list[FeedMessage]) -> tuple[SessionReducer, Changes]:
    reducer = SessionReducer()
    changes = feed(reducer, baku_feed)
    changes.extend(reducer.finish())
    return reducer, changes


def _msg(topic: str, payload: Any, seconds: float = 0) -> FeedMessage:
    return FeedMessage(topic, payload, T0 + timedelta(seconds=seconds))


def test_recording_with_errors_goes_through(data_dir: Path) -> None:
    stats = ParseStats()
    text = (data_dir / "livetiming/recorded_with_errors_2021_bahrain.txt").read_text()
    messages = list(read_recording(text.splitlines(), stats))
    reducer = SessionReducer()
    feed(reducer, messages)
    reducer.finish()
    assert stats.skipped_total > 0  # the file's corrupt lines never reach the reducer
    assert reducer.stats.messages == stats.messages == len(messages) > 0
    # valid topics the reducer does not use (Heartbeat, SessionData): counted, not crashed on
    unused = sum(m.topic in ("CarData", "Position", "Heartbeat", "SessionData") for m in messages)
    assert unused > 0 and reducer.stats.skipped["unknown_topic"] == unused


def test_garbage_is_skipped_and_counted_and_the_state_goes_on() -> None:
    reducer = SessionReducer(session_id="2024_british_grand_prix_fp1")
    good = {"Lines": {"44": {"Position": "1", "NumberOfLaps": 3, "InPit": False}}}
    garbage = [
        _msg("NoSuchTopic", {"x": 1}),
        _msg("TimingData", "not an object", 1),
        _msg("TimingData", ["a", "list"], 2),
        _msg("TimingData", {"Lines": "nope"}, 3),
        _msg("TimingData", {"Lines": {"44": "nope", "_kf": True}}, 4),
        _msg("TimingData", {"Lines": {"44": {"NumberOfLaps": "many", "Sectors": {"9": {}, "x": 1}}}}, 5),
        _msg("TimingAppData", {"Lines": {"44": {"Stints": "soft"}}}, 6),
        _msg("RaceControlMessages", {"Messages": {"0": {"Message": "no time"}, "1": "x"}}, 7),
        _msg("WeatherData", {"AirTemp": "warm"}, 8),
        _msg("SessionStatus", {"Status": 5}, 9),
        _msg("TrackStatus", {"Status": None}, 10),
        FeedMessage("LapCount", {"CurrentLap": 2}, datetime(2024, 7, 5, 11, 30)),  # naive time
    ]
    feed(reducer, [_msg("TimingData", good, 0), _msg("TimingData", good, 0)])  # the same message twice
    feed(reducer, garbage)
    feed(reducer, [_msg("TimingData", good, -60)])  # a minute back: out of order
    skipped = reducer.stats.skipped
    assert skipped["unknown_topic"] == 1
    assert skipped["bad_payload"] == 5 and skipped["bad_driver_line"] == 1
    assert skipped["bad_race_control"] == 2
    assert skipped["out_of_order"] == 1 and skipped["duplicate"] == 1
    # the state went on: the good line is in the tower, and a later lap still counts
    feed(
        reducer,
        [_msg("TimingData", {"Lines": {"44": {"NumberOfLaps": 4, "LastLapTime": {"Value": "1:28.5"}}}}, 20)],
    )
    reducer.finish()
    row = reducer.tower().rows[0]
    assert (row.driver_number, row.position, row.laps, row.last_lap_ms) == ("44", 1, 4, 88_500)
    assert [lap.lap_time_ms for lap in reducer.laps()] == [88_500]


def _stream(data_dir: Path, topic: str) -> list[Any]:
    text = read_archive_dir(data_dir / BAKU)[topic]
    return [parse_stream_line(line)[1] for line in text.splitlines() if line.strip()]


def test_events_once_per_occurrence_against_the_baku_race_itself(
    data_dir: Path, baku_run: tuple[SessionReducer, Changes]
) -> None:
    reducer, changes = baku_run
    events = changes.events
    assert len({e.event_id for e in events}) == len(events)
    by_kind: dict[EventKind, list[Any]] = {}
    for event in events:
        by_kind.setdefault(event.kind, []).append(event)
    # track status: one event per change of code in TrackStatus.jsonStream
    codes = [p["Status"] for p in _stream(data_dir, "TrackStatus")]
    changes_of_code = [c for i, c in enumerate(codes) if i == 0 or c != codes[i - 1]]
    assert [e.data["code"] for e in by_kind[EventKind.TRACK_STATUS]] == changes_of_code
    safety_cars = [e for e in by_kind[EventKind.TRACK_STATUS] if e.data["status"] == TrackStatus.SAFETY_CAR]
    rcm = [m for p in _stream(data_dir, "RaceControlMessages") for m in _messages(p)]
    deployed = [m for m in rcm if m.get("Message") == "SAFETY CAR DEPLOYED"]
    assert len(safety_cars) == len(deployed) == codes.count("4") == 2
    assert [e.event_id.rsplit(":", 1)[1] for e in safety_cars] == ["sc_1", "sc_2"]
    # race control: one event per message, in order
    assert len(by_kind[EventKind.RACE_CONTROL]) == len(rcm) == len(reducer.race_control())
    assert [e.data["message"] for e in by_kind[EventKind.RACE_CONTROL]] == [m["Message"] for m in rcm]
    # session status: one per status line
    statuses = [p["Status"] for p in _stream(data_dir, "SessionStatus")]
    assert [e.data["status"] for e in by_kind[EventKind.SESSION_STATUS]] == statuses
    # laps: one event per lap; fastest lap only when the session best improves
    assert len(by_kind[EventKind.LAP_COMPLETED]) == len(reducer.laps())
    times = [e.data["lap_time_ms"] for e in by_kind[EventKind.FASTEST_LAP]]
    assert times == sorted(times, reverse=True) and len(set(times)) == len(times)
    assert times[-1] == min(lap.lap_time_ms for lap in reducer.laps() if lap.lap_time_ms)
    # pits: one pit-in event per pit entry after the car first left the pit
    assert len(by_kind[EventKind.PIT_IN]) >= sum(lap.pit_in for lap in reducer.laps())
    leaders = [e.data["driver_number"] for e in by_kind[EventKind.LEADER_CHANGE]]
    assert leaders and all(a != b for a, b in itertools.pairwise(leaders))
    assert leaders[-1] == reducer.tower().rows[0].driver_number


def _messages(payload: dict[str, Any]) -> list[dict[str, Any]]:
    messages = payload.get("Messages")
    return list(messages.values()) if isinstance(messages, dict) else list(messages or [])


def test_replaying_into_a_restored_reducer_emits_nothing_twice(baku_feed: list[FeedMessage]) -> None:
    cut = len(baku_feed) // 2
    first = SessionReducer()
    seen = {e.event_id for e in feed(first, baku_feed[:cut]).events}
    restored = SessionReducer.restore(json.loads(json.dumps(first.checkpoint())))
    again = feed(restored, baku_feed[cut - 500 : cut])  # the last messages replayed
    assert again.events == [] and again.laps == []
    rest = feed(restored, baku_feed[cut:])
    rest.extend(restored.finish())
    assert not {e.event_id for e in rest.events} & seen
    twice = feed(restored, baku_feed[-200:])  # and the end of the race once more
    assert twice.events == []


def test_checkpoint_restore_mid_stream_equals_an_uninterrupted_run(
    baku_feed: list[FeedMessage], baku_run: tuple[SessionReducer, Changes]
) -> None:
    whole, whole_changes = baku_run
    events, reducer = [], SessionReducer()
    for i, message in enumerate(baku_feed):
        if i in (5_000, 12_345, 20_000):
            reducer = SessionReducer.restore(json.loads(json.dumps(reducer.checkpoint())))
        events.extend(reducer.apply(message).events)
    events.extend(reducer.finish().events)
    assert reducer.laps() == whole.laps()
    assert reducer.tower() == whole.tower()
    assert reducer.session() == whole.session()
    assert reducer.race_control() == whole.race_control()
    assert [e.event_id for e in events] == [e.event_id for e in whole_changes.events]
    assert reducer.checkpoint() == whole.checkpoint()
