"""Supporting series (F2, F3, F1 Academy) from the season calendars, and which F1 weekend each
event belongs to (pure logic).

The calendars (sportstimes/f1 ``_db/<series>/<year>.json``, in the data folder as
``calendars/<series>/<year>.json``) list ``races``, each with ``name``, ``location``,
``latitude``/``longitude`` (degrees; ``0, 0`` when unknown), ``round``, optional ``tbc`` and
``canceled``, and ``sessions``: a key (``practice``, ``qualifying``, ``sprint``, ``feature``,
``fp1``, ``race1``...) mapped to the start in UTC (``"2025-03-14T06:30:00Z"``). A race that
cannot be read is skipped and counted.

An event belongs to an F1 meeting when one of its sessions falls within the F1 weekend (from
:data:`BEFORE` before the first F1 session to :data:`AFTER` after the last) and its place agrees:
coordinates within :data:`MAX_KM` of the circuit, else a place name of that circuit or of a
single-zone country in the circuit's zone; an event with no usable place (F1 Academy's "USA" at
``0, 0``) goes by date alone, as F1 weekends never overlap.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, get_args

from shared.ids import slug
from shared.models.schedule import Meeting, Series, SupportSession
from shared.schedule.circuits import COUNTRY_ZONES, circuit_for, distance_km

log = logging.getLogger(__name__)
SUPPORT_SERIES: tuple[Series, ...] = tuple(s for s in get_args(Series) if s != "f1")
BEFORE = timedelta(hours=36)
AFTER = timedelta(hours=12)
MAX_KM = 60.0
SESSION_NAMES = {
    "practice": "Practice",
    "fp1": "Practice 1",
    "fp2": "Practice 2",
    "qualifying": "Qualifying",
    "qualifying1": "Qualifying 1",
    "qualifying2": "Qualifying 2",
    "sprint": "Sprint Race",
    "sprint1": "Sprint Race 1",
    "sprint2": "Sprint Race 2",
    "feature": "Feature Race",
    "race1": "Race 1",
    "race2": "Race 2",
    "race3": "Race 3",
}


@dataclass
class ParsedCalendar:
    sessions: list[SupportSession] = field(default_factory=list)
    skipped: int = 0


def parse_calendar(payload: dict[str, Any], *, series: Series) -> ParsedCalendar:
    """The sessions of one series' season calendar, in calendar order."""
    out = ParsedCalendar()
    for index, race in enumerate(payload.get("races") or []):
        try:
            out.sessions.extend(_race_sessions(race, series))
        except (KeyError, TypeError, ValueError) as exc:
            log.warning("%s calendar: race %d skipped: %s", series, index, exc)
            out.skipped += 1
    return out


def _race_sessions(race: dict[str, Any], series: Series) -> list[SupportSession]:
    lat, lon = float(race.get("latitude") or 0), float(race.get("longitude") or 0)
    known = (lat, lon) != (0.0, 0.0)
    return [
        SupportSession(
            series=series,
            event=str(race["name"]),
            location=str(race["location"]),
            round=int(race["round"]),
            name=SESSION_NAMES.get(key, key.replace("_", " ").title()),
            code=key,
            start_utc=datetime.fromisoformat(str(start).replace("Z", "+00:00")),
            lat=lat if known else None,
            lon=lon if known else None,
            cancelled=bool(race.get("canceled")),
            tbc=bool(race.get("tbc")),
        )
        for key, start in dict(race["sessions"]).items()
    ]


def sessions_for(meeting: Meeting, supporting: list[SupportSession]) -> list[SupportSession]:
    """The supporting sessions that belong to ``meeting``'s weekend (whole events, never part)."""
    events: dict[tuple[str, int, str], list[SupportSession]] = {}
    for s in supporting:
        events.setdefault((s.series, s.round, s.event), []).append(s)
    start, end = meeting.start_utc - BEFORE, meeting.end_utc + AFTER
    out: list[SupportSession] = []
    for sessions in events.values():
        if (
            any(start <= s.start_utc <= end for s in sessions)
            and _place_agrees(meeting, sessions[0]) is not False
        ):
            out.extend(sessions)
    return out


def _place_agrees(meeting: Meeting, s: SupportSession) -> bool | None:
    """Whether the event is at the meeting's circuit; ``None`` when the event gives no usable place."""
    circuit = circuit_for(meeting.location)
    if s.lat is not None and s.lon is not None and circuit is not None:
        return distance_km(s.lat, s.lon, circuit.lat, circuit.lon) <= MAX_KM
    named = circuit_for(s.location)
    if named is not None and circuit is not None:
        return named == circuit
    country_zone = COUNTRY_ZONES.get(slug(s.location))
    if country_zone is not None and meeting.time_zone is not None:
        return country_zone == meeting.time_zone
    return None
