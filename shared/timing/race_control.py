"""Race control messages and weather samples: parsing of the ``RaceControlMessages`` and
``WeatherData`` topics into their models. Bad entries are returned as ``None`` (the reducer counts
them); nothing here raises on data.

``RaceControlMessages`` state is ``{"Messages": [...]}``; deltas add ``{"Messages": {"<n>": {...}}}``
where ``n`` is the message's index in the session. Each message carries its own ``Utc`` (naive,
UTC, to the second). ``WeatherData`` sends every value as a string about once a minute;
``Rainfall`` is ``"1"`` while it rains. Wind speed is m/s, pressure hPa, temperatures Celsius.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import ValidationError

from shared.timing.models import RaceControlMessage, WeatherSample
from shared.timing.values import as_bool, as_float, as_int, as_text, as_utc, entries


def race_control_entries(payload: Any) -> list[tuple[int, Any]]:
    """(index, raw message) pairs of a ``RaceControlMessages`` delta or state."""
    if not isinstance(payload, dict):
        return []
    return entries(payload.get("Messages"))


def parse_race_control(session_id: str, n: int, raw: Any) -> RaceControlMessage | None:
    if not isinstance(raw, dict):
        return None
    utc = as_utc(raw.get("Utc"))
    message = as_text(raw.get("Message"))
    if utc is None or message is None:
        return None
    try:
        return RaceControlMessage(
            session_id=session_id,
            n=n,
            utc=utc,
            lap=as_int(raw.get("Lap")),
            category=as_text(raw.get("Category")),
            message=message,
            flag=as_text(raw.get("Flag")),
            scope=as_text(raw.get("Scope")),
            sector=as_int(raw.get("Sector")),
            driver_number=as_text(raw.get("RacingNumber")),
            status=as_text(raw.get("Status")),
        )
    except ValidationError:
        return None


def parse_weather(session_id: str, n: int, utc: datetime, state: Any) -> WeatherSample | None:
    """One sample from the merged ``WeatherData`` state; ``None`` unless it holds a value."""
    if not isinstance(state, dict):
        return None
    air = as_float(state.get("AirTemp"))
    track = as_float(state.get("TrackTemp"))
    if air is None and track is None:
        return None
    direction = as_float(state.get("WindDirection"))
    return WeatherSample(
        session_id=session_id,
        n=n,
        utc=utc,
        air_temp_c=air,
        track_temp_c=track,
        humidity_pct=as_float(state.get("Humidity")),
        pressure_hpa=as_float(state.get("Pressure")),
        rainfall=bool(as_bool(state.get("Rainfall"))),
        wind_speed_ms=as_float(state.get("WindSpeed")),
        wind_direction_deg=round(direction) if direction is not None else None,
    )
