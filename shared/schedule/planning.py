"""When to sync and what to enqueue (pure logic; times are aware UTC).

* :func:`in_weekend_window`: the 5-minute scheduler tick syncs only while a meeting is within
  :data:`WINDOW_BEFORE` of its first session or :data:`WINDOW_AFTER` of its last one's start (a
  race weekend, when times move at short notice); the hourly tick always syncs.
* :func:`plan_tasks`: for each session starting within the horizon, the Cloud Task that starts
  ``record_live_timing`` (queue ``live-timing``) :data:`RECORD_LEAD` before the start
  (:data:`RACE_RECORD_LEAD` for a race: the pre-race build-up has timing data too), and a reminder
  for ``notify`` (queue ``reminders``) ``reminder_lead`` before it (default :data:`REMINDER_LEAD`;
  the schedule sync passes the longest lead a subscriber may choose, and ``notify`` holds each
  subscriber's reminder until their own lead, ``shared.notify.matching``). Task names are
  deterministic and carry the start (epoch seconds), so a re-sync names the same task again (Cloud
  Tasks refuses the repeat) and a moved session gets a new one.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from shared.models.schedule import Meeting, Session
from shared.tasks import task_name  # pure: the Cloud Tasks client is imported on use only

WINDOW_BEFORE = timedelta(hours=24)
WINDOW_AFTER = timedelta(hours=4)
RECORD_LEAD = timedelta(minutes=15)
RACE_RECORD_LEAD = timedelta(minutes=60)
REMINDER_LEAD = timedelta(minutes=30)
DEFAULT_HORIZON = timedelta(hours=6)
LIVE_QUEUE = "live-timing"
REMINDER_QUEUE = "reminders"
RECORD_FUNCTION = "record_live_timing"
REMINDER_FUNCTION = "notify"
_RACES = frozenset({"r", "s"})  # races, sprint races included


def in_weekend_window(meetings: Iterable[Meeting], now: datetime) -> bool:
    """Whether any published meeting's weekend (with the margins above) contains ``now``."""
    return any(
        m.published and m.start_utc - WINDOW_BEFORE <= now <= m.end_utc + WINDOW_AFTER for m in meetings
    )


@dataclass(frozen=True)
class PlannedTask:
    """One Cloud Task to create: POST ``body`` to ``function`` via ``queue`` at ``schedule_time``."""

    kind: Literal["record", "reminder"]
    session_id: str
    queue: str
    function: str
    name: str
    body: dict[str, Any]
    schedule_time: datetime


def record_lead(session: Session) -> timedelta:
    return RACE_RECORD_LEAD if session.code in _RACES else RECORD_LEAD


def plan_tasks(
    sessions: Iterable[Session],
    *,
    now: datetime,
    horizon: timedelta = DEFAULT_HORIZON,
    live_queue: str = LIVE_QUEUE,
    reminder_queue: str = REMINDER_QUEUE,
    reminders: bool = True,
    reminder_lead: timedelta = REMINDER_LEAD,
) -> list[PlannedTask]:
    """The tasks for published, not cancelled sessions starting in ``(now, now + horizon]``; a
    task whose time has passed is scheduled for ``now`` (Cloud Tasks then runs it at once)."""
    out: list[PlannedTask] = []
    for s in sorted(sessions, key=lambda s: (s.start_utc, s.session_id)):
        if not s.published or s.cancelled or not now < s.start_utc <= now + horizon:
            continue
        epoch = int(s.start_utc.timestamp())
        out.append(
            PlannedTask(
                kind="record",
                session_id=s.session_id,
                queue=live_queue,
                function=RECORD_FUNCTION,
                name=task_name("record", s.session_id, epoch),
                body={"source": "live", "session_id": s.session_id},
                schedule_time=max(now, s.start_utc - record_lead(s)),
            )
        )
        if reminders:
            out.append(
                PlannedTask(
                    kind="reminder",
                    session_id=s.session_id,
                    queue=reminder_queue,
                    function=REMINDER_FUNCTION,
                    name=task_name("reminder", s.session_id, epoch),
                    body={
                        "kind": "reminder",
                        "session_id": s.session_id,
                        "start_utc": s.start_utc.isoformat(),
                    },
                    schedule_time=max(now, s.start_utc - reminder_lead),
                )
            )
    return out
