"""What one reducer step changed (:class:`Changes`) and the reducer's counters."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from shared.timing.models import Lap, RaceControlMessage, RaceEvent, WeatherSample


@dataclass
class Changes:
    """What one :meth:`SessionReducer.apply` changed; the writer persists exactly this."""

    events: list[RaceEvent] = field(default_factory=list)
    laps: list[Lap] = field(default_factory=list)
    race_control: list[RaceControlMessage] = field(default_factory=list)
    weather: list[WeatherSample] = field(default_factory=list)
    drivers: set[str] = field(default_factory=set)  # driver numbers whose DriverRow changed
    tower: bool = False  # TimingTower changed
    session: bool = False  # SessionLive changed

    def extend(self, other: Changes) -> None:
        self.events.extend(other.events)
        self.laps.extend(other.laps)
        self.race_control.extend(other.race_control)
        self.weather.extend(other.weather)
        self.drivers |= other.drivers
        self.tower = self.tower or other.tower
        self.session = self.session or other.session

    def __bool__(self) -> bool:
        return bool(self.events or self.laps or self.race_control or self.weather or self.drivers) or (
            self.tower or self.session
        )


@dataclass
class ReducerStats:
    messages: int = 0  # messages given to apply()
    skipped: Counter[str] = field(default_factory=Counter)  # skipped messages or parts, by reason
