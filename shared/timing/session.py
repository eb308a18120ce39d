"""Session-level state: identity (``SessionInfo``), ``SessionStatus``, ``TrackStatus``, ``LapCount``,
and the counters that give events their deterministic keys.

Session status: ``Inactive`` -> ``Started`` -> (``Aborted`` -> ``Started`` after a red flag) ->
``Finished`` -> ``Finalised`` -> ``Ends``. Track status codes: see ``values.TRACK_STATUS_CODES``.
An event fires on every change of either; its key is ``<value>_<k>`` for the k-th time that value
was entered (``sc_2`` is the second Safety Car), so replaying the same feed gives the same keys.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from shared.timing.models import EventKind, SessionLive, TrackStatus
from shared.timing.values import as_int, as_text, track_status

EventSpec = tuple[EventKind, str, dict[str, Any]]
_TIMES = ("started_utc", "updated_utc")


@dataclass
class SessionState:
    meeting_name: str | None = None
    session_name: str | None = None
    session_type: str | None = None
    f1_session_key: int | None = None
    status: str | None = None
    track_status: TrackStatus = TrackStatus.UNKNOWN
    track_message: str | None = None
    current_lap: int | None = None
    total_laps: int | None = None
    started_utc: datetime | None = None
    updated_utc: datetime | None = None
    leader: str | None = None
    leader_changes: int = 0
    fastest_ms: int | None = None
    raining: bool | None = None
    rain_changes: int = 0
    status_counts: dict[str, int] = field(default_factory=dict)
    track_counts: dict[str, int] = field(default_factory=dict)
    lap_order: dict[int, list[float]] = field(default_factory=dict)  # race: lap ends (epoch s) by lap

    @property
    def race_like(self) -> bool:
        """Races and sprints, where a lap's position is the order of crossing the line."""
        return self.session_type == "Race" or self.session_name in ("Race", "Sprint")

    def update(self, topic: str, state: Any, utc: datetime) -> list[EventSpec]:
        """Take the merged state of a session topic; returns the events it causes."""
        if not isinstance(state, dict):
            raise TypeError(f"{topic} state is not an object")
        if topic == "SessionInfo":
            meeting = state.get("Meeting")
            self.meeting_name = as_text(meeting.get("Name")) if isinstance(meeting, dict) else None
            self.session_name = as_text(state.get("Name"))
            self.session_type = as_text(state.get("Type"))
            self.f1_session_key = as_int(state.get("Key"))
        elif topic == "LapCount":
            self.current_lap = as_int(state.get("CurrentLap")) or self.current_lap
            self.total_laps = as_int(state.get("TotalLaps")) or self.total_laps
        elif topic == "SessionStatus":
            status = as_text(state.get("Status"))
            if status is not None and status != self.status:
                self.status = status
                if status == "Started" and self.started_utc is None:
                    self.started_utc = utc
                k = self.status_counts[status] = self.status_counts.get(status, 0) + 1
                return [(EventKind.SESSION_STATUS, f"{status.lower()}_{k}", {"status": status})]
        elif topic == "TrackStatus":
            code = as_text(state.get("Status"))
            status = track_status(code)
            self.track_message = as_text(state.get("Message"))
            if code is not None and status != self.track_status:
                self.track_status = status
                k = self.track_counts[status.value] = self.track_counts.get(status.value, 0) + 1
                data = {"status": status.value, "code": code, "message": self.track_message}
                return [(EventKind.TRACK_STATUS, f"{status.value}_{k}", data)]
        return []

    def rain(self, raining: bool) -> list[EventSpec]:
        """Rain starting or stopping (``WeatherData.Rainfall``); the first sample sets the state."""
        previous, self.raining = self.raining, raining
        if previous is None or previous == raining:
            return []
        self.rain_changes += 1
        kind = EventKind.RAIN_START if raining else EventKind.RAIN_STOP
        return [(kind, f"{self.rain_changes:02d}", {"rainfall": raining})]

    def live(self, session_id: str) -> SessionLive:
        return SessionLive(
            session_id=session_id,
            meeting_name=self.meeting_name,
            session_name=self.session_name,
            session_type=self.session_type,
            f1_session_key=self.f1_session_key,
            status=self.status,
            track_status=self.track_status,
            current_lap=self.current_lap,
            total_laps=self.total_laps,
            started_utc=self.started_utc,
            updated_utc=self.updated_utc,
        )

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        for key in _TIMES:
            out[key] = out[key].isoformat() if out[key] is not None else None
        out["track_status"] = self.track_status.value
        out["lap_order"] = {str(k): v for k, v in self.lap_order.items()}
        return out

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> SessionState:
        values = dict(data)
        for key in _TIMES:
            values[key] = datetime.fromisoformat(values[key]) if values[key] is not None else None
        values["track_status"] = TrackStatus(values["track_status"])
        values["lap_order"] = {int(k): [float(x) for x in v] for k, v in values["lap_order"].items()}
        return cls(**values)
