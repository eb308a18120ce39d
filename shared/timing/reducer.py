"""The session-state reducer: live-timing feed messages in, session state and race events out.

SKELETON: the public interface is final; the internals are being filled in.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from shared.feed.merge import merge_delta
from shared.feed.messages import FeedMessage
from shared.timing.models import (
    DriverRow,
    Lap,
    RaceControlMessage,
    RaceEvent,
    SessionLive,
    TimingTower,
    WeatherSample,
)


@dataclass
class Changes:
    """What one :meth:`SessionReducer.apply` changed; the writer persists exactly this."""

    events: list[RaceEvent] = field(default_factory=list)
    laps: list[Lap] = field(default_factory=list)
    race_control: list[RaceControlMessage] = field(default_factory=list)
    weather: list[WeatherSample] = field(default_factory=list)
    drivers: set[str] = field(default_factory=set)
    tower: bool = False
    session: bool = False

    def extend(self, other: Changes) -> None:
        self.events.extend(other.events)
        self.laps.extend(other.laps)
        self.race_control.extend(other.race_control)
        self.weather.extend(other.weather)
        self.drivers |= other.drivers
        self.tower = self.tower or other.tower
        self.session = self.session or other.session

    def __bool__(self) -> bool:
        return bool(
            self.events
            or self.laps
            or self.race_control
            or self.weather
            or self.drivers
            or self.tower
            or self.session
        )


@dataclass
class ReducerStats:
    messages: int = 0
    skipped: Counter[str] = field(default_factory=Counter)


class SessionReducer:
    def __init__(self, *, session_id: str | None = None) -> None:
        self.session_id = session_id
        self.stats = ReducerStats()
        self._states: dict[str, Any] = {}

    def apply(self, msg: FeedMessage) -> Changes:
        self.stats.messages += 1
        self._states[msg.topic] = merge_delta(self._states.get(msg.topic), msg.payload)
        return Changes()

    def apply_snapshot(self, snapshot: dict[str, Any], *, utc: datetime) -> Changes:
        for topic, state in snapshot.items():
            self._states[topic] = merge_delta(self._states.get(topic), state)
        return Changes()

    def finish(self) -> Changes:
        return Changes()

    def tower(self) -> TimingTower:
        return TimingTower(session_id=self.session_id or "")

    def session(self) -> SessionLive:
        return SessionLive(session_id=self.session_id or "")

    def drivers(self) -> list[DriverRow]:
        return []

    def laps(self) -> list[Lap]:
        return []

    def race_control(self) -> list[RaceControlMessage]:
        return []

    def weather(self) -> list[WeatherSample]:
        return []

    def checkpoint(self) -> dict[str, Any]:
        return {"session_id": self.session_id, "states": self._states}

    @classmethod
    def restore(cls, data: dict[str, Any]) -> SessionReducer:
        reducer = cls(session_id=data.get("session_id"))
        reducer._states = data.get("states") or {}
        return reducer
