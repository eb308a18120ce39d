"""Channels on the emulators and the real webhook sink: signatures (acceptance 4), a failing
webhook retried then dead-lettered without delaying the others (acceptance 5), FCM tokens
reported invalid removed, import failures to ops Slack once, reminder tasks."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import functions_framework

from infra.local.webhook_sink import WebhookSink
from shared import gcp
from shared.notify.render import ImportSummary
from shared.notify.signing import SignatureError, verify
from shared.services import notify as service
from shared.services.notify_ops import on_import_summary
from shared.stores import subscriptions as subs_store
from shared.stores.notifications import LEDGER, delivery_key
from shared.stores.session_store import session_path
from shared.timing.models import EventKind, RaceEvent
from tests.emulators import serve_wsgi
from tests.integration.notify_fixture import (
    RETRY_ATTEMPTS,
    ROOT,
    SECRET,
    FakeFcm,
    NotifyEnv,
    notify_env,
    notify_settings,
    sink,
)

__all__ = ["notify_env", "sink"]  # fixtures used below

SID = "2024_singapore_grand_prix_r"
T = datetime(2024, 9, 22, 12, 40, tzinfo=UTC)


def sc_event(n: int = 1, *, session_id: str = SID) -> RaceEvent:
    return RaceEvent.make(
        session_id, EventKind.TRACK_STATUS, f"sc_{n}", T + timedelta(minutes=20 * n), status="sc"
    )


def ledger_states(env: NotifyEnv) -> dict[str, str]:
    return {d.id: d.to_dict()["state"] for d in env.db.collection(LEDGER).stream()}


def test_signature_verifies_with_the_recipe_and_fails_with_a_wrong_secret(notify_env: NotifyEnv) -> None:
    env = notify_env
    with WebhookSink(secret="not-the-subscribers-secret") as other:
        env.subscribe("alice", ["sc"])
        env.subscribe(
            "bob", ["sc"], channels=[{"type": "webhook", "url": f"{other.url}/bob", "secret": SECRET}]
        )
        report = service.on_race_event(sc_event(), env.deps())
        assert report.sent == 2
        (mine,) = env.sink.received("/alice")
        (theirs,) = other.received("/bob")
    assert mine.signature == "ok"
    assert theirs.signature == "bad: signature mismatch (wrong secret, or the body was changed)"
    stamp, signature = mine.headers["x-pitlane-timestamp"], mine.headers["x-pitlane-signature"]
    verify(SECRET, mine.body, timestamp=stamp, signature_header=signature, now=mine.received_at)
    try:
        verify(
            "a-wrong-secret-of-16+",
            mine.body,
            timestamp=stamp,
            signature_header=signature,
            now=mine.received_at,
        )
    except SignatureError as exc:
        assert "mismatch" in str(exc)
    else:
        raise AssertionError("a wrong secret verified")
    assert mine.headers["x-pitlane-event"] == "sc"
    assert mine.headers["x-pitlane-delivery"] == mine.json()["delivery_id"]


def test_failing_webhook_is_retried_then_dead_lettered_without_delaying_others(notify_env: NotifyEnv) -> None:
    env = notify_env
    failing = env.subscribe("frank", ["sc"], path="/fail/500/frank")
    env.subscribe("grace", ["sc"])
    env.subscribe("heidi", ["sc", "vsc"])
    report = service.on_race_event(sc_event(), env.deps())
    assert (report.sent, report.failed) == (2, 1)

    tries = env.sink.received("/fail/500/frank")
    assert len(tries) == RETRY_ATTEMPTS
    assert len({r.headers["x-pitlane-delivery"] for r in tries}) == 1  # one notification, retried
    others = env.sink.received("/grace") + env.sink.received("/heidi")
    assert len(others) == 2
    # Served while frank's retries were still going (each retry waits for a backoff first).
    assert max(r.received_at for r in others) < tries[-1].received_at

    (dead,) = env.dead_lettered(1)
    record = json.loads(dead.data)
    key = delivery_key(f"{SID}:sc:1", "frank", record["channel_id"])
    assert (record["key"], record["subscription_id"], record["state"]) == (key, failing, "failed")
    assert record["attempts"] == RETRY_ATTEMPTS and "HTTP 500" in record["error"]
    assert record["destination"].endswith("/fail/500/frank")
    assert sorted(ledger_states(env).values()) == ["failed", "sent", "sent"]

    # Pub/Sub delivers the event again: nobody hears twice, the dead one is not retried.
    again = service.on_race_event(sc_event(), env.deps())
    assert (again.sent, again.failed, again.duplicate) == (0, 0, 3)
    assert len(env.sink.received("/fail/500/frank")) == RETRY_ATTEMPTS
    assert len(env.sink.received("/grace")) == 1


def test_invalid_fcm_token_is_removed_and_transient_fcm_failures_retried(notify_env: NotifyEnv) -> None:
    env = notify_env
    fcm = FakeFcm(invalid={"dead-token"}, down={"flaky-token"})
    channels = [{"type": "fcm", "token": t} for t in ("live-token", "dead-token", "flaky-token")]
    sub_id = env.subscribe("ivan", ["sc"], channels=channels)
    report = service.on_race_event(sc_event(), env.deps(fcm=fcm))
    assert (report.sent, report.invalid, report.failed) == (1, 1, 1)
    tokens = [t for t, _ in fcm.calls]
    assert sorted(set(tokens)) == ["dead-token", "flaky-token", "live-token"]
    assert tokens.count("flaky-token") == RETRY_ATTEMPTS and tokens.count("dead-token") == 1
    message = next(m for t, m in fcm.calls if t == "live-token")
    assert message.title == "Safety Car" and message.data["topic"] == "sc"
    stored = subs_store.get(env.db, "ivan", sub_id)
    assert stored is not None
    assert [getattr(c, "token", None) for c in stored.channels] == ["live-token", "flaky-token"]
    assert len(env.dead_lettered(1)) == 1


def test_import_failures_reach_ops_slack_once(notify_env: NotifyEnv) -> None:
    env = notify_env
    deps = {"db": env.db, "http": env.http, "settings": env.settings, "publisher": env.pubsub.publisher}
    summary = ImportSummary.model_validate(
        {"run_id": "run-7", "season": 2023, "processed": 4, "succeeded": 2, "partial": 1, "failed": 1}
    )
    reports = [on_import_summary(summary, **deps) for _ in range(3)]  # delivered three times
    assert [r.sent for r in reports] == [True, False, False]
    (posted,) = env.sink.received("/slack")
    assert posted.json()["text"].startswith(":warning: *Gap import 2023*: 1 failed, 1 partial of 4 processed")
    fine = ImportSummary.model_validate({"run_id": "run-8", "processed": 4, "succeeded": 4})
    assert on_import_summary(fine, **deps).sent  # every run is summarised, once
    assert len(env.sink.received("/slack")) == 2
    assert env.sink.received("/slack")[1].json()["text"].startswith(":white_check_mark:")


def _session_doc(start: datetime, **kw: Any) -> dict[str, Any]:
    return {
        "session_id": SID,
        "meeting_id": "2024_singapore_grand_prix",
        "name": "Race",
        "code": "r",
        "start_utc": start,
        "published": True,
        "cancelled": False,
        **kw,
    }


def test_reminders_at_each_subscribers_lead(notify_env: NotifyEnv, tasks_queue: str) -> None:
    """The sync's reminder task (at the longest lead) sends the 120-minute subscriber now and holds
    the 30-minute one in Cloud Tasks; that task, run twice by hand and once by the emulator
    (dispatching to the real ``notify`` function), sends it once."""
    env = notify_env
    queue = tasks_queue.rsplit("/", 1)[1]
    start = datetime(2024, 9, 22, 12, tzinfo=UTC)
    env.db.document(session_path(SID)).set(_session_doc(start))
    env.subscribe("early", ["reminder"], reminder_lead_min=120, time_zone="Asia/Singapore")
    env.subscribe("late", ["reminder"], reminder_lead_min=30)
    env.subscribe("other", ["reminder"], filters={"meetings": ["2024_italian_grand_prix"]})
    app = functions_framework.create_app("notify", str(ROOT / "functions/notify.py"), "http")
    with serve_wsgi(app) as url:
        env.settings = notify_settings(PITLANE_FUNCTION_URLS=json.dumps({"notify": url}))
        tasks = gcp.tasks_client(env.settings)
        tasks.pause_queue(name=tasks_queue)
        task = service.ReminderTask(kind="reminder", session_id=SID, start_utc=start)
        fired = lambda: start - timedelta(minutes=120)  # noqa: E731 - when the sync's task fires
        report = service.on_task(task, env.deps(clock=fired, queue=queue))
        assert (report.sent, report.held, report.subscriptions) == (1, 1, 2)
        (early,) = env.sink.received("/early")
        assert early.json()["title"] == "Race starts in 2 h"
        assert early.json()["body"] == "Singapore Grand Prix, Race: Sun 22 Sep 20:00 +08."

        (held,) = _tasks(tasks, tasks_queue)
        assert held.schedule_time.timestamp() == (start - timedelta(minutes=30)).timestamp()
        due = service.DeliverTask.model_validate_json(held.http_request.body)
        assert due.uid == "late"
        at_due = lambda: start - timedelta(minutes=30)  # noqa: E731
        runs = [service.on_task(due, env.deps(clock=at_due, queue=queue)) for _ in range(2)]
        assert [(r.sent, r.duplicate) for r in runs] == [(1, 0), (0, 1)]
        tasks.resume_queue(name=tasks_queue)  # the emulator runs it a third time, through notify
        _wait_until_empty(tasks, tasks_queue)
        # The sync's reminder task delivered again: nobody hears twice.
        again = service.on_task(task, env.deps(clock=fired, queue=queue))
        assert (again.sent, again.held, again.duplicate) == (0, 0, 2)

    (late,) = env.sink.received("/late")
    assert late.json()["title"] == "Race starts in 30 min"
    assert env.sink.received("/other") == []
    # A reminder for a start that moved since is stale: nothing is sent.
    moved = service.ReminderTask(kind="reminder", session_id=SID, start_utc=start - timedelta(hours=1))
    assert service.on_task(moved, env.deps(clock=fired, queue=queue)).detail.startswith("stale reminder")
    assert len(env.sink.received("/")) == 2


def _tasks(client: Any, queue: str) -> list[Any]:
    from google.cloud import tasks_v2

    return list(client.list_tasks(request={"parent": queue, "response_view": tasks_v2.Task.View.FULL}))


def _wait_until_empty(client: Any, queue: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while _tasks(client, queue):
        assert time.monotonic() < deadline, "the held task was not dispatched"
        time.sleep(0.1)
