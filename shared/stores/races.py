"""Travel-app races and their OpenF1 keys in Firestore.

``races/{race_id}``
    The travel app's fields (``race_id, name, circuit, date`` as ISO local day, optionally
    ``country, location, season``) plus the mapping: ``openf1_meeting_key``,
    ``openf1_session_key`` (the Race session), ``mapping_status`` (``"mapped"`` | ``"unmapped"``),
    ``unmapped_reason``, ``mapped_utc`` (when the mapping last changed, UTC) and ``mapping_input``
    (a hash of the fields the mapping used; a different one makes the next run re-map the race).
``race_keys/{meeting_key}``
    The reverse index ``{race_id, meeting_key, session_key}``: one race per meeting.

Each race's mapping is written in one transaction with its claim on ``race_keys`` (created if
absent, kept if it is the race's own, taken over only if stale: its race is gone or maps elsewhere)
and the release of a claim it no longer needs, so the two collections never disagree. Unchanged
mappings are not written at all.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from google.cloud import firestore

from shared.races.mapping import Match, TravelRace, unmapped

RACES = "races"
RACE_KEYS = "race_keys"
# The fields a mapping run owns on races/{race_id}.
_BATCH = 400  # Firestore allows 500 writes per batch
MAPPING_FIELDS = ("openf1_meeting_key", "openf1_session_key", "mapping_status", "unmapped_reason")


@dataclass
class ImportCounts:
    created: int = 0
    updated: int = 0
    unchanged: int = 0


def list_races(db: firestore.Client) -> dict[str, dict[str, Any]]:
    """Every ``races/`` document by id."""
    return {snap.id: snap.to_dict() or {} for snap in db.collection(RACES).stream()}


def get_race(db: firestore.Client, race_id: str) -> dict[str, Any] | None:
    snap = db.collection(RACES).document(race_id).get()
    return snap.to_dict() if snap.exists else None


def get_claim(db: firestore.Client, meeting_key: int) -> dict[str, Any] | None:
    snap = db.collection(RACE_KEYS).document(str(meeting_key)).get()
    return snap.to_dict() if snap.exists else None


def get_claims(db: firestore.Client, meeting_keys: Iterable[int]) -> dict[int, str]:
    """``meeting_key -> race_id`` for those of ``meeting_keys`` that a race holds."""
    refs = [db.collection(RACE_KEYS).document(str(k)) for k in sorted(set(meeting_keys))]
    if not refs:
        return {}
    out: dict[int, str] = {}
    for snap in db.get_all(refs):
        owner = (snap.to_dict() or {}).get("race_id") if snap.exists else None
        if isinstance(owner, str):
            out[int(snap.id)] = owner
    return out


def stored_match(doc: dict[str, Any]) -> Match | None:
    """The mapping a ``races/`` document holds, or ``None`` if it was never mapped."""
    if doc.get("mapping_status") not in ("mapped", "unmapped"):
        return None
    return Match(
        meeting_key=doc.get("openf1_meeting_key"),
        session_key=doc.get("openf1_session_key"),
        reason=doc.get("unmapped_reason"),
    )


def holds(doc: dict[str, Any] | None, meeting_key: int) -> bool:
    """Whether a race document is mapped to ``meeting_key`` (so its claim on it is not stale)."""
    if not doc:
        return False
    return doc.get("mapping_status") == "mapped" and doc.get("openf1_meeting_key") == meeting_key


def _mapping_doc(match: Match, fingerprint: str, now: datetime) -> dict[str, Any]:
    return {
        "openf1_meeting_key": match.meeting_key if match.mapped else None,
        "openf1_session_key": match.session_key if match.mapped else None,
        "mapping_status": match.status,
        "unmapped_reason": None if match.mapped else match.reason,
        "mapping_input": fingerprint,
        "mapped_utc": now,
    }


def _same(doc: dict[str, Any], new: dict[str, Any]) -> bool:
    return all(doc.get(k) == new[k] for k in (*MAPPING_FIELDS, "mapping_input"))


def apply_mapping(
    db: firestore.Client, race_id: str, match: Match, *, fingerprint: str, now: datetime
) -> tuple[Match, int]:
    """Store ``match`` for ``race_id`` with its claim, atomically; returns (what was stored, writes).

    If another race took the meeting meanwhile (a concurrent run), the race is stored unmapped with
    "meeting already mapped to <race_id>" instead.
    """
    race_ref = db.collection(RACES).document(race_id)

    @firestore.transactional
    def run(tx: firestore.Transaction) -> tuple[Match, int]:
        snap = race_ref.get(transaction=tx)
        if not snap.exists:
            return match, 0  # deleted since it was listed: nothing to map, no claim to make
        doc = snap.to_dict() or {}
        result = match
        claim_ref = None
        if match.mapped and match.meeting_key is not None:
            claim_ref = db.collection(RACE_KEYS).document(str(match.meeting_key))
            claim = claim_ref.get(transaction=tx).to_dict()
            owner = (claim or {}).get("race_id")
            if claim and owner != race_id and holds(_read(db, tx, owner), match.meeting_key):
                result, claim_ref = unmapped(f"meeting already mapped to {owner}"), None
            elif claim == _claim_doc(race_id, match):
                claim_ref = None  # already ours, unchanged
        old_key = doc.get("openf1_meeting_key")
        release = None
        if isinstance(old_key, int) and old_key != result.meeting_key:
            old_ref = db.collection(RACE_KEYS).document(str(old_key))
            if (old_ref.get(transaction=tx).to_dict() or {}).get("race_id") == race_id:
                release = old_ref
        new = _mapping_doc(result, fingerprint, now)
        writes = 0
        if not _same(doc, new):
            tx.set(race_ref, new, merge=True)
            writes += 1
        if claim_ref is not None:
            tx.set(claim_ref, _claim_doc(race_id, result))
            writes += 1
        if release is not None:
            tx.delete(release)
            writes += 1
        return result, writes

    stored: tuple[Match, int] = run(db.transaction())
    return stored


def _read(db: firestore.Client, tx: firestore.Transaction, race_id: Any) -> dict[str, Any] | None:
    if not isinstance(race_id, str):
        return None
    snap = db.collection(RACES).document(race_id).get(transaction=tx)
    return snap.to_dict() if snap.exists else None


def _claim_doc(race_id: str, match: Match) -> dict[str, Any]:
    return {"race_id": race_id, "meeting_key": match.meeting_key, "session_key": match.session_key}


def import_races(db: firestore.Client, races: Sequence[TravelRace]) -> ImportCounts:
    """Write the travel app's fields of each race, merged (mapping fields stay), only if changed."""
    counts = ImportCounts()
    refs = [db.collection(RACES).document(r.race_id) for r in races]
    stored = {snap.id: snap.to_dict() or {} for snap in db.get_all(refs) if snap.exists} if refs else {}
    batch, pending = db.batch(), 0
    for ref, race in zip(refs, races, strict=True):
        fields = race.app_fields()
        old = stored.get(ref.id)
        optional = ("country", "location", "season")
        if old is not None and all(old.get(k) == fields.get(k) for k in (*fields, *optional)):
            counts.unchanged += 1
            continue
        # Optional fields the new version lacks are removed, not left over from the old one.
        gone = {k: firestore.DELETE_FIELD for k in optional if k not in fields and old and k in old}
        batch.set(ref, {**fields, **gone}, merge=True)
        pending += 1
        if pending == _BATCH:
            batch.commit()
            batch, pending = db.batch(), 0
        if old is None:
            counts.created += 1
        else:
            counts.updated += 1
    if pending:
        batch.commit()
    return counts
