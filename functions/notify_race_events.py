"""``notify_race_events``: on every ``race-events`` message, tell the subscribers of Safety Car,
VSC, red flag, delay and results alerts (``shared.services.notify.on_race_event``).

Most race events (laps, pits, weather) notify nobody and return before any client is built. A
notification still in flight in another instance raises ``TransientError``, so Pub/Sub delivers
the event again (the ledger keeps every notification to one send).
"""

from __future__ import annotations

import functions_framework
from cloudevents.http import CloudEvent

from functions import _runtime
from functions.notify import deps
from shared.notify.occurrences import classify_race_event
from shared.services import notify as service
from shared.timing.models import RaceEvent


@functions_framework.cloud_event
@_runtime.event_function
def notify_race_events(event: CloudEvent) -> None:
    race_event = _runtime.pubsub_payload(event, RaceEvent)
    if classify_race_event(race_event) is None:
        return
    service.on_race_event(race_event, deps())
