"""A race weekend as a traveller reads it: every session of every series with start and end in
UTC, in the circuit's wall clock and in the traveller's zone (pure logic).

F1 sessions carry their scheduled end when OpenF1 published one; otherwise, and for the
supporting series, the end is the start plus the usual length of that kind of session
(:data:`DURATIONS`, minutes: the slot F1 and the series publish, not a measured time) and
``end_estimated`` says so. Daylight saving is the zone database's: each instant gets the offset in
force at that instant, so a weekend across a change shows two offsets.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from shared.api.types import LocalDateTime
from shared.models.schedule import Series, Timeline, TimelineEntry
from shared.schedule.timeline import zone

# Usual slot lengths, minutes. F1: practice 60, sprint qualifying 44, sprint ~30 min racing in a
# 60 min slot, qualifying 60, race 120 (two hours covers all but red-flagged races). Supporting
# series: practice 45 (F1 Academy 40), qualifying 30, sprint 45, feature 60, F1 Academy races 40.
DURATIONS: dict[tuple[str, str], int] = {
    ("f1", "fp1"): 60,
    ("f1", "fp2"): 60,
    ("f1", "fp3"): 60,
    ("f1", "sq"): 44,
    ("f1", "s"): 60,
    ("f1", "q"): 60,
    ("f1", "r"): 120,
    ("f2", "practice"): 45,
    ("f2", "qualifying"): 30,
    ("f2", "sprint"): 45,
    ("f2", "feature"): 60,
    ("f3", "practice"): 45,
    ("f3", "qualifying"): 30,
    ("f3", "sprint"): 45,
    ("f3", "feature"): 50,
}
DEFAULT_MINUTES = {"f1": 60, "f2": 45, "f3": 45, "f1-academy": 40}
F1_CODES = ("fp1", "fp2", "fp3", "sq", "s", "q", "r")


class Instant(BaseModel):
    """One instant three ways: UTC, the circuit's wall clock (naive), the traveller's zone."""

    model_config = ConfigDict(frozen=True, defer_build=True)

    utc: AwareDatetime
    local: LocalDateTime = Field(description="wall clock at the circuit")
    in_tz: AwareDatetime = Field(description="in the zone asked for (offset included)")


class WeekendSession(BaseModel):
    model_config = ConfigDict(frozen=True, defer_build=True)

    series: Series
    code: str = Field(description="F1: fp1, fp2, fp3, sq, s, q, r; other series: the calendar's key")
    name: str
    session_id: str | None = Field(default=None, description="F1 sessions only")
    start: Instant
    end: Instant
    end_estimated: bool = Field(description="true when the end is the usual length, not published")
    cancelled: bool = False
    tbc: bool = Field(default=False, description="the series marks the time as to be confirmed")


class Weekend(BaseModel):
    model_config = ConfigDict(frozen=True, defer_build=True)

    meeting_id: str
    time_zone: str = Field(description="the circuit's IANA zone")
    tz: str = Field(description="the zone of in_tz")
    sessions: list[WeekendSession]


def instant(utc: datetime, home: ZoneInfo, view: ZoneInfo) -> Instant:
    return Instant(utc=utc, local=utc.astimezone(home).replace(tzinfo=None), in_tz=utc.astimezone(view))


def duration(series: str, code: str) -> timedelta:
    return timedelta(minutes=DURATIONS.get((series, code), DEFAULT_MINUTES.get(series, 60)))


def _session(entry: TimelineEntry, home: ZoneInfo, view: ZoneInfo) -> WeekendSession:
    end = entry.end_utc if entry.end_utc and entry.end_utc > entry.start_utc else None
    return WeekendSession(
        series=entry.series,
        code=entry.code,
        name=entry.name,
        session_id=entry.session_id,
        start=instant(entry.start_utc, home, view),
        end=instant(end or entry.start_utc + duration(entry.series, entry.code), home, view),
        end_estimated=end is None,
        cancelled=entry.cancelled,
        tbc=entry.tbc,
    )


def weekend(timeline: Timeline, *, tz: str | None = None, series: set[str] | None = None) -> Weekend:
    """The stored timeline as a :class:`Weekend` in ``tz`` (default: the circuit's zone), only the
    ``series`` asked for (default: all). ``BadRequestError`` for an unknown zone."""
    home, view = zone(timeline.time_zone), zone(tz or timeline.time_zone)
    sessions = [_session(e, home, view) for e in timeline.entries if series is None or e.series in series]
    return Weekend(
        meeting_id=timeline.meeting_id,
        time_zone=timeline.time_zone,
        tz=tz or timeline.time_zone,
        sessions=sessions,
    )
