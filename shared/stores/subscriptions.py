"""Subscriptions in Firestore: ``users/{uid}/subscriptions/{id}``.

Written by the signed-in user (client SDK under ``firestore.rules``, owner only) or by the API
(:mod:`shared.services.subscriptions`, the uid from a verified ID token). Read:

* per user (:func:`list_for_user`, :func:`get`), for the API and the CLI;
* by topic across all users (:func:`with_topics`): a collection-group query on ``subscriptions``
  with ``topics array-contains-any`` (in production this needs the collection-group single-field
  index on ``topics``, declared in ``firestore.indexes.json``). Documents are validated on the
  way out; one that is not usable is left out with a counted warning.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from shared.notify.model import Subscription, Topic, channel_id, parse_subscription

if TYPE_CHECKING:
    from google.cloud import firestore

log = logging.getLogger(__name__)
USERS = "users"
SUBSCRIPTIONS = "subscriptions"
MAX_PER_USER = 20


def path(uid: str, sub_id: str) -> str:
    return f"{USERS}/{uid}/{SUBSCRIPTIONS}/{sub_id}"


def _parsed(uid: str, sub_id: str, doc: dict[str, Any] | None) -> Subscription | None:
    sub, problems = parse_subscription(uid, sub_id, doc or {})
    if problems:
        log.warning(
            "subscription %s/%s: %s",
            uid,
            sub_id,
            "; ".join(problems),
            extra={"json_fields": {"uid": uid, "subscription_id": sub_id, "skipped_parts": len(problems)}},
        )
    return sub


def create(db: firestore.Client, sub: Subscription) -> bool:
    """Create the document if absent; ``False`` when it already existed (left as it is)."""
    from google.api_core.exceptions import Conflict

    try:
        db.document(path(sub.uid, sub.id)).create(sub.to_doc())
    except Conflict:
        return False
    return True


def get(db: firestore.Client, uid: str, sub_id: str) -> Subscription | None:
    snap = db.document(path(uid, sub_id)).get()
    return _parsed(uid, sub_id, snap.to_dict()) if snap.exists else None


def list_for_user(db: firestore.Client, uid: str) -> list[Subscription]:
    snaps = db.collection(f"{USERS}/{uid}/{SUBSCRIPTIONS}").stream()
    found = (_parsed(uid, s.id, s.to_dict()) for s in snaps)
    return sorted(
        (s for s in found if s is not None), key=lambda s: (s.created_at is None, s.created_at, s.id)
    )


def count_for_user(db: firestore.Client, uid: str) -> int:
    return sum(1 for _ in db.collection(f"{USERS}/{uid}/{SUBSCRIPTIONS}").list_documents())


def delete(db: firestore.Client, uid: str, sub_id: str) -> bool:
    """Delete; ``False`` when there was nothing to delete."""
    ref = db.document(path(uid, sub_id))
    if not ref.get().exists:
        return False
    ref.delete()
    return True


def with_topics(db: firestore.Client, topics: Iterable[Topic]) -> list[Subscription]:
    """Every usable subscription, of any user, naming at least one of ``topics``."""
    from google.cloud.firestore_v1.base_query import FieldFilter

    values = sorted({t.value for t in topics})
    if not values:
        return []
    query = db.collection_group(SUBSCRIPTIONS).where(
        filter=FieldFilter("topics", "array_contains_any", values)
    )
    out: list[Subscription] = []
    for snap in query.stream():
        parts = snap.reference.path.split("/")
        if len(parts) != 4 or parts[0] != USERS:
            continue  # another collection called "subscriptions": not ours
        sub = _parsed(parts[1], parts[3], snap.to_dict())
        if sub is not None:
            out.append(sub)
    return out


def remove_channel(db: firestore.Client, uid: str, sub_id: str, channel: str, *, now: datetime) -> bool:
    """Remove the channel whose :func:`channel_id` is ``channel`` (an FCM token reported invalid);
    ``True`` if it was there. Read and write in one transaction: a concurrent edit is not lost."""
    from google.cloud import firestore as fs

    ref = db.document(path(uid, sub_id))

    @fs.transactional
    def run(tx: fs.Transaction) -> bool:
        snap = ref.get(transaction=tx)
        if not snap.exists:
            return False
        doc = snap.to_dict() or {}
        channels = doc.get("channels") or []
        kept = [c for c in channels if not _is_channel(c, channel)]
        if len(kept) == len(channels):
            return False
        tx.update(ref, {"channels": kept, "updated_at": now})
        return True

    return bool(run(db.transaction()))


def _is_channel(raw: Any, channel: str) -> bool:
    sub, _ = parse_subscription("-", "-", {"topics": ["sc"], "channels": [raw]})
    return sub is not None and channel_id(sub.channels[0]) == channel
