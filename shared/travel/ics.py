"""A race weekend as an iCalendar file (RFC 5545) that a phone's calendar imports.

One ``VEVENT`` per session, its times in the circuit's zone (``DTSTART;TZID=America/Sao_Paulo``)
with the zone's rules in a ``VTIMEZONE`` (so a calendar shows the right hour in any zone, daylight
saving included). ``UID``s are stable (``<meeting>-<series>-<code>@pitlane``), so importing the
file again after a schedule change updates the events instead of duplicating them. ``DTSTAMP`` is
the weekend's first session start, not the time of the request: an unchanged schedule gives the
same bytes (and the same ETag).
"""

from __future__ import annotations

from zoneinfo import ZoneInfo

from shared.travel.weekend import Weekend

SERIES_LABEL = {"f1": "F1", "f2": "F2", "f3": "F3", "f1-academy": "F1 Academy"}
PRODID = "-//Pitlane//Race weekend//EN"


def weekend_calendar(
    w: Weekend, *, title: str, location: str | None = None, geo: tuple[float, float] | None = None
) -> bytes:
    """The weekend's sessions as ``text/calendar`` bytes (CRLF line endings, folded lines)."""
    from icalendar import Calendar, Event  # ~0.25 s to import: only when a calendar is asked for

    home = ZoneInfo(w.time_zone)
    cal = Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("method", "PUBLISH")
    cal.add("x-wr-calname", title)
    cal.add("x-wr-timezone", w.time_zone)
    stamp = min((s.start.utc for s in w.sessions), default=None)
    for s in w.sessions:
        event = Event()
        label = SERIES_LABEL.get(s.series, s.series)
        summary = f"{label} {s.name} - {title}"
        if s.tbc:
            summary += " (time to be confirmed)"
        event.add("uid", f"{w.meeting_id}-{s.series}-{s.code}@pitlane")
        event.add("summary", summary)
        event.add("dtstart", s.start.utc.astimezone(home))
        event.add("dtend", s.end.utc.astimezone(home))
        event.add("dtstamp", stamp or s.start.utc)
        event.add("categories", [label])
        event.add("status", "CANCELLED" if s.cancelled else "CONFIRMED")
        event.add("transp", "TRANSPARENT")
        if s.end_estimated:
            event.add("description", "End time estimated from the usual length of the session.")
        if location:
            event.add("location", location)
        if geo:
            event.add("geo", geo)
        cal.add_component(event)
    cal.add_missing_timezones()
    return bytes(cal.to_ical())
