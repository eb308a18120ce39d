"""The channels notify sends on: webhooks and ops Slack (httpx), FCM (firebase-admin), and the
dead-letter topic for what keeps failing.

Each send raises on failure: :class:`~shared.errors.TransientError` (timeouts, connection errors,
5xx, 429) is retried by :func:`retrying` with exponential backoff (``Retry-After`` honoured, at
most :data:`MAX_WAIT_S`); :class:`~shared.errors.PermanentError` (other 4xx, a refused
destination) is not; :class:`InvalidTokenError` means FCM no longer knows the device token.

Webhook destinations are checked before each call (:func:`check_webhook_url`): ``https`` only and
no private, loopback, link-local or metadata addresses, unless ``env`` is ``local`` or ``test``
(the local sink listens on 127.0.0.1). Redirects are not followed.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import socket
import threading
import warnings
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol, TypeVar
from urllib.parse import urlsplit

import httpx
from tenacity import Retrying, retry_if_exception_type, stop_after_attempt
from tenacity.wait import wait_base

from shared.config import Settings
from shared.errors import BadRequestError, PermanentError, RateLimitedError, TransientError
from shared.gcp import topic_path
from shared.logs import count
from shared.notify.render import PushMessage
from shared.stores import notifications as ledger

if TYPE_CHECKING:
    from datetime import datetime

    from google.cloud import firestore
    from google.cloud.pubsub_v1 import PublisherClient

log = logging.getLogger(__name__)
T = TypeVar("T")
MAX_WAIT_S = 8.0
PUBLISH_TIMEOUT_S = 30.0
DEAD_LETTER_TOPIC = "notify-dead-letter"
_BLOCKED_HOSTS = {"localhost", "metadata", "metadata.google.internal"}


class InvalidTokenError(PermanentError):
    """FCM says the registration token is not (or no longer) valid: remove it."""


def private_ok(settings: Settings) -> bool:
    return settings.env in ("local", "test")


def check_webhook_url(url: str, *, allow_private: bool, resolve: bool = True) -> None:
    """``BadRequestError`` unless ``url`` may receive webhooks (see the module docstring)."""
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise BadRequestError(f"webhook URL must be http(s)://host/..., got {url[:80]!r}")
    if allow_private:
        return
    if parts.scheme != "https":
        raise BadRequestError("webhook URL must use https")
    host = parts.hostname.lower()
    if host in _BLOCKED_HOSTS or host.endswith((".internal", ".local", ".localhost")):
        raise BadRequestError(f"webhook host {host!r} is not public")
    try:
        addresses = [ipaddress.ip_address(host)]
    except ValueError:
        addresses = []
        if resolve:
            try:
                infos = socket.getaddrinfo(host, parts.port or 443, proto=socket.IPPROTO_TCP)
            except OSError as exc:
                raise TransientError(f"webhook host {host!r} does not resolve: {exc}") from exc
            addresses = [ipaddress.ip_address(info[4][0]) for info in infos]
    if any(not a.is_global for a in addresses):
        raise BadRequestError(f"webhook host {host!r} is not a public address")


def _raise_for_status(resp: httpx.Response, what: str) -> None:
    code = resp.status_code
    if 200 <= code < 300:
        return
    if code == 429:
        header = resp.headers.get("Retry-After", "")
        after = float(header) if header.replace(".", "", 1).isdigit() else None
        raise RateLimitedError(f"{what}: 429 rate limited", retry_after=after)
    if code >= 500 or code == 408:
        raise TransientError(f"{what}: HTTP {code}")
    raise PermanentError(f"{what}: HTTP {code}")


def post_json(
    http: httpx.Client, url: str, body: bytes, *, headers: dict[str, str], timeout_s: float, what: str
) -> None:
    """POST ``body`` once; raises as the module docstring says."""
    try:
        resp = http.post(
            url,
            content=body,
            headers={"Content-Type": "application/json", **headers},
            timeout=timeout_s,
            follow_redirects=False,
        )
    except (httpx.TimeoutException, httpx.TransportError) as exc:
        raise TransientError(f"{what}: {type(exc).__name__}: {exc}") from exc
    _raise_for_status(resp, what)


class _Wait(wait_base):
    def __init__(self, base_s: float) -> None:
        self.base_s = base_s

    def __call__(self, retry_state: Any) -> float:
        exc = retry_state.outcome.exception() if retry_state.outcome else None
        if isinstance(exc, RateLimitedError) and exc.retry_after is not None:
            return min(exc.retry_after, MAX_WAIT_S)
        return float(min(MAX_WAIT_S, self.base_s * 2 ** (retry_state.attempt_number - 1)))


def with_retries(settings: Settings, send: Callable[[], T], *, attempts: list[int]) -> T:
    """Run ``send`` with the per-channel retry policy; ``attempts`` gets the count appended."""
    retrying = Retrying(
        retry=retry_if_exception_type(TransientError),
        stop=stop_after_attempt(settings.notify_retry_attempts),
        wait=_Wait(settings.notify_retry_backoff_s),
        reraise=True,
    )
    for attempt in retrying:
        with attempt:
            attempts.append(attempt.retry_state.attempt_number)
            return send()
    raise AssertionError("unreachable: tenacity re-raises the last error")  # pragma: no cover


# --- FCM -------------------------------------------------------------------------------------------


class FcmSender(Protocol):
    def send(self, token: str, message: PushMessage) -> str:
        """Send one push to ``token``; returns FCM's message id (raises as documented above)."""
        ...


