"""What the notify integration tests share: settings for quick retries, the real webhook sink in
a thread, a dead-letter topic with a pull subscription, subscribers made through the service, and
Pub/Sub-style delivery of a message to an entry point (again on a non-2xx answer).

Firestore and Pub/Sub are the emulators (``firestore_db``, ``pubsub`` fixtures); webhooks are
real HTTP to :class:`infra.local.webhook_sink.WebhookSink`. Only FCM, which has no emulator and
cannot be reached from here, is a fake sender injected as a dependency.
"""

from __future__ import annotations

import base64
import contextlib
import os
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from infra.local.webhook_sink import WebhookSink
from shared import gcp
from shared.config import Settings, get_settings, load_settings
from shared.errors import TransientError
from shared.notify.render import PushMessage
from shared.services import notify as service
from shared.services import notify_delivery
from shared.services.subscriptions import SubscriptionCreate, create_subscription
from shared.sources.http import make_http_client
from tests.emulators import TEST_PROJECT, PubSubHelper
from tests.unit.test_notify_auth import trusted_public_pem

ROOT = Path(__file__).resolve().parents[2]
SECRET = "integration-webhook-secret"
RETRY_ATTEMPTS = 3


class FakeFcm:
    """FCM stand-in (FCM cannot be reached from tests): tokens in ``invalid`` are unknown to it,
    tokens in ``down`` fail transiently; every call is recorded."""

    def __init__(self, *, invalid: set[str] | None = None, down: set[str] | None = None) -> None:
        self.invalid, self.down = invalid or set(), down or set()
        self.calls: list[tuple[str, PushMessage]] = []

    def send(self, token: str, message: PushMessage) -> str:
        self.calls.append((token, message))
        if token in self.invalid:
            raise notify_delivery.InvalidTokenError("Requested entity was not found.")
        if token in self.down:
            raise TransientError("FCM: UnavailableError")
        return f"projects/{TEST_PROJECT}/messages/{len(self.calls)}"


@dataclass
class NotifyEnv:
    settings: Settings
    db: Any
    pubsub: PubSubHelper
    sink: WebhookSink
    dead_letter_topic: str  # topic id
    dead_letters: str  # pull subscription path
    http: httpx.Client
    fcm: FakeFcm = field(default_factory=FakeFcm)

    def deps(
        self, *, clock: Any = None, queue: str = "reminders", fcm: FakeFcm | None = None
    ) -> service.NotifyDeps:
        options = service.NotifyOptions(queue=queue, dead_letter_topic=self.dead_letter_topic, busy_wait_s=5)
        return service.NotifyDeps(
            db=self.db,
            http=self.http,
            settings=self.settings,
            publisher=self.pubsub.publisher,
            fcm=fcm or self.fcm,
            options=options,
            clock=clock or (lambda: datetime.now(UTC)),
        )

    def subscribe(self, uid: str, topics: list[str], *, path: str | None = None, **body: Any) -> str:
        """A subscription of ``uid`` through the API's service; a webhook to the sink at ``path``."""
        channels = body.pop("channels", None) or [
            {"type": "webhook", "url": f"{self.sink.url}{path or '/' + uid}", "secret": SECRET}
        ]
        req = SubscriptionCreate.model_validate({"topics": topics, "channels": channels, **body})
        return create_subscription(db=self.db, uid=uid, body=req, settings=self.settings).id

    def dead_lettered(self, expected: int) -> list[Any]:
        return self.pubsub.pull_all(self.dead_letters, timeout=10, expected=expected)


def notify_settings(**extra: str) -> Settings:
    """Quick retries and the test key, in the environment too (entry points load settings)."""
    os.environ.update(
        {
            "PITLANE_NOTIFY_RETRY_ATTEMPTS": str(RETRY_ATTEMPTS),
            "PITLANE_NOTIFY_RETRY_BACKOFF_S": "0.2",
            "PITLANE_NOTIFY_WEBHOOK_TIMEOUT_S": "3",
            "PITLANE_AUTH_TEST_PUBLIC_KEY": trusted_public_pem(),
            **extra,
        }
    )
    get_settings.cache_clear()
    return load_settings()


@pytest.fixture
def sink() -> Iterator[WebhookSink]:
    with WebhookSink(secret=SECRET) as running:
        yield running


@pytest.fixture
def notify_env(firestore_db: Any, pubsub: PubSubHelper, sink: WebhookSink) -> Iterator[NotifyEnv]:
    settings = notify_settings(PITLANE_SLACK_WEBHOOK_URL=f"{sink.url}/slack")
    topic = pubsub.make_topic("notify-dead-letter")
    with make_http_client(settings) as http:
        yield NotifyEnv(
            settings=settings,
            db=firestore_db,
            pubsub=pubsub,
            sink=sink,
            dead_letter_topic=topic.rsplit("/", 1)[1],
            dead_letters=pubsub.make_pull_subscription(topic, ordering=False),
            http=http,
        )


def ensure_topic(pubsub: PubSubHelper, settings: Settings, name: str) -> str:
    """The topic ``name`` itself (entry points publish to fixed names), deleted at teardown."""
    from google.api_core.exceptions import AlreadyExists

    path = gcp.topic_path(settings, name)
    with contextlib.suppress(AlreadyExists):  # the emulator lives for the whole session
        pubsub.publisher.create_topic(name=path)
    pubsub._topics.append(path)
    return path


def push_body(message: Any, *, subscription: str = "notify-test") -> dict[str, Any]:
    """What a Pub/Sub push subscription POSTs for ``message`` (a pulled PubsubMessage)."""
    return {
        "message": {
            "data": base64.b64encode(message.data).decode(),
            "attributes": dict(message.attributes),
            "messageId": message.message_id,
            "publishTime": message.publish_time.isoformat().replace("+00:00", "Z"),
        },
        "subscription": f"projects/{TEST_PROJECT}/subscriptions/{subscription}",
    }


def deliver(app: Any, topic: str, message: Any, *, copies: int = 3, max_tries: int = 30) -> list[int]:
    """Push ``message`` to the functions-framework ``app`` ``copies`` times at once, each copy
    again (as Pub/Sub does) until it is answered 2xx; returns the status codes seen."""
    path = f"/projects/{TEST_PROJECT}/topics/{topic}"
    body = push_body(message)

    def one(_: int) -> list[int]:
        client, seen = app.test_client(), []
        for _try in range(max_tries):
            status = client.post(path, json=body).status_code
            seen.append(status)
            if 200 <= status < 300:
                return seen
        raise AssertionError(f"message {message.message_id} never acknowledged: {seen}")

    if copies == 1:
        return one(0)
    with ThreadPoolExecutor(max_workers=copies) as pool:
        return [s for statuses in pool.map(one, range(copies)) for s in statuses]
