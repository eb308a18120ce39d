"""Which subscriptions an occurrence matches, and when each should hear about it.

* :func:`matches`: a topic in common, then the filters (series, meetings, drivers: empty means
  any; drivers only restrict occurrences that name drivers).
* :func:`quiet_until`: when ``at`` falls inside the subscriber's quiet hours (wall clock in their
  IANA zone, daylight saving included), the UTC instant the window ends.
* :func:`decide`: send now, hold until an instant (quiet hours with ``hold``, or a reminder whose
  lead is shorter than the task's), or drop (quiet hours with ``drop``; held past ``expires_utc``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

from shared.notify.model import QuietHours, Subscription
from shared.notify.occurrences import Occurrence, reminder_due

# Due within this long counts as now (a Cloud Task fires a little late, never early).
DUE_SLACK = timedelta(seconds=5)


def matches(sub: Subscription, occ: Occurrence) -> bool:
    if not set(sub.topics) & set(occ.topics):
        return False
    f = sub.filters
    if f.series and occ.series not in f.series:
        return False
    if f.meetings and occ.meeting_id not in f.meetings:
        return False
    return not (f.drivers and occ.drivers and not set(f.drivers) & set(occ.drivers))


def quiet_until(quiet: QuietHours | None, time_zone: str, at: datetime) -> datetime | None:
    """The end (UTC) of the quiet window containing ``at``, or None when ``at`` is not quiet."""
    if quiet is None or quiet.start == quiet.end:
        return None
    zone = ZoneInfo(time_zone)
    local = at.astimezone(zone)
    now, start, end = local.time().replace(tzinfo=None), quiet.start_time, quiet.end_time
    if start < end:
        inside, end_day = start <= now < end, local.date()
    else:  # the window spans midnight
        inside = now >= start or now < end
        end_day = local.date() + timedelta(days=1) if now >= start else local.date()
    if not inside:
        return None
    # A wall time that does not exist (clocks going forward) resolves with the earlier offset.
    return datetime.combine(end_day, end, tzinfo=zone).astimezone(UTC)


@dataclass(frozen=True)
class Decision:
    action: Literal["send", "hold", "drop"]
    not_before: datetime | None = None  # for ``hold``: when to deliver, UTC
    reason: str = ""


def decide(sub: Subscription, occ: Occurrence, now: datetime) -> Decision:
    """Whether ``sub`` gets ``occ`` now, later, or never (see the module docstring)."""
    if occ.expires_utc is not None and now >= occ.expires_utc:
        return Decision("drop", reason="expired")
    due = reminder_due(occ, sub.reminder_lead_min) or now
    when = max(due, now)
    quiet = quiet_until(sub.quiet_hours, sub.time_zone, when)
    if quiet is not None:
        if sub.quiet_hours is not None and sub.quiet_hours.action == "drop":
            return Decision("drop", reason="quiet hours")
        when = quiet
    if occ.expires_utc is not None and when >= occ.expires_utc:
        return Decision("drop", reason="would arrive after it expired")
    if when <= now + DUE_SLACK:
        return Decision("send")
    return Decision("hold", not_before=when, reason="quiet hours" if quiet is not None else "lead time")