class FirebaseFcmSender:
    """FCM through firebase-admin, with the runtime's default credentials (its own app, built on
    first use)."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._app: Any = None
        self._lock = threading.Lock()

    def _get_app(self) -> Any:
        import firebase_admin

        with self._lock:
            if self._app is None:
                try:
                    self._app = firebase_admin.get_app("pitlane-notify")
                except ValueError:
                    self._app = firebase_admin.initialize_app(
                        options={"projectId": self._settings.project}, name="pitlane-notify"
                    )
            return self._app

    def send(self, token: str, message: PushMessage) -> str:
        from firebase_admin import exceptions, messaging

        with warnings.catch_warnings():
            # firebase-admin 7.7 deprecates registration tokens for installation ids (fid); FCM
            # still accepts tokens, which is what the apps register today.
            warnings.simplefilter("ignore", DeprecationWarning)
            msg = messaging.Message(
                token=token,
                notification=messaging.Notification(title=message.title, body=message.body),
                data=message.data,
                android=messaging.AndroidConfig(priority="high", ttl=message.ttl_s),
                apns=messaging.APNSConfig(headers={"apns-priority": "10"}),
            )
        try:
            return str(messaging.send(msg, app=self._get_app()))
        except (messaging.UnregisteredError, messaging.SenderIdMismatchError) as exc:
            raise InvalidTokenError(f"FCM: {exc}") from exc
        except exceptions.InvalidArgumentError as exc:
            if "registration token" in str(exc).lower():
                raise InvalidTokenError(f"FCM: {exc}") from exc
            raise PermanentError(f"FCM: {exc}") from exc
        except (
            exceptions.UnavailableError,
            exceptions.InternalError,
            exceptions.DeadlineExceededError,
            exceptions.ResourceExhaustedError,
            exceptions.UnknownError,
        ) as exc:
            raise TransientError(f"FCM: {type(exc).__name__}: {exc}") from exc
        except exceptions.FirebaseError as exc:
            raise PermanentError(f"FCM: {type(exc).__name__}: {exc}") from exc


class LocalFcmSender:
    """The local stack's stand-in for FCM, which has no emulator: logs what would be sent."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, PushMessage]] = []

    def send(self, token: str, message: PushMessage) -> str:
        self.sent.append((token, message))
        log.info("FCM (local, not sent): %s: %s", message.title, message.body)
        return f"local-{len(self.sent)}"


_senders: dict[str, FcmSender] = {}
_senders_lock = threading.Lock()


def fcm_sender(settings: Settings) -> FcmSender:
    """firebase-admin in a real project; :class:`LocalFcmSender` against the local emulators."""
    key = "local" if settings.uses_emulators and settings.env != "prod" else settings.project
    with _senders_lock:
        if key not in _senders:
            _senders[key] = LocalFcmSender() if key == "local" else FirebaseFcmSender(settings)
        return _senders[key]


# --- dead letters ----------------------------------------------------------------------------------


def give_up(
    *,
    db: firestore.Client,
    publisher: PublisherClient,
    settings: Settings,
    key: str,
    doc: dict[str, Any],
    error: Exception,
    attempts: int,
    topic: str = DEAD_LETTER_TOPIC,
    now: datetime,
) -> str:
    """A notification that failed for good: logged and counted, published on the dead-letter
    topic (``doc`` plus ``key``, ``state``, ``error``, ``attempts``, ``failed_utc``), and recorded in
    the ledger as ``failed`` (retries used up) or ``rejected`` (refused for good); returns the state."""
    state = "failed" if isinstance(error, TransientError) else "rejected"
    record = {**doc, "key": key, "state": state, "error": str(error)[:500], "attempts": attempts}
    record["failed_utc"] = now.isoformat()
    channel = str(doc.get("channel", ""))
    log.warning(
        "notification %s %s after %d attempts: %s",
        key,
        state,
        attempts,
        error,
        extra={"json_fields": {"dead_letter": 1, "key": key, "channel": channel}},
    )
    count("notifications_failed", channel=channel)
    dead_letter(record, publisher=publisher, settings=settings, topic=topic)
    ledger.finish(db, key, state=state, now=now, attempts=attempts, error=str(error)[:300])
    return state


def dead_letter(
    record: dict[str, Any], *, publisher: PublisherClient, settings: Settings, topic: str = DEAD_LETTER_TOPIC
) -> None:
    """Publish one failed notification (JSON ``record``) on the dead-letter topic; raises
    ``TransientError`` if Pub/Sub does not take it (the event is then redelivered)."""
    data = json.dumps(record, sort_keys=True, default=str).encode()
    try:
        publisher.publish(
            topic_path(settings, topic),
            data,
            key=str(record.get("key", "")),
            channel=str(record.get("channel", "")),
        ).result(timeout=PUBLISH_TIMEOUT_S)
    except Exception as exc:  # any publish failure is transient here
        raise TransientError(f"dead-lettering {record.get('key')}: {exc}") from exc
