"""Helpers for function tests: the real functions-framework app, fed real CloudEvents.

Pattern from functions-framework's own tests (``tests/test_cloud_event_functions.py``):
``create_app(target, source, signature_type).test_client()``, payloads kept as JSON files under
``tests/data/events/``.

* :func:`load_function` -> :class:`FunctionApp` (``.client`` Flask test client, ``.module`` the
  source module functions-framework loaded, ``.app``)
* :func:`load_event` -> a JSON payload from ``tests/data/events``
* :func:`pubsub_cloud_event` -> a ``messagePublished`` CloudEvent (as a dict, Eventarc's shape)
* :func:`post_cloud_event` -> POST a CloudEvent dict in binary or structured content mode
* :func:`message_data` -> the decoded Pub/Sub payload of a received CloudEvent
"""

from __future__ import annotations

import base64
import json
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from typing import Any, Literal

import functions_framework
from cloudevents.conversion import to_binary, to_structured
from cloudevents.http import CloudEvent

from tests.emulators import TEST_PROJECT

DATA_DIR = Path(__file__).resolve().parent.parent / "data"
EVENTS_DIR = DATA_DIR / "events"
FUNCTIONS_DIR = DATA_DIR / "functions"
PROJECT_ROOT = DATA_DIR.parent.parent

PUBSUB_MESSAGE_PUBLISHED = "google.cloud.pubsub.topic.v1.messagePublished"


@dataclass(frozen=True)
class FunctionApp:
    app: Any  # flask.Flask
    client: Any  # flask.testing.FlaskClient
    module: ModuleType


def load_function(
    target: str,
    source: str | Path = PROJECT_ROOT / "functions" / "main.py",
    signature_type: Literal["http", "event", "cloudevent"] = "cloudevent",
) -> FunctionApp:
    """Build the functions-framework app for ``target`` in ``source`` (a fresh module each call)."""
    app = functions_framework.create_app(target, str(source), signature_type)
    # create_app registers the freshly executed module under the file's stem.
    module = sys.modules[Path(source).stem]
    return FunctionApp(app=app, client=app.test_client(), module=module)


def load_event(name: str) -> dict[str, Any]:
    """``tests/data/events/<name>.json`` (``.json`` optional)."""
    path = EVENTS_DIR / (name if name.endswith(".json") else f"{name}.json")
    data: dict[str, Any] = json.loads(path.read_text())
    return data


def pubsub_cloud_event(
    data: bytes | str | Mapping[str, Any],
    *,
    topic: str = "race-events",
    attributes: Mapping[str, str] | None = None,
    message_id: str = "1",
    publish_time: datetime | None = None,
    ordering_key: str | None = None,
    subscription: str = "eventarc-sub",
) -> dict[str, Any]:
    """A Pub/Sub ``messagePublished`` CloudEvent as Eventarc delivers it (structured, as a dict).

    ``data`` is the message payload: bytes as is, str UTF-8, a mapping as compact JSON.
    """
    if isinstance(data, Mapping):
        raw = json.dumps(data, separators=(",", ":")).encode()
    elif isinstance(data, str):
        raw = data.encode()
    else:
        raw = data
    when = (publish_time or datetime.now(UTC)).astimezone(UTC).isoformat(timespec="milliseconds")
    when = when.replace("+00:00", "Z")
    message: dict[str, Any] = {
        "data": base64.b64encode(raw).decode(),
        "attributes": dict(attributes or {}),
        "messageId": message_id,
        "message_id": message_id,
        "publishTime": when,
        "publish_time": when,
    }
    if ordering_key:
        message["orderingKey"] = ordering_key
    return {
        "specversion": "1.0",
        "type": PUBSUB_MESSAGE_PUBLISHED,
        "source": f"//pubsub.googleapis.com/projects/{TEST_PROJECT}/topics/{topic}",
        "id": message_id,
        "time": when,
        "datacontenttype": "application/json",
        "data": {"message": message, "subscription": f"projects/{TEST_PROJECT}/subscriptions/{subscription}"},
    }


def post_cloud_event(
    client: Any,
    event: Mapping[str, Any],
    *,
    mode: Literal["binary", "structured"] = "binary",
    path: str = "/",
) -> Any:
    """POST ``event`` (a structured CloudEvent dict) in the given content mode; returns the response."""
    attributes = {k: v for k, v in event.items() if k != "data"}
    ce = CloudEvent(attributes, event.get("data"))
    headers, body = to_binary(ce) if mode == "binary" else to_structured(ce)
    return client.post(path, headers=headers, data=body)


def message_data(cloud_event: Any) -> bytes:
    """The payload bytes of the Pub/Sub message inside a received ``messagePublished`` CloudEvent."""
    return base64.b64decode(cloud_event.data["message"]["data"])
