"""Create every Pub/Sub, Cloud Tasks and Cloud Scheduler resource the manifest names, idempotently.

Each resource is got-or-created and updated when it differs; the report says ``created``,
``updated`` or ``unchanged`` per resource, so a second run reports nothing to change. The same code
targets the local emulators (when their hosts are set in settings) and a real project (when not):

* Topics: every manifest topic and each ``<topic>-dead-letter``.
* Subscriptions. Locally, one push subscription per topic-triggered function, named after the
  function, pushing to its functions-framework URL, with the dead-letter policy (5 attempts) and a
  10 s..600 s retry backoff. In a real project Eventarc makes the function's subscription at deploy
  time, so only a pull subscription ``<topic>-dead-letter-sub`` per dead-letter topic is made here
  (locally too: dead-lettered messages on a topic without subscriptions would be lost), and
  ``<topic>-sub`` for a topic marked ``pull_subscription`` (a function's own dead letters).
* Cloud Tasks queues with their rate limits and max attempts, in ``settings.region``.
* Scheduler jobs: Cloud Scheduler (Pub/Sub target, JSON payload) in a real project; the local
  scheduler service (``infra/local/scheduler.py``) through its REST API locally.

Emulator limits found (``gcloud-tasks-emulator`` 0.6.2, the Cloud SDK Pub/Sub emulator):

* Tasks emulator ``GetQueue`` on a missing queue fails with UNKNOWN (a ``KeyError`` in the
  emulator), not NOT_FOUND: queues are looked up with ``ListQueues`` instead, on both targets.
* Tasks emulator ``UpdateQueue`` silently keeps the old settings (and the emulator enforces no rate
  at all): such a queue is reported ``unsupported`` with a hint to restart the stack.
* The Pub/Sub emulator stores and returns dead-letter and retry policies, applies
  ``UpdateSubscription``, and does dead-letter: after 5 delivery attempts (checked with nacks on a
  pull subscription) the message moves to the dead-letter topic with the
  ``CloudPubSubDeadLetterSource*`` attributes. ``UpdateTopic`` is not supported (topics carry
  nothing to update here). IAM is not emulated: in a real project the Pub/Sub service agent also
  needs publisher rights on the dead-letter topic (granted at deploy, not here).
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, Literal

from infra.manifest import Manifest, SchedulerJob, TopicTrigger
from shared.config import Settings
from shared.errors import ConfigError

Status = Literal["created", "updated", "unchanged", "unsupported", "skipped"]
CHANGES: tuple[Status, ...] = ("created", "updated")
MAX_DELIVERY_ATTEMPTS = 5
RETRY_MIN_BACKOFF_S = 10
RETRY_MAX_BACKOFF_S = 600
LOCAL_PROJECT = "pitlane-local"


@dataclass(frozen=True)
class Change:
    kind: str  # topic | subscription | queue | scheduler-job
    name: str
    status: Status
    detail: str = ""

    def line(self, *, dry_run: bool = False) -> str:
        status = f"would be {self.status}" if dry_run and self.status in CHANGES else self.status
        detail = f" ({self.detail})" if self.detail else ""
        return f"{self.kind:<14} {self.name:<36} {status}{detail}"


@dataclass
class ProvisionReport:
    target: str
    dry_run: bool = False
    changes: list[Change] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return any(c.status in CHANGES for c in self.changes)

    def count(self, status: Status) -> int:
        return sum(1 for c in self.changes if c.status == status)

    def summary(self) -> str:
        counts = ", ".join(
            f"{self.count(s)} {s}"
            for s in ("created", "updated", "unchanged", "unsupported", "skipped")
            if self.count(s)
        )
        head = "nothing to change" if not self.changed else ("dry run: " if self.dry_run else "") + "changes"
        return f"{head} on {self.target}: {counts or 'no resources'}"

    def lines(self) -> Iterator[str]:
        for change in self.changes:
            yield change.line(dry_run=self.dry_run)


def _insecure(host: str) -> Any:
    import grpc

    return grpc.insecure_channel(host)


def _pubsub_admin(settings: Settings) -> tuple[Any, Any]:
    """Publisher and subscriber admin clients built from settings alone.

    Not ``shared.gcp``'s clients: those find the emulator through ``PUBSUB_EMULATOR_HOST`` in the
    process environment, while provisioning must follow the settings it is given.
    """
    from google.pubsub_v1 import PublisherClient, SubscriberClient
    from google.pubsub_v1.services.publisher.transports import PublisherGrpcTransport
    from google.pubsub_v1.services.subscriber.transports import SubscriberGrpcTransport

    if settings.pubsub_emulator_host:
        host = settings.pubsub_emulator_host
        return (
            PublisherClient(transport=PublisherGrpcTransport(channel=_insecure(host))),
            SubscriberClient(transport=SubscriberGrpcTransport(channel=_insecure(host))),
        )
    return PublisherClient(), SubscriberClient()


def check_target(settings: Settings) -> None:
    """Refuse the half-local case: the local project id without the emulators behind it."""
    if settings.project == LOCAL_PROJECT and not (
        settings.pubsub_emulator_host and settings.tasks_emulator_host and settings.scheduler_emulator_url
    ):
        raise ConfigError(
            f"project {LOCAL_PROJECT} needs the local emulators: run `pitlane stack up` and "
            "`source .pitlane/stack.env`, or set GOOGLE_CLOUD_PROJECT to a real project"
        )


def provision(
    *,
    manifest: Manifest,
    settings: Settings,
    function_urls: dict[str, str] | None = None,
    dry_run: bool = False,
) -> ProvisionReport:
    """Make the project (or the emulators) match ``manifest``; see the module docstring."""
    check_target(settings)
    target = "the local emulators" if settings.pubsub_emulator_host else f"project {settings.project}"
    report = ProvisionReport(target=target, dry_run=dry_run)
    publisher, subscriber = _pubsub_admin(settings)
    report.changes += _topics(publisher, manifest, settings, dry_run)
    report.changes += _subscriptions(subscriber, manifest, settings, function_urls or {}, dry_run)
    report.changes += _queues(manifest, settings, dry_run)
    if settings.scheduler_emulator_url:
        report.changes += _local_jobs(manifest.scheduler, settings.scheduler_emulator_url, dry_run)
    else:
        report.changes += _cloud_jobs(manifest.scheduler, settings, dry_run)
    return report


# --- Pub/Sub -------------------------------------------------------------------------------------


def _topics(publisher: Any, manifest: Manifest, settings: Settings, dry_run: bool) -> Iterator[Change]:
    from google.api_core.exceptions import NotFound

    for name in manifest.topic_names:
        path = f"projects/{settings.project}/topics/{name}"
        try:
            publisher.get_topic(topic=path)
        except NotFound:
            if not dry_run:
                publisher.create_topic(name=path)
            yield Change("topic", name, "created")
            continue
        yield Change("topic", name, "unchanged")


@dataclass(frozen=True)
class _SubSpec:
    name: str
    topic: str
    push_endpoint: str = ""  # empty: a pull subscription
    ack_deadline_s: int = 60
    dead_letter_topic: str = ""
    retry: bool = False


def _subscription_specs(
    manifest: Manifest, settings: Settings, function_urls: dict[str, str]
) -> Iterator[_SubSpec | Change]:
    project = f"projects/{settings.project}/topics/"
    for topic in manifest.topics:
        if topic.dead_letter_topic:
            yield _SubSpec(f"{topic.dead_letter_topic}-sub", project + topic.dead_letter_topic)
        if topic.pull_subscription:
            yield _SubSpec(f"{topic.name}-sub", project + topic.name)
    if not settings.pubsub_emulator_host:
        return  # Eventarc makes the functions' subscriptions at deploy time.
    for fn in manifest.functions.values():
        if not isinstance(fn.trigger, TopicTrigger):
            continue
        url = function_urls.get(fn.name)
        if not url:
            yield Change("subscription", fn.name, "skipped", "no local URL for the function (stack not up?)")
            continue
        dlq = manifest.topic(fn.trigger.topic).dead_letter_topic
        yield _SubSpec(
            fn.name,
            project + fn.trigger.topic,
            push_endpoint=url,
            # Eventarc acks after the function returns; the deadline covers the function's timeout.
            ack_deadline_s=min(600, max(10, manifest.timeout_s(fn))),
            dead_letter_topic=project + dlq if dlq else "",
            retry=True,
        )


def _subscription_body(spec: _SubSpec, path: str) -> dict[str, Any]:
    from google.protobuf.duration_pb2 import Duration

    body: dict[str, Any] = {"name": path, "topic": spec.topic, "ack_deadline_seconds": spec.ack_deadline_s}
    body["push_config"] = {"push_endpoint": spec.push_endpoint} if spec.push_endpoint else {}
    if spec.dead_letter_topic:
        body["dead_letter_policy"] = {
            "dead_letter_topic": spec.dead_letter_topic,
            "max_delivery_attempts": MAX_DELIVERY_ATTEMPTS,
        }
    if spec.retry:
        body["retry_policy"] = {
            "minimum_backoff": Duration(seconds=RETRY_MIN_BACKOFF_S),
            "maximum_backoff": Duration(seconds=RETRY_MAX_BACKOFF_S),
        }
    return body


def _subscription_diff(spec: _SubSpec, sub: Any) -> list[str]:
    """The update-mask paths in which ``sub`` differs from ``spec``."""
    paths = []
    if sub.push_config.push_endpoint != spec.push_endpoint:
        paths.append("push_config")
    if sub.ack_deadline_seconds != spec.ack_deadline_s:
        paths.append("ack_deadline_seconds")
    dlp = sub.dead_letter_policy
    if (dlp.dead_letter_topic, dlp.max_delivery_attempts if dlp.dead_letter_topic else 0) != (
        spec.dead_letter_topic,
        MAX_DELIVERY_ATTEMPTS if spec.dead_letter_topic else 0,
    ):
        paths.append("dead_letter_policy")
    backoff = (sub.retry_policy.minimum_backoff.seconds, sub.retry_policy.maximum_backoff.seconds)
    if spec.retry and backoff != (RETRY_MIN_BACKOFF_S, RETRY_MAX_BACKOFF_S):
        paths.append("retry_policy")
    return paths


def _subscriptions(
    subscriber: Any, manifest: Manifest, settings: Settings, function_urls: dict[str, str], dry_run: bool
) -> Iterator[Change]:
    from google.api_core.exceptions import NotFound
    from google.protobuf.field_mask_pb2 import FieldMask

    for spec in _subscription_specs(manifest, settings, function_urls):
        if isinstance(spec, Change):
            yield spec
            continue
        path = f"projects/{settings.project}/subscriptions/{spec.name}"
        body = _subscription_body(spec, path)
        try:
            existing = subscriber.get_subscription(subscription=path)
        except NotFound:
            if not dry_run:
                subscriber.create_subscription(request=body)
            yield Change("subscription", spec.name, "created", spec.push_endpoint or "pull")
            continue
        if existing.topic != spec.topic:
            # A subscription's topic cannot change: delete and recreate it.
            if not dry_run:
                subscriber.delete_subscription(subscription=path)
                subscriber.create_subscription(request=body)
            yield Change("subscription", spec.name, "updated", f"recreated on {spec.topic}")
            continue
        paths = _subscription_diff(spec, existing)
        if not paths:
            yield Change("subscription", spec.name, "unchanged")
            continue
        if not dry_run:
            subscriber.update_subscription(
                request={"subscription": body, "update_mask": FieldMask(paths=paths)}
            )
        yield Change("subscription", spec.name, "updated", ", ".join(paths))


# --- Cloud Tasks ---------------------------------------------------------------------------------


_QUEUE_MASK = [
    "rate_limits.max_dispatches_per_second",
    "rate_limits.max_concurrent_dispatches",
    "retry_config.max_attempts",
]


def _queue_matches(queue: Any, want: Any) -> bool:
    have_rate, want_rate = queue.rate_limits, want.rate_limits
    return (
        math.isclose(have_rate.max_dispatches_per_second, want_rate.max_dispatches_per_second)
        and have_rate.max_concurrent_dispatches == want_rate.max_concurrent_dispatches
        and queue.retry_config.max_attempts == want.retry_config.max_attempts
    )


def _queues(manifest: Manifest, settings: Settings, dry_run: bool) -> Iterable[Change]:
    from google.cloud import tasks_v2

    from shared.gcp import tasks_client

    client = tasks_client(settings)
    parent = f"projects/{settings.project}/locations/{settings.region}"
    # ListQueues, not GetQueue: the emulator answers GetQueue on a missing queue with UNKNOWN.
    existing = {q.name: q for q in client.list_queues(parent=parent)}
    for queue in manifest.queues:
        path = f"{parent}/queues/{queue.name}"
        want = tasks_v2.Queue(
            name=path,
            rate_limits=tasks_v2.RateLimits(
                max_dispatches_per_second=queue.max_dispatches_per_second,
                max_concurrent_dispatches=queue.max_concurrent_dispatches,
            ),
            retry_config=tasks_v2.RetryConfig(max_attempts=queue.max_attempts),
        )
        if path not in existing:
            if not dry_run:
                client.create_queue(parent=parent, queue=want)
            yield Change("queue", queue.name, "created", _queue_detail(queue.max_dispatches_per_second))
        elif _queue_matches(existing[path], want):
            yield Change("queue", queue.name, "unchanged")
        elif dry_run:
            yield Change("queue", queue.name, "updated")
        else:
            from google.protobuf.field_mask_pb2 import FieldMask

            client.update_queue(queue=want, update_mask=FieldMask(paths=_QUEUE_MASK))
            if settings.tasks_emulator_host and not _queue_matches(client.get_queue(name=path), want):
                # gcloud-tasks-emulator 0.6.2 accepts UpdateQueue but keeps the old settings.
                yield Change(
                    "queue",
                    queue.name,
                    "unsupported",
                    "the Tasks emulator ignores queue updates; restart the stack to apply",
                )
            else:
                yield Change("queue", queue.name, "updated")


def _queue_detail(rate: float) -> str:
    return f"{rate:g} dispatches/s"


# --- Scheduler -----------------------------------------------------------------------------------


def _job_body(job: SchedulerJob) -> dict[str, Any]:
    return {
        "schedule": job.schedule,
        "time_zone": job.time_zone,
        "topic": job.topic,
        "payload": job.payload,
        "description": job.description,
    }


def _local_jobs(jobs: list[SchedulerJob], base_url: str, dry_run: bool) -> Iterator[Change]:
    """Register jobs with the local scheduler service (``infra/local/scheduler.py``)."""
    import httpx

    with httpx.Client(base_url=base_url.rstrip("/"), timeout=10) as http:
        for job in jobs:
            want = _job_body(job)
            resp = http.get(f"/jobs/{job.name}")
            if resp.status_code == 200:
                have = {key: resp.json().get(key) for key in want}
                if have == want:
                    yield Change("scheduler-job", job.name, "unchanged")
                    continue
                status: Status = "updated"
            elif resp.status_code == 404:
                status = "created"
            else:
                resp.raise_for_status()
            if not dry_run:
                http.put(f"/jobs/{job.name}", json=want).raise_for_status()
            yield Change("scheduler-job", job.name, status, f"{job.schedule} {job.time_zone} -> {job.topic}")


def _cloud_jobs(jobs: list[SchedulerJob], settings: Settings, dry_run: bool) -> Iterator[Change]:
    """Cloud Scheduler jobs with a Pub/Sub target carrying the payload as JSON."""
    if not jobs:
        return
    from google.api_core.exceptions import NotFound
    from google.cloud import scheduler_v1
    from google.protobuf.field_mask_pb2 import FieldMask

    client = scheduler_v1.CloudSchedulerClient()
    parent = f"projects/{settings.project}/locations/{settings.region}"
    for job in jobs:
        want = scheduler_v1.Job(
            name=f"{parent}/jobs/{job.name}",
            description=job.description,
            schedule=job.schedule,
            time_zone=job.time_zone,
            pubsub_target=scheduler_v1.PubsubTarget(
                topic_name=f"projects/{settings.project}/topics/{job.topic}",
                data=json.dumps(job.payload, sort_keys=True, separators=(",", ":")).encode(),
            ),
        )
        try:
            have = client.get_job(name=want.name)
        except NotFound:
            if not dry_run:
                client.create_job(parent=parent, job=want)
            yield Change("scheduler-job", job.name, "created")
            continue
        fields = ("description", "schedule", "time_zone", "pubsub_target")
        paths = [f for f in fields if getattr(have, f) != getattr(want, f)]
        if not paths:
            yield Change("scheduler-job", job.name, "unchanged")
            continue
        if not dry_run:
            client.update_job(job=want, update_mask=FieldMask(paths=paths))
        yield Change("scheduler-job", job.name, "updated", ", ".join(paths))
