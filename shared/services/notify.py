"""Notify: from what happened to each subscriber's channels, once.

Entry points (``functions/notify*.py``) call one of (import-events: ``shared.services.notify_ops``):

* :func:`on_race_event` (``race-events``): Safety Car, VSC, red flag, delays, results;
* :func:`on_schedule_change` (``schedule-events``): moved, cancelled, reinstated, added, removed;
* :func:`on_task` (Cloud Tasks queue ``reminders``, function ``notify``): a session reminder
  planned by the schedule sync (``{"kind": "reminder", "session_id", "start_utc"}``), or a
  delivery held back by quiet hours or a reminder lead (``{"kind": "deliver", ...}``).

:func:`fan_out` finds the subscriptions naming one of the occurrence's topics (one Firestore
query), keeps those whose filters match, and handles every (subscriber, channel) in a thread pool,
so a slow or failing webhook does not hold up the others. Each one: decide (send, hold, drop;
``shared.notify.matching``), claim it in the ledger (``shared.stores.notifications``), send with
per-channel retries and backoff, record the outcome. What still fails after the retries is
published on ``notify-dead-letter`` and recorded ``failed``; an FCM token reported invalid is
removed from its subscription. A notification another instance is sending right now (a duplicate
delivery racing this one) is waited for a few seconds; if it is still in flight,
``TransientError`` is raised at the end, after every other channel was served, so Pub/Sub
delivers the event again and the next run finds it settled.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Annotated, Any, Literal

import httpx
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, RootModel

from shared.config import Settings
from shared.errors import PermanentError, TransientError
from shared.logs import count
from shared.models.schedule import ScheduleChange
from shared.notify.matching import decide, matches
from shared.notify.model import FcmChannel, Subscription, WebhookChannel, channel_id
from shared.notify.occurrences import (
    Occurrence,
    classify_race_event,
    race_occurrence,
    reminder_occurrence,
    schedule_occurrence,
    session_context,
)
from shared.notify.render import push_message, render, webhook_body
from shared.notify.signing import DELIVERY_HEADER, EVENT_HEADER, signature_headers
from shared.services import notify_delivery as channels
from shared.stores import notifications as ledger
from shared.stores import subscriptions as subs_store
from shared.stores.session_store import SESSIONS
from shared.tasks import enqueue_http, task_name
from shared.timing.models import RaceEvent

if TYPE_CHECKING:
    from google.cloud import firestore
    from google.cloud.pubsub_v1 import PublisherClient

log = logging.getLogger(__name__)


class NotifyOptions(BaseModel):
    """Where held deliveries go, and the timing of incidents and claims (seconds)."""

    queue: str = "reminders"
    function: str = "notify"
    dead_letter_topic: str = channels.DEAD_LETTER_TOPIC
    incident_window_s: float = 120.0  # signals of one SC/VSC/red-flag deployment are this close
    lease_s: float = 90.0  # a claim older than this was abandoned (longer than any send with retries)
    busy_wait_s: float = 8.0  # how long to wait for a claim another instance holds
    max_workers: int = Field(default=16, ge=1, le=64)


def _utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass
class NotifyDeps:
    db: firestore.Client
    http: httpx.Client
    settings: Settings
    publisher: PublisherClient
    fcm: channels.FcmSender
    options: NotifyOptions = field(default_factory=NotifyOptions)
    clock: Callable[[], datetime] = _utcnow


class NotifyReport(BaseModel):
    """What one call did, per channel delivery considered."""

    occurrence_id: str | None = None
    subscriptions: int = 0
    sent: int = 0
    held: int = 0
    dropped: int = 0
    failed: int = 0
    invalid: int = 0
    duplicate: int = 0
    busy: int = 0
    detail: str = ""


class ReminderTask(BaseModel):
    model_config = ConfigDict(extra="ignore")
    kind: Literal["reminder"]
    session_id: str
    start_utc: AwareDatetime


class DeliverTask(BaseModel):
    kind: Literal["deliver"] = "deliver"
    key: str
    uid: str
    subscription_id: str
    channel_id: str
    not_before: AwareDatetime
    occurrence: Occurrence


class NotifyTask(RootModel[Annotated[ReminderTask | DeliverTask, Field(discriminator="kind")]]):
    """A ``notify`` Cloud Task body."""


# --- sources ---------------------------------------------------------------------------------------


def _session_doc(db: firestore.Client, session_id: str) -> dict[str, Any] | None:
    snap = db.collection(SESSIONS).document(session_id).get()
    return snap.to_dict() if snap.exists else None


def on_race_event(event: RaceEvent, deps: NotifyDeps) -> NotifyReport:
    signal = classify_race_event(event)
    if signal is None:
        return NotifyReport(detail=f"{event.kind.value}: notifies nobody")
    n = None
    if signal.incident:
        n = ledger.resolve_incident(
            deps.db,
            session_id=event.session_id,
            topic=signal.topic.value,
            signal_id=event.event_id,
            utc=signal.utc,
            window=timedelta(seconds=deps.options.incident_window_s),
        )
    ctx = session_context(event.session_id, _session_doc(deps.db, event.session_id))
    return fan_out(race_occurrence(signal, ctx, incident_n=n), deps)


def on_schedule_change(change: ScheduleChange, deps: NotifyDeps) -> NotifyReport:
    return fan_out(schedule_occurrence(change), deps)


def on_task(task: ReminderTask | DeliverTask, deps: NotifyDeps) -> NotifyReport:
    if isinstance(task, DeliverTask):
        return _deliver_held(task, deps)
    doc = _session_doc(deps.db, task.session_id)
    start = doc.get("start_utc") if doc else None
    if doc is None or doc.get("cancelled") or not doc.get("published", True) or start != task.start_utc:
        # The session moved (the sync planned a new task for the new start), was cancelled or is gone.
        return NotifyReport(detail=f"stale reminder for {task.session_id} at {task.start_utc.isoformat()}")
    occ = reminder_occurrence(session_context(task.session_id, doc), starts_utc=task.start_utc)
    return fan_out(occ, deps)


# --- fan-out ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Job:
    sub: Subscription
    channel: WebhookChannel | FcmChannel
    channel_id: str
    key: str


def fan_out(occ: Occurrence, deps: NotifyDeps) -> NotifyReport:
    """Deliver ``occ`` to every matching subscriber's channels (see the module docstring)."""
    subs = [s for s in subs_store.with_topics(deps.db, occ.topics) if matches(s, occ)]
    jobs: dict[str, _Job] = {}
    for sub in subs:
        for ch in sub.channels:
            cid = channel_id(ch)
            key = ledger.delivery_key(occ.occurrence_id, sub.uid, cid)
            jobs.setdefault(key, _Job(sub, ch, cid, key))  # one per subscriber and destination
    outcomes: Counter[str] = Counter()
    if jobs:
        workers = min(deps.options.max_workers, len(jobs))
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="notify") as pool:
            for outcome in pool.map(lambda job: _run_job(job, occ, deps), jobs.values()):
                outcomes[outcome] += 1
    report = NotifyReport.model_validate(
        {"occurrence_id": occ.occurrence_id, "subscriptions": len(subs), **outcomes}
    )
    log.info(
        "notify %s: %d sent, %d held, %d dropped, %d failed, %d duplicate",
        occ.occurrence_id,
        report.sent,
        report.held,
        report.dropped,
        report.failed,
        report.duplicate,
        extra={"json_fields": {"notify": report.model_dump()}},
    )
    if report.busy:
        raise TransientError(f"{occ.occurrence_id}: {report.busy} notifications still in flight elsewhere")
    return report


