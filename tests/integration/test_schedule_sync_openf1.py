"""``sync_schedule`` v2 on the emulators and the real upstream server: OpenF1 over f1schedule,
local times in the circuit's zone, one ``schedule-events`` message per upstream change, weekend
timelines, and the Cloud Tasks of sessions starting soon."""

from __future__ import annotations

import argparse
import json
import os
import shutil
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import functions_framework
import pytest
from google.cloud.firestore import FieldFilter

from infra import schedule_cli
from shared.config import Settings, get_settings, load_settings
from shared.gcp import publisher_client
from shared.services.schedule_sync import SyncOptions, sync_season
from shared.sources.http import make_http_client
from shared.stores.schedule import get_timeline, resolve_meeting
from tests.emulators import PubSubHelper, RequestSink
from tests.integration.test_schedule_sync import ROOT, point_at, subscribe_schedule_events, tick
from tests.integration.upstream_fixture import Upstream, running_upstream

SINGAPORE = "2024_singapore_grand_prix"


def _data_copy(src: Path, dst: Path) -> Path:
    """A temporary data folder holding only what the sync reads (the recording is never touched)."""
    (dst / "openf1" / "2024_singapore").mkdir(parents=True)
    for name in ("meetings.json", "sessions.json"):
        shutil.copy(src / "openf1" / "2024_singapore" / name, dst / "openf1" / "2024_singapore" / name)
    shutil.copytree(src / "f1schedule", dst / "f1schedule")
    shutil.copytree(src / "calendars", dst / "calendars")
    return dst


@pytest.fixture
def data_copy(tmp_path: Path, test_env: dict[str, str]) -> Path:
    data = _data_copy(load_settings().require_data_dir, tmp_path / "data")
    os.environ["PITLANE_DATA_DIR"] = str(data)
    get_settings.cache_clear()
    return data


@pytest.fixture
def schedule_events(pubsub: PubSubHelper) -> str:
    return subscribe_schedule_events(pubsub)


@pytest.fixture
def upstream_copy(firestore_env: str, schedule_events: str, data_copy: Path) -> Iterator[Upstream]:
    with running_upstream(data_dir=data_copy) as server:
        point_at(server)
        yield server


@pytest.fixture
def client(upstream_copy: Upstream) -> Any:
    return functions_framework.create_app(
        "sync_schedule", str(ROOT / "functions" / "main.py"), "cloudevent"
    ).test_client()


def _messages(pubsub: PubSubHelper, subscription: str, **kw: Any) -> list[Any]:
    return pubsub.pull_all(subscription, **kw)


def test_singapore_2024_from_openf1_in_singapore_time(
    *,
    client: Any,
    firestore_db: Any,
    upstream_copy: Upstream,
    pubsub: PubSubHelper,
    schedule_events: str,
) -> None:
    assert tick(client, {"reason": "hourly", "season": 2024}).status_code == 200
    sessions = [
        snap.to_dict()
        for snap in firestore_db.collection("sessions")
        .where(filter=FieldFilter("meeting_id", "==", SINGAPORE))
        .stream()
    ]
    assert sorted((s["code"], s["start_local"], s["gmt_offset"]) for s in sessions) == [
        ("fp1", "2024-09-20T17:30:00", "+08:00"),
        ("fp2", "2024-09-20T21:00:00", "+08:00"),
        ("fp3", "2024-09-21T17:30:00", "+08:00"),
        ("q", "2024-09-21T21:00:00", "+08:00"),
        ("r", "2024-09-22T20:00:00", "+08:00"),
    ]
    assert {s["time_zone"] for s in sessions} == {"Asia/Singapore"}
    assert sorted(s["session_key"] for s in sessions) == [9599, 9600, 9601, 9602, 9606]
    race = next(s for s in sessions if s["code"] == "r")
    assert race["end_utc"].isoformat() == "2024-09-22T14:00:00+00:00"  # only OpenF1 has ends
    meeting = resolve_meeting(firestore_db, "1246")
    assert meeting is not None and meeting["meeting_id"] == SINGAPORE
    assert meeting["time_zone"] == "Asia/Singapore" and meeting["circuit_key"] == 61
    # f1schedule completes the season
    assert len(list(firestore_db.collection("meetings").stream())) == 25
    first = _messages(pubsub, schedule_events, expected=123, timeout=20)
    assert len(first) == 123 and {m.attributes["kind"] for m in first} == {"added"}

    assert tick(client, {"reason": "hourly", "season": 2024}).status_code == 200
    assert _messages(pubsub, schedule_events, timeout=2) == []


