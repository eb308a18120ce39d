"""Archive sessions (``<Topic>.jsonStream``): time-merging and anchoring to UTC."""

from __future__ import annotations

import itertools
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from shared.config import Settings
from shared.feed import (
    ParseStats,
    archive_messages,
    estimate_start_utc,
    index_session_info,
    parse_stream_line,
    read_archive_dir,
    read_recording,
)

STATIC = Path("livetiming/static")
BAKU = STATIC / "2018/2018-04-29_Azerbaijan_Grand_Prix/2018-04-29_Race"
SILVERSTONE_FP1 = STATIC / "2024/2024-07-07_British_Grand_Prix/2024-07-05_Practice_1"


@pytest.fixture
def data_dir(settings: Settings) -> Path:
    return settings.require_data_dir


def test_stream_line() -> None:
    offset, payload = parse_stream_line('\ufeff01:51:26.763{"Status":"Finished"}\r')
    assert offset == timedelta(hours=1, minutes=51, seconds=26, milliseconds=763)
    assert payload == {"Status": "Finished"}


def test_baku_2018_race_merges_all_topics_in_time_order(data_dir: Path) -> None:
    texts = read_archive_dir(data_dir / BAKU)
    assert len(texts) == 8
    anchor = estimate_start_utc(texts, session_path=str(BAKU))
    assert anchor.method == "race_control"
    assert anchor.utc == datetime(2018, 4, 29, 12, 5, 59, 915000, tzinfo=UTC)
    stats = ParseStats()
    messages = list(archive_messages(texts, start_utc=anchor.utc, stats=stats))
    assert len(messages) == stats.messages == 24_237 and stats.skipped_total == 0
    assert all(a.utc <= b.utc for a, b in itertools.pairwise(messages))
    started = next(m for m in messages if m.topic == "SessionStatus" and m.payload["Status"] == "Started")
    assert started.utc == anchor.utc + timedelta(minutes=7, seconds=42, milliseconds=253)
    # Without race control the schedule rule applies: 16:10 Baku time (UTC+4) = 12:10 UTC at "Started".
    schedule = estimate_start_utc({k: v for k, v in texts.items() if k != "RaceControlMessages"})
    assert schedule.method == "schedule"
    assert schedule.utc == datetime(2018, 4, 29, 12, 10, tzinfo=UTC) - timedelta(minutes=7, seconds=42.253)


def test_anchor_agrees_with_the_live_capture_of_the_same_session(data_dir: Path) -> None:
    texts = read_archive_dir(data_dir / SILVERSTONE_FP1)
    anchor = estimate_start_utc(texts)
    archived = {
        next(iter(m.payload["Messages"].values()))["Message"]: m.utc
        for m in archive_messages(texts, start_utc=anchor.utc)
        if m.topic == "RaceControlMessages" and isinstance(m.payload["Messages"], dict)
    }
    with (data_dir / "livefeed/2024_silverstone_fp1/live.jsonl").open() as lines:
        live = [m for m in read_recording(lines) if m.topic == "RaceControlMessages"]
    assert len(live) == 10
    for message in live:
        text = next(iter(message.payload["Messages"].values()))["Message"]
        if text in archived:  # the live capture received it at the same instant, give or take 0.2 s
            assert abs((archived[text] - message.utc).total_seconds()) < 0.2


def test_fallbacks_index_and_path_date(data_dir: Path) -> None:
    index = json.loads((data_dir / STATIC / "2023/Index.json").read_text(encoding="utf-8-sig"))
    path = "2023/2023-07-23_Hungarian_Grand_Prix/2023-07-21_Practice_1"
    info = index_session_info(index, path)
    assert info is not None and info["Name"] == "Practice 1"
    texts = read_archive_dir(data_dir / STATIC / path)
    anchor = estimate_start_utc(texts, session_info=info)
    assert anchor.method == "scheduled_start" and anchor.utc.date().isoformat() == "2023-07-21"
    assert estimate_start_utc(texts, session_path=path).utc == datetime(2023, 7, 21, tzinfo=UTC)
    with pytest.raises(ValueError):
        estimate_start_utc({"DriverList": ""})


def test_hand_made_garbage_is_skipped() -> None:
    texts = {
        "TrackStatus": '\ufeff00:00:01.000{"Status":"1"}\n00:00:0x.000{"Status":"2"}\n00:00:03.000{"Stat\n',
        "LapCount": '00:00:02.000{"CurrentLap":1}\n\n00:00:00.500{"CurrentLap":0}\n',
        "CarData.z": '00:00:02.500"@@@"\n',
    }
    stats = ParseStats()
    start = datetime(2024, 1, 1, tzinfo=UTC)
    messages = list(archive_messages(texts, start_utc=start, stats=stats))
    assert [(m.topic, m.utc - start) for m in messages] == [
        ("LapCount", timedelta(seconds=0.5)),
        ("TrackStatus", timedelta(seconds=1)),
        ("LapCount", timedelta(seconds=2)),
    ]
    assert stats.skipped == {"bad_timestamp": 1, "bad_json": 1, "bad_base64": 1}
