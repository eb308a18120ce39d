"""What happened, once: an :class:`Occurrence` is the unit a subscriber is told about exactly once.

Sources and their occurrence ids (stable across redeliveries, so the delivery ledger can key on
them):

* ``race-events``, through :func:`classify_race_event` into a :class:`Signal`:

  - Safety Car, Virtual Safety Car and red flag are *deployments*: F1 announces each twice, as a
    track-status change (``'4'`` SC, ``'6'`` VSC, ``'5'`` red) and as a race-control message
    (``SAFETY CAR DEPLOYED``, ``VIRTUAL SAFETY CAR DEPLOYED``, ``RED FLAG``), within a second or
    two of each other; the live-timing feed has both, OpenF1 only the message. Both signals of one
    deployment are one incident (``shared.stores.notifications.resolve_incident`` joins signals of
    a kind less than a window apart), id ``{session_id}:{topic}:{n}`` (the n-th of that kind);
  - a race-control message announcing a delay, suspension or cancellation:
    ``{session_id}:session_delayed:rc{n}``;
  - the session status becoming ``Finished`` (chequered flag): ``{session_id}:results``;
* ``schedule-events``: ``schedule:{change_id}`` (:func:`schedule_occurrence`);
* reminder tasks: ``{session_id}:reminder:{start epoch s}`` (:func:`reminder_occurrence`).

Texts are short (a push notification's line) and may hold ``{start}``, ``{was}`` and ``{in}``
tokens, filled per subscriber at send time in their zone (:mod:`shared.notify.render`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from shared.models.schedule import ScheduleChange
from shared.notify.model import Topic
from shared.timing.models import EventKind, RaceEvent

# Race-control texts (upper case) that announce a delay, a suspension or a cancellation.
_DELAY = re.compile(
    r"\b(DELAYED|SUSPENDED|POSTPONED|CANCELLED|ABANDONED|WILL NOT (RESUME|RESTART|START|TAKE PLACE))\b"
)
_TRACK_TOPICS = {"sc": Topic.SC, "vsc": Topic.VSC, "red": Topic.RED_FLAG}
INCIDENT_TOPICS = frozenset({Topic.SC, Topic.VSC, Topic.RED_FLAG})
_CODES = {"fp1": "Practice 1", "fp2": "Practice 2", "fp3": "Practice 3", "sq": "Sprint Qualifying",
          "s": "Sprint", "q": "Qualifying", "r": "Race"}  # fmt: skip


class Occurrence(BaseModel):
    """One thing to tell subscribers about. ``topics[0]`` is the main one (its title); the rest
    are topics it also belongs to (a cancellation is a schedule change and a delay).
    ``starts_utc``: the session start it is about (reminders, schedule changes); ``expires_utc``:
    past it, sending is pointless (a reminder after the start)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    occurrence_id: str
    topics: tuple[Topic, ...] = Field(min_length=1)
    title: str
    body: str
    utc: AwareDatetime = Field(description="when it happened (feed time for race events), UTC")
    session_id: str | None = None
    meeting_id: str | None = None
    series: str = "f1"
    drivers: tuple[str, ...] = ()
    starts_utc: AwareDatetime | None = None
    was_utc: AwareDatetime | None = None
    expires_utc: AwareDatetime | None = None
    data: dict[str, Any] = Field(default_factory=dict)

    @property
    def topic(self) -> Topic:
        return self.topics[0]


@dataclass(frozen=True)
class Signal:
    """What a race event means to subscribers, before incidents are joined. ``key`` names the
    occurrence within its session when it is not an incident."""

    topic: Topic
    incident: bool
    key: str
    utc: datetime
    lap: int | None = None
    message: str | None = None
    drivers: tuple[str, ...] = ()


def classify_race_event(event: RaceEvent) -> Signal | None:
    """The signal a race event carries, or None (laps, pits, weather... notify nobody)."""
    data = event.data
    lap = data.get("lap") if isinstance(data.get("lap"), int) else None
    if event.kind is EventKind.TRACK_STATUS:
        topic = _TRACK_TOPICS.get(str(data.get("status")))
        return Signal(topic, True, event.event_id, event.utc) if topic else None
    if event.kind is EventKind.RACE_CONTROL:
        text = str(data.get("message") or "").strip().upper()
        driver = data.get("driver_number")
        drivers = (str(driver),) if driver else ()
        if "VIRTUAL SAFETY CAR DEPLOYED" in text:
            return Signal(Topic.VSC, True, event.event_id, event.utc, lap, text)
        if "SAFETY CAR DEPLOYED" in text:
            return Signal(Topic.SC, True, event.event_id, event.utc, lap, text)
        if str(data.get("flag") or "").upper() == "RED" or text.startswith("RED FLAG"):
            return Signal(Topic.RED_FLAG, True, event.event_id, event.utc, lap, text)
        if _DELAY.search(text):
            n = data.get("n")
            key = f"rc{n:04d}" if isinstance(n, int) else event.event_id.rsplit(":", 1)[-1]
            return Signal(Topic.SESSION_DELAYED, False, key, event.utc, lap, text, drivers)
        return None
    if event.kind is EventKind.SESSION_STATUS and data.get("status") == "Finished":
        return Signal(Topic.RESULTS, False, "results", event.utc)
    return None


@dataclass(frozen=True)
class SessionContext:
    """Names of a session for texts and filters (from its ``sessions/{id}`` document if any)."""

    session_id: str
    meeting_id: str | None
    meeting_name: str
    session_name: str
    series: str = "f1"


def meeting_of(session_id: str) -> str | None:
    """The meeting id of a Pitlane session id (``<meeting id>_<code>``, see ``shared.ids``)."""
    head, _, code = session_id.rpartition("_")
    return head if head and code in _CODES else None


