"""``notify_schedule_events``: on every ``schedule-events`` message (a session moved, cancelled,
reinstated, added or removed), tell the subscribers of ``schedule_changed`` (and of
``session_delayed`` for a cancellation or a later start) whose filters match the meeting, once
each (``shared.services.notify.on_schedule_change``)."""

from __future__ import annotations

import functions_framework
from cloudevents.http import CloudEvent

from functions import _runtime
from functions.notify import deps
from shared.models.schedule import ScheduleChange
from shared.services import notify as service


@functions_framework.cloud_event
@_runtime.event_function
def notify_schedule_events(event: CloudEvent) -> None:
    service.on_schedule_change(_runtime.pubsub_payload(event, ScheduleChange), deps())
