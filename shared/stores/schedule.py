"""Meetings and sessions in Firestore: ``meetings/{meeting_id}``, ``sessions/{session_id}``.

Writes are idempotent: each document is compared with what is stored and written only when new
or different, so an unchanged re-sync costs reads, not writes (and triggers no listener).

Also here:

* ``meetings/{meeting_id}/timeline/weekend``: the weekend timeline (:class:`Timeline`, in the
  circuit's zone); :func:`get_timeline` renders it in any zone;
* OpenF1 keys: ``meeting_key``/``session_key`` are fields, resolved by query
  (:func:`get_meeting_by_key`, :func:`resolve_meeting` takes either kind of id);
* ``schedule_changes/{change_id}``: the outbox of ``schedule-events``: a change is recorded
  (create-if-absent) before the schedule documents are written and marked ``published`` once
  Pub/Sub took it, so a run that dies in between publishes it on the retry;
* ``schedule_tasks/{task_name}``: the ledger of Cloud Tasks created by the sync (create-if-absent
  before enqueueing), so a task is created once even where task names are not de-duplicated.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from google.cloud import firestore
from pydantic import BaseModel

from shared.models.schedule import Meeting, ScheduleChange, Session, Timeline
from shared.schedule.changes import Stored
from shared.schedule.timeline import in_zone

MEETINGS = "meetings"
SESSIONS = "sessions"
TIMELINE = "timeline"
TIMELINE_DOC = "weekend"
CHANGES = "schedule_changes"
TASKS = "schedule_tasks"
_BATCH = 400  # Firestore allows 500 writes per batch; stay clear of it.
_TIME_FIELDS = ("start_utc", "end_utc")

M = TypeVar("M", bound=BaseModel)


@dataclass
class WriteCounts:
    created: int = 0
    updated: int = 0
    unchanged: int = 0

    def __iadd__(self, other: WriteCounts) -> WriteCounts:
        self.created += other.created
        self.updated += other.updated
        self.unchanged += other.unchanged
        return self


def to_document(model: BaseModel) -> dict[str, Any]:
    """JSON-safe fields, except UTC instants, which stay Firestore timestamps (queryable)."""
    data = model.model_dump(mode="json")
    for name in _TIME_FIELDS:
        if name in data:
            data[name] = getattr(model, name)
    return data


def _upsert(db: firestore.Client, collection: str, key: str, models: Sequence[M]) -> WriteCounts:
    counts = WriteCounts()
    cls = type(models[0]) if models else None
    for start in range(0, len(models), _BATCH):
        chunk = models[start : start + _BATCH]
        refs = [db.collection(collection).document(getattr(m, key)) for m in chunk]
        stored = {snap.id: snap.to_dict() for snap in db.get_all(refs) if snap.exists}
        batch = db.batch()
        writes = 0
        for ref, model in zip(refs, chunk, strict=True):
            old = stored.get(ref.id)
            if old is not None and cls is not None and _same(cls, old, model):
                counts.unchanged += 1
                continue
            # merge: the live pipeline keeps its own fields (status, track_status...) on the same
            # sessions/{id} document; a schedule change must not wipe them.
            batch.set(ref, to_document(model), merge=True)
            writes += 1
            if old is None:
                counts.created += 1
            else:
                counts.updated += 1
        if writes:
            batch.commit()
    return counts


def _same(cls: type[BaseModel], stored: dict[str, Any], model: BaseModel) -> bool:
    """Whether the stored document already holds ``model``'s fields (other fields are ignored)."""
    try:
        return cls.model_validate({k: v for k, v in stored.items() if k in cls.model_fields}) == model
    except ValueError:
        return False  # a stored document of an older shape is rewritten


def upsert_meetings(db: firestore.Client, meetings: Sequence[Meeting]) -> WriteCounts:
    return _upsert(db, MEETINGS, "meeting_id", meetings)


def upsert_sessions(db: firestore.Client, sessions: Sequence[Session]) -> WriteCounts:
    return _upsert(db, SESSIONS, "session_id", sessions)


def get_session(db: firestore.Client, session_id: str) -> dict[str, Any] | None:
    snap = db.collection(SESSIONS).document(session_id).get()
    return snap.to_dict() if snap.exists else None


def get_meeting(db: firestore.Client, meeting_id: str) -> dict[str, Any] | None:
    snap = db.collection(MEETINGS).document(meeting_id).get()
    return snap.to_dict() if snap.exists else None


def list_meetings(db: firestore.Client, year: int) -> list[dict[str, Any]]:
    query = db.collection(MEETINGS).where(filter=firestore.FieldFilter("year", "==", year))
    docs = [snap.to_dict() or {} for snap in query.stream()]
    return sorted(docs, key=lambda d: d["start_utc"])


def sessions_of(docs: Iterable[dict[str, Any]]) -> list[str]:
    return [sid for doc in docs for sid in doc.get("session_ids", [])]


def resolve_meeting(db: firestore.Client, key: str) -> dict[str, Any] | None:
    """A meeting by Pitlane id (``2024_singapore_grand_prix``) or OpenF1 ``meeting_key`` (``1246``)."""
    return get_meeting_by_key(db, int(key)) if key.isdigit() else get_meeting(db, key)


