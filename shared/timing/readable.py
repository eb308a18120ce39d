"""What a session writer reads from a session's state, whatever built it.

:class:`~shared.timing.reducer.SessionReducer` (the live feed) and
:class:`~shared.openf1.state.OpenF1State` (OpenF1) both satisfy :class:`SessionSource`, so one
:class:`~shared.stores.session_store.SessionWriter` stores either, and the API cannot tell the
sources apart.
"""

from __future__ import annotations

from typing import Protocol

from shared.timing.models import DriverRow, Lap, RaceControlMessage, SessionLive, TimingTower, WeatherSample


class SessionSource(Protocol):
    """The read side of a session state (what ``SessionWriter`` calls)."""

    @property
    def session_id(self) -> str | None: ...

    def tower(self) -> TimingTower: ...

    def session(self) -> SessionLive: ...

    def drivers(self) -> list[DriverRow]: ...

    def laps(self) -> list[Lap]: ...

    def race_control(self) -> list[RaceControlMessage]: ...

    def weather(self) -> list[WeatherSample]: ...
