"""What a cloudevent-signature function receives from Eventarc and from a Pub/Sub *push*.

The answer for wiring local push subscriptions straight to functions: functions-framework 3.10
accepts the raw push body ``{"message": {...}, "subscription": ...}`` for a cloudevent function.
Parsing it as a CloudEvent fails, so it falls back to ``event_conversion`` and builds a
``google.cloud.pubsub.topic.v1.messagePublished`` CloudEvent with
``id`` = messageId, ``time`` = publishTime, ``data = {"message": {"@type", "data", "attributes",
"messageId", "publishTime"}}`` and ``source = //pubsub.googleapis.com/<path>``, where ``<path>``
is the ``projects/P/topics/T`` found in the request URL path, else empty.

Unlike Eventarc's event, the converted one has no ``subscription``, no ``message_id`` /
``publish_time`` snake-case copies and no ``orderingKey`` (which the emulator's push body lacks
anyway). So: read only ``message.data``, ``message.attributes``, ``message.messageId`` and
``message.publishTime``, and give the push endpoint the topic path
(``http://127.0.0.1:PORT/projects/<project>/topics/<topic>``) to keep ``source`` meaningful.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.emulators import TEST_PROJECT, PubSubHelper, serve_wsgi
from tests.function.conftest import (
    FUNCTIONS_DIR,
    PUBSUB_MESSAGE_PUBLISHED,
    FunctionApp,
    load_event,
    load_function,
    message_data,
    post_cloud_event,
    pubsub_cloud_event,
)

LAP = {
    "session_id": "2024_italian_grand_prix_r",
    "kind": "lap_completed",
    "driver": "16",
    "lap": 12,
    "lap_time_ms": 84912,
    "utc": "2024-09-01T13:24:51.118Z",
}


@pytest.fixture
def recorder() -> FunctionApp:
    return load_function("record", FUNCTIONS_DIR / "pubsub_recorder.py")


def _received(fn: FunctionApp) -> list[Any]:
    received: list[Any] = fn.module.RECEIVED
    return received


# --- real CloudEvents (what Eventarc delivers in production) -----------------------------------


@pytest.mark.parametrize("mode", ["binary", "structured"])
def test_stored_cloud_event_reaches_function(recorder: FunctionApp, mode: Any) -> None:
    resp = post_cloud_event(recorder.client, load_event("pubsub_message_published"), mode=mode)

    assert resp.status_code == 200, resp.get_data(as_text=True)
    (event,) = _received(recorder)
    assert event["type"] == PUBSUB_MESSAGE_PUBLISHED
    assert event["source"] == f"//pubsub.googleapis.com/projects/{TEST_PROJECT}/topics/race-events"
    assert event["id"] == "11529012345678901"
    assert json.loads(message_data(event)) == LAP
    assert event.data["message"]["attributes"]["kind"] == "lap_completed"
    assert event.data["message"]["orderingKey"] == "2024_italian_grand_prix_r"
    assert event.data["subscription"].startswith(f"projects/{TEST_PROJECT}/subscriptions/")


def test_built_cloud_event_round_trips(recorder: FunctionApp) -> None:
    event = pubsub_cloud_event(LAP, attributes={"kind": "lap_completed"}, message_id="42", ordering_key="k")
    assert post_cloud_event(recorder.client, event).status_code == 200
    (got,) = _received(recorder)
    assert got["id"] == "42"
    assert json.loads(message_data(got)) == LAP
    assert got.data["message"]["orderingKey"] == "k"


def test_function_error_answers_500_so_pubsub_retries(recorder: FunctionApp) -> None:
    event = pubsub_cloud_event(b"x", attributes={"fail_times": "1"}, message_id="9")
    assert post_cloud_event(recorder.client, event).status_code == 500
    assert _received(recorder) == []
    assert post_cloud_event(recorder.client, event).status_code == 200
    assert len(_received(recorder)) == 1


# --- the raw Pub/Sub push body (what a push subscription sends) --------------------------------


def test_raw_push_body_is_converted_to_a_cloud_event(recorder: FunctionApp) -> None:
    body = load_event("pubsub_push_emulator")
    resp = recorder.client.post(f"/projects/{TEST_PROJECT}/topics/race-events", json=body)

    assert resp.status_code == 200, resp.get_data(as_text=True)
    (event,) = _received(recorder)
    assert event["type"] == PUBSUB_MESSAGE_PUBLISHED
    assert event["source"] == f"//pubsub.googleapis.com/projects/{TEST_PROJECT}/topics/race-events"
    assert event["id"] == "7"
    assert event["time"] == "2024-09-01T13:24:51.402Z"
    assert json.loads(message_data(event)) == LAP
    message = event.data["message"]
    assert message["attributes"] == {"kind": "lap_completed", "session_id": "2024_italian_grand_prix_r"}
    assert message["messageId"] == "7"
    assert message["publishTime"] == "2024-09-01T13:24:51.402Z"
    # What the conversion drops, compared with Eventarc's event.
    assert set(event.data) == {"message"}
    assert set(message) == {"@type", "data", "attributes", "messageId", "publishTime"}


def test_raw_push_to_root_path_has_no_topic_in_source(recorder: FunctionApp) -> None:
    assert recorder.client.post("/", json=load_event("pubsub_push_emulator")).status_code == 200
    (event,) = _received(recorder)
    assert event["source"] == "//pubsub.googleapis.com/"
    assert json.loads(message_data(event)) == LAP


def test_unrecognised_body_is_400(recorder: FunctionApp) -> None:
    # Push subscriptions treat 400 like any non-2xx: they redeliver. Permanent errors must be
    # acknowledged (2xx) by the function itself, not left to the framework.
    resp = recorder.client.post("/", json={"message": {"data": "eA=="}})
    assert resp.status_code == 400
    assert _received(recorder) == []


# --- end to end: the Pub/Sub emulator's push subscription -> functions-framework over HTTP -----


@pytest.fixture
def served_recorder(recorder: FunctionApp) -> Iterator[tuple[FunctionApp, str]]:
    with serve_wsgi(recorder.app) as url:
        yield recorder, url


@pytest.mark.integration
def test_emulator_push_subscription_delivers_to_cloudevent_function(
    pubsub: PubSubHelper, served_recorder: tuple[FunctionApp, str]
) -> None:
    recorder, url = served_recorder
    topic = pubsub.make_topic("race-events")
    pubsub.make_push_subscription(topic, f"{url}/{topic}")

    ok_id = pubsub.publish(topic, json.dumps(LAP).encode(), kind="lap_completed")
    # Fails on its first delivery (HTTP 500): the emulator must push it again.
    retry_id = pubsub.publish(topic, b'{"retry": true}', fail_times="1")

    events = _wait_for_events(recorder, 2, timeout=30)
    by_id = {e["id"]: e for e in events}
    assert set(by_id) == {ok_id, retry_id}
    ok = by_id[ok_id]
    assert ok["type"] == PUBSUB_MESSAGE_PUBLISHED
    assert ok["source"] == f"//pubsub.googleapis.com/{topic}"
    assert json.loads(message_data(ok)) == LAP
    assert ok.data["message"]["attributes"] == {"kind": "lap_completed"}
    assert json.loads(message_data(by_id[retry_id])) == {"retry": True}


def _wait_for_events(fn: FunctionApp, count: int, *, timeout: float) -> list[Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if len(_received(fn)) >= count:
            return list(_received(fn))
        time.sleep(0.05)
    raise TimeoutError(f"{len(_received(fn))} of {count} events arrived within {timeout} s")
