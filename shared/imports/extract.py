"""FastF1 session data -> Pitlane models (pure: DataFrames in, pydantic models out).

The models are the ones the live pipeline writes (``shared/timing/models.py``), so an imported
session is served by the same API with the same fields. FastF1 gives times as ``Timedelta`` from
the stream start (offset zero of the archive's ``.jsonStream`` files) and instants as naive UTC
``Timestamp``; :func:`stream_start_utc` anchors the stream like ``shared.feed.archive`` does without
telemetry (the scheduled start minus the offset of the first ``Started`` status).

Rows that do not make a valid model (no lap number, no message text) are skipped and counted in
:class:`Skipped`, never raised: one bad row must not cost the session its laps.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pandas as pd
from pydantic import ValidationError

from shared.timing.models import DriverRow, Lap, RaceControlMessage, WeatherSample

SOURCE = "fastf1"


@dataclass
class Skipped:
    """Rows skipped per kind (``laps``, ``weather``, ``race_control``, ``results``)."""

    counts: dict[str, int] = field(default_factory=dict)

    def add(self, kind: str) -> None:
        self.counts[kind] = self.counts.get(kind, 0) + 1


def _missing(value: Any) -> bool:
    if value is None:
        return True
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def ms(value: Any) -> int | None:
    """A ``Timedelta`` (or NaT) in whole milliseconds."""
    if _missing(value):
        return None
    return round(pd.Timedelta(value).total_seconds() * 1000)


def as_int(value: Any) -> int | None:
    if _missing(value):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(number) else int(number)


def as_float(value: Any) -> float | None:
    if _missing(value):
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def as_text(value: Any) -> str | None:
    if _missing(value):
        return None
    text = str(value).strip()
    return text or None


def utc(value: Any) -> datetime | None:
    """A naive-UTC (FastF1) or aware timestamp as an aware UTC ``datetime``."""
    if _missing(value):
        return None
    stamp = pd.Timestamp(value)
    stamp = stamp.tz_localize(UTC) if stamp.tzinfo is None else stamp.tz_convert(UTC)
    return stamp.to_pydatetime()


def stream_start_utc(scheduled_start: Any, session_status: pd.DataFrame | None) -> datetime | None:
    """UTC of the stream's offset zero: ``Session.date`` (scheduled start, naive UTC) minus the
    ``Time`` of the first ``Started`` status (the session started on schedule, to the second)."""
    start = utc(scheduled_start)
    if start is None:
        return None
    if session_status is not None and not session_status.empty:
        started = session_status[session_status["Status"] == "Started"]
        if not started.empty and not _missing(started["Time"].iloc[0]):
            return start - pd.Timedelta(started["Time"].iloc[0]).to_pytimedelta()
    return start


def _at(start: datetime | None, offset: Any) -> datetime | None:
    if start is None or _missing(offset):
        return None
    return start + timedelta(milliseconds=ms(offset) or 0)


def laps(session_id: str, frame: pd.DataFrame, *, start_utc: datetime | None, skipped: Skipped) -> list[Lap]:
    """FastF1 ``Session.laps`` -> :class:`Lap` (tyre age is ``TyreLife``: laps on the set, prior
    use included, as the live feed counts it)."""
    out: list[Lap] = []
    for row in frame.to_dict("records"):
        try:
            out.append(
                Lap(
                    session_id=session_id,
                    driver_number=str(row["DriverNumber"]),
                    lap_number=as_int(row.get("LapNumber")) or 0,
                    lap_time_ms=ms(row.get("LapTime")),
                    sector_times_ms=[ms(row.get(f"Sector{i}Time")) for i in (1, 2, 3)],
                    compound=as_text(row.get("Compound")),
                    tyre_age_laps=as_int(row.get("TyreLife")),
                    stint=as_int(row.get("Stint")),
                    pit_in=not _missing(row.get("PitInTime")),
                    pit_out=not _missing(row.get("PitOutTime")),
                    position=as_int(row.get("Position")),
                    completed_utc=_at(start_utc, row.get("Time")),
                    source=SOURCE,
                )
            )
        except (KeyError, ValidationError):
            skipped.add("laps")
    return out


def weather(
    session_id: str, frame: pd.DataFrame, *, start_utc: datetime | None, skipped: Skipped
) -> list[WeatherSample]:
    """FastF1 ``Session.weather_data`` -> :class:`WeatherSample`, ``n`` in time order from 0."""
    out: list[WeatherSample] = []
    for row in frame.to_dict("records"):
        at = _at(start_utc, row.get("Time"))
        air, track = as_float(row.get("AirTemp")), as_float(row.get("TrackTemp"))
        if at is None or (air is None and track is None):
            skipped.add("weather")
            continue
        direction = as_float(row.get("WindDirection"))
        out.append(
            WeatherSample(
                session_id=session_id,
                n=len(out),
                utc=at,
                air_temp_c=air,
                track_temp_c=track,
                humidity_pct=as_float(row.get("Humidity")),
                pressure_hpa=as_float(row.get("Pressure")),
                rainfall=bool(row.get("Rainfall")) if not _missing(row.get("Rainfall")) else False,
                wind_speed_ms=as_float(row.get("WindSpeed")),
                wind_direction_deg=round(direction) if direction is not None else None,
            )
        )
    return out


def race_control(session_id: str, frame: pd.DataFrame, *, skipped: Skipped) -> list[RaceControlMessage]:
    """FastF1 ``Session.race_control_messages`` -> :class:`RaceControlMessage`; ``n`` is the
    message's index in the session (FastF1 keeps F1's order), as the live feed numbers it."""
    out: list[RaceControlMessage] = []
    for n, row in enumerate(frame.to_dict("records")):
        at, message = utc(row.get("Time")), as_text(row.get("Message"))
        if at is None or message is None:
            skipped.add("race_control")
            continue
        try:
            out.append(
                RaceControlMessage(
                    session_id=session_id,
                    n=n,
                    utc=at,
                    lap=as_int(row.get("Lap")),
                    category=as_text(row.get("Category")),
                    message=message,
                    flag=as_text(row.get("Flag")),
                    scope=as_text(row.get("Scope")),
                    sector=as_int(row.get("Sector")),
                    driver_number=as_text(row.get("RacingNumber")),
                    status=as_text(row.get("Status")),
                )
            )
        except ValidationError:
            skipped.add("race_control")
    return out


RESULT_FIELDS = ("position", "abbreviation", "full_name", "team_name", "team_colour")


def results(frame: pd.DataFrame, *, skipped: Skipped) -> list[DriverRow]:
    """FastF1 ``Session.results`` -> the classification fields of :class:`DriverRow`
    (:data:`RESULT_FIELDS`; position is null where F1 classifies nobody, e.g. practice)."""
    out: list[DriverRow] = []
    for row in frame.to_dict("records"):
        number = as_text(row.get("DriverNumber"))
        if number is None:
            skipped.add("results")
            continue
        colour = as_text(row.get("TeamColor"))
        out.append(
            DriverRow(
                driver_number=number,
                abbreviation=as_text(row.get("Abbreviation")),
                full_name=as_text(row.get("FullName")),
                team_name=as_text(row.get("TeamName")),
                team_colour=colour,
                position=as_int(row.get("Position")),
            )
        )
    return out


def lap_counts(items: Iterable[Lap]) -> dict[str, int]:
    """Laps per driver (for logging and checks)."""
    counts: dict[str, int] = {}
    for lap in items:
        counts[lap.driver_number] = counts.get(lap.driver_number, 0) + 1
    return counts
