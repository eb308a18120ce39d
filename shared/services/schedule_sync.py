"""Schedule sync: the season's meetings and sessions from f1schedule into Firestore."""

from __future__ import annotations

import logging

import httpx
from google.cloud import firestore
from pydantic import BaseModel

from shared.config import Settings
from shared.schedule.f1schedule import parse_schedule
from shared.sources.f1schedule import fetch_schedule
from shared.stores.schedule import upsert_meetings, upsert_sessions

log = logging.getLogger(__name__)


class SyncSummary(BaseModel):
    season: int
    meetings: int
    sessions: int
    created: int
    updated: int
    unchanged: int
    skipped_rows: int


def sync_season(season: int, *, db: firestore.Client, http: httpx.Client, settings: Settings) -> SyncSummary:
    """Fetch, parse and store one season; returns what was written (idempotent)."""
    payload = fetch_schedule(season, http=http, settings=settings)
    parsed = parse_schedule(payload, year=season)
    counts = upsert_meetings(db, parsed.meetings)
    counts += upsert_sessions(db, parsed.sessions)
    summary = SyncSummary(
        season=season,
        meetings=len(parsed.meetings),
        sessions=len(parsed.sessions),
        created=counts.created,
        updated=counts.updated,
        unchanged=counts.unchanged,
        skipped_rows=parsed.skipped,
    )
    log.info("schedule synced", extra={"json_fields": summary.model_dump()})
    return summary
