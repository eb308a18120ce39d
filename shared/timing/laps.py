"""Laps of one driver, built from the ``TimingData`` deltas as they arrive.

The rules are FastF1's (``fastf1._api._laps_data_driver``), turned from a pass over a whole
recording into a stream:

* a lap is complete when ``NumberOfLaps`` increases (by one per delta, as FastF1 counts), and only
  once the car has left the pit lane at least once (``InPit: false``); the laps are numbered by
  that count;
* sector times, lap time and speed values arriving up to 5 s after the lap was counted complete
  still belong to it (``LastLapTime`` often comes a few ms after ``NumberOfLaps``), so a complete
  lap is *closing* for 5 s and final afterwards;
* ``LastLapTime`` of 150 s or more is dropped unless the lap's three sectors add up to it (between
  qualifying parts it is the time since the previous lap); a lap time smaller than the sum of its
  sectors is dropped; an explicitly empty lap time becomes the sector sum when all three are known;
  an unchanged value is not resent by F1, so a missing lap or sector time that the other values
  prove equal to the previous lap's is filled in;
* ``InPit: true`` marks the pit entry on the lap in progress; ``InPit: false`` the pit exit, on the
  next lap when that starts less than 5 s later (pit exit before the timing line);
* the first lap is dropped if it holds no data (a pseudo out-lap), the first lap's pit exit before
  the session started is the drive to the grid, and the last, unfinished lap is kept at the end of
  the stream only when it holds data and ends in the pit lane or has a third sector;
* ``NumberOfLaps`` going backwards (late data for an old lap) is ignored until the count is back.

Times are UTC; durations milliseconds.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any

from shared.timing.values import as_bool, as_int, time_ms

LATE_DATA = timedelta(seconds=5)
MAX_PLAIN_LAP_MS = 150_000


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _dt(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value is not None else None


@dataclass
class LapDraft:
    """A lap being built. ``number`` is the lap count F1 will show when it is complete."""

    number: int
    sectors: list[int | None] = field(default_factory=lambda: [None, None, None])
    lap_ms: int | None = None
    lap_blank: bool = False  # F1 sent an empty LastLapTime for it: "no time", not "unknown"
    pit_in: datetime | None = None
    pit_out: datetime | None = None
    data: bool = False
    closed: datetime | None = None
    sector_at: list[datetime | None] = field(default_factory=lambda: [None, None, None])
    end: datetime | None = None  # best estimate of when the lap ended (FastF1's lap ``Time``)

    def sector_sum(self) -> int | None:
        if any(s is None for s in self.sectors):
            return None
        return sum(s for s in self.sectors if s is not None)

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        for key in ("pit_in", "pit_out", "closed", "end"):
            out[key] = _iso(out[key])
        out["sector_at"] = [_iso(v) for v in self.sector_at]
        return out

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> LapDraft:
        values = dict(data)
        for key in ("pit_in", "pit_out", "closed", "end"):
            values[key] = _dt(values[key])
        values["sector_at"] = [_dt(v) for v in values["sector_at"]]
        return cls(**values)


@dataclass
class LapEvent:
    """Something a ``TimingData`` delta did to a driver's laps, for the reducer's events."""

    kind: str  # "pit_in", "pit_out", "closed"
    utc: datetime
    lap: int


class DriverLaps:
    """The lap builder of one driver (see the module docstring)."""

    def __init__(self, driver: str) -> None:
        self.driver = driver
        self.api_laps = 0  # highest NumberOfLaps counted (one step per delta, like FastF1)
        self.rows = 0  # laps counted complete since the car first left the pit
        self.pit_exits = -1  # -1 until the car has left the pit lane once
        self.pit_entries = 0
        self.pit_laps = 0  # pit entries after the first exit: the most stints can have started
        self.in_past = False
        self.exit: datetime | None = None  # latest pit exit not yet given to a lap
        self.number_offset = 0  # 1 once a data-less first lap was dropped
        self.first_checked = False
        self.current = LapDraft(number=1)
        self.closing: list[LapDraft] = []
        self.last_final: LapDraft | None = None

    # -- feeding ---------------------------------------------------------------------------

    def join(
        self, number_of_laps: int, in_pit: bool, *, first_lap_dropped: bool, pit_out: datetime | None = None
    ) -> None:
        """Start mid-session from a snapshot: ``number_of_laps`` already complete. In practice and
        qualifying the first count is the drive out of the garage, a lap with no data that is
        dropped (``first_lap_dropped``), so laps are numbered one lower than F1 counts them."""
        self.api_laps = self.rows = max(0, number_of_laps)
        self.pit_laps = 10**6  # pit passes before the join are unknown: no stint index is capped
        self.number_offset = int(first_lap_dropped and number_of_laps > 0)
        self.pit_exits = -1 if in_pit and number_of_laps == 0 else 0
        self.first_checked = number_of_laps > 0
        self.current = LapDraft(number=self.rows + 1 - self.number_offset, pit_out=pit_out)
        if number_of_laps > 0:
            # laps before the join are unknown; a blank stand-in keeps the first-lap rules off
            self.last_final = LapDraft(number=number_of_laps)

    def feed_sectors(self, sectors: list[Any]) -> None:
        """Sector times of the lap in progress, from a snapshot's full (list) state."""
        for idx, sector in enumerate(sectors[:3]):
            value = time_ms(sector.get("Value")) if isinstance(sector, dict) else None
            if value is not None:
                self.current.sectors[idx] = value
                self.current.data = True

    def _target(self, utc: datetime) -> LapDraft:
        """The lap that late values belong to: the closing one when it closed < 5 s ago."""
        if self.closing and self.closing[-1].closed is not None and utc - self.closing[-1].closed < LATE_DATA:
            return self.closing[-1]
        return self.current

    def feed(self, utc: datetime, line: dict[str, Any]) -> list[LapEvent]:
        """Apply one driver's part of a ``TimingData`` delta (``Lines[driver]``)."""
        count = as_int(line.get("NumberOfLaps")) if "NumberOfLaps" in line else None
        if self.in_past and count == self.api_laps:
            self.in_past = False
        if self.in_past or (count is not None and count < self.api_laps):
            self.in_past = True
            return []
        events: list[LapEvent] = []
        target = self._target(utc)
        sectors = line.get("Sectors")
        if isinstance(sectors, dict):  # a list only comes in full states, with no values
            for key, idx in (("0", 0), ("1", 1), ("2", 2)):
                sector = sectors.get(key)
                value = time_ms(sector.get("Value")) if isinstance(sector, dict) else None
                if value is not None:
                    target.sectors[idx] = value
                    target.sector_at[idx] = utc
                    target.data = True
        last = line.get("LastLapTime")
        if isinstance(last, dict) and "Value" in last and last["Value"] is not None:
            value = time_ms(last["Value"])
            if value is None or value < MAX_PLAIN_LAP_MS or value == target.sector_sum():
                target.lap_ms = value
                target.lap_blank = value is None
                target.data = target.data or value is not None
        speeds = line.get("Speeds")
        if isinstance(speeds, dict):
            for key, speed in speeds.items():
                if isinstance(speed, dict) and speed.get("Value"):
                    (self.current if key == "ST" else target).data = True
        in_pit = as_bool(line.get("InPit")) if "InPit" in line else None
        if in_pit is True:
            self.pit_entries += 1
            if self.pit_exits >= 0:
                self.pit_laps += 1
                self.current.pit_in = utc
                events.append(LapEvent("pit_in", utc, self.current.number))
        new_lap = count is not None and count > self.api_laps
        if in_pit is False:
            self.pit_exits += 1
            if not new_lap:
                self.exit = utc  # the current lap's, or the next one's if that starts < 5 s later
            events.append(LapEvent("pit_out", utc, self.current.number + int(new_lap)))
        if new_lap:
            self.api_laps += 1
            if self.pit_exits >= 0:
                events.append(LapEvent("closed", utc, self.current.number))
                self._close(utc)
            if in_pit is False:  # the exit belongs to the lap this delta starts
                self.current.pit_out = utc
        return events

    def _close(self, utc: datetime) -> None:
        done = self.current
        done.closed = utc
        self.rows += 1
        self.current = LapDraft(number=self.rows + 1 - self.number_offset)
        if self.exit is not None:
            if utc - self.exit < LATE_DATA:
                self.current.pit_out = self.exit
            else:
                done.pit_out = self.exit
            self.exit = None
        self.closing.append(done)

    # -- finishing -------------------------------------------------------------------------

    def due(self) -> datetime | None:
        """When the oldest closing lap becomes final."""
        closed = self.closing[0].closed if self.closing else None
        return closed + LATE_DATA if closed is not None else None

    def pop_final(self, now: datetime | None) -> LapDraft | None:
        """The oldest closing lap if it is final at ``now`` (``None``: end of stream), post-processed;
        ``None`` if there is none or it was dropped."""
        while self.closing:
            closed = self.closing[0].closed
            if now is not None and closed is not None and now - closed < LATE_DATA:
                return None
            lap = self.closing.pop(0)
            if not self.first_checked:
                self.first_checked = True
                if not lap.data:  # pseudo out-lap: renumber this driver's laps from here
                    self.number_offset = 1
                    for pending in (*self.closing, self.current):
                        pending.number -= 1
                    continue
            return self._post_process(lap)
        return None

    def flush(self, *, started: datetime | None) -> list[LapDraft]:
        """End of stream: every closing lap, then the unfinished one if FastF1 would keep it."""
        out = []
        while self.closing:
            lap = self.pop_final(None)
            if lap is not None:
                out.append(lap)
        lap = self.current
        if self.exit is not None:
            lap.pit_out, self.exit = self.exit, None
        if self.rows > 0 and lap.data and (lap.sectors[2] is not None or lap.pit_in is not None):
            self.current = LapDraft(number=lap.number + 1)
            out.append(self._post_process(lap))
        return out

    def _post_process(self, lap: LapDraft) -> LapDraft:
        total = sum(s for s in lap.sectors if s is not None)
        missing = [i for i, s in enumerate(lap.sectors) if s is None]
        if lap.lap_ms is not None and total > lap.lap_ms:
            lap.lap_ms = None  # a lap cannot be shorter than its sectors
        elif lap.lap_ms is None and lap.lap_blank and not missing:
            lap.lap_ms = total
        prev = self.last_final
        lap.end = self._end(lap, prev)
        if prev is not None:
            if not missing and lap.lap_ms is None and prev.lap_ms == total:
                lap.lap_ms = total  # F1 does not resend an unchanged lap time
            elif len(missing) == 1 and lap.lap_ms is not None:
                guess = lap.lap_ms - total
                if guess == prev.sectors[missing[0]]:
                    lap.sectors[missing[0]] = guess
        elif lap.pit_in is not None and lap.pit_out is not None and lap.pit_in < lap.pit_out:
            lap.pit_in = None  # first lap: an entry before the exit is a lap to the grid
        self.last_final = lap
        return lap

    @staticmethod
    def _end(lap: LapDraft, prev: LapDraft | None) -> datetime | None:
        """FastF1's lap end time: the earliest of the lap count and each sector's arrival plus the
        later sectors, then at most the previous lap's end plus this lap time."""
        end = lap.closed
        total = 0
        for duration, arrived in (
            (0, lap.sector_at[2]),
            (lap.sectors[2], lap.sector_at[1]),
            (lap.sectors[1], lap.sector_at[0]),
        ):
            if arrived is None:
                continue
            if duration is None:
                break
            total += duration
            candidate = arrived + timedelta(milliseconds=total)
            if end is None or candidate < end:
                end = candidate
        if end is None:
            end = lap.pit_in
        prev_end = prev.end if prev is not None else None
        if end is not None and prev_end is not None and end < prev_end:
            end = lap.closed  # impossible order: keep the count's time (FastF1 does too)
        if end is not None and prev_end is not None and lap.lap_ms is not None:
            end = min(end, prev_end + timedelta(milliseconds=lap.lap_ms))
        return end

    # -- checkpoint ------------------------------------------------------------------------

    def to_json(self) -> dict[str, Any]:
        return {
            "driver": self.driver,
            "api_laps": self.api_laps,
            "rows": self.rows,
            "pit_exits": self.pit_exits,
            "pit_entries": self.pit_entries,
            "pit_laps": self.pit_laps,
            "in_past": self.in_past,
            "exit": _iso(self.exit),
            "number_offset": self.number_offset,
            "first_checked": self.first_checked,
            "current": self.current.to_json(),
            "closing": [lap.to_json() for lap in self.closing],
            "last_final": self.last_final.to_json() if self.last_final else None,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> DriverLaps:
        laps = cls(str(data["driver"]))
        for key in ("api_laps", "rows", "pit_exits", "pit_entries", "pit_laps", "number_offset"):
            setattr(laps, key, int(data[key]))
        laps.in_past = bool(data["in_past"])
        laps.exit = _dt(data["exit"])
        laps.first_checked = bool(data["first_checked"])
        laps.current = LapDraft.from_json(data["current"])
        laps.closing = [LapDraft.from_json(d) for d in data["closing"]]
        laps.last_final = LapDraft.from_json(data["last_final"]) if data["last_final"] else None
        return laps
