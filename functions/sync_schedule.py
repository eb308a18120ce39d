"""``sync_schedule``: on every schedule tick (Cloud Scheduler -> Pub/Sub), store the season."""

from __future__ import annotations

from datetime import UTC, datetime

import functions_framework
from cloudevents.http import CloudEvent
from pydantic import BaseModel, ConfigDict, Field

from functions import _runtime
from shared.services.schedule_sync import sync_season


class ScheduleTick(BaseModel):
    """The tick's payload; ``season`` defaults to the current UTC year."""

    model_config = ConfigDict(extra="ignore")
    reason: str = "tick"
    season: int | None = Field(None, ge=1950, le=2100)


@functions_framework.cloud_event
@_runtime.event_function
def sync_schedule(event: CloudEvent) -> None:
    tick = _runtime.pubsub_payload(event, ScheduleTick)
    season = tick.season or datetime.now(UTC).year
    sync_season(season, db=_runtime.db(), http=_runtime.http(), settings=_runtime.settings())
