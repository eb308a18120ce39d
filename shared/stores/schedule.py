"""Meetings and sessions in Firestore: ``meetings/{meeting_id}``, ``sessions/{session_id}``.

Writes are idempotent: each document is compared with what is stored and written only when new
or different, so an unchanged re-sync costs reads, not writes (and triggers no listener).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from google.cloud import firestore
from pydantic import BaseModel

from shared.models.schedule import Meeting, Session

MEETINGS = "meetings"
SESSIONS = "sessions"
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
