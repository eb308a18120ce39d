"""Response models of the read API (sessions, meetings, health), validated on the way out.

``sessions/{id}`` is written by two writers: the schedule sync (:class:`shared.models.schedule.Session`)
and the live pipeline (:class:`shared.timing.models.SessionLive`), merged; a session replayed
without a schedule has only the live fields. :class:`SessionOut` is therefore both sets, every one
optional but the id. All instants are UTC (``...Z``); ``start_local`` is the circuit's wall clock.
"""

from __future__ import annotations

from typing import Any, Generic, Literal, TypeVar

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from shared.api.types import LocalDateTime
from shared.models.schedule import EventFormat
from shared.timing.models import DriverRow, Lap, RaceControlMessage, TimingTower, TrackStatus, WeatherSample

T = TypeVar("T")


class Out(BaseModel):
    """Base of response models: stored fields the model does not name are left out."""

    model_config = ConfigDict(extra="ignore", frozen=True, defer_build=True)


class Health(Out):
    status: Literal["ok"] = "ok"
    time: AwareDatetime


class SessionOut(Out):
    session_id: str
    meeting_id: str | None = None
    year: int | None = None
    round: int | None = None
    name: str | None = Field(default=None, description="F1's session name, e.g. 'Sprint', 'Race'")
    code: str | None = Field(default=None, description="fp1, fp2, fp3, sq, s, q or r")
    start_utc: AwareDatetime | None = None
    end_utc: AwareDatetime | None = Field(default=None, description="scheduled end (OpenF1), UTC")
    start_local: LocalDateTime | None = Field(default=None, description="wall-clock start at the circuit")
    gmt_offset: str | None = Field(default=None, description="circuit offset from UTC, '+08:00'")
    time_zone: str | None = Field(default=None, description="the circuit's IANA zone")
    series: str | None = None
    published: bool | None = None
    cancelled: bool | None = None
    session_key: int | None = Field(default=None, description="OpenF1 session_key")
    meeting_key: int | None = Field(default=None, description="OpenF1 meeting_key")
    meeting_name: str | None = None
    session_name: str | None = None
    session_type: str | None = None
    status: str | None = Field(default=None, description="F1 SessionStatus: Started, Finished...")
    track_status: TrackStatus | None = None
    current_lap: int | None = None
    total_laps: int | None = None
    started_utc: AwareDatetime | None = None
    updated_utc: AwareDatetime | None = None


class MeetingOut(Out):
    meeting_id: str
    year: int
    round: int
    name: str
    official_name: str | None = None
    country: str | None = None
    location: str | None = None
    event_format: EventFormat | None = None
    gmt_offset: str | None = None
    start_utc: AwareDatetime = Field(description="start of the first session")
    end_utc: AwareDatetime = Field(description="start of the last session")
    session_ids: list[str] = Field(default_factory=list)
    published: bool | None = None
    time_zone: str | None = None
    meeting_key: int | None = None
    circuit_key: int | None = None


class Page(Out, Generic[T]):
    items: list[T]
    next_cursor: str | None = Field(default=None, description="pass as ?cursor= for the next page")


class MeetingPage(Page[MeetingOut]):
    season: int


class DriverList(Out):
    session_id: str
    items: list[DriverRow]


class LapPage(Page[Lap]):
    session_id: str


class RaceControlList(Out):
    session_id: str
    items: list[RaceControlMessage]


class WeatherList(Out):
    session_id: str
    items: list[WeatherSample]


class LiveSession(Out):
    """A session with its timing tower (``/api/v1/session/{circuit}/live``)."""

    circuit_id: str
    session: SessionOut
    live: TimingTower | None = Field(default=None, description="null until the feed has written one")


def stored(model: type[Out], doc: dict[str, Any] | None) -> Any:
    """A stored document as ``model``, or ``None`` when absent or of a shape it cannot read."""
    if doc is None:
        return None
    try:
        return model.model_validate(doc)
    except ValueError:
        return None
