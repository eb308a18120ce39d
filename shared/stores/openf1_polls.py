"""The OpenF1 live poller's Firestore documents: one lease and one checkpoint per session.

* ``openf1_poll_leases/{session_key}``: ``{owner, expires_utc, acquired_utc}``. A run polls only
  while it holds the lease; taking it is a transaction that succeeds when the document is absent,
  expired or already the caller's. Overlapping runs (a Scheduler tick while the previous run is
  still finishing, a retried delivery) therefore never poll the same session at once.
* ``openf1_polls/{session_key}``: :class:`PollCheckpoint`: the per-endpoint ``date`` watermarks
  (``watermarks.{endpoint}``, aware UTC; for reading) and the poller's state
  (``state``: zlib-compressed JSON of :meth:`OpenF1State.checkpoint`, where the watermarks come
  from). It is written only after the documents and events of the records it holds are durable,
  in the same transaction that checks the lease is still the writer's (and extends it): a run that
  lost its lease (it stalled past the expiry and another took over) never moves the watermarks.

Server-only documents (``firestore.rules`` denies clients by default).
"""

from __future__ import annotations

import json
import zlib
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, Field

if TYPE_CHECKING:
    from google.cloud import firestore

POLLS = "openf1_polls"
LEASES = "openf1_poll_leases"


class PollCheckpoint(BaseModel):
    session_key: int
    session_id: str | None = None
    watermarks: dict[str, datetime] = Field(default_factory=dict)
    state: bytes | None = None
    runs: int = 0
    updated_utc: datetime

    def unpack(self) -> dict[str, Any] | None:
        return json.loads(zlib.decompress(self.state)) if self.state else None

    @staticmethod
    def pack(state: dict[str, Any]) -> bytes:
        return zlib.compress(json.dumps(state, separators=(",", ":")).encode(), 6)


def _lease_ref(db: firestore.Client, session_key: int) -> firestore.DocumentReference:
    return db.collection(LEASES).document(str(session_key))


def load_checkpoint(db: firestore.Client, session_key: int) -> PollCheckpoint | None:
    snap = db.collection(POLLS).document(str(session_key)).get()
    return PollCheckpoint.model_validate(snap.to_dict()) if snap.exists else None


def _holder(snap: Any, now: datetime) -> str | None:
    """The owner of an unexpired lease, else None."""
    data = snap.to_dict() if snap.exists else None
    if not data or not isinstance(data.get("expires_utc"), datetime) or data["expires_utc"] <= now:
        return None
    owner = data.get("owner")
    return owner if isinstance(owner, str) else None


def acquire_lease(db: firestore.Client, session_key: int, *, owner: str, now: datetime, ttl_s: float) -> bool:
    """Take (or renew) the session's lease for ``ttl_s`` seconds; False when another holds it."""
    from google.cloud import firestore as fs

    ref = _lease_ref(db, session_key)

    @fs.transactional
    def take(tx: fs.Transaction) -> bool:
        holder = _holder(ref.get(transaction=tx), now)
        if holder is not None and holder != owner:
            return False
        tx.set(ref, {"owner": owner, "expires_utc": now + timedelta(seconds=ttl_s), "acquired_utc": now})
        return True

    return bool(take(db.transaction()))


def commit_checkpoint(
    db: firestore.Client, cp: PollCheckpoint, *, owner: str, now: datetime, ttl_s: float
) -> bool:
    """Write ``cp`` and extend the lease, only if ``owner`` still holds it; False otherwise."""
    from google.cloud import firestore as fs

    lease = _lease_ref(db, cp.session_key)
    target = db.collection(POLLS).document(str(cp.session_key))

    @fs.transactional
    def write(tx: fs.Transaction) -> bool:
        if _holder(lease.get(transaction=tx), now) != owner:
            return False
        tx.set(target, cp.model_dump())
        tx.update(lease, {"expires_utc": now + timedelta(seconds=ttl_s)})
        return True

    return bool(write(db.transaction()))


def release_lease(db: firestore.Client, session_key: int, *, owner: str, now: datetime) -> None:
    """Give the lease up (if still ``owner``'s), so the next run need not wait for the expiry."""
    from google.cloud import firestore as fs

    ref = _lease_ref(db, session_key)

    @fs.transactional
    def drop(tx: fs.Transaction) -> None:
        if _holder(ref.get(transaction=tx), now) == owner:
            tx.delete(ref)

    drop(db.transaction())
