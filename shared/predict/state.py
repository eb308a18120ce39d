"""The race state at an instant, from the lap documents completed by then (pure).

Only laps completed at or before the instant ``t`` count, so a prediction made while replaying a
race at any speed, or recomputed on a redelivered event, sees the race as it stood at ``t``.

* ``first(k)``: when the first car completed lap ``k`` (the leader's line crossing);
* a car's gap: for its last completed lap ``k``, ``t_car(k) - first(k)``, or, if larger,
  ``t - first(k + 1)`` (it has not crossed the line the leader crossed that long ago); a lapped
  car's gap therefore includes the laps it is down;
* a car is out when it is overdue: the leader completed the car's next lap more than
  ``OVERDUE_LAPS`` lap times (plus ``OVERDUE_S``) ago; a car with no lap among those given (the
  caller passes the last few laps) is out once the leader has completed ``NO_LAP_OUT_AFTER`` laps
  (before that it is still on its first lap, placed by grid slot);
* stops made: the stint of its last lap less one, one more when that lap ended in the pit lane.

The track state comes from race control: the last safety car, VSC or red flag message at or before
``t``; a safety car "in this lap" or a red flag ends with the leader's next completed lap.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from shared.predict.live import GRID_GAP_S, CarState, RaceState
from shared.predict.params import RaceParams
from shared.timing.models import Lap, RaceControlMessage

OVERDUE_LAPS = 2.5
OVERDUE_S = 30.0
NO_LAP_OUT_AFTER = 2


def race_state(
    laps: Iterable[Lap],
    *,
    entrants: list[tuple[str, int | None, float]],
    at: datetime,
    total_laps: int,
    track: str,
    params: RaceParams,
    points_places: int = 10,
    pitting: str | None = None,
) -> tuple[RaceState, dict[str, int]]:
    """The state at ``at`` of ``entrants`` (driver number, grid slot, pre-race pace score) and the
    running order (driver number -> place, 1 = leader). ``pitting``: a driver the triggering event
    says entered or left the pit lane (their stop counts even before a lap document shows it)."""
    done = [lap for lap in laps if lap.completed_utc is not None and lap.completed_utc <= at]
    first: dict[int, datetime] = {}
    last: dict[str, Lap] = {}
    for lap in done:
        when = lap.completed_utc
        assert when is not None
        if lap.lap_number not in first or when < first[lap.lap_number]:
            first[lap.lap_number] = when
        mine = last.get(lap.driver_number)
        if mine is None or lap.lap_number > mine.lap_number:
            last[lap.driver_number] = lap
    leader_laps = max(first, default=0)
    lap_time = params.lap_time_s
    if leader_laps >= 2 and leader_laps - 1 in first:
        lap_time = (first[leader_laps] - first[leader_laps - 1]).total_seconds() or lap_time
    cars = []
    for number, grid, pace in entrants:
        mine = last.get(number)
        if mine is None:
            running = leader_laps < NO_LAP_OUT_AFTER
            since_first = (at - first[1]).total_seconds() if 1 in first else 0.0
            gap = since_first + max((grid or 20) - 1, 0) * GRID_GAP_S
            cars.append(CarState(number, gap, pace, running=running))
            continue
        lap = mine
        assert lap.completed_utc is not None
        gap = (lap.completed_utc - first[lap.lap_number]).total_seconds()
        overdue = 0.0
        if lap.lap_number + 1 in first:
            overdue = (at - first[lap.lap_number + 1]).total_seconds()
            gap = max(gap, overdue)
        stops = max((lap.stint or 1) - 1, 0)
        age, compound = lap.tyre_age_laps, lap.compound
        if lap.pit_in or number == pitting:
            # In the pit lane now: the stop counts, on a new set, and the time it costs, which the
            # out-lap will show, is added already (an in-lap ends at the line, before the stop).
            stops += 1
            gap += params.pit_loss_s
            age, compound = 0, None
        running = overdue <= OVERDUE_LAPS * lap_time + OVERDUE_S
        cars.append(CarState(number, gap, pace, stops, age, compound, running))
    order = sorted((c for c in cars if c.running), key=lambda c: c.gap_s)
    places = {c.driver_number: i + 1 for i, c in enumerate(order)}
    state = RaceState(laps_done=leader_laps, total_laps=max(total_laps, leader_laps), track=track, cars=cars,
                      points_places=points_places)  # fmt: skip
    return state, places


def _track(messages: Iterable[RaceControlMessage], at: datetime) -> tuple[str, datetime | None]:
    state, since = "green", None
    for msg in sorted((m for m in messages if m.utc <= at), key=lambda m: (m.utc, m.n)):
        text = msg.message.upper()
        if (msg.flag or "").upper() == "RED" or "RED FLAG" in text:
            state, since = "red", msg.utc
        elif "VIRTUAL SAFETY CAR" in text:
            if "DEPLOYED" in text:
                state, since = "vsc", msg.utc
            elif "ENDING" in text:
                state, since = "vsc_ending", msg.utc
        elif "SAFETY CAR" in text and (msg.category or "").lower() == "safetycar":
            if "DEPLOYED" in text:
                state, since = "sc", msg.utc
            elif "IN THIS LAP" in text or "ENDING" in text:
                state, since = "sc_ending", msg.utc
        elif (msg.flag or "").upper() in ("GREEN", "CLEAR") and state == "red":
            state, since = "green", msg.utc
    return state, since


def track_state(messages: Iterable[RaceControlMessage], laps: Iterable[Lap], *, at: datetime) -> str:
    """The track at ``at``: ``green``, ``sc``, ``sc_ending``, ``vsc`` or ``red``. A safety car "in
    this lap" or a red flag ends once the leader completes a lap after the message (race control
    sends no green for it); a VSC "ending" is green already for the simulation."""
    state, since = _track(messages, at)
    if state == "vsc_ending":
        return "green"
    if state in ("sc_ending", "red") and since is not None:
        firsts: dict[int, datetime] = {}
        for lap in laps:
            when = lap.completed_utc
            if (
                when is not None
                and when <= at
                and (lap.lap_number not in firsts or when < firsts[lap.lap_number])
            ):
                firsts[lap.lap_number] = when
        if any(since < when for when in firsts.values()):
            return "green"
    return state
