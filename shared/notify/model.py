"""Topics and subscriptions, as stored in ``users/{uid}/subscriptions/{id}``.

A subscription names topics, optional filters, one to five channels, optional quiet hours (wall
clock in the subscriber's IANA ``time_zone``) and, for reminders, a lead time in minutes.

Stored document (also what clients write under ``firestore.rules``)::

    {"topics": ["sc", "vsc", "red_flag"],
     "filters": {"series": ["f1"], "meetings": ["2018_azerbaijan_grand_prix"], "drivers": ["44"]},
     "channels": [{"type": "webhook", "url": "https://...", "secret": "..."},
                  {"type": "fcm", "token": "<device registration token>"}],
     "quiet_hours": {"start": "23:00", "end": "07:00", "action": "hold"},
     "time_zone": "Europe/Paris", "reminder_lead_min": 30,
     "created_at": <timestamp>, "updated_at": <timestamp>}

Documents written by clients are read leniently (:func:`parse_subscription`): an unknown topic or
a channel that is not a valid object (e.g. a bare ``"push"``) is left out and reported; a
subscription left with no topic or no channel matches nothing.
"""

from __future__ import annotations

import hashlib
import re
from datetime import time
from enum import StrEnum
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError, field_validator


class Topic(StrEnum):
    """What a subscriber can ask to hear about (F1 meanings in the comments)."""

    REMINDER = "reminder"  # a session of interest starts in ``reminder_lead_min`` minutes
    SC = "sc"  # Safety Car deployed (track status '4', race control "SAFETY CAR DEPLOYED")
    VSC = "vsc"  # Virtual Safety Car deployed (track status '6')
    RED_FLAG = "red_flag"  # session stopped (track status '5', race control "RED FLAG")
    SESSION_DELAYED = "session_delayed"  # start delayed, session suspended or cancelled
    SCHEDULE_CHANGED = "schedule_changed"  # a session moved, cancelled, reinstated, added or removed
    RESULTS = "results"  # the session has finished (chequered flag): results are in
    PREDICTION_SWING = "prediction_swing"  # the race prediction swung (published by the predictor)


TOPICS: tuple[str, ...] = tuple(t.value for t in Topic)
SERIES = ("f1", "f2", "f3", "f1-academy")
MAX_CHANNELS = 5
MIN_LEAD_MIN, MAX_LEAD_MIN, DEFAULT_LEAD_MIN = 5, 120, 30
MIN_SECRET_CHARS = 16
_HHMM = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class WebhookChannel(_Frozen):
    """POST a JSON body signed with ``secret`` (see :mod:`shared.notify.signing`) to ``url``."""

    type: Literal["webhook"] = "webhook"
    url: str = Field(min_length=8, max_length=2048, pattern=r"^https?://[^\s]+$")
    secret: str = Field(min_length=MIN_SECRET_CHARS, max_length=256, repr=False)

    @property
    def destination(self) -> str:
        return self.url


class FcmChannel(_Frozen):
    """A Firebase Cloud Messaging device registration token (removed when FCM reports it invalid)."""

    type: Literal["fcm"] = "fcm"
    token: str = Field(min_length=1, max_length=4096, repr=False)

    @property
    def destination(self) -> str:
        return self.token


Channel = Annotated[WebhookChannel | FcmChannel, Field(discriminator="type")]


def channel_id(channel: WebhookChannel | FcmChannel) -> str:
    """A short stable id of a channel's destination (the ledger key and logs use it, never the
    token or URL themselves)."""
    return hashlib.sha256(f"{channel.type}:{channel.destination}".encode()).hexdigest()[:16]


