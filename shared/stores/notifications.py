"""The delivery ledger and the incident register of notify (server only; rules deny clients).

``notifications/{key}``: one document per (occurrence, subscriber, channel destination), ``key``
from :func:`delivery_key`. It is what makes a notification go out once when Pub/Sub delivers an
event again, two instances race, or a Cloud Task runs twice. States:

* ``sending``: claimed (create-if-absent) by the instance sending it now; a claim older than the
  lease is stale (that instance died) and may be taken over, with a precondition on the
  document's update time so only one taker wins;
* ``held``: waiting in Cloud Tasks until ``not_before`` (quiet hours, reminder lead); the task
  moves it to ``sending`` with the same precondition;
* final: ``sent``, ``failed`` (retries exhausted, dead-lettered), ``rejected`` (the destination
  refused it for good, dead-lettered), ``invalid`` (FCM token gone, channel removed),
  ``dropped`` (quiet hours with ``drop``, expired, or the subscription was deleted meanwhile).

``notify_incidents/{session_id}_{topic}``: the deployments of Safety Car, VSC and red flag in a
session, each with the ids of the signals (track status, race control) that announced it; a
signal less than ``window`` from a deployment's first signal joins it (:func:`resolve_incident`).
"""

from __future__ import annotations

import hashlib
import random
import time
from datetime import datetime, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from shared.errors import TransientError

if TYPE_CHECKING:
    from google.cloud import firestore

LEDGER = "notifications"
INCIDENTS = "notify_incidents"
FINAL_STATES = frozenset({"sent", "failed", "rejected", "invalid", "dropped"})


def delivery_key(occurrence_id: str, uid: str, channel: str) -> str:
    """The ledger id of one notification: occurrence, subscriber (uid) and channel destination id."""
    return hashlib.sha256(f"{occurrence_id}|{uid}|{channel}".encode()).hexdigest()[:32]


class Claim(StrEnum):
    CLAIMED = "claimed"  # this caller sends it now
    DONE = "done"  # already final, or held for later: nothing to do
    BUSY = "busy"  # another instance is sending it right now (a live claim)


def _ref(db: firestore.Client, key: str) -> firestore.DocumentReference:
    return db.collection(LEDGER).document(key)


def claim(
    db: firestore.Client, key: str, doc: dict[str, Any], *, now: datetime, lease: timedelta
) -> tuple[Claim, str | None]:
    """Claim ``key`` for sending; returns the outcome and the state found (None when created)."""
    from google.api_core.exceptions import Conflict, FailedPrecondition

    ref = _ref(db, key)
    for _ in range(2):  # a document deleted between create and get: try once more
        try:
            ref.create({**doc, "state": "sending", "claimed_utc": now, "updated_utc": now, "attempts": 0})
            return Claim.CLAIMED, None
        except Conflict:
            snap = ref.get()
        if snap.exists:
            break
    else:
        return Claim.BUSY, None
    data = snap.to_dict() or {}
    state = str(data.get("state"))
    if state != "sending":
        return Claim.DONE, state
    claimed = data.get("claimed_utc")
    if isinstance(claimed, datetime) and claimed + lease > now:
        return Claim.BUSY, state
    try:  # stale: the claimer died; take it over, once
        ref.update(
            {"claimed_utc": now, "updated_utc": now, "takeovers": (data.get("takeovers") or 0) + 1},
            option=db.write_option(last_update_time=snap.update_time),
        )
    except (FailedPrecondition, Conflict):
        return Claim.BUSY, state
    return Claim.CLAIMED, state


def state_of(db: firestore.Client, key: str) -> str | None:
    snap = _ref(db, key).get()
    return str((snap.to_dict() or {}).get("state")) if snap.exists else None


def record(db: firestore.Client, key: str, doc: dict[str, Any], *, state: str, now: datetime) -> bool:
    """Create ``key`` directly in ``state`` (``held``, ``dropped``); ``False`` if it existed."""
    from google.api_core.exceptions import Conflict

    try:
        _ref(db, key).create({**doc, "state": state, "updated_utc": now, "attempts": 0})
    except Conflict:
        return False
    return True


def take_held(db: firestore.Client, key: str, *, now: datetime) -> bool:
    """Move a ``held`` notification to ``sending`` (its task fired); ``False`` if it is not held
    (a task run twice, or it went out some other way)."""
    from google.api_core.exceptions import Conflict, FailedPrecondition

    ref = _ref(db, key)
    snap = ref.get()
    if not snap.exists or (snap.to_dict() or {}).get("state") != "held":
        return False
    try:
        ref.update(
            {"state": "sending", "claimed_utc": now, "updated_utc": now},
            option=db.write_option(last_update_time=snap.update_time),
        )
    except (FailedPrecondition, Conflict):
        return False
    return True


def finish(db: firestore.Client, key: str, *, state: str, now: datetime, **fields: Any) -> None:
    """Write the outcome (``state`` and e.g. ``attempts``, ``error``, ``not_before``)."""
    _ref(db, key).update({"state": state, "updated_utc": now, **fields})


def release(db: firestore.Client, key: str) -> None:
    """Forget a claim whose work did not start (e.g. its Cloud Task could not be created)."""
    _ref(db, key).delete()


def resolve_incident(
    db: firestore.Client, *, session_id: str, topic: str, signal_id: str, utc: datetime, window: timedelta
) -> int:
    """The ordinal (1, 2, ...) of the ``topic`` deployment in ``session_id`` that the signal
    ``signal_id`` at ``utc`` belongs to; a signal seen before gets its deployment again.

    Optimistic concurrency rather than a Firestore transaction: read, then create the document
    or update it on condition that it is unchanged since the read, else read again. Racing
    signals (the two of one deployment, or one event delivered twice at once) retry within
    milliseconds, where a transaction's retry waits a second.
    """
    from google.api_core.exceptions import Conflict, FailedPrecondition

    ref = db.collection(INCIDENTS).document(f"{session_id}_{topic}")
    for attempt in range(50):
        snap = ref.get()
        deployments: list[dict[str, Any]] = list((snap.to_dict() or {}).get("deployments", []))
        n = _place(deployments, signal_id, utc, window)
        if n is None:  # seen before
            return next(int(d["n"]) for d in deployments if signal_id in d.get("signals", []))
        doc = {"session_id": session_id, "topic": topic, "deployments": deployments}
        try:
            if snap.exists:
                ref.update(doc, option=db.write_option(last_update_time=snap.update_time))
            else:
                ref.create(doc)
        except (Conflict, FailedPrecondition):
            time.sleep(random.uniform(0.005, 0.02) * min(attempt + 1, 5))
            continue
        return n
    raise TransientError(f"incident {session_id}_{topic}: too much contention")


def _place(deployments: list[dict[str, Any]], signal_id: str, utc: datetime, window: timedelta) -> int | None:
    """Add the signal to ``deployments`` (joining one less than ``window`` away, else a new one);
    the deployment's ordinal, or None when the signal is already there (nothing changed)."""
    if any(signal_id in d.get("signals", []) for d in deployments):
        return None
    for d in deployments:
        if abs(d["utc"] - utc) <= window:
            d["signals"] = [*d.get("signals", []), signal_id]
            return int(d["n"])
    n = 1 + max((int(d["n"]) for d in deployments), default=0)
    deployments.append({"n": n, "utc": utc, "signals": [signal_id]})
    return n
