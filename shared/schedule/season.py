"""A season's schedule: OpenF1's meetings and sessions, completed by f1schedule (pure logic).

f1schedule lists the whole season (every meeting, round, format, local times) well ahead; OpenF1
lists what it knows, usually a few weeks ahead and for seasons from 2023, with exact UTC starts
and ends, its own keys and cancellations (``is_cancelled``). The merge starts from f1schedule and
lays OpenF1 over it:

* an OpenF1 meeting matches the f1schedule meeting of the same id (``shared.ids``: the name's
  slug), else one at the same circuit starting within :data:`MATCH_WINDOW`; Pitlane's ids are kept;
* a matched session (same code) takes OpenF1's start, end, keys and cancellation; a session only
  OpenF1 has is added; one OpenF1 names in a way Pitlane has no code for ("Day 1" of testing) is
  skipped and counted;
* an OpenF1 meeting with no f1schedule match becomes a meeting of its own (round 0: unknown).

Local times are the UTC start in the circuit's IANA zone (OpenF1's ``gmt_offset`` when the zone is
unknown).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from shared.errors import BadRequestError
from shared.ids import meeting_id, session_code, slug
from shared.models.schedule import EventFormat, Meeting, Session
from shared.openf1.models import Meeting as OF1Meeting
from shared.openf1.models import Session as OF1Session
from shared.schedule.circuits import circuit_for, format_offset, parse_gmt_offset, zone_for
from shared.schedule.f1schedule import ParsedSchedule

log = logging.getLogger(__name__)
MATCH_WINDOW = timedelta(days=4)
_REPEAT = re.compile(r"_\d+$")


@dataclass
class Season:
    """The merged season, and how much of it OpenF1 supplied."""

    meetings: list[Meeting] = field(default_factory=list)
    sessions: list[Session] = field(default_factory=list)
    openf1_sessions: int = 0
    openf1_skipped: int = 0
    skipped_rows: int = 0


def merge_season(
    base: ParsedSchedule,
    *,
    year: int,
    openf1_meetings: Sequence[OF1Meeting] = (),
    openf1_sessions: Sequence[OF1Session] = (),
) -> Season:
    """The season of ``year``: ``base`` (from f1schedule) with OpenF1's records laid over it."""
    meetings = {m.meeting_id: m for m in base.meetings}
    sessions: dict[str, dict[str, Session]] = {m.meeting_id: {} for m in base.meetings}
    for s in base.sessions:
        sessions.setdefault(s.meeting_id, {})[s.code] = s
    out = Season(skipped_rows=base.skipped)
    by_meeting: dict[int, list[OF1Session]] = {}
    for rec in openf1_sessions:
        if rec.year in (None, year) and rec.date_start is not None:
            by_meeting.setdefault(rec.meeting_key, []).append(rec)
    for om in openf1_meetings:
        if om.year not in (None, year):
            continue
        records = sorted(by_meeting.get(om.meeting_key, []), key=lambda r: r.date_start or datetime.max)
        start = om.date_start or (records[0].date_start if records else None)
        if start is None:
            continue
        mid = _match(om, start, meetings.values()) or _new_meeting_id(om, year, meetings)
        meeting = meetings.get(mid) or _meeting_from_openf1(om, mid, year, start, records)
        zone = meeting.time_zone or zone_for(om.location, om.country_name, _offset_text(om.gmt_offset))
        for rec in records:
            try:
                code = session_code(rec.session_name or "")
            except BadRequestError:
                out.openf1_skipped += 1
                continue
            old = sessions.setdefault(mid, {}).get(code)
            sessions[mid][code] = _session(rec, meeting, code, zone, old)
            out.openf1_sessions += 1
        meetings[mid] = _with_sessions(meeting, list(sessions[mid].values()), om, zone)
    if out.openf1_skipped:
        log.warning("openf1 %s: %d sessions with no Pitlane session code skipped", year, out.openf1_skipped)
    out.meetings = sorted(meetings.values(), key=lambda m: (m.start_utc, m.meeting_id))
    out.sessions = [s for m in out.meetings for s in sorted(sessions[m.meeting_id].values(), key=_order)]
    return out