class Filters(_Frozen):
    """Empty lists mean "any". ``drivers`` (car numbers as strings) restricts only occurrences
    that name drivers; a Safety Car or a schedule change names none and always passes."""

    series: tuple[str, ...] = ()
    meetings: tuple[str, ...] = Field(default=(), max_length=50)
    drivers: tuple[str, ...] = Field(default=(), max_length=50)

    @field_validator("series")
    @classmethod
    def _series(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        unknown = [s for s in value if s not in SERIES]
        if unknown:
            raise ValueError(f"unknown series {unknown[0]!r} (known: {', '.join(SERIES)})")
        return value


class QuietHours(_Frozen):
    """A daily window ``[start, end)`` of wall-clock time in the subscriber's zone; ``start`` after
    ``end`` spans midnight; equal means no quiet hours. ``action``: ``hold`` delivers at the end of
    the window, ``drop`` never delivers what arrived inside it."""

    start: str = Field(pattern=_HHMM.pattern)
    end: str = Field(pattern=_HHMM.pattern)
    action: Literal["hold", "drop"] = "hold"

    @property
    def start_time(self) -> time:
        return time.fromisoformat(self.start)

    @property
    def end_time(self) -> time:
        return time.fromisoformat(self.end)


def check_time_zone(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {name!r} (want an IANA name such as Europe/Paris)") from None
    return name


class Subscription(_Frozen):
    """One subscription of user ``uid`` (Firebase Auth uid), id ``id``."""

    id: str
    uid: str
    topics: tuple[Topic, ...] = Field(min_length=1)
    filters: Filters = Filters()
    channels: tuple[Channel, ...] = Field(min_length=1, max_length=MAX_CHANNELS)
    quiet_hours: QuietHours | None = None
    time_zone: str = "UTC"
    reminder_lead_min: int = Field(default=DEFAULT_LEAD_MIN, ge=MIN_LEAD_MIN, le=MAX_LEAD_MIN)
    created_at: AwareDatetime | None = None
    updated_at: AwareDatetime | None = None

    @field_validator("time_zone")
    @classmethod
    def _zone(cls, value: str) -> str:
        return check_time_zone(value)

    def to_doc(self) -> dict[str, Any]:
        """The Firestore document (the shape ``firestore.rules`` validates)."""
        doc: dict[str, Any] = self.model_dump(mode="python", exclude={"id", "uid"}, exclude_none=True)
        doc["topics"] = [t.value for t in self.topics]
        doc["filters"] = {k: list(v) for k, v in doc["filters"].items() if v}
        doc["channels"] = [dict(c) for c in doc["channels"]]
        return doc


def parse_subscription(uid: str, sub_id: str, doc: dict[str, Any]) -> tuple[Subscription | None, list[str]]:
    """A stored document as a :class:`Subscription`, leniently; returns it (None when nothing
    usable is left) and the problems found (for a counted warning)."""
    problems: list[str] = []
    topics = [t for t in doc.get("topics") or [] if isinstance(t, str)]
    known = [Topic(t) for t in dict.fromkeys(topics) if t in TOPICS]
    problems += [f"unknown topic {t!r}" for t in topics if t not in TOPICS]
    channels: list[WebhookChannel | FcmChannel] = []
    for raw in doc.get("channels") or []:
        try:
            channels.append(_channel(raw))
        except (ValidationError, ValueError, TypeError) as exc:
            problems.append(f"bad channel: {str(exc).splitlines()[0][:120]}")
    fields: dict[str, Any] = {"id": sub_id, "uid": uid, "topics": known, "channels": channels[:MAX_CHANNELS]}
    for key in ("filters", "quiet_hours", "time_zone", "reminder_lead_min", "created_at", "updated_at"):
        if doc.get(key) is not None:
            fields[key] = doc[key]
    if not known or not channels:
        problems.append("no known topic" if not known else "no usable channel")
        return None, problems
    try:
        return Subscription.model_validate(fields), problems
    except ValidationError as exc:
        problems.append(f"invalid: {exc.errors()[0]['loc']!s} {exc.errors()[0]['msg']}")
        return None, problems


def _channel(raw: Any) -> WebhookChannel | FcmChannel:
    if not isinstance(raw, dict):
        raise ValueError(f"{type(raw).__name__} is not a channel object")
    if raw.get("type") == "webhook":
        return WebhookChannel.model_validate(raw)
    if raw.get("type") == "fcm":
        return FcmChannel.model_validate(raw)
    raise ValueError(f"unknown channel type {raw.get('type')!r}")


def subscription_id(uid: str, content: dict[str, Any]) -> str:
    """A deterministic id for a subscription created through the API: the same request repeated
    names the same document, so a retried POST does not duplicate it."""
    canonical = repr(sorted((k, repr(v)) for k, v in content.items()))
    return hashlib.sha256(f"{uid}|{canonical}".encode()).hexdigest()[:20]
