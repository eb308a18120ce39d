"""Schedule sync: a season from OpenF1 completed by f1schedule, plus the supporting series, into
Firestore; one ``schedule-events`` message per change; Cloud Tasks for sessions starting soon.

Steps of :func:`sync_season` (each idempotent, so a retried run converges):

1. fetch f1schedule's ``schedule_<year>.json`` and OpenF1's ``/v1/meetings?year=`` and
   ``/v1/sessions?year=`` (an OpenF1 failure fails the run, so Pub/Sub retries: dropping OpenF1's
   times for f1schedule's would announce moves that did not happen); read the supporting series'
   calendars (``<data_dir>/calendars/<series>/<year>.json``; none when there is no data folder);
2. merge (:mod:`shared.schedule.season`) and diff against the stored sessions
   (:mod:`shared.schedule.changes`);
3. record the changes in the outbox, then write meetings, sessions (only what changed; merge, so
   live fields survive), unpublish what no feed lists, write the weekend timelines;
4. publish every unpublished outbox change (ordering key: meeting id; attributes ``change_id``,
   ``kind``, ``session_id``), after the writes succeeded; mark them published;
5. enqueue the tasks of sessions starting within the horizon (:mod:`shared.schedule.planning`),
   each claimed in ``schedule_tasks/`` first.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import httpx
from pydantic import BaseModel, Field

from shared.config import Settings
from shared.errors import TransientError
from shared.gcp import topic_path
from shared.models.schedule import ScheduleChange, Session, SupportSession
from shared.notify.model import MAX_LEAD_MIN
from shared.openf1.models import Meeting as OF1Meeting
from shared.openf1.models import Session as OF1Session
from shared.openf1.parse import parse_as
from shared.openf1.query import q
from shared.schedule.changes import diff_sessions
from shared.schedule.f1schedule import parse_schedule
from shared.schedule.planning import DEFAULT_HORIZON, LIVE_QUEUE, REMINDER_QUEUE, PlannedTask, plan_tasks
from shared.schedule.season import merge_season
from shared.schedule.supporting import SUPPORT_SERIES, parse_calendar
from shared.schedule.timeline import weekend_timeline
from shared.sources.f1schedule import fetch_schedule
from shared.sources.openf1 import OpenF1Client
from shared.stores import schedule as store
from shared.tasks import enqueue_http

if TYPE_CHECKING:
    from google.cloud import firestore
    from google.cloud.pubsub_v1 import PublisherClient

log = logging.getLogger(__name__)
TOPIC = "schedule-events"
PUBLISH_TIMEOUT_S = 30.0


class SyncOptions(BaseModel):
    """Where changes and tasks go, and how far ahead tasks are created."""

    topic: str = TOPIC
    live_queue: str = LIVE_QUEUE
    reminder_queue: str = REMINDER_QUEUE
    horizon_h: float = Field(default=DEFAULT_HORIZON.total_seconds() / 3600, ge=0, le=24 * 14)
    reminders: bool = True
    # Reminder tasks fire this long before a session: the longest lead a subscriber may choose.
    reminder_lead_min: float = Field(default=MAX_LEAD_MIN, ge=0, le=24 * 60)


class SyncSummary(BaseModel):
    season: int
    meetings: int
    sessions: int
    created: int
    updated: int
    unchanged: int
    skipped_rows: int
    openf1_sessions: int = 0
    supporting_sessions: int = 0
    timelines_written: int = 0
    changes: int = 0
    changes_published: int = 0
    unpublished: int = 0
    tasks_enqueued: int = 0


_clients: dict[str, OpenF1Client] = {}
_clients_lock = threading.Lock()


def openf1_client(settings: Settings, http: httpx.Client) -> OpenF1Client:
    """One OpenF1 client per process and server (its response cache outlives a run)."""
    key = f"{settings.openf1_url}|{id(http)}"
    with _clients_lock:
        if key not in _clients:
            _clients[key] = OpenF1Client(settings=settings, http=http)
        return _clients[key]


def load_supporting(settings: Settings, season: int) -> list[SupportSession]:
    """The season's F2, F3 and F1 Academy sessions from the calendars in the data folder."""
    if settings.data_dir is None:
        return []
    out: list[SupportSession] = []
    for series in SUPPORT_SERIES:
        path = settings.data_dir / "calendars" / series / f"{season}.json"
        if path.is_file():
            out.extend(parse_calendar(json.loads(path.read_text(encoding="utf-8")), series=series).sessions)
    return out


