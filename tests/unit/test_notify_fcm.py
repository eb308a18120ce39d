"""FCM through firebase-admin: the message notify builds, and how FCM's answers map to retry,
give up, or remove the token. FCM cannot be reached from tests: ``messaging.send`` is replaced by
a recorder that answers as FCM's documented errors do."""

from __future__ import annotations

from typing import Any

import pytest
from firebase_admin import exceptions, messaging

from shared.config import load_settings
from shared.errors import PermanentError, TransientError
from shared.notify.render import PushMessage
from shared.services.notify_delivery import FirebaseFcmSender, InvalidTokenError, LocalFcmSender, fcm_sender

PUSH = PushMessage("Safety Car", "Azerbaijan Grand Prix, Race: Safety Car deployed.", {"topic": "sc"}, 900)


@pytest.fixture
def sender() -> FirebaseFcmSender:
    return FirebaseFcmSender(load_settings(GOOGLE_CLOUD_PROJECT="pitlane-test", env="test"))


def test_the_message_sent(sender: FirebaseFcmSender, monkeypatch: pytest.MonkeyPatch) -> None:
    sent: list[Any] = []

    def send(message: messaging.Message, app: Any = None) -> str:
        sent.append((message, app))
        return "projects/pitlane-test/messages/1"

    monkeypatch.setattr(messaging, "send", send)
    assert sender.send("device-token", PUSH) == "projects/pitlane-test/messages/1"
    ((message, app),) = sent
    assert (message.token, message.notification.title, message.data) == (
        "device-token",
        "Safety Car",
        {"topic": "sc"},
    )
    assert message.android.priority == "high" and message.android.ttl == 900
    assert app.project_id == "pitlane-test"
    assert sender._get_app() is app  # one app per process


@pytest.mark.parametrize(
    ("error", "raised"),
    [
        (messaging.UnregisteredError("Requested entity was not found."), InvalidTokenError),
        (messaging.SenderIdMismatchError("SenderId mismatch"), InvalidTokenError),
        (
            exceptions.InvalidArgumentError("The registration token is not a valid FCM registration token"),
            InvalidTokenError,
        ),
        (exceptions.InvalidArgumentError("Invalid JSON payload"), PermanentError),
        (exceptions.UnavailableError("FCM is down"), TransientError),
        (messaging.QuotaExceededError("quota"), TransientError),
        (exceptions.PermissionDeniedError("no"), PermanentError),
    ],
)
def test_fcm_errors_map_to_the_retry_policy(
    sender: FirebaseFcmSender, monkeypatch: pytest.MonkeyPatch, error: Exception, raised: type[Exception]
) -> None:
    def send(message: Any, app: Any = None) -> str:
        raise error

    monkeypatch.setattr(messaging, "send", send)
    with pytest.raises(raised):
        sender.send("device-token", PUSH)


def test_the_local_stack_logs_pushes_instead() -> None:
    local = fcm_sender(
        load_settings(GOOGLE_CLOUD_PROJECT="pitlane-local", FIRESTORE_EMULATOR_HOST="127.0.0.1:1")
    )
    assert isinstance(local, LocalFcmSender)
    assert local.send("t", PUSH).startswith("local-") and local.sent[-1] == ("t", PUSH)
    real = fcm_sender(load_settings(GOOGLE_CLOUD_PROJECT="pitlane-staging-x", env="staging"))
    assert isinstance(real, FirebaseFcmSender)