def _ledger_doc(occ: Occurrence, job: _Job) -> dict[str, Any]:
    return {
        "occurrence_id": occ.occurrence_id,
        "topic": occ.topic.value,
        "uid": job.sub.uid,
        "subscription_id": job.sub.id,
        "channel": job.channel.type,
        "channel_id": job.channel_id,
    }


def _run_job(job: _Job, occ: Occurrence, deps: NotifyDeps) -> str:
    now = deps.clock()
    decision = decide(job.sub, occ, now)
    doc = _ledger_doc(occ, job)
    if decision.action == "drop":
        fresh = ledger.record(deps.db, job.key, {**doc, "reason": decision.reason}, state="dropped", now=now)
        return "dropped" if fresh else "duplicate"
    if decision.action == "hold" and decision.not_before is not None:
        return _hold(job, occ, deps, doc=doc, when=decision.not_before, now=now)
    lease = timedelta(seconds=deps.options.lease_s)
    outcome, _ = ledger.claim(deps.db, job.key, doc, now=now, lease=lease)
    if outcome is ledger.Claim.BUSY:
        return _wait_for_other(job.key, deps)
    if outcome is ledger.Claim.DONE:
        return "duplicate"
    return _send(job, occ, deps, doc)


def _hold(
    job: _Job, occ: Occurrence, deps: NotifyDeps, *, doc: dict[str, Any], when: datetime, now: datetime
) -> str:
    if not ledger.record(deps.db, job.key, {**doc, "not_before": when}, state="held", now=now):
        return "duplicate"
    task = DeliverTask(
        key=job.key,
        uid=job.sub.uid,
        subscription_id=job.sub.id,
        channel_id=job.channel_id,
        not_before=when,
        occurrence=occ,
    )
    try:
        enqueue_http(
            deps.settings,
            queue=deps.options.queue,
            function=deps.options.function,
            body=task.model_dump(mode="json"),
            name=task_name("deliver", job.key, int(when.timestamp())),
            schedule_time=when,
        )
    except Exception:
        ledger.release(deps.db, job.key)  # a redelivery holds it again
        raise
    return "held"


