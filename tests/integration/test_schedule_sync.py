"""``sync_schedule`` end to end: a real CloudEvent, the upstream server over the recorded feeds
(f1schedule and OpenF1), and the Firestore and Pub/Sub emulators."""

from __future__ import annotations

import base64
import contextlib
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import functions_framework
import pytest
from cloudevents.conversion import to_structured
from cloudevents.http import CloudEvent

from shared.config import get_settings, load_settings
from shared.gcp import topic_path
from tests.emulators import PubSubHelper
from tests.integration.upstream_fixture import Upstream, running_upstream

ROOT = Path(__file__).resolve().parents[2]


def point_at(server: Upstream) -> None:
    os.environ["PITLANE_F1_SCHEDULE_URL"] = f"{server.url}/f1schedule/"
    os.environ["PITLANE_OPENF1_URL"] = server.url
    get_settings.cache_clear()


def subscribe_schedule_events(pubsub: PubSubHelper) -> str:
    """A fresh pull subscription on ``schedule-events`` (the topic the function publishes to)."""
    from google.api_core.exceptions import AlreadyExists

    path = topic_path(load_settings(), "schedule-events")
    with contextlib.suppress(AlreadyExists):
        pubsub.publisher.create_topic(request={"name": path})
    return pubsub.make_pull_subscription(path)


@pytest.fixture
def schedule_events(pubsub: PubSubHelper) -> str:
    return subscribe_schedule_events(pubsub)


@pytest.fixture
def upstream(firestore_env: str, schedule_events: str) -> Iterator[Upstream]:
    data_dir = load_settings().require_data_dir
    with running_upstream(data_dir=data_dir) as server:
        point_at(server)
        yield server


@pytest.fixture
def client(upstream: Upstream) -> Any:
    return functions_framework.create_app(
        "sync_schedule", str(ROOT / "functions" / "main.py"), "cloudevent"
    ).test_client()


def tick(client: Any, payload: Any, *, raw: bytes | None = None) -> Any:
    data = raw if raw is not None else json.dumps(payload).encode()
    event = CloudEvent(
        {
            "type": "google.cloud.pubsub.topic.v1.messagePublished",
            "source": "//pubsub.googleapis.com/projects/pitlane-test/topics/schedule-tick",
        },
        {"message": {"data": base64.b64encode(data).decode(), "messageId": "42"}, "subscription": "s"},
    )
    headers, body = to_structured(event)
    return client.post("/", headers=headers, data=body)


def update_times(db: Any, collection: str) -> dict[str, Any]:
    return {snap.id: snap.update_time for snap in db.collection(collection).stream()}


def test_tick_stores_the_season_and_a_resync_writes_nothing(
    client: Any, firestore_db: Any, upstream: Upstream
) -> None:
    assert tick(client, {"reason": "test", "season": 2024}).status_code == 200
    meetings = update_times(firestore_db, "meetings")
    sessions = update_times(firestore_db, "sessions")
    assert len(meetings) == 25
    assert len(sessions) == 123
    race = firestore_db.collection("sessions").document("2024_singapore_grand_prix_r").get().to_dict()
    assert race["start_utc"].isoformat() == "2024-09-22T12:00:00+00:00"
    assert race["start_local"] == "2024-09-22T20:00:00"
    assert [r["path"] for r in upstream.requests()] == [
        "/f1schedule/schedule_2024.json",
        "/v1/meetings",
        "/v1/sessions",
    ]

    assert tick(client, {"reason": "again", "season": 2024}).status_code == 200
    assert update_times(firestore_db, "meetings") == meetings
    assert update_times(firestore_db, "sessions") == sessions


@pytest.mark.parametrize("raw", [b"not json", b'{"season": "soon"}', b'{"season": 1066}'])
def test_bad_payload_is_acknowledged_and_writes_nothing(client: Any, firestore_db: Any, raw: bytes) -> None:
    assert tick(client, None, raw=raw).status_code == 200
    assert update_times(firestore_db, "meetings") == {}


def test_unknown_season_is_permanent(client: Any, firestore_db: Any) -> None:
    assert tick(client, {"season": 2031}).status_code == 200  # 404 upstream: acknowledged, not retried
    assert update_times(firestore_db, "sessions") == {}


def test_upstream_outage_fails_the_event_so_pubsub_retries(
    client: Any, firestore_db: Any, upstream: Upstream
) -> None:
    upstream.add_fault(path_prefix="/f1schedule/", kind="status", status=503)
    assert tick(client, {"season": 2024}).status_code == 500
    assert len(upstream.requests()) == 4  # the first try and three retries, then Pub/Sub's turn
    assert update_times(firestore_db, "sessions") == {}


def test_rate_limit_is_waited_out(client: Any, firestore_db: Any, upstream: Upstream) -> None:
    upstream.add_fault(path_prefix="/f1schedule/", kind="rate_limit", retry_after=0, times=1)
    assert tick(client, {"season": 2024}).status_code == 200
    assert [r["status"] for r in upstream.requests()][:2] == [429, 200]
    assert len(update_times(firestore_db, "sessions")) == 123


def test_resync_keeps_the_live_fields_of_a_session(client: Any, firestore_db: Any) -> None:
    assert tick(client, {"season": 2024}).status_code == 200
    ref = firestore_db.collection("sessions").document("2024_singapore_grand_prix_r")
    ref.set({"status": "Started", "track_status": "sc"}, merge=True)
    before = ref.get().update_time
    assert tick(client, {"season": 2024}).status_code == 200
    doc = ref.get()
    assert doc.update_time == before  # nothing of the schedule changed: not rewritten
    assert doc.to_dict()["status"] == "Started"
    ref.set({"start_local": "2024-09-22T21:00:00"}, merge=True)  # the stored schedule is now stale
    assert tick(client, {"season": 2024}).status_code == 200
    doc = ref.get().to_dict()
    assert doc["start_local"] == "2024-09-22T20:00:00"
    assert (doc["status"], doc["track_status"]) == ("Started", "sc")