def meeting_title(meeting_id: str | None) -> str:
    """``2018_azerbaijan_grand_prix`` -> ``Azerbaijan Grand Prix`` (when no name is stored)."""
    if not meeting_id:
        return "Session"
    words = meeting_id.split("_")
    words = words[1:] if words and words[0].isdigit() else words
    return " ".join(w.upper() if w in {"gp", "usa", "uk"} else w.capitalize() for w in words)


def session_context(session_id: str, doc: dict[str, Any] | None) -> SessionContext:
    doc = doc or {}
    meeting_id = doc.get("meeting_id") if isinstance(doc.get("meeting_id"), str) else meeting_of(session_id)
    code = session_id.rpartition("_")[2]
    meeting_name = doc.get("meeting_name") or meeting_title(meeting_id)
    session_name = doc.get("session_name") or doc.get("name") or _CODES.get(code, session_id)
    return SessionContext(session_id, meeting_id, str(meeting_name), str(session_name))


_INCIDENT_TEXT = {
    Topic.SC: ("Safety Car", "Safety Car deployed"),
    Topic.VSC: ("Virtual Safety Car", "Virtual Safety Car deployed"),
    Topic.RED_FLAG: ("Red flag", "red flag, session stopped"),
}


def race_occurrence(signal: Signal, ctx: SessionContext, *, incident_n: int | None = None) -> Occurrence:
    """The occurrence of ``signal`` in the session ``ctx``; incidents need their ordinal ``n``."""
    where = f"{ctx.meeting_name}, {ctx.session_name}"
    on_lap = f" on lap {signal.lap}" if signal.lap else ""
    if signal.incident:
        if incident_n is None:
            raise ValueError("an incident needs its ordinal")
        title, what = _INCIDENT_TEXT[signal.topic]
        occurrence_id = f"{ctx.session_id}:{signal.topic.value}:{incident_n}"
        body = f"{where}: {what}{on_lap}."
        data: dict[str, Any] = {"deployment": incident_n, "lap": signal.lap}
    elif signal.topic is Topic.RESULTS:
        occurrence_id = f"{ctx.session_id}:results"
        title, body, data = "Chequered flag", f"{where} has finished: the results are in.", {}
    else:
        occurrence_id = f"{ctx.session_id}:{signal.topic.value}:{signal.key}"
        title = "Session delayed"
        body = f"{where}: {(signal.message or 'delayed').capitalize()}."
        data = {"message": signal.message, "lap": signal.lap}
    return Occurrence(
        occurrence_id=occurrence_id,
        topics=(signal.topic,),
        title=title,
        body=body,
        utc=signal.utc,
        session_id=ctx.session_id,
        meeting_id=ctx.meeting_id,
        series=ctx.series,
        drivers=signal.drivers,
        data={k: v for k, v in data.items() if v is not None},
    )


def schedule_occurrence(change: ScheduleChange) -> Occurrence:
    """A schedule change: always ``schedule_changed``; also ``session_delayed`` when the session
    was cancelled or moved later."""
    topics = [Topic.SCHEDULE_CHANGED]
    later = (
        change.kind == "moved"
        and change.before_start_utc is not None
        and change.after_start_utc is not None
        and change.after_start_utc > change.before_start_utc
    )
    if change.kind == "cancelled" or later:
        topics.insert(0, Topic.SESSION_DELAYED)
    what = f"{meeting_title(change.meeting_id)}, {change.name}"
    body = {
        "moved": f"{what} moved: now {{start}} (was {{was}}).",
        "cancelled": f"{what} is cancelled.",
        "reinstated": f"{what} is back on: {{start}}.",
        "added": f"{what} added: {{start}}.",
        "removed": f"{what} is no longer on the schedule.",
    }[change.kind]
    title = {
        "moved": "Session moved" if not later else "Session delayed",
        "cancelled": "Session cancelled",
        "reinstated": "Session reinstated",
        "added": "Session added",
        "removed": "Session removed",
    }[change.kind]
    return Occurrence(
        occurrence_id=f"schedule:{change.change_id}",
        topics=tuple(topics),
        title=title,
        body=body,
        utc=change.after_start_utc or change.before_start_utc or _epoch(),
        session_id=change.session_id,
        meeting_id=change.meeting_id,
        starts_utc=change.after_start_utc,
        was_utc=change.before_start_utc,
        data={"kind": change.kind, "change_id": change.change_id},
    )


def reminder_occurrence(ctx: SessionContext, *, starts_utc: datetime) -> Occurrence:
    """A reminder of the session ``ctx`` starting at ``starts_utc``; expires at the start."""
    return Occurrence(
        occurrence_id=f"{ctx.session_id}:reminder:{int(starts_utc.timestamp())}",
        topics=(Topic.REMINDER,),
        title=f"{ctx.session_name} starts {{in}}",
        body=f"{ctx.meeting_name}, {ctx.session_name}: {{start}}.",
        utc=starts_utc,
        session_id=ctx.session_id,
        meeting_id=ctx.meeting_id,
        series=ctx.series,
        starts_utc=starts_utc,
        expires_utc=starts_utc,
    )


def reminder_due(occ: Occurrence, lead_min: int) -> datetime | None:
    """When a subscriber with a ``lead_min`` lead should get a reminder (None: not a reminder)."""
    if occ.topic is not Topic.REMINDER or occ.starts_utc is None:
        return None
    return occ.starts_utc - timedelta(minutes=lead_min)


def _epoch() -> datetime:
    return datetime.fromisoformat("1970-01-01T00:00:00+00:00")