def _wait_for_other(key: str, deps: NotifyDeps) -> str:
    deadline = time.monotonic() + deps.options.busy_wait_s
    while time.monotonic() < deadline:
        time.sleep(0.1)
        if ledger.state_of(deps.db, key) != "sending":
            return "duplicate"
    return "busy"


def _deliver_held(task: DeliverTask, deps: NotifyDeps) -> NotifyReport:
    report = NotifyReport(occurrence_id=task.occurrence.occurrence_id)
    now = deps.clock()
    sub = subs_store.get(deps.db, task.uid, task.subscription_id)
    ch = next((c for c in sub.channels if channel_id(c) == task.channel_id), None) if sub else None
    if not ledger.take_held(deps.db, task.key, now=now):
        # Not held: sent already (a task run twice), or a run that died mid-send (stale claim).
        if sub is None or ch is None:
            report.duplicate = 1
            return report
        job = _Job(sub, ch, task.channel_id, task.key)
        doc = _ledger_doc(task.occurrence, job)
        outcome, _ = ledger.claim(
            deps.db, task.key, doc, now=now, lease=timedelta(seconds=deps.options.lease_s)
        )
        if outcome is not ledger.Claim.CLAIMED:
            report.duplicate = 1
            return report
    if sub is None or ch is None:
        ledger.finish(deps.db, task.key, state="dropped", now=now, reason="subscription or channel removed")
        report.dropped = 1
        return report
    job = _Job(sub, ch, task.channel_id, task.key)
    setattr(report, _send(job, task.occurrence, deps, _ledger_doc(task.occurrence, job)), 1)
    return report


# --- sending ---------------------------------------------------------------------------------------


def _send(job: _Job, occ: Occurrence, deps: NotifyDeps, doc: dict[str, Any]) -> str:
    """Send one claimed notification with retries; record the outcome; returns its name."""
    settings, attempts = deps.settings, list[int]()
    text = render(occ, time_zone=job.sub.time_zone, now=deps.clock())
    try:
        if isinstance(job.channel, WebhookChannel):
            url, secret = job.channel.url, job.channel.secret
            channels.check_webhook_url(url, allow_private=channels.private_ok(settings))
            body = webhook_body(
                occ, text, delivery_id=job.key, subscription_id=job.sub.id, sent_utc=deps.clock()
            )

            def post() -> None:
                headers = {EVENT_HEADER: occ.topic.value, DELIVERY_HEADER: job.key}
                headers |= signature_headers(secret, body, timestamp=int(time.time()))
                channels.post_json(
                    deps.http,
                    url,
                    body,
                    headers=headers,
                    timeout_s=settings.notify_webhook_timeout_s,
                    what="webhook",
                )

            channels.with_retries(settings, post, attempts=attempts)
        else:
            token, message = job.channel.token, push_message(occ, text, now=deps.clock())
            channels.with_retries(settings, lambda: deps.fcm.send(token, message), attempts=attempts)
    except channels.InvalidTokenError as exc:
        subs_store.remove_channel(deps.db, job.sub.uid, job.sub.id, job.channel_id, now=deps.clock())
        ledger.finish(deps.db, job.key, state="invalid", now=deps.clock(), error=str(exc)[:300])
        return "invalid"
    except (TransientError, PermanentError) as exc:
        destination = job.channel.url if isinstance(job.channel, WebhookChannel) else None
        extra = {"destination": destination, "occurrence": occ.model_dump(mode="json")}
        _dead_letter(deps, job.key, doc, error=exc, attempts=len(attempts), extra=extra)
        return "failed"
    ledger.finish(deps.db, job.key, state="sent", now=deps.clock(), attempts=len(attempts))
    count("notifications_sent", channel=job.channel.type)
    return "sent"


def _dead_letter(
    deps: NotifyDeps, key: str, doc: dict[str, Any], *, error: Exception, attempts: int, extra: dict[str, Any]
) -> None:
    channels.give_up(
        db=deps.db,
        publisher=deps.publisher,
        settings=deps.settings,
        key=key,
        doc={**doc, **extra},
        error=error,
        attempts=attempts,
        topic=deps.options.dead_letter_topic,
        now=deps.clock(),
    )
