"""OpenF1 records -> Pitlane's models, one document at a time (pure; :mod:`shared.openf1.state`
holds the records and decides when a lap is final).

Domain facts used here:

* ``lap_duration`` and ``duration_sector_*`` are seconds (float); Pitlane stores whole ms.
* A lap ends at ``date_start + lap_duration``; when OpenF1 has no duration (an in-lap, a lap under
  red flag), at the next lap's ``date_start``.
* ``/pit``'s ``lap_number`` is the lap on which the car entered the pit lane: the in-lap.
  ``is_pit_out_lap`` on ``/laps`` marks the out-lap.
* ``/stints`` covers laps ``lap_start..lap_end`` (``lap_end`` null or growing while the stint
  runs); ``tyre_age_at_start`` is laps already on the set, so at the end of lap ``n`` the set has
  ``tyre_age_at_start + (n - lap_start) + 1`` laps, as F1's ``TotalLaps`` counts them.
* ``/position`` records a driver's position from ``date`` on; the position at the end of a lap is
  the latest record at or before the lap's end.
* ``/intervals`` gaps are seconds, or text such as ``"+1 LAP"`` when lapped.
"""

from __future__ import annotations

import bisect
from datetime import datetime, timedelta

from shared.openf1 import models as of1
from shared.timing.models import DriverRow, Lap, RaceControlMessage, WeatherSample

OPENF1 = "openf1"


def ms(seconds: float | None) -> int | None:
    return None if seconds is None else round(seconds * 1000)


def lap_end(lap: of1.Lap, next_lap: of1.Lap | None) -> datetime | None:
    if lap.date_start is not None and lap.lap_duration is not None:
        return lap.date_start + timedelta(seconds=lap.lap_duration)
    return next_lap.date_start if next_lap is not None else None


def stint_for(stints: list[of1.Stint], lap_number: int) -> of1.Stint | None:
    """The stint holding ``lap_number`` (the latest one when OpenF1's ranges overlap)."""
    found = [
        s
        for s in stints
        if s.lap_start is not None
        and s.lap_start <= lap_number
        and (s.lap_end is None or lap_number <= s.lap_end)
    ]
    return max(found, key=lambda s: s.stint_number) if found else None


def tyre_age(stint: of1.Stint | None, lap_number: int) -> int | None:
    if stint is None or stint.tyre_age_at_start is None or stint.lap_start is None:
        return None
    return stint.tyre_age_at_start + lap_number - stint.lap_start + 1


def position_at(history: list[tuple[datetime, int]], utc: datetime | None) -> int | None:
    """The position of the latest ``(date, position)`` at or before ``utc`` (history sorted)."""
    if utc is None or not history:
        return None
    idx = bisect.bisect_right(history, (utc, 10_000))
    return history[idx - 1][1] if idx else None


def to_lap(
    session_id: str,
    lap: of1.Lap,
    *,
    next_lap: of1.Lap | None,
    stints: list[of1.Stint],
    pit_laps: set[int],
    positions: list[tuple[datetime, int]],
) -> Lap:
    end = lap_end(lap, next_lap)
    stint = stint_for(stints, lap.lap_number)
    return Lap(
        session_id=session_id,
        driver_number=str(lap.driver_number),
        lap_number=lap.lap_number,
        lap_time_ms=ms(lap.lap_duration),
        sector_times_ms=[ms(lap.duration_sector_1), ms(lap.duration_sector_2), ms(lap.duration_sector_3)],
        compound=stint.compound if stint is not None else None,
        tyre_age_laps=tyre_age(stint, lap.lap_number),
        stint=stint.stint_number if stint is not None and stint.stint_number >= 1 else None,
        pit_in=lap.lap_number in pit_laps,
        pit_out=bool(lap.is_pit_out_lap),
        position=position_at(positions, end),
        completed_utc=end,
        source=OPENF1,
    )


def gap_text(value: float | str | None) -> str | None:
    """An OpenF1 gap as the tower shows it: ``12.3`` -> ``"+12.300"``, text as sent."""
    if value is None or isinstance(value, str):
        return value
    return f"+{value:.3f}" if value > 0 else None


def driver_row(
    number: str,
    *,
    driver: of1.Driver | None,
    laps: list[Lap],
    position: int | None,
    interval: of1.Interval | None,
    pit_stops: int,
    stint: of1.Stint | None,
) -> DriverRow:
    """A tower row from what OpenF1 knows (``laps``: the driver's final laps, in order)."""
    timed = [lap.lap_time_ms for lap in laps if lap.lap_time_ms is not None]
    last = laps[-1] if laps else None
    done = last.lap_number if last is not None else 0
    return DriverRow(
        driver_number=number,
        abbreviation=driver.name_acronym if driver else None,
        full_name=driver.full_name if driver else None,
        team_name=driver.team_name if driver else None,
        team_colour=driver.team_colour if driver else None,
        position=position,
        gap_to_leader=gap_text(interval.gap_to_leader) if interval else None,
        interval=gap_text(interval.interval) if interval else None,
        last_lap_ms=last.lap_time_ms if last else None,
        best_lap_ms=min(timed) if timed else None,
        sectors_ms=list(last.sector_times_ms) if last else [None, None, None],
        laps=done,
        pit_stops=pit_stops,
        compound=stint.compound if stint else None,
        tyre_age_laps=tyre_age(stint, max(done, stint.lap_start or 0)) if stint else None,
    )


def race_control(session_id: str, n: int, rc: of1.RaceControl) -> RaceControlMessage | None:
    if not rc.message:
        return None
    return RaceControlMessage(
        session_id=session_id,
        n=n,
        utc=rc.date,
        lap=rc.lap_number,
        category=rc.category,
        message=rc.message,
        flag=rc.flag,
        scope=rc.scope,
        sector=rc.sector,
        driver_number=str(rc.driver_number) if rc.driver_number is not None else None,
    )


def weather(session_id: str, n: int, w: of1.Weather) -> WeatherSample:
    return WeatherSample(
        session_id=session_id,
        n=n,
        utc=w.date,
        air_temp_c=w.air_temperature,
        track_temp_c=w.track_temperature,
        humidity_pct=w.humidity,
        pressure_hpa=w.pressure,
        rainfall=bool(w.rainfall),
        wind_speed_ms=w.wind_speed,
        wind_direction_deg=w.wind_direction,
    )
