"""The emulator fixtures work, and the quirks documented in tests/emulators.py are real."""

from __future__ import annotations

import json
from typing import Any

import pytest
from google.api_core import exceptions as gexc
from google.cloud import firestore, tasks_v2
from google.cloud.firestore_v1.base_query import FieldFilter

from shared import gcp
from shared.config import Settings
from tests.emulators import TEST_PROJECT, PubSubHelper, RequestSink, UnsafeTestTargetError, check_safe_target

# --- guard ----------------------------------------------------------------------------------------


def test_guard_accepts_only_test_projects_and_local_hosts() -> None:
    check_safe_target({"GOOGLE_CLOUD_PROJECT": "pitlane-test", "FIRESTORE_EMULATOR_HOST": "127.0.0.1:8080"})
    check_safe_target({"GOOGLE_CLOUD_PROJECT": "demo-pitlane"})
    for env in (
        {"GOOGLE_CLOUD_PROJECT": "pitlane-prod"},
        {"GOOGLE_CLOUD_PROJECT": ""},
        {"GOOGLE_CLOUD_PROJECT": "pitlane-test", "FIRESTORE_EMULATOR_HOST": "10.0.0.5:8080"},
        {"GOOGLE_CLOUD_PROJECT": "pitlane-test", "PUBSUB_EMULATOR_HOST": "localhost.evil.com:1"},
        {"GOOGLE_CLOUD_PROJECT": "pitlane-test", "PITLANE_ENV": "prod"},
    ):
        with pytest.raises(UnsafeTestTargetError):
            check_safe_target(env)
    with pytest.raises(UnsafeTestTargetError, match="not set"):
        check_safe_target({"GOOGLE_CLOUD_PROJECT": "pitlane-test"}, needs=("PUBSUB_EMULATOR_HOST",))


def test_integration_tests_run_in_the_test_project(settings: Settings) -> None:
    assert settings.project == TEST_PROJECT
    assert settings.env == "test"


# --- Firestore ------------------------------------------------------------------------------------


def test_firestore_round_trip(firestore_db: firestore.Client) -> None:
    ref = firestore_db.collection("sessions").document("2024_monza_race")
    ref.set({"name": "Race", "laps": 53, "meta": {"circuit": "monza"}})
    ref.collection("laps").document("16_001").set({"driver": "16", "lap": 1, "time_ms": 86_512})

    snap = ref.get()
    assert snap.exists
    assert snap.to_dict() == {"name": "Race", "laps": 53, "meta": {"circuit": "monza"}}
    laps = [
        d.to_dict() for d in ref.collection("laps").where(filter=FieldFilter("driver", "==", "16")).stream()
    ]
    assert laps == [{"driver": "16", "lap": 1, "time_ms": 86_512}]


@pytest.mark.parametrize("attempt", [1, 2])
def test_firestore_is_wiped_before_each_test(firestore_db: firestore.Client, attempt: int) -> None:
    # Whichever attempt runs second would see the first one's document without the wipe.
    assert list(firestore_db.collection("wipe_check").stream()) == []
    assert list(firestore_db.collection("sessions").stream()) == []
    firestore_db.collection("wipe_check").document("doc").set({"attempt": attempt})
    assert firestore_db.collection("wipe_check").document("doc").get().get("attempt") == attempt


def test_server_client_bypasses_rules(firestore_db: firestore.Client) -> None:
    # The backend writes collections the rules deny to everyone (admin credentials in production).
    firestore_db.collection("quota_ledgers").document("openf1").set({"used": 1})
    assert firestore_db.collection("quota_ledgers").document("openf1").get().get("used") == 1


# --- Pub/Sub --------------------------------------------------------------------------------------


