"""The travel plan for the sessions a fan chose (pure logic).

* **Latest arrival** at the circuit: the first chosen session's start minus ``arrive_before``
  (getting in: transfer from town, security, the walk to the seat);
* **earliest departure** from the circuit: the last chosen session's end plus ``leave_after``
  (getting out: the crowd leaving, the transfer back);
* **busiest windows**: the crowd's rush before and after each main F1 session of the weekend
  (race, sprint, qualifying, sprint qualifying): :data:`RUSH` hours in and out, the race's
  longest since most of the crowd comes for it. A plan says whether its arrival or departure falls
  inside one, so a fan can move it.

Every instant is given in UTC, the circuit's wall clock and the traveller's zone (each with the
offset in force at that instant, so a daylight-saving change between arrival and departure shows).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from pydantic import BaseModel, ConfigDict, Field

from shared.errors import NotFoundError
from shared.schedule.timeline import zone
from shared.travel.weekend import Instant, Weekend, WeekendSession, instant

ARRIVE_BEFORE = timedelta(minutes=120)
LEAVE_AFTER = timedelta(minutes=90)
# (hours before the start, hours after the end) when the roads and gates are busiest.
RUSH: dict[str, tuple[float, float]] = {"r": (3.0, 2.0), "s": (2.0, 1.5), "q": (2.0, 1.5), "sq": (1.5, 1.0)}


class BusyWindow(BaseModel):
    model_config = ConfigDict(frozen=True, defer_build=True)

    kind: str = Field(description="'arrivals' (before the session) or 'departures' (after it)")
    session_code: str
    session_name: str
    start: Instant
    end: Instant


class TravelPlan(BaseModel):
    model_config = ConfigDict(frozen=True, defer_build=True)

    meeting_id: str
    time_zone: str = Field(description="the circuit's IANA zone")
    tz: str = Field(description="the traveller's zone (in_tz)")
    sessions: list[WeekendSession] = Field(description="the chosen sessions, in order")
    arrive_before_min: int
    leave_after_min: int
    latest_arrival: Instant = Field(description="be at the circuit by then")
    earliest_departure: Instant = Field(description="leave the circuit no earlier than then")
    nights: int = Field(description="nights between arrival and departure, in the circuit's calendar")
    busy_windows: list[BusyWindow]
    arrival_in_busy_window: bool
    departure_in_busy_window: bool


def _window(kind: str, s: WeekendSession, lo: datetime, hi: datetime, w: Weekend) -> BusyWindow:
    home, view = zone(w.time_zone), zone(w.tz)
    return BusyWindow(
        kind=kind,
        session_code=s.code,
        session_name=s.name,
        start=instant(lo, home, view),
        end=instant(hi, home, view),
    )


def busy_windows(w: Weekend) -> list[BusyWindow]:
    out = []
    for s in w.sessions:
        if s.series != "f1" or s.code not in RUSH or s.cancelled:
            continue
        before, after = (timedelta(hours=h) for h in RUSH[s.code])
        out.append(_window("arrivals", s, s.start.utc - before, s.start.utc, w))
        out.append(_window("departures", s, s.end.utc, s.end.utc + after, w))
    return sorted(out, key=lambda b: b.start.utc)


def _inside(t: datetime, windows: list[BusyWindow]) -> bool:
    return any(b.start.utc <= t < b.end.utc for b in windows)


def travel_plan(
    w: Weekend,
    codes: list[str],
    *,
    arrive_before: timedelta = ARRIVE_BEFORE,
    leave_after: timedelta = LEAVE_AFTER,
) -> TravelPlan:
    """The plan for the F1 sessions ``codes`` of weekend ``w``; ``NotFoundError`` naming the
    weekend's sessions when one of ``codes`` is not among them."""
    f1 = {s.code: s for s in w.sessions if s.series == "f1"}
    missing = [c for c in codes if c not in f1]
    if missing:
        raise NotFoundError(
            f"this weekend has no session {missing[0]!r} (it has {', '.join(f1) or 'no F1 session yet'})"
        )
    chosen = sorted((f1[c] for c in codes), key=lambda s: s.start.utc)
    home, view = zone(w.time_zone), zone(w.tz)
    arrive = instant(chosen[0].start.utc - arrive_before, home, view)
    depart = instant(chosen[-1].end.utc + leave_after, home, view)
    windows = busy_windows(w)
    return TravelPlan(
        meeting_id=w.meeting_id,
        time_zone=w.time_zone,
        tz=w.tz,
        sessions=chosen,
        arrive_before_min=int(arrive_before.total_seconds() // 60),
        leave_after_min=int(leave_after.total_seconds() // 60),
        latest_arrival=arrive,
        earliest_departure=depart,
        nights=(depart.local.date() - arrive.local.date()).days,
        busy_windows=windows,
        arrival_in_busy_window=_inside(arrive.utc, windows),
        departure_in_busy_window=_inside(depart.utc, windows),
    )
