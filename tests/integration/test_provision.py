"""``provision`` against the real Pub/Sub and Cloud Tasks emulators and the local scheduler service.

The emulators are this module's own (free ports, stopped afterwards), so provisioning starts from
an empty project and the second run can be checked to change nothing.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import httpx
import pytest
from google.pubsub_v1 import PublisherClient, SubscriberClient
from google.pubsub_v1.services.publisher.transports import PublisherGrpcTransport
from google.pubsub_v1.services.subscriber.transports import SubscriberGrpcTransport

from infra.local import emulators
from infra.manifest import Manifest, TopicTrigger, load_manifest
from infra.provision import ProvisionReport, provision
from shared.config import Settings, load_settings
from shared.gcp import tasks_client

PROJECT = "pitlane-test-provision"
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def local(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """Pub/Sub and Tasks emulators plus the local scheduler service, on free ports."""
    logs = tmp_path_factory.mktemp("provision-logs")
    started: list[emulators.Managed] = []
    try:
        started.append(emulators.start_pubsub(log_path=logs / "pubsub.log"))
        started.append(emulators.start_tasks(log_path=logs / "tasks.log"))
        pubsub, tasks = (f"127.0.0.1:{m.port}" for m in started)
        port = emulators.free_port()
        env = {"PATH": "/usr/bin:/bin", "GOOGLE_CLOUD_PROJECT": PROJECT, "PUBSUB_EMULATOR_HOST": pubsub}
        scheduler = emulators.spawn(
            "scheduler",
            [sys.executable, "-m", "infra.local.scheduler", "--port", str(port)],
            host="127.0.0.1",
            port=port,
            log_path=logs / "scheduler.log",
            env=env,
            cwd=ROOT,
        )
        started.append(scheduler)
        url = f"http://127.0.0.1:{port}"
        emulators.wait_http_ok(f"{url}/healthz", timeout=20, proc=scheduler.process, what="scheduler")
        yield {"pubsub": pubsub, "tasks": tasks, "scheduler": url}
    finally:
        for managed in reversed(started):
            managed.stop()


@pytest.fixture(scope="module")
def settings(local: dict[str, str]) -> Settings:
    return load_settings(
        GOOGLE_CLOUD_PROJECT=PROJECT,
        PUBSUB_EMULATOR_HOST=local["pubsub"],
        tasks_emulator_host=local["tasks"],
        scheduler_emulator_url=local["scheduler"],
        env="test",
    )


@pytest.fixture(scope="module")
def manifest() -> Manifest:
    return load_manifest()


@pytest.fixture(scope="module")
def clients(local: dict[str, str]) -> tuple[Any, Any]:
    host = local["pubsub"]
    return (
        PublisherClient(transport=PublisherGrpcTransport(channel=grpc.insecure_channel(host))),
        SubscriberClient(transport=SubscriberGrpcTransport(channel=grpc.insecure_channel(host))),
    )


# Every topic-triggered function of the manifest gets a push URL (nothing listens there).
URLS = {
    name: f"http://127.0.0.1:9/{name}"
    for name, fn in load_manifest().functions.items()
    if isinstance(fn.trigger, TopicTrigger)
}


@pytest.fixture(scope="module")
def first_run(manifest: Manifest, settings: Settings) -> ProvisionReport:
    return provision(manifest=manifest, settings=settings, function_urls=URLS)


def by_name(report: ProvisionReport) -> dict[tuple[str, str], str]:
    return {(c.kind, c.name): c.status for c in report.changes}


def test_first_run_creates_every_manifest_resource(first_run: ProvisionReport, manifest: Manifest) -> None:
    statuses = by_name(first_run)
    expected = {("topic", t) for t in manifest.topic_names}
    expected |= {("queue", q.name) for q in manifest.queues}
    expected |= {("scheduler-job", j.name) for j in manifest.scheduler}
    expected |= {("subscription", f"{t.dead_letter_topic}-sub") for t in manifest.topics if t.dead_letter}
    expected |= {("subscription", f"{t.name}-sub") for t in manifest.topics if t.pull_subscription}
    expected |= {("subscription", name) for name in URLS}
    assert "sync_schedule" in URLS
    assert set(statuses) == expected
    assert set(statuses.values()) == {"created"}
    assert first_run.changed


def test_topics_and_push_subscription_exist_with_dead_letter_policy(
    first_run: ProvisionReport, clients: tuple[Any, Any], manifest: Manifest
) -> None:
    publisher, subscriber = clients
    topics = {t.name.rsplit("/", 1)[-1] for t in publisher.list_topics(project=f"projects/{PROJECT}")}
    assert topics == set(manifest.topic_names)
    assert "race-events-dead-letter" in topics

    sub = subscriber.get_subscription(subscription=f"projects/{PROJECT}/subscriptions/sync_schedule")
    assert sub.topic == f"projects/{PROJECT}/topics/schedule-tick"
    assert sub.push_config.push_endpoint == URLS["sync_schedule"]
    assert sub.ack_deadline_seconds == 300  # the function's timeout_s
    # schedule-tick has no dead-letter topic in the manifest; the retry policy is there regardless.
    assert sub.dead_letter_policy.dead_letter_topic == ""
    assert (sub.retry_policy.minimum_backoff.seconds, sub.retry_policy.maximum_backoff.seconds) == (10, 600)

    dlq = subscriber.get_subscription(
        subscription=f"projects/{PROJECT}/subscriptions/race-events-dead-letter-sub"
    )
    assert dlq.topic == f"projects/{PROJECT}/topics/race-events-dead-letter"
    assert dlq.push_config.push_endpoint == ""  # pull, for inspection


def test_queues_exist_with_manifest_rates(
    first_run: ProvisionReport, settings: Settings, manifest: Manifest
) -> None:
    client = tasks_client(settings)
    parent = f"projects/{PROJECT}/locations/{settings.region}"
    queues = {q.name.rsplit("/", 1)[-1]: q for q in client.list_queues(parent=parent)}
    assert set(queues) == {q.name for q in manifest.queues}
    imports = queues["imports"]
    assert imports.rate_limits.max_dispatches_per_second == pytest.approx(
        next(q for q in manifest.queues if q.name == "imports").max_dispatches_per_second
    )
    assert imports.rate_limits.max_concurrent_dispatches == 2
    assert imports.retry_config.max_attempts == 10


def test_scheduler_job_registered_with_local_scheduler(
    first_run: ProvisionReport, local: dict[str, str]
) -> None:
    job = httpx.get(f"{local['scheduler']}/jobs/sync-schedule-hourly").json()
    assert job["schedule"] == "0 * * * *" and job["time_zone"] == "Etc/UTC"
    assert job["topic"] == "schedule-tick" and job["payload"] == {"reason": "hourly"}


def test_second_run_changes_nothing(
    first_run: ProvisionReport, manifest: Manifest, settings: Settings
) -> None:
    second = provision(manifest=manifest, settings=settings, function_urls=URLS)
    assert set(by_name(second).values()) == {"unchanged"}
    assert len(second.changes) == len(first_run.changes)
    assert not second.changed
    assert second.summary().startswith("nothing to change")


def test_dead_letter_policy_on_a_subscription_to_a_dead_letter_topic(
    first_run: ProvisionReport, manifest: Manifest, settings: Settings, clients: tuple[Any, Any]
) -> None:
    # A manifest where a function listens on race-events (which has a dead-letter topic).
    data = manifest.model_dump(exclude={"functions": {"api", "sync_schedule"}})
    data["functions"] = {"race_probe": {"trigger": {"type": "topic", "topic": "race-events"}}}
    extra = Manifest.model_validate(data)
    report = provision(
        manifest=extra, settings=settings, function_urls={"race_probe": "http://127.0.0.1:9/p"}
    )
    assert by_name(report)[("subscription", "race_probe")] == "created"
    sub = clients[1].get_subscription(subscription=f"projects/{PROJECT}/subscriptions/race_probe")
    assert sub.dead_letter_policy.dead_letter_topic == f"projects/{PROJECT}/topics/race-events-dead-letter"
    assert sub.dead_letter_policy.max_delivery_attempts == 5
    clients[1].delete_subscription(subscription=f"projects/{PROJECT}/subscriptions/race_probe")


def test_changed_push_url_is_updated_and_dry_run_writes_nothing(
    first_run: ProvisionReport, manifest: Manifest, settings: Settings, clients: tuple[Any, Any]
) -> None:
    moved = {"sync_schedule": "http://127.0.0.1:10/moved"}
    dry = provision(manifest=manifest, settings=settings, function_urls=moved, dry_run=True)
    assert by_name(dry)[("subscription", "sync_schedule")] == "updated"
    path = f"projects/{PROJECT}/subscriptions/sync_schedule"
    assert clients[1].get_subscription(subscription=path).push_config.push_endpoint == URLS["sync_schedule"]

    real = provision(manifest=manifest, settings=settings, function_urls=moved)
    assert by_name(real)[("subscription", "sync_schedule")] == "updated"
    assert clients[1].get_subscription(subscription=path).push_config.push_endpoint == moved["sync_schedule"]
    back = provision(manifest=manifest, settings=settings, function_urls=URLS)
    assert by_name(back)[("subscription", "sync_schedule")] == "updated"


def test_queue_update_the_emulator_ignores_is_reported(
    first_run: ProvisionReport, manifest: Manifest, settings: Settings
) -> None:
    data = manifest.model_dump()
    data["queues"][0]["max_attempts"] = 7
    report = provision(manifest=Manifest.model_validate(data), settings=settings, function_urls=URLS)
    change = next(c for c in report.changes if c.kind == "queue" and c.name == data["queues"][0]["name"])
    assert change.status == "unsupported" and "restart the stack" in change.detail


def test_missing_function_url_skips_its_subscription(manifest: Manifest, settings: Settings) -> None:
    report = provision(manifest=manifest, settings=settings, function_urls={}, dry_run=True)
    assert by_name(report)[("subscription", "sync_schedule")] == "skipped"


def test_local_project_without_emulators_is_refused(manifest: Manifest) -> None:
    from shared.errors import ConfigError

    bare = load_settings(
        GOOGLE_CLOUD_PROJECT="pitlane-local", PUBSUB_EMULATOR_HOST=None, tasks_emulator_host=None, env="test"
    )
    with pytest.raises(ConfigError, match="stack up"):
        provision(manifest=manifest, settings=bare)


def test_topic_names_are_project_scoped(clients: tuple[Any, Any]) -> None:
    assert list(clients[0].list_topics(project="projects/pitlane-other-project")) == []