def test_pubsub_publish_and_pull_keeps_order_per_key(pubsub: PubSubHelper) -> None:
    topic = pubsub.make_topic("race-events")
    sub = pubsub.make_pull_subscription(topic)

    payloads = [json.dumps({"seq": i}).encode() for i in range(20)]
    pubsub.publish_many(topic, payloads, ordering_key="2024_monza_race", kind="lap")
    pubsub.publish(topic, b'{"seq": 0}', ordering_key="2024_monza_quali")

    messages = pubsub.pull_all(sub, timeout=10, expected=21)
    race = [m for m in messages if m.ordering_key == "2024_monza_race"]
    assert [json.loads(m.data)["seq"] for m in race] == list(range(20))
    assert all(m.attributes["kind"] == "lap" for m in race)
    assert [m.ordering_key for m in messages].count("2024_monza_quali") == 1
    # Everything was acked: nothing is redelivered.
    assert pubsub.pull_all(sub, timeout=0.5) == []


def test_pubsub_names_are_unique_per_test(pubsub: PubSubHelper) -> None:
    a, b = pubsub.make_topic("schedule-events"), pubsub.make_topic("schedule-events")
    assert a != b
    assert a.startswith(f"projects/{TEST_PROJECT}/topics/schedule-events-")


# --- Cloud Tasks ----------------------------------------------------------------------------------


def _http_task(url: str, body: dict[str, Any], name: str | None = None) -> tasks_v2.Task:
    return tasks_v2.Task(
        name=name,
        http_request=tasks_v2.HttpRequest(
            http_method=tasks_v2.HttpMethod.POST,
            url=url,
            headers={"Content-Type": "application/json"},
            body=json.dumps(body).encode(),
        ),
    )


def test_tasks_emulator_dispatches_http_task(
    tasks: tasks_v2.CloudTasksClient, tasks_queue: str, http_sink: RequestSink, settings: Settings
) -> None:
    assert tasks_queue.startswith(f"projects/{TEST_PROJECT}/locations/{settings.region}/queues/")
    assert tasks.get_queue(name=tasks_queue).state == tasks_v2.Queue.State.RUNNING

    created = tasks.create_task(
        parent=tasks_queue, task=_http_task(f"{http_sink.url}/import_session", {"session_key": 9590})
    )
    assert created.name.startswith(f"{tasks_queue}/tasks/")

    (req,) = http_sink.wait_for(1, timeout=10)
    assert req.method == "POST"
    assert req.path == "/import_session"
    assert req.json() == {"session_key": 9590}
    assert req.headers["content-type"] == "application/json"
    assert req.headers["x-cloudtasks-queuename"] == tasks_queue
    assert req.headers["x-cloudtasks-taskname"] == created.name.rsplit("/", 1)[-1]
    assert req.headers["x-cloudtasks-taskretrycount"] == "0"


def test_tasks_emulator_quirks(
    tasks: tasks_v2.CloudTasksClient, tasks_queue: str, http_sink: RequestSink
) -> None:
    # Unknown queue: FAILED_PRECONDITION (the real service says NOT_FOUND).
    with pytest.raises(gexc.FailedPrecondition):
        tasks.create_task(parent=tasks_queue + "-missing", task=_http_task(http_sink.url, {}))

    # Same explicit task name twice: both accepted and both dispatched (real service: ALREADY_EXISTS).
    name = f"{tasks_queue}/tasks/reminder-2024-monza-race"
    tasks.create_task(parent=tasks_queue, task=_http_task(http_sink.url, {"n": 1}, name=name))
    tasks.create_task(parent=tasks_queue, task=_http_task(http_sink.url, {"n": 2}, name=name))
    assert sorted(r.json()["n"] for r in http_sink.wait_for(2, timeout=10)) == [1, 2]

    # GetTask / DeleteTask are not implemented.
    with pytest.raises(gexc.MethodNotImplemented):
        tasks.get_task(name=name)
    with pytest.raises(gexc.MethodNotImplemented):
        tasks.delete_task(name=name)


def test_tasks_client_comes_from_shared_gcp(tasks: tasks_v2.CloudTasksClient, settings: Settings) -> None:
    assert settings.tasks_emulator_host is not None
    assert settings.tasks_emulator_host.startswith("127.0.0.1:")
    assert gcp.tasks_client(settings) is tasks
