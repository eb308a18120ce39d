"""``poll_openf1_live``: every minute (Cloud Scheduler -> Pub/Sub ``openf1-tick``), poll OpenF1 for
the live session while ``record_live_timing`` is silent (``shared.services.openf1_ingest``).

A run polls for at most 55 s under a lease, so overlapping ticks never poll at once. Transient
failures (OpenF1 after retries, Firestore, Pub/Sub) raise, and Pub/Sub redelivers (``retry: true``);
a redelivery resumes from the committed watermarks, writing nothing twice.
"""

from __future__ import annotations

import functools
import logging

import functions_framework
from cloudevents.http import CloudEvent
from pydantic import BaseModel, ConfigDict, Field

from functions import _runtime
from shared.services.openf1_ingest import poll_tick
from shared.sources.openf1 import OpenF1Client

log = logging.getLogger("pitlane.poll_openf1_live")


class OpenF1Tick(BaseModel):
    """The tick's payload: ``budget_s`` bounds one run (the function's timeout is 90 s)."""

    model_config = ConfigDict(extra="ignore")
    reason: str = "tick"
    budget_s: float = Field(55.0, gt=0, le=70)
    every_s: float = Field(5.0, ge=1, le=60)


@functools.lru_cache(maxsize=1)
def _client() -> OpenF1Client:
    """One OpenF1 client per instance (its cache and the process's rate limiter are shared)."""
    return OpenF1Client(settings=_runtime.settings(), http=_runtime.http())


@functions_framework.cloud_event
@_runtime.event_function
def poll_openf1_live(event: CloudEvent) -> None:
    tick = _runtime.pubsub_payload(event, OpenF1Tick)
    result = poll_tick(
        client=_client(),
        db=_runtime.db(),
        publisher=_runtime.publisher(),
        settings=_runtime.settings(),
        budget_s=tick.budget_s,
        every_s=tick.every_s,
    )
    log.info("poll_openf1_live: %s", result.status, extra={"json_fields": result.model_dump(mode="json")})