def test_an_upstream_change_is_one_message_and_a_resync_none(
    *,
    client: Any,
    firestore_db: Any,
    upstream_copy: Upstream,
    data_copy: Path,
    pubsub: PubSubHelper,
    schedule_events: str,
) -> None:
    assert tick(client, {"reason": "hourly", "season": 2024}).status_code == 200
    assert len(_messages(pubsub, schedule_events, expected=123, timeout=20)) == 123
    race_ref = firestore_db.collection("sessions").document(f"{SINGAPORE}_r")
    race_ref.set({"status": "Finalised"}, merge=True)  # a live field the sync must keep

    path = data_copy / "openf1" / "2024_singapore" / "sessions.json"
    records = json.loads(path.read_text())
    race = next(r for r in records if r["session_key"] == 9606)
    race["date_start"], race["date_end"] = "2024-09-22T13:00:00+00:00", "2024-09-22T15:00:00+00:00"
    path.write_text(json.dumps(records))
    with running_upstream(data_dir=data_copy) as changed:  # the upstream now publishes the move
        point_at(changed)
        assert tick(client, {"reason": "hourly", "season": 2024}).status_code == 200
        moved = _messages(pubsub, schedule_events, timeout=3)
        assert len(moved) == 1
        message = moved[0]
        body = json.loads(message.data)
        assert message.attributes["kind"] == body["kind"] == "moved"
        assert message.attributes["session_id"] == f"{SINGAPORE}_r"
        assert message.attributes["change_id"] == body["change_id"]
        assert message.ordering_key in ("", SINGAPORE)  # the emulator drops ordering keys on pull
        assert body["before_start_utc"].startswith("2024-09-22T12:00:00")
        assert body["after_start_utc"].startswith("2024-09-22T13:00:00")
        doc = race_ref.get().to_dict()
        assert (doc["start_local"], doc["status"]) == ("2024-09-22T21:00:00", "Finalised")
        timeline = get_timeline(firestore_db, SINGAPORE)
        assert timeline is not None
        assert [e.start_local.isoformat() for e in timeline.entries if e.code == "r"] == [
            "2024-09-22T21:00:00"
        ]

        assert tick(client, {"reason": "hourly", "season": 2024}).status_code == 200
        assert _messages(pubsub, schedule_events, timeout=2) == []


def test_weekend_tick_outside_a_weekend_does_nothing(
    client: Any,
    firestore_db: Any,
    upstream_copy: Upstream,
) -> None:
    assert tick(client, {"reason": "weekend", "season": 2024}).status_code == 200
    assert [r["path"] for r in upstream_copy.requests()] == []
    assert list(firestore_db.collection("meetings").stream()) == []


def _settings_with_sink(sink: RequestSink) -> Settings:
    os.environ["PITLANE_FUNCTION_URLS"] = json.dumps({"record_live_timing": sink.url, "notify": sink.url})
    get_settings.cache_clear()
    return load_settings()


def test_sessions_starting_soon_get_their_tasks_once(
    firestore_db: Any,
    upstream_copy: Upstream,
    tasks_queue: str,
    http_sink: RequestSink,
) -> None:
    settings = _settings_with_sink(http_sink)
    queue = tasks_queue.rsplit("/", 1)[1]
    options = SyncOptions(live_queue=queue, reminder_queue=queue, horizon_h=6)
    now = datetime(2024, 9, 22, 9, 0, tzinfo=UTC)  # race day, 3 h before the start
    with make_http_client(settings) as http:
        publisher = publisher_client(settings)
        summary = sync_season(
            2024, db=firestore_db, http=http, settings=settings, publisher=publisher, now=now, options=options
        )
        assert summary.tasks_enqueued == 2
        received = http_sink.wait_for(2, timeout=20)
        names = sorted(r.headers["x-cloudtasks-taskname"] for r in received)
        epoch = int(datetime(2024, 9, 22, 12, tzinfo=UTC).timestamp())
        assert names == [f"record-{SINGAPORE}_r-{epoch}", f"reminder-{SINGAPORE}_r-{epoch}"]
        bodies = sorted((r.json() for r in received), key=lambda b: "kind" in b)
        assert bodies[0] == {"source": "live", "session_id": f"{SINGAPORE}_r"}
        assert bodies[1]["kind"] == "reminder"

        again = sync_season(
            2024, db=firestore_db, http=http, settings=settings, publisher=publisher, now=now, options=options
        )
        assert again.tasks_enqueued == 0 and again.changes == 0
        time.sleep(1.0)
        assert len(http_sink.wait_for(2, timeout=1)) == 2  # nothing more was dispatched


def test_2025_sprint_weekend_timeline_in_a_named_zone(
    firestore_db: Any, upstream_copy: Upstream, pubsub: PubSubHelper
) -> None:
    settings = load_settings()
    with make_http_client(settings) as http:
        summary = sync_season(
            2025, db=firestore_db, http=http, settings=settings, publisher=publisher_client(settings)
        )
    assert summary.supporting_sessions > 100
    spa = get_timeline(firestore_db, "2025_belgian_grand_prix", tz="America/New_York")
    assert spa is not None and spa.time_zone == "Europe/Brussels" and spa.tz == "America/New_York"
    assert {e.series for e in spa.entries} == {"f1", "f2", "f3"}
    starts = [e.start_utc for e in spa.entries]
    assert starts == sorted(starts)
    sprint = next(e for e in spa.entries if e.series == "f1" and e.code == "s")
    assert sprint.start_local.isoformat() == "2025-07-26T12:00:00"
    assert sprint.start_in_tz.isoformat() == "2025-07-26T06:00:00-04:00"
    miami = get_timeline(firestore_db, "2025_miami_grand_prix")
    assert miami is not None and {e.series for e in miami.entries} == {"f1", "f1-academy"}


def test_cli_prints_a_json_summary_last(
    firestore_db: Any, upstream_copy: Upstream, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    parser = argparse.ArgumentParser()
    schedule_cli.register(parser.add_subparsers())
    args = parser.parse_args(
        ["schedule", "sync", "--season", "2024", "--no-tasks", "--state-dir", str(tmp_path)]
    )
    assert args.func(args) == 0
    first = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert (first["meetings"], first["sessions"], first["changes"], first["tasks_enqueued"]) == (
        25,
        123,
        123,
        0,
    )
    assert args.func(args) == 0
    again = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert (again["changes"], again["created"], again["updated"]) == (0, 0, 0)
