"""Race mapping: the travel app's ``races/`` get their OpenF1 meeting and race session keys.

``map_races`` re-examines only races that need it: never mapped, unmapped (OpenF1 may know them
by now, so new races and late meetings are picked up by the next run), or changed since they were
mapped (their ``mapping_input`` hash differs). A mapped, unchanged race costs neither an OpenF1
request nor a write. OpenF1 is asked twice per season involved: ``/v1/meetings?year=Y`` and
``/v1/sessions?year=Y&session_name=Race``. A run that finds nothing new writes no document.

Errors: OpenF1 failures (``TransientError``) propagate, so a caller on Pub/Sub retries; a
``races/`` document the travel app wrote badly is reported unmapped ("invalid race document: ...").
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from google.cloud import firestore
from pydantic import BaseModel, ValidationError

from shared.config import Settings
from shared.errors import NotFoundError
from shared.openf1 import parse_as, q
from shared.openf1.models import Meeting, Session
from shared.races.mapping import Candidate, Match, TravelRace, assign, candidates, match_race, unmapped
from shared.sources.openf1 import OpenF1Client
from shared.stores import races as store

log = logging.getLogger(__name__)


class RaceResult(BaseModel):
    """One race after a run: its mapping and whether this run wrote it (``changed``)."""

    race_id: str
    name: str
    date: str
    status: str  # "mapped" | "unmapped"
    meeting_key: int | None = None
    session_key: int | None = None
    reason: str | None = None
    changed: bool


class MappingReport(BaseModel):
    """``mapped`` / ``unmapped``: races this run wrote as such; ``unchanged``: the others."""

    seasons: list[int]
    races: list[RaceResult]
    writes: int

    def count(self, status: str) -> int:
        return sum(1 for r in self.races if r.changed and r.status == status)

    def summary(self) -> dict[str, Any]:
        return {
            "seasons": self.seasons,
            "races": len(self.races),
            "mapped": self.count("mapped"),
            "unmapped": self.count("unmapped"),
            "unchanged": sum(1 for r in self.races if not r.changed),
            "writes": self.writes,
        }


class RaceKeys(BaseModel):
    race_id: str
    meeting_key: int
    session_key: int


def _parse(race_id: str, doc: dict[str, Any]) -> TravelRace | str:
    try:
        return TravelRace.model_validate({**doc, "race_id": race_id})
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"]) or "document"
        return f"invalid race document: {where}: {err['msg']}"


def _needs_mapping(race: TravelRace, doc: dict[str, Any]) -> bool:
    return doc.get("mapping_status") != "mapped" or doc.get("mapping_input") != race.fingerprint()


def fetch_candidates(client: OpenF1Client, season: int) -> list[Candidate]:
    """The season's OpenF1 meetings with their Race sessions (two requests)."""
    meetings = parse_as(Meeting, client.get("meetings", q("year", "=", season)), source="meetings")
    sessions = parse_as(
        Session,
        client.get("sessions", q("year", "=", season), q("session_name", "=", "Race")),
        source="sessions",
    )
    return candidates(meetings.items, sessions.items)


