"""Google Cloud clients, built lazily from settings, once per process.

Nothing here runs at import time: a cold start that never touches Pub/Sub never pays for its
client. With ``FIRESTORE_EMULATOR_HOST`` / ``PUBSUB_EMULATOR_HOST`` / ``PITLANE_TASKS_EMULATOR_HOST``
set, the clients talk to the local emulators with anonymous credentials.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from shared.config import Settings

if TYPE_CHECKING:
    from google.cloud import firestore, tasks_v2
    from google.cloud.pubsub_v1 import PublisherClient, SubscriberClient

T = TypeVar("T")

_lock = threading.Lock()
_cache: dict[tuple[str, str, str | None], Any] = {}


def _cached(kind: str, settings: Settings, host: str | None, build: Callable[[], T]) -> T:
    key = (kind, settings.project, host)
    with _lock:
        if key not in _cache:
            _cache[key] = build()
        built: T = _cache[key]
        return built


def firestore_client(settings: Settings) -> firestore.Client:
    """A Firestore client for ``settings.project`` (the emulator when its host is set)."""

    def build() -> firestore.Client:
        from google.auth.credentials import AnonymousCredentials
        from google.cloud import firestore

        if settings.firestore_emulator_host:
            client = firestore.Client(project=settings.project, credentials=AnonymousCredentials())
            # The library reads the emulator host from the environment only, in its constructor;
            # its channel is built lazily from this attribute, so settings (e.g. the running local
            # stack's, for a shell that did not source stack.env) decide, as for Pub/Sub and Tasks.
            client._emulator_host = settings.firestore_emulator_host
            return client
        return firestore.Client(project=settings.project)

    return _cached("firestore", settings, settings.firestore_emulator_host, build)


def publisher_client(settings: Settings, *, ordering: bool = True) -> PublisherClient:
    """A Pub/Sub publisher; message ordering is on so events of one session stay in order."""

    def build() -> PublisherClient:
        from google.cloud.pubsub_v1 import PublisherClient, types

        options = types.PublisherOptions(enable_message_ordering=ordering)
        host = settings.pubsub_emulator_host
        if host:
            import grpc
            from google.pubsub_v1.services.publisher.transports import PublisherGrpcTransport

            # The emulator host comes from settings, not from the process environment.
            transport = PublisherGrpcTransport(channel=grpc.insecure_channel(host))
            return PublisherClient(publisher_options=options, transport=transport)
        return PublisherClient(publisher_options=options)

    return _cached(f"publisher:{ordering}", settings, settings.pubsub_emulator_host, build)


def subscriber_client(settings: Settings) -> SubscriberClient:
    def build() -> SubscriberClient:
        from google.cloud.pubsub_v1 import SubscriberClient

        host = settings.pubsub_emulator_host
        if host:
            import grpc
            from google.pubsub_v1.services.subscriber.transports import SubscriberGrpcTransport

            return SubscriberClient(transport=SubscriberGrpcTransport(channel=grpc.insecure_channel(host)))
        return SubscriberClient()

    return _cached("subscriber", settings, settings.pubsub_emulator_host, build)


def tasks_client(settings: Settings) -> tasks_v2.CloudTasksClient:
    """A Cloud Tasks client; against ``gcloud-tasks-emulator`` over an insecure gRPC channel."""

    def build() -> tasks_v2.CloudTasksClient:
        from google.cloud import tasks_v2

        if settings.tasks_emulator_host:
            import grpc
            from google.cloud.tasks_v2.services.cloud_tasks.transports import CloudTasksGrpcTransport

            channel = grpc.insecure_channel(settings.tasks_emulator_host)
            return tasks_v2.CloudTasksClient(transport=CloudTasksGrpcTransport(channel=channel))
        return tasks_v2.CloudTasksClient()

    return _cached("tasks", settings, settings.tasks_emulator_host, build)


def topic_path(settings: Settings, topic: str) -> str:
    return f"projects/{settings.project}/topics/{topic}"


def subscription_path(settings: Settings, subscription: str) -> str:
    return f"projects/{settings.project}/subscriptions/{subscription}"


def queue_path(settings: Settings, queue: str) -> str:
    return f"projects/{settings.project}/locations/{settings.region}/queues/{queue}"


def reset_clients() -> None:
    """Forget cached clients (tests that restart emulators on new ports call this)."""
    with _lock:
        _cache.clear()
