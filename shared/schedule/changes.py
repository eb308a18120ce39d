"""Schedule change detection: the newly built sessions against the stored ones (pure logic).

Kinds, one change per session and run at most:

* ``added``: a session the store does not have, or has as unpublished (removed earlier);
* ``removed``: a stored, published session that no feed lists any more (it is kept, unpublished);
* ``cancelled`` / ``reinstated``: the feed's cancellation flag turned on / off;
* ``moved``: the UTC start changed (renames and end-time changes are stored, not announced).

``change_id`` digests the change and the stored document's version (its update time), so the
same change detected twice against the same stored state (a retried run) has the same id, and
a session moved and moved back and moved again gets three ids.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from shared.models.schedule import ChangeKind, ScheduleChange, Session


@dataclass(frozen=True)
class Stored:
    """A stored session and an opaque version of its document (``None``: unknown)."""

    session: Session
    version: str | None = None


def change_id(
    kind: str, session_id: str, before: datetime | None, after: datetime | None, version: str
) -> str:
    text = json.dumps(
        [
            kind,
            session_id,
            before.isoformat() if before else None,
            after.isoformat() if after else None,
            version,
        ]
    )
    return hashlib.sha256(text.encode()).hexdigest()[:24]


def diff_sessions(stored: Mapping[str, Stored], new: Iterable[Session]) -> list[ScheduleChange]:
    """What changed from ``stored`` (by session id) to ``new``, in ``new``'s order, removals last."""
    changes: list[ScheduleChange] = []
    seen: set[str] = set()
    for session in new:
        seen.add(session.session_id)
        old = stored.get(session.session_id)
        kind = _kind(old.session if old else None, session)
        if kind is not None:
            changes.append(_change(kind, old, session))
    for sid, old in stored.items():
        if sid not in seen and old.session.published:
            changes.append(_change("removed", old, None))
    return changes


def _kind(old: Session | None, new: Session) -> ChangeKind | None:
    if old is None or not old.published:
        return "added"
    if new.cancelled != old.cancelled:
        return "cancelled" if new.cancelled else "reinstated"
    if new.start_utc != old.start_utc:
        return "moved"
    return None


def _change(kind: ChangeKind, old: Stored | None, new: Session | None) -> ScheduleChange:
    ref = new or (old.session if old else None)
    assert ref is not None
    before = old.session.start_utc if old and old.session.published else None
    after = new.start_utc if new else None
    version = (old.version or "") if old else ""
    return ScheduleChange(
        change_id=change_id(kind, ref.session_id, before, after, version),
        kind=kind,
        session_id=ref.session_id,
        meeting_id=ref.meeting_id,
        year=ref.year,
        name=ref.name,
        before_start_utc=before,
        after_start_utc=after,
        start_local=ref.start_local,
        time_zone=ref.time_zone,
    )


def moved_by(change: ScheduleChange) -> timedelta | None:
    """How far a ``moved`` change moved the start (positive: later)."""
    if change.before_start_utc is None or change.after_start_utc is None:
        return None
    return change.after_start_utc - change.before_start_utc
