"""``sync_schedule``: on every schedule tick (Cloud Scheduler -> Pub/Sub ``schedule-tick``), sync
the season (``shared.services.schedule_sync``).

Ticks: ``{"reason": "hourly"}`` always syncs; ``{"reason": "weekend"}`` (every 5 minutes) syncs
only while a stored meeting is within its weekend window (``shared.schedule.planning``), else
returns after one Firestore query. ``season`` defaults to the current UTC year; ``horizon_h``
overrides how far ahead (hours) sessions get their Cloud Tasks.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import functions_framework
from cloudevents.http import CloudEvent
from google.cloud import firestore
from pydantic import BaseModel, ConfigDict, Field

from functions import _runtime
from shared.models.schedule import Meeting
from shared.schedule.planning import in_weekend_window
from shared.services.schedule_sync import SyncOptions, sync_season
from shared.stores.schedule import list_meetings

log = logging.getLogger(__name__)


class ScheduleTick(BaseModel):
    """The tick's payload; ``season`` defaults to the current UTC year."""

    model_config = ConfigDict(extra="ignore")
    reason: str = "tick"
    season: int | None = Field(default=None, ge=1950, le=2100)
    horizon_h: float | None = Field(default=None, ge=0, le=24 * 14)


def weekend_now(db: firestore.Client, now: datetime) -> bool:
    """Whether a stored meeting of this year is within its weekend window (one query)."""
    meetings = []
    for doc in list_meetings(db, now.year):
        try:
            meetings.append(
                Meeting.model_validate({k: v for k, v in doc.items() if k in Meeting.model_fields})
            )
        except ValueError:
            continue  # an unreadable document does not make a weekend
    return in_weekend_window(meetings, now)


@functions_framework.cloud_event
@_runtime.event_function
def sync_schedule(event: CloudEvent) -> None:
    tick = _runtime.pubsub_payload(event, ScheduleTick)
    now = datetime.now(UTC)
    if tick.reason == "weekend" and not weekend_now(_runtime.db(), now):
        log.info("schedule tick skipped: no race weekend now")
        return
    options = SyncOptions()
    if tick.horizon_h is not None:
        options = options.model_copy(update={"horizon_h": tick.horizon_h})
    sync_season(
        tick.season or now.year,
        db=_runtime.db(),
        http=_runtime.http(),
        settings=_runtime.settings(),
        publisher=_runtime.publisher(),
        now=now,
        options=options,
    )
