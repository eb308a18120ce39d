"""Parse the f1schedule feed (``schedule_<year>.json``) into meetings and sessions.

The feed is a pandas ``to_json(orient="columns")`` dump: each column (``event_name``,
``session1``, ``session1_date``, ...) maps a row index (as a string) to a value. Session dates
are local wall-clock times at the circuit. The feed gives one ``gmt_offset`` per event, the one
of race day, which is an hour off for sessions before a daylight-saving change within the weekend
(Mexico City 2018, 2019, 2022; Melbourne 2023; Portimão 2020): so UTC comes from the circuit's
IANA zone (:mod:`shared.schedule.circuits`) and each session carries the offset of its own start;
the published offset is the fallback for a place the table does not know. Rows that cannot be
read are skipped and counted, never fatal.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from shared.errors import BadRequestError, PitlaneError
from shared.ids import meeting_id, session_code
from shared.models.schedule import Meeting, Session
from shared.schedule.circuits import format_offset, zone_for

log = logging.getLogger(__name__)
_SESSION_SLOTS = 5


@dataclass
class ParsedSchedule:
    meetings: list[Meeting] = field(default_factory=list)
    sessions: list[Session] = field(default_factory=list)
    skipped: int = 0


def parse_offset(text: str) -> timedelta:
    """``"+04:00"`` -> 4 hours; ``"-05:30"`` -> -5.5 hours."""
    sign = -1 if text.startswith("-") else 1
    hours, minutes = text.lstrip("+-").split(":")
    return sign * timedelta(hours=int(hours), minutes=int(minutes))


def parse_schedule(payload: dict[str, Any], *, year: int) -> ParsedSchedule:
    """Meetings and sessions of ``year`` from a decoded f1schedule document."""
    try:
        rows = sorted(payload["event_name"], key=int)
    except (KeyError, TypeError, ValueError) as exc:
        raise BadRequestError(f"not an f1schedule document: {exc}") from None
    out = ParsedSchedule()
    seen: dict[str, int] = {}
    for row in rows:
        try:
            # Two events may share a name (2026 has two "Pre-Season Testing" weeks): the second
            # becomes "<id>_2", in feed (chronological) order, so ids stay deterministic.
            base = meeting_id(year, str(payload["event_name"][row]))
            seen[base] = seen.get(base, 0) + 1
            mid = base if seen[base] == 1 else f"{base}_{seen[base]}"
            meeting, sessions = _parse_row(payload, row, year, mid)
        except (KeyError, TypeError, ValueError, PitlaneError) as exc:
            log.warning("f1schedule %s row %s skipped: %s", year, row, exc)
            out.skipped += 1
            continue
        out.meetings.append(meeting)
        out.sessions.extend(sessions)
    return out


def _parse_row(payload: dict[str, Any], row: str, year: int, mid: str) -> tuple[Meeting, list[Session]]:
    name = str(payload["event_name"][row])
    offset_text = str(payload["gmt_offset"][row])
    offset = parse_offset(offset_text)
    rnd = int(payload["round_number"][row])
    zone = zone_for(str(payload["location"][row]), str(payload["country"][row]), offset_text)
    sessions: list[Session] = []
    for slot in range(1, _SESSION_SLOTS + 1):
        sname = payload.get(f"session{slot}", {}).get(row)
        sdate = payload.get(f"session{slot}_date", {}).get(row)
        if not sname or not sdate:
            continue
        local = datetime.fromisoformat(str(sdate)).replace(tzinfo=None)
        start_utc, session_offset = local_to_utc(local, zone=zone, fallback=offset)
        sessions.append(
            Session(
                session_id=f"{mid}_{session_code(sname)}",
                meeting_id=mid,
                year=year,
                round=rnd,
                name=sname,
                code=session_code(sname),
                start_utc=start_utc,
                start_local=local,
                gmt_offset=session_offset,
                time_zone=zone,
            )
        )
    if not sessions:
        raise ValueError("no sessions")
    meeting = Meeting(
        meeting_id=mid,
        year=year,
        round=rnd,
        name=name,
        official_name=str(payload["official_event_name"][row]),
        country=str(payload["country"][row]),
        location=str(payload["location"][row]),
        event_format=payload["event_format"][row],
        gmt_offset=offset_text,
        start_utc=min(s.start_utc for s in sessions),
        end_utc=max(s.start_utc for s in sessions),
        session_ids=[s.session_id for s in sessions],
        time_zone=zone,
    )
    return meeting, sessions


def local_to_utc(local: datetime, *, zone: str | None, fallback: timedelta) -> tuple[datetime, str]:
    """A naive circuit wall-clock time -> (aware UTC, ``"+HH:MM"`` offset then); through ``zone``
    when known (an ambiguous hour takes its first occurrence), else with the ``fallback`` offset."""
    if zone is None:
        return (local - fallback).replace(tzinfo=UTC), format_offset(fallback)
    aware = local.replace(tzinfo=ZoneInfo(zone))
    offset = aware.utcoffset()
    assert offset is not None
    return aware.astimezone(UTC), format_offset(offset)