def map_races(
    *,
    db: firestore.Client,
    client: OpenF1Client,
    settings: Settings,
    season: int | None = None,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> MappingReport:
    """Map the races of ``season`` (all seasons when ``None``); idempotent. See the module doc."""
    docs = store.list_races(db)
    parsed = {race_id: _parse(race_id, doc) for race_id, doc in docs.items()}
    races = {rid: r for rid, r in parsed.items() if isinstance(r, TravelRace)}
    invalid = {rid: r for rid, r in parsed.items() if isinstance(r, str)} if season is None else {}
    if season is not None:
        races = {rid: r for rid, r in races.items() if r.effective_season == season}
    todo = {rid: r for rid, r in races.items() if _needs_mapping(r, docs[rid])}

    seasons = sorted({r.effective_season for r in todo.values()})
    pool = [cand for year in seasons for cand in fetch_candidates(client, year)]
    found = {rid: match_race(race, pool) for rid, race in todo.items()}
    keys = {m.meeting_key for m in found.values() if m.meeting_key is not None}
    claims = {
        key: owner
        for key, owner in store.get_claims(db, keys).items()
        if owner in todo or store.holds(docs.get(owner), key)  # a stale claim does not count
    }
    final = assign(found, claims)
    final.update({rid: unmapped(reason) for rid, reason in invalid.items()})

    results: dict[str, RaceResult] = {}
    writes = 0
    stamp = now()
    for race_id in sorted(final, key=lambda rid: (_write_order(docs[rid], final[rid]), rid)):
        doc, race = docs[race_id], races.get(race_id)
        fingerprint = race.fingerprint() if race is not None else ""
        stored, wrote = store.apply_mapping(db, race_id, final[race_id], fingerprint=fingerprint, now=stamp)
        writes += wrote
        results[race_id] = _result(race_id, doc, race, stored, changed=_changed(doc, stored))
    for race_id, race in races.items():
        if race_id not in results:  # mapped and unchanged: nothing asked, nothing written
            match = store.stored_match(docs[race_id]) or Match()
            results[race_id] = _result(race_id, docs[race_id], race, match, changed=False)
    ordered = [results[rid] for rid in sorted(results)]
    report = MappingReport(seasons=seasons, races=ordered, writes=writes)
    log.info("races mapped", extra={"json_fields": {**report.summary(), "project": settings.project}})
    return report


def _write_order(doc: dict[str, Any], match: Match) -> int:
    """Races giving a meeting up are written before races taking one, so a freed meeting is free:
    0 gives one up for none, 1 swaps one for another, 2 the rest. (A chain of swaps may still meet
    a meeting not yet freed; that race is stored unmapped and mapped by the next run.)"""
    old = doc.get("openf1_meeting_key") if doc.get("mapping_status") == "mapped" else None
    if old is None or old == match.meeting_key:
        return 2
    return 0 if match.meeting_key is None else 1


def _changed(doc: dict[str, Any], stored: Match) -> bool:
    return store.stored_match(doc) != Match(
        meeting_key=stored.meeting_key if stored.mapped else None,
        session_key=stored.session_key if stored.mapped else None,
        reason=None if stored.mapped else stored.reason,
    )


def _result(
    race_id: str, doc: dict[str, Any], race: TravelRace | None, match: Match, *, changed: bool
) -> RaceResult:
    return RaceResult(
        race_id=race_id,
        name=race.name if race else str(doc.get("name", "")),
        date=race.date.isoformat() if race else str(doc.get("date", "")),
        status=match.status,
        meeting_key=match.meeting_key if match.mapped else None,
        session_key=match.session_key if match.mapped else None,
        reason=None if match.mapped else match.reason,
        changed=changed,
    )


def unmapped_races(db: firestore.Client) -> list[RaceResult]:
    """Races with no OpenF1 keys, with the reason (never-mapped races say so), by date."""
    out = []
    for race_id, doc in store.list_races(db).items():
        if doc.get("mapping_status") == "mapped":
            continue
        reason = doc.get("unmapped_reason") or "not mapped yet (run: pitlane races map)"
        out.append(
            RaceResult(
                race_id=race_id,
                name=str(doc.get("name", "")),
                date=str(doc.get("date", "")),
                status="unmapped",
                reason=reason,
                changed=False,
            )
        )
    return sorted(out, key=lambda r: (r.date, r.race_id))


def resolve_race(db: firestore.Client, race_id: str) -> RaceKeys:
    """The OpenF1 keys of a travel-app race; ``NotFoundError`` if unknown or unmapped (with why)."""
    doc = store.get_race(db, race_id)
    if doc is None:
        raise NotFoundError(f"unknown race {race_id!r}")
    meeting_key, session_key = doc.get("openf1_meeting_key"), doc.get("openf1_session_key")
    if doc.get("mapping_status") != "mapped" or meeting_key is None or session_key is None:
        why = doc.get("unmapped_reason") or "not mapped yet"
        raise NotFoundError(f"race {race_id!r} has no OpenF1 keys: {why}")
    return RaceKeys(race_id=race_id, meeting_key=meeting_key, session_key=session_key)


def race_for_meeting(db: firestore.Client, meeting_key: int) -> str:
    """The travel-app race id of an OpenF1 meeting; ``NotFoundError`` if no race holds it."""
    claim = store.get_claim(db, meeting_key) or {}
    race_id = claim.get("race_id")
    if not isinstance(race_id, str) or not store.holds(store.get_race(db, race_id), meeting_key):
        raise NotFoundError(f"no race is mapped to OpenF1 meeting {meeting_key}")
    return race_id