def _order(s: Session) -> tuple[datetime, str]:
    return s.start_utc, s.session_id


def _offset_text(gmt_offset: str | None) -> str | None:
    return format_offset(parse_gmt_offset(gmt_offset)) if gmt_offset else None


def _match(om: OF1Meeting, start: datetime, meetings: Iterable[Meeting]) -> str | None:
    """The f1schedule meeting ``om`` is: same id first, else same circuit; nearest start wins.
    (A repeated name's ``_2`` suffix is ignored: 2026 has two "Pre-Season Testing" weeks.)"""
    candidates = [m for m in meetings if abs(m.start_utc - start) <= MATCH_WINDOW]
    wanted = meeting_id(om.year or start.year, om.meeting_name or "")
    circuit = circuit_for(om.location) or circuit_for(om.circuit_short_name)
    same_id = [m for m in candidates if _REPEAT.sub("", m.meeting_id) == wanted]
    same_place = [
        m
        for m in candidates
        if (circuit is not None and circuit_for(m.location) == circuit)
        or slug(m.location) == slug(om.location or "-")
    ]
    for group in (same_id, same_place):
        if group:
            return min(group, key=lambda m: abs(m.start_utc - start)).meeting_id
    return None


def _new_meeting_id(om: OF1Meeting, year: int, taken: dict[str, Meeting]) -> str:
    base = meeting_id(year, om.meeting_name or f"meeting {om.meeting_key}")
    n, mid = 1, base
    while mid in taken:
        n += 1
        mid = f"{base}_{n}"
    return mid


def _meeting_from_openf1(
    om: OF1Meeting, mid: str, year: int, start: datetime, records: Sequence[OF1Session]
) -> Meeting:
    names = {r.session_name or "" for r in records}
    fmt: EventFormat = "conventional"
    if "testing" in (om.meeting_name or "").lower():
        fmt = "testing"
    elif "Sprint" in names:
        fmt = "sprint_qualifying"
    offset = _offset_text(om.gmt_offset) or "+00:00"
    return Meeting(
        meeting_id=mid,
        year=year,
        round=0,
        name=om.meeting_name or mid,
        official_name=om.meeting_official_name or om.meeting_name or mid,
        country=om.country_name or "",
        location=om.location or "",
        event_format=fmt,
        gmt_offset=offset,
        start_utc=start,
        end_utc=start,
        session_ids=[],
        time_zone=zone_for(om.location, om.country_name, offset),
    )


def _session(rec: OF1Session, meeting: Meeting, code: str, zone: str | None, old: Session | None) -> Session:
    start = rec.date_start
    assert start is not None  # filtered above
    if zone is not None:
        local_aware = start.astimezone(ZoneInfo(zone))
        local = local_aware.replace(tzinfo=None)
        offset = format_offset(local_aware.utcoffset() or timedelta())
    else:
        delta = parse_gmt_offset(rec.gmt_offset or meeting.gmt_offset)
        local = (start + delta).replace(tzinfo=None)
        offset = format_offset(delta)
    return Session(
        session_id=old.session_id if old else f"{meeting.meeting_id}_{code}",
        meeting_id=meeting.meeting_id,
        year=meeting.year,
        round=meeting.round,
        name=old.name if old else (rec.session_name or code),
        code=code,
        start_utc=start,
        start_local=local,
        gmt_offset=offset,
        time_zone=zone,
        end_utc=rec.date_end,
        cancelled=bool(getattr(rec, "is_cancelled", False)),
        session_key=rec.session_key,
        meeting_key=rec.meeting_key,
    )


def _with_sessions(meeting: Meeting, sessions: list[Session], om: OF1Meeting, zone: str | None) -> Meeting:
    ordered = sorted(sessions, key=_order)
    return meeting.model_copy(
        update={
            "start_utc": ordered[0].start_utc if ordered else meeting.start_utc,
            "end_utc": ordered[-1].start_utc if ordered else meeting.end_utc,
            "session_ids": [s.session_id for s in ordered],
            "meeting_key": om.meeting_key,
            "circuit_key": om.circuit_key,
            "time_zone": zone,
        }
    )