def get_meeting_by_key(db: firestore.Client, meeting_key: int) -> dict[str, Any] | None:
    query = db.collection(MEETINGS).where(filter=firestore.FieldFilter("meeting_key", "==", meeting_key))
    docs = [snap.to_dict() or {} for snap in query.limit(1).stream()]
    return docs[0] if docs else None


def stored_season(db: firestore.Client, collection: str, year: int) -> list[tuple[dict[str, Any], str]]:
    """Every stored document of ``year`` in ``meetings`` or ``sessions``, with its update time."""
    query = db.collection(collection).where(filter=firestore.FieldFilter("year", "==", year))
    return [(snap.to_dict() or {}, snap.update_time.isoformat()) for snap in query.stream()]


def stored_sessions(db: firestore.Client, year: int) -> dict[str, Stored]:
    """The season's stored sessions as models (older shapes filled with defaults), by id."""
    out: dict[str, Stored] = {}
    for doc, version in stored_season(db, SESSIONS, year):
        try:
            session = Session.model_validate({k: v for k, v in doc.items() if k in Session.model_fields})
        except ValueError:
            continue  # unreadable: it is rewritten from the feeds, and reported as added
        out[session.session_id] = Stored(session, version)
    return out


def unpublish(db: firestore.Client, collection: str, ids: Sequence[str]) -> int:
    """Mark documents no feed lists any more (kept for their live data): ``published = False``."""
    for start in range(0, len(ids), _BATCH):
        batch = db.batch()
        for doc_id in ids[start : start + _BATCH]:
            batch.set(db.collection(collection).document(doc_id), {"published": False}, merge=True)
        batch.commit()
    return len(ids)


# --- weekend timelines ----------------------------------------------------------------------------


def upsert_timelines(db: firestore.Client, timelines: Sequence[Timeline]) -> WriteCounts:
    counts = WriteCounts()
    refs = [_timeline_ref(db, t.meeting_id) for t in timelines]
    stored = {snap.reference.path: snap.to_dict() for snap in db.get_all(refs) if snap.exists}
    batch, writes = db.batch(), 0
    for ref, timeline in zip(refs, timelines, strict=True):
        old = stored.get(ref.path)
        if old is not None and _same(Timeline, old, timeline):
            counts.unchanged += 1
            continue
        batch.set(ref, timeline.model_dump(mode="json"))
        writes += 1
        counts.created += old is None
        counts.updated += old is not None
        if writes % _BATCH == 0:
            batch.commit()
            batch = db.batch()
    if writes % _BATCH:
        batch.commit()
    return counts


def get_timeline(db: firestore.Client, meeting_id: str, *, tz: str | None = None) -> Timeline | None:
    """The stored weekend timeline, with ``start_in_tz`` in ``tz`` (default: the circuit's zone)."""
    snap = _timeline_ref(db, meeting_id).get()
    if not snap.exists:
        return None
    timeline = Timeline.model_validate(snap.to_dict())
    return in_zone(timeline, tz) if tz else timeline


def _timeline_ref(db: firestore.Client, meeting_id: str) -> firestore.DocumentReference:
    return db.collection(MEETINGS).document(meeting_id).collection(TIMELINE).document(TIMELINE_DOC)


# --- the schedule-events outbox and the task ledger ---------------------------------------------


def record_changes(db: firestore.Client, changes: Sequence[ScheduleChange]) -> int:
    """Add changes not yet in the outbox (unpublished); returns how many were new."""
    refs = [db.collection(CHANGES).document(c.change_id) for c in changes]
    known = {snap.id for snap in db.get_all(refs) if snap.exists}
    fresh = [(ref, c) for ref, c in zip(refs, changes, strict=True) if ref.id not in known]
    for start in range(0, len(fresh), _BATCH):
        batch = db.batch()
        for ref, change in fresh[start : start + _BATCH]:
            batch.set(
                ref, {"change": change.model_dump(mode="json"), "published": False, "year": change.year}
            )
        batch.commit()
    return len(fresh)


def pending_changes(db: firestore.Client) -> list[ScheduleChange]:
    """Outbox entries not yet published, by meeting then start (the order they are published in)."""
    query = db.collection(CHANGES).where(filter=firestore.FieldFilter("published", "==", False))
    changes = [ScheduleChange.model_validate((snap.to_dict() or {})["change"]) for snap in query.stream()]
    return sorted(
        changes, key=lambda c: (c.meeting_id, str(c.after_start_utc or c.before_start_utc), c.change_id)
    )


def mark_published(db: firestore.Client, change_ids: Sequence[str]) -> None:
    for start in range(0, len(change_ids), _BATCH):
        batch = db.batch()
        for cid in change_ids[start : start + _BATCH]:
            batch.update(db.collection(CHANGES).document(cid), {"published": True})
        batch.commit()


def claim_task(db: firestore.Client, name: str, data: dict[str, Any]) -> bool:
    """Create ``schedule_tasks/{name}`` if absent; ``False`` when it existed (already enqueued)."""
    from google.api_core.exceptions import Conflict

    try:
        db.collection(TASKS).document(name).create(data)
    except Conflict:
        return False
    return True


def release_task(db: firestore.Client, name: str) -> None:
    """Forget a claim whose task could not be created, so the next run tries again."""
    db.collection(TASKS).document(name).delete()
