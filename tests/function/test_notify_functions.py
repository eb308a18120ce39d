"""The notify entry points through functions-framework's own app, with real CloudEvents.

No emulator here and no credentials: a path that reached Firestore or Pub/Sub would fail, so a
200 on the quiet paths shows they return before building any client.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.emulators import TEST_PROJECT
from tests.function.conftest import (
    PROJECT_ROOT,
    FunctionApp,
    load_function,
    post_cloud_event,
    pubsub_cloud_event,
)

FUNCTIONS = PROJECT_ROOT / "functions"
LAP = {
    "event_id": "2024_italian_grand_prix_r:lap_completed:16_012",
    "session_id": "2024_italian_grand_prix_r",
    "kind": "lap_completed",
    "utc": "2024-09-01T13:24:51.118Z",
    "data": {"driver_number": "16", "lap": 12},
}


@pytest.fixture(autouse=True)
def _offline(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GOOGLE_CLOUD_PROJECT", TEST_PROJECT)
    monkeypatch.setenv("PITLANE_ENV", "test")
    for name in ("FIRESTORE_EMULATOR_HOST", "PUBSUB_EMULATOR_HOST", "GOOGLE_APPLICATION_CREDENTIALS"):
        monkeypatch.delenv(name, raising=False)
    from shared.config import get_settings

    get_settings.cache_clear()


def _load(name: str, signature: Any = "cloudevent") -> FunctionApp:
    return load_function(name, FUNCTIONS / f"{name}.py", signature)


def test_race_events_that_alert_nobody_are_acknowledged_without_io() -> None:
    fn = _load("notify_race_events")
    for mode in ("binary", "structured"):
        event = pubsub_cloud_event(LAP, attributes={"kind": "lap_completed"})
        assert post_cloud_event(fn.client, event, mode=mode).status_code == 200


@pytest.mark.parametrize(
    ("name", "topic"),
    [
        ("notify_race_events", "race-events"),
        ("notify_schedule_events", "schedule-events"),
        ("notify_import_events", "import-events"),
    ],
)
def test_bad_payloads_are_acknowledged_not_retried(
    name: str, topic: str, caplog: pytest.LogCaptureFixture
) -> None:
    fn = _load(name)
    resp = post_cloud_event(fn.client, pubsub_cloud_event(b"{not json", topic=topic, message_id="77"))
    assert resp.status_code == 200
    dropped = [r for r in caplog.records if r.getMessage().startswith("event dropped")]
    assert dropped and dropped[0].json_fields["event_id"] == "77"  # type: ignore[attr-defined]


def test_import_run_without_a_slack_webhook_needs_nobody() -> None:
    fn = _load("notify_import_events")
    summary = {"run_id": "r1", "season": 2023, "processed": 3, "succeeded": 3, "partial": 0, "failed": 0}
    event = pubsub_cloud_event(summary, topic="import-events")
    assert post_cloud_event(fn.client, event).status_code == 200


def test_notify_task_target_answers_bad_requests() -> None:
    fn = _load("notify", "http")
    assert fn.client.get("/").status_code == 405
    direct = fn.client.post("/", data=b'{"kind": "reminder"}', content_type="application/json")
    assert direct.status_code == 400 and direct.mimetype == "application/problem+json"
    assert "Field required" in direct.get_json()["detail"]
    unknown = fn.client.post("/", json={"kind": "telegram"})
    assert unknown.status_code == 400
    from_tasks = fn.client.post(
        "/",
        data=b"{broken",
        content_type="application/json",
        headers={"X-CloudTasks-TaskName": "deliver-abc-1", "X-CloudTasks-QueueName": "reminders"},
    )
    assert (from_tasks.status_code, from_tasks.get_json()["status"]) == (200, "dropped")
