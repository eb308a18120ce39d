"""Recorded live captures in their four formats, including deliberately corrupt ones."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from shared.config import Settings
from shared.feed import ParseStats, encode_z, load_snapshot, parse_line, parse_utc, read_recording

UTC_S = "2021-03-28T14:52:30.4444696Z"


@pytest.fixture
def data_dir(settings: Settings) -> Path:
    return settings.require_data_dir


def test_parse_utc_shapes() -> None:
    assert parse_utc(UTC_S) == datetime(2021, 3, 28, 14, 52, 30, 444469, tzinfo=UTC)
    assert parse_utc("2024-07-05T11:50:44.449+00:00").microsecond == 449000
    assert parse_utc("2018-04-29T12:07:10").tzinfo is UTC  # race control Utc: naive but UTC
    with pytest.raises(ValueError):
        parse_utc("2021035:00:")


def test_all_four_formats_give_the_same_message() -> None:
    payload = {"Status": "1", "Message": "AllClear"}
    lines = [
        json.dumps({"H": "Streaming", "M": "feed", "A": ["TrackStatus", payload, UTC_S]}),
        json.dumps(
            {"C": "d-1", "M": [{"H": "Streaming", "M": "feed", "A": ["TrackStatus", payload, UTC_S]}]}
        ),
        json.dumps({"type": 1, "target": "feed", "arguments": ["TrackStatus", payload, UTC_S]}) + "\x1e",
        str(["TrackStatus", payload, UTC_S]),
        json.dumps({"Type": "TrackStatus", "Json": payload, "DateTime": UTC_S}),
    ]
    for line in lines:
        [message] = parse_line(line)
        assert (message.topic, message.payload, message.utc) == ("TrackStatus", payload, parse_utc(UTC_S))


def test_several_core_frames_per_line_and_control_frames() -> None:
    frame = json.dumps({"type": 1, "target": "feed", "arguments": ["LapCount", {"CurrentLap": 3}, UTC_S]})
    assert len(parse_line(f'{frame}\x1e{{"type":6}}\x1e{frame}\x1e')) == 2
    stats = ParseStats()
    assert list(read_recording(['{"type":6}\x1e', "{}", '{"R":{},"I":"0"}'], stats)) == []
    assert stats.ignored == 3 and stats.skipped_total == 0


def test_z_topics_are_decoded_into_the_plain_topic() -> None:
    entries = {"Entries": [{"Utc": UTC_S, "Cars": {"1": {"Channels": {"2": 287}}}}]}
    [message] = parse_line(str(["CarData.z", encode_z(entries), UTC_S]))
    assert message.topic == "CarData" and message.payload == entries


def test_corrupt_recording_is_skipped_and_counted(data_dir: Path) -> None:
    stats = ParseStats()
    text = (data_dir / "livetiming" / "recorded_with_errors_2021_bahrain.txt").read_text()
    messages = list(read_recording(text.splitlines(), stats))
    assert stats.lines == 51 and stats.messages == len(messages) == 19
    assert stats.skipped == {
        "truncated": 22,
        "bad_timestamp": 4,
        "bad_json": 3,
        "bad_base64": 2,
        "unknown_shape": 1,
    }
    assert messages[0].topic == "Heartbeat" and messages[0].utc == parse_utc("2021-03-28T14:52:32.124219Z")
    assert {m.topic for m in messages} >= {
        "WeatherData",
        "TimingAppData",
        "RaceControlMessages",
        "TrackStatus",
    }


def test_hand_made_garbage_never_raises() -> None:
    good = json.dumps({"Type": "LapCount", "Json": {"CurrentLap": 1}, "DateTime": "2024-07-05T12:00:00Z"})
    late = json.dumps({"Type": "LapCount", "Json": {"CurrentLap": 0}, "DateTime": "2024-07-05T11:00:00Z"})
    lines = [
        good,
        '{"Type": "LapCount", "Json": {"Cur',
        "not json",
        "['CarData.z', '!!notbase64', '" + UTC_S + "']",
        '{"foo": 1}',
        "42",
        late,
        "",
        "\ufeff" + good,
    ]
    stats = ParseStats()
    assert [m.payload for m in read_recording(lines, stats)] == [{"CurrentLap": 1}, {"CurrentLap": 1}]
    assert stats.skipped == {
        "truncated": 1,
        "bad_json": 1,
        "bad_base64": 1,
        "unknown_shape": 2,
        "out_of_order": 1,
    }


def test_live_capture_and_its_snapshot(data_dir: Path) -> None:
    folder = data_dir / "livefeed" / "2024_silverstone_fp1"
    stats = ParseStats()
    with (folder / "live.jsonl").open() as lines:
        messages = list(read_recording(lines, stats))
    assert len(messages) == 11_438 and stats.skipped_total == 0
    assert sum(m.topic == "TimingData" for m in messages) == 10_329
    snapshot = load_snapshot((folder / "subscribe.json").read_text())
    assert snapshot["SessionInfo"]["Meeting"]["Name"] == "British Grand Prix"
    assert load_snapshot({"type": 3, "invocationId": "0", "result": {"Position.z": encode_z({"a": 1})}}) == {
        "Position": {"a": 1}
    }