def sync_season(
    season: int,
    *,
    db: firestore.Client,
    http: httpx.Client,
    settings: Settings,
    publisher: PublisherClient,
    now: datetime | None = None,
    options: SyncOptions | None = None,
) -> SyncSummary:
    """Fetch, merge, diff, store, publish and plan one season (see the module docstring)."""
    opts = options or SyncOptions()
    now = now or datetime.now(UTC)
    base = parse_schedule(fetch_schedule(season, http=http, settings=settings), year=season)
    openf1 = openf1_client(settings, http)
    meetings = parse_as(OF1Meeting, openf1.get("meetings", q("year", "=", season)), source="meetings")
    sessions = parse_as(OF1Session, openf1.get("sessions", q("year", "=", season)), source="sessions")
    merged = merge_season(base, year=season, openf1_meetings=meetings.items, openf1_sessions=sessions.items)
    supporting = load_supporting(settings, season)

    changes = diff_sessions(store.stored_sessions(db, season), merged.sessions)
    store.record_changes(db, changes)
    counts = store.upsert_meetings(db, merged.meetings)
    counts += store.upsert_sessions(db, merged.sessions)
    unpublished = store.unpublish(db, store.SESSIONS, [c.session_id for c in changes if c.kind == "removed"])
    listed = {m.meeting_id for m in merged.meetings}
    gone = [
        doc["meeting_id"]
        for doc, _ in store.stored_season(db, store.MEETINGS, season)
        if doc.get("meeting_id") not in listed and doc.get("published", True)
    ]
    unpublished += store.unpublish(db, store.MEETINGS, gone)
    by_meeting: dict[str, list[Session]] = {}
    for s in merged.sessions:
        by_meeting.setdefault(s.meeting_id, []).append(s)
    timelines = [
        weekend_timeline(m, sessions=by_meeting.get(m.meeting_id, []), supporting=supporting)
        for m in merged.meetings
    ]
    written = store.upsert_timelines(db, timelines)

    published = publish_pending(db=db, publisher=publisher, settings=settings, topic=opts.topic)
    planned = plan_tasks(
        merged.sessions,
        now=now,
        horizon=timedelta(hours=opts.horizon_h),
        live_queue=opts.live_queue,
        reminder_queue=opts.reminder_queue,
        reminders=opts.reminders,
        reminder_lead=timedelta(minutes=opts.reminder_lead_min),
    )
    summary = SyncSummary(
        season=season,
        meetings=len(merged.meetings),
        sessions=len(merged.sessions),
        created=counts.created,
        updated=counts.updated,
        unchanged=counts.unchanged,
        skipped_rows=merged.skipped_rows + meetings.skipped_count + sessions.skipped_count,
        openf1_sessions=merged.openf1_sessions,
        supporting_sessions=sum(len(t.entries) for t in timelines) - len(merged.sessions),
        timelines_written=written.created + written.updated,
        changes=len(changes),
        changes_published=published,
        unpublished=unpublished,
        tasks_enqueued=enqueue_tasks(planned, db=db, settings=settings, now=now),
    )
    log.info("schedule synced", extra={"json_fields": summary.model_dump()})
    return summary


def publish_pending(
    *, db: firestore.Client, publisher: PublisherClient, settings: Settings, topic: str
) -> int:
    """Publish every outbox change not yet published; ``TransientError`` if any publish failed
    (those stay pending for the retry; the ones that went out are marked)."""
    pending = store.pending_changes(db)
    if not pending:
        return 0
    path = topic_path(settings, topic)
    futures = [
        (change, publisher.publish(path, change.model_dump_json().encode(), **_attributes(change)))
        for change in pending
    ]
    done: list[str] = []
    failed: list[ScheduleChange] = []
    error: Exception | None = None
    for change, future in futures:
        try:
            future.result(timeout=PUBLISH_TIMEOUT_S)
            done.append(change.change_id)
        except Exception as exc:  # any publish failure is transient here
            error = error or exc
            failed.append(change)
    store.mark_published(db, done)
    if failed:
        for key in {c.meeting_id for c in failed}:
            publisher.resume_publish(path, key)
        raise TransientError(f"publishing {len(failed)} schedule changes failed: {error}") from error
    return len(done)


def _attributes(change: ScheduleChange) -> dict[str, str]:
    return {
        "ordering_key": change.meeting_id,
        "change_id": change.change_id,
        "kind": change.kind,
        "session_id": change.session_id,
    }


def enqueue_tasks(
    planned: Sequence[PlannedTask], *, db: firestore.Client, settings: Settings, now: datetime
) -> int:
    """Create each planned task once (claimed in ``schedule_tasks/`` first); returns how many."""
    created = 0
    for task in planned:
        claim = {"session_id": task.session_id, "queue": task.queue, "kind": task.kind, "claimed_utc": now}
        if not store.claim_task(db, task.name, claim):
            continue
        try:
            enqueue_http(
                settings,
                queue=task.queue,
                function=task.function,
                body=task.body,
                name=task.name,
                schedule_time=task.schedule_time,
            )
        except Exception:
            store.release_task(db, task.name)  # the next run tries again
            raise
        created += 1
    return created
