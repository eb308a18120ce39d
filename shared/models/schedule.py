"""Meetings and sessions as stored in Firestore (``meetings/{meeting_id}``, ``sessions/{session_id}``),
the weekend timeline (``meetings/{meeting_id}/timeline/weekend``) and schedule changes (Pub/Sub
``schedule-events``).

Times: ``start_utc``/``end_utc`` are timezone-aware UTC; ``start_local`` is the wall-clock time at
the circuit (naive ISO string as published by F1); ``gmt_offset`` the circuit's offset from UTC at
that session (``"+04:00"``) and ``time_zone`` the circuit's IANA zone (``"Asia/Baku"``), so a client
can show either without a time-zone database, or convert to any zone with one.

Ids: documents keep Pitlane's deterministic ids (``shared.ids``: ``2024_singapore_grand_prix``,
``..._r``), which the live pipeline uses; OpenF1's ``meeting_key``/``session_key`` are fields
(queryable, see ``shared.stores.schedule.get_meeting_by_key``), ``None`` when OpenF1 has no record.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

EventFormat = Literal["conventional", "sprint", "sprint_shootout", "sprint_qualifying", "testing"]
Series = Literal["f1", "f2", "f3", "f1-academy"]
ChangeKind = Literal["added", "moved", "cancelled", "reinstated", "removed"]
_OFFSET = r"^[+-]\d\d:\d\d$"


class _Doc(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Session(_Doc):
    session_id: str
    meeting_id: str
    year: int
    round: int = Field(ge=0)
    name: str = Field(description="F1's session name, e.g. 'Practice 1', 'Race'")
    code: str = Field(description="fp1, fp2, fp3, sq, s, q or r")
    start_utc: AwareDatetime
    start_local: datetime = Field(description="wall-clock start at the circuit (naive)")
    gmt_offset: str = Field(pattern=_OFFSET, description="circuit offset from UTC at this session")
    series: Literal["f1"] = "f1"
    published: bool = Field(default=True, description="False once no feed lists it (kept)")
    time_zone: str | None = Field(default=None, description="IANA zone of the circuit, e.g. 'Asia/Singapore'")
    end_utc: AwareDatetime | None = Field(default=None, description="scheduled end (OpenF1), UTC")
    cancelled: bool = False
    session_key: int | None = Field(default=None, description="OpenF1 session_key")
    meeting_key: int | None = Field(default=None, description="OpenF1 meeting_key")


class Meeting(_Doc):
    meeting_id: str
    year: int
    round: int = Field(ge=0)
    name: str
    official_name: str
    country: str
    location: str
    event_format: EventFormat
    gmt_offset: str = Field(pattern=_OFFSET, description="circuit offset from UTC on race day")
    start_utc: AwareDatetime = Field(description="start of the first session")
    end_utc: AwareDatetime = Field(description="start of the last session")
    session_ids: list[str]
    published: bool = True
    time_zone: str | None = Field(default=None, description="IANA zone of the circuit")
    meeting_key: int | None = Field(default=None, description="OpenF1 meeting_key")
    circuit_key: int | None = Field(default=None, description="OpenF1 circuit_key")


class SupportSession(_Doc):
    """A supporting series' session (F2, F3, F1 Academy) from the season calendars, UTC."""

    series: Series
    event: str = Field(description="the calendar's event name, e.g. 'Singapore'")
    location: str
    round: int
    name: str = Field(description="e.g. 'Sprint Race', 'Feature Race', 'Race 1'")
    code: str = Field(description="the calendar's key: practice, qualifying, sprint, feature, race1...")
    start_utc: AwareDatetime
    lat: float | None = None
    lon: float | None = None
    cancelled: bool = False
    tbc: bool = Field(default=False, description="the calendar marks the time as to be confirmed")


class TimelineEntry(_Doc):
    """One session of a weekend, any series; ``start_local`` at the circuit, ``start_in_tz`` in the
    caller's zone (the circuit's when none is named)."""

    series: Series
    name: str
    code: str
    start_utc: AwareDatetime
    start_local: datetime = Field(description="wall clock at the circuit (naive)")
    start_in_tz: AwareDatetime
    end_utc: AwareDatetime | None = None
    session_id: str | None = Field(default=None, description="F1 sessions only")
    cancelled: bool = False
    tbc: bool = False


class Timeline(_Doc):
    meeting_id: str
    time_zone: str = Field(description="the circuit's IANA zone (start_local)")
    tz: str = Field(description="the zone of start_in_tz")
    entries: list[TimelineEntry]


class ScheduleChange(_Doc):
    """One schedule change, published once on ``schedule-events`` (ordering key: ``meeting_id``).

    ``change_id`` is a digest of the change and of the stored version it was detected against, so
    a redelivered message carries the same id and a later change back and forth gets a new one.
    """

    change_id: str
    kind: ChangeKind
    session_id: str
    meeting_id: str
    year: int
    name: str
    before_start_utc: AwareDatetime | None = None
    after_start_utc: AwareDatetime | None = None
    start_local: datetime | None = Field(default=None, description="new (or last) wall clock, circuit")
    time_zone: str | None = None
