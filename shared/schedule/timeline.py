"""The weekend timeline: F1 and its supporting series in one ordered list (pure logic).

Each entry carries its UTC start, the wall clock at the circuit (the meeting's IANA zone) and the
start in a zone the caller names (a traveller's or a viewer's); entries are ordered by UTC start,
then F1 before F2, F3 and F1 Academy at the same minute.
"""

from __future__ import annotations

from collections.abc import Iterable
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from shared.errors import BadRequestError
from shared.models.schedule import Meeting, Session, SupportSession, Timeline, TimelineEntry
from shared.schedule.circuits import parse_gmt_offset
from shared.schedule.supporting import sessions_for

_SERIES_ORDER = {"f1": 0, "f2": 1, "f3": 2, "f1-academy": 3}


def zone(name: str) -> ZoneInfo:
    """``ZoneInfo(name)``, or ``BadRequestError`` for a name the time-zone database lacks."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise BadRequestError(f"unknown time zone {name!r}") from None


def circuit_zone(meeting: Meeting) -> str:
    """The meeting's IANA zone; a fixed ``Etc/GMT`` zone from its offset when it has none."""
    if meeting.time_zone:
        return meeting.time_zone
    hours = int(parse_gmt_offset(meeting.gmt_offset).total_seconds() // 3600)
    return "Etc/UTC" if hours == 0 else f"Etc/GMT{-hours:+d}"


def weekend_timeline(
    meeting: Meeting,
    *,
    sessions: Iterable[Session],
    supporting: Iterable[SupportSession],
    tz: str | None = None,
) -> Timeline:
    """The meeting's F1 sessions (published ones of this meeting) and the supporting sessions of
    its weekend (``supporting`` may hold a whole season: :func:`sessions_for` picks), in order;
    ``start_in_tz`` in ``tz`` (default: the circuit's zone)."""
    home = circuit_zone(meeting)
    home_zone, view = zone(home), zone(tz or home)
    entries = [
        TimelineEntry(
            series="f1",
            name=s.name,
            code=s.code,
            start_utc=s.start_utc,
            start_local=s.start_utc.astimezone(home_zone).replace(tzinfo=None),
            start_in_tz=s.start_utc.astimezone(view),
            end_utc=s.end_utc,
            session_id=s.session_id,
            cancelled=s.cancelled,
        )
        for s in sessions
        if s.meeting_id == meeting.meeting_id and s.published
    ]
    entries += [
        TimelineEntry(
            series=s.series,
            name=s.name,
            code=s.code,
            start_utc=s.start_utc,
            start_local=s.start_utc.astimezone(home_zone).replace(tzinfo=None),
            start_in_tz=s.start_utc.astimezone(view),
            cancelled=s.cancelled,
            tbc=s.tbc,
        )
        for s in sessions_for(meeting, list(supporting))
    ]
    entries.sort(key=lambda e: (e.start_utc, _SERIES_ORDER[e.series], e.name))
    return Timeline(meeting_id=meeting.meeting_id, time_zone=home, tz=tz or home, entries=entries)


def in_zone(timeline: Timeline, tz: str) -> Timeline:
    """The same timeline with ``start_in_tz`` in ``tz`` (e.g. a stored timeline for one viewer)."""
    view = zone(tz)
    entries = [e.model_copy(update={"start_in_tz": e.start_utc.astimezone(view)}) for e in timeline.entries]
    return timeline.model_copy(update={"tz": tz, "entries": entries})
