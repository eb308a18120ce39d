"""Session state as Pitlane stores and publishes it.

Units: times in milliseconds (``*_ms``), temperatures in degrees Celsius, wind in m/s, pressure in
hPa (mbar); instants are timezone-aware UTC. Driver numbers are strings (``"44"``), as F1 keys
them. Firestore paths (README, "Firestore"):

* ``sessions/{session_id}``: :class:`SessionLive` fields merged into the schedule's document;
* ``sessions/{session_id}/live/state``: :class:`TimingTower` (clients listen; <= 1 write/s);
* ``sessions/{session_id}/drivers/{driver_number}``: :class:`DriverRow`;
* ``sessions/{session_id}/laps/{driver_number}_{lap_number:03d}``: :class:`Lap` (written when final;
  written again, same id, when F1 later corrects the stint's tyre data);
* ``sessions/{session_id}/race_control/{n:04d}``: :class:`RaceControlMessage` (written once);
* ``sessions/{session_id}/weather/{n:04d}``: :class:`WeatherSample` (written once).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field


def _three_sectors() -> list[int | None]:
    return [None, None, None]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TrackStatus(StrEnum):
    """F1's TrackStatus codes: '1' green, '2' yellow, '4' Safety Car, '5' red flag, '6' VSC
    deployed, '7' VSC ending."""

    GREEN = "green"
    YELLOW = "yellow"
    SAFETY_CAR = "sc"
    RED_FLAG = "red"
    VSC = "vsc"
    VSC_ENDING = "vsc_ending"
    UNKNOWN = "unknown"


class Lap(_Model):
    session_id: str
    driver_number: str
    lap_number: int = Field(ge=1)
    lap_time_ms: int | None = Field(default=None, description="null when F1 published no time (e.g. in-laps)")
    sector_times_ms: list[int | None] = Field(default_factory=_three_sectors)
    compound: str | None = Field(
        default=None, description="SOFT, MEDIUM, HARD, INTERMEDIATE, WET, ... as F1 names it"
    )
    tyre_age_laps: int | None = Field(
        default=None, description="laps on this set at the end of the lap, prior use included"
    )
    stint: int | None = Field(default=None, ge=1)
    pit_in: bool = False
    pit_out: bool = False
    position: int | None = Field(default=None, description="position at the end of the lap")
    completed_utc: AwareDatetime | None = None
    source: str = "livetiming"

    @property
    def doc_id(self) -> str:
        return f"{self.driver_number}_{self.lap_number:03d}"


class DriverRow(_Model):
    """One row of the timing tower (and the ``drivers/{n}`` document)."""

    driver_number: str
    abbreviation: str | None = None
    full_name: str | None = None
    team_name: str | None = None
    team_colour: str | None = None
    position: int | None = None
    gap_to_leader: str | None = Field(default=None, description="as displayed: '+1.234', '1 L', 'LAP 12'")
    interval: str | None = None
    last_lap_ms: int | None = None
    best_lap_ms: int | None = None
    sectors_ms: list[int | None] = Field(default_factory=_three_sectors)
    laps: int = Field(default=0, description="laps completed")
    in_pit: bool = False
    pit_out: bool = False
    pit_stops: int = 0
    retired: bool = False
    stopped: bool = False
    compound: str | None = None
    tyre_age_laps: int | None = None


class TimingTower(_Model):
    session_id: str
    updated_utc: AwareDatetime | None = None
    session_status: str | None = None
    track_status: TrackStatus = TrackStatus.UNKNOWN
    current_lap: int | None = None
    total_laps: int | None = None
    rows: list[DriverRow] = Field(default_factory=list, description="ordered by position")


class RaceControlMessage(_Model):
    session_id: str
    n: int = Field(ge=0, description="F1's message index within the session")
    utc: AwareDatetime
    lap: int | None = None
    category: str | None = None
    message: str
    flag: str | None = None
    scope: str | None = None
    sector: int | None = None
    driver_number: str | None = None
    status: str | None = None

    @property
    def doc_id(self) -> str:
        return f"{self.n:04d}"


class WeatherSample(_Model):
    session_id: str
    n: int = Field(ge=0, description="sample index within the session (about one a minute)")
    utc: AwareDatetime
    air_temp_c: float | None = None
    track_temp_c: float | None = None
    humidity_pct: float | None = None
    pressure_hpa: float | None = None
    rainfall: bool = False
    wind_speed_ms: float | None = None
    wind_direction_deg: int | None = None

    @property
    def doc_id(self) -> str:
        return f"{self.n:04d}"


class SessionLive(_Model):
    """Live fields of ``sessions/{session_id}`` (merged into the schedule's document)."""

    session_id: str
    meeting_name: str | None = None
    session_name: str | None = None
    session_type: str | None = None
    f1_session_key: int | None = None
    status: str | None = Field(
        default=None, description="F1 SessionStatus: Inactive, Started, Aborted, Finished, Finalised, Ends"
    )
    track_status: TrackStatus = TrackStatus.UNKNOWN
    current_lap: int | None = None
    total_laps: int | None = None
    started_utc: AwareDatetime | None = None
    updated_utc: AwareDatetime | None = None
    published: bool = True


class EventKind(StrEnum):
    SESSION_STATUS = "session_status"
    TRACK_STATUS = "track_status"
    RACE_CONTROL = "race_control"
    LAP_COMPLETED = "lap_completed"
    PIT_IN = "pit_in"
    PIT_OUT = "pit_out"
    RETIREMENT = "retirement"
    FASTEST_LAP = "fastest_lap"
    LEADER_CHANGE = "leader_change"
    RAIN_START = "rain_start"
    RAIN_STOP = "rain_stop"


class RaceEvent(_Model):
    """One ``race-events`` message. ``event_id`` is deterministic: the same occurrence replayed
    gives the same id, so consumers (and the publisher's ledger) drop duplicates."""

    event_id: str
    session_id: str
    kind: EventKind
    utc: AwareDatetime
    data: dict[str, Any] = Field(default_factory=dict)

    @classmethod
    def make(cls, session_id: str, kind: EventKind, key: str, utc: Any, **data: Any) -> RaceEvent:
        return cls(
            event_id=f"{session_id}:{kind.value}:{key}", session_id=session_id, kind=kind, utc=utc, data=data
        )
