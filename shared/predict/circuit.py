"""Per-circuit constants of the live simulation, estimated from the races held before a date.

* ``pit_loss_s``: median pit-lane time of the stops at the circuit (its last ``RECENT`` races with
  stops recorded, 2011 on; stops over 60 s, repairs and red flags, left out), else the median over
  all circuits' recent stops;
* ``sc_per_lap``: safety car periods per racing lap at the circuit over its last ``RECENT`` races,
  shrunk towards the rate over every race since ``SINCE`` (as if ``SHRINK`` more races had the
  overall rate);
* ``dnf_per_lap``: cars not taking the flag per car and lap, the same way;
* ``max_stint_laps``: the longest usual stint (90th percentile of the stints of the cars that took
  the flag, in laps) over the circuit's last ``RECENT`` races with stops recorded, else over every
  circuit's;
* ``lap_time_s``: the winner's mean lap, median over the circuit's last three races (the live
  service prefers the leader's own recent laps).
"""

from __future__ import annotations

import itertools
import statistics
from datetime import date

import numpy as np

from shared.history.rows import Race
from shared.history.tables import HistoryTables
from shared.predict.params import RaceParams

RECENT = 10
SINCE = 2010
SHRINK = 3.0
MAX_STOP_MS = 60_000


def race_params(tables: HistoryTables, circuit_id: int | None, before: date) -> RaceParams:
    """Constants for a race at ``circuit_id`` (None: unknown circuit, overall figures) on ``before``."""
    recent_all = [r for r in tables.races if r.year >= SINCE and r.date < before]
    at = [r for r in tables.at_circuit(circuit_id) if r.date < before] if circuit_id is not None else []
    at = at[-RECENT:]
    defaults = RaceParams()
    sc_all, laps_all = _sc_and_laps(tables, recent_all[-200:])
    sc_here, laps_here = _sc_and_laps(tables, at)
    overall_sc = sc_all / laps_all if laps_all else defaults.sc_per_lap
    mean_laps = laps_all / max(len(recent_all[-200:]), 1)
    sc_rate = (sc_here + overall_sc * SHRINK * mean_laps) / (laps_here + SHRINK * mean_laps)
    dnf_all, car_laps_all = _dnf(tables, recent_all[-200:])
    dnf_here, car_laps_here = _dnf(tables, at)
    overall_dnf = dnf_all / car_laps_all if car_laps_all else defaults.dnf_per_lap
    shrink_car_laps = SHRINK * (car_laps_all / max(len(recent_all[-200:]), 1))
    dnf_rate = (dnf_here + overall_dnf * shrink_car_laps) / (car_laps_here + shrink_car_laps)
    return RaceParams(
        pit_loss_s=_pit_loss(tables, at) or _pit_loss(tables, recent_all[-40:]) or defaults.pit_loss_s,
        sc_per_lap=float(sc_rate) if laps_all or laps_here else defaults.sc_per_lap,
        dnf_per_lap=float(dnf_rate) if car_laps_all or car_laps_here else defaults.dnf_per_lap,
        max_stint_laps=_max_stint(tables, at)
        or _max_stint(tables, recent_all[-40:])
        or defaults.max_stint_laps,
        lap_time_s=_lap_time(tables, at) or defaults.lap_time_s,
    )


def _race_laps(tables: HistoryTables, race: Race) -> int:
    return max((r.laps for r in tables.results_of(race.race_id)), default=0)


def _sc_and_laps(tables: HistoryTables, races: list[Race]) -> tuple[float, float]:
    periods = sum(len(tables.safety_cars_of(r.race_id)) for r in races)
    return float(periods), float(sum(_race_laps(tables, r) for r in races))


def _dnf(tables: HistoryTables, races: list[Race]) -> tuple[float, float]:
    out = car_laps = 0.0
    for race in races:
        results = tables.results_of(race.race_id)
        laps = _race_laps(tables, race)
        starters = [r for r in results if r.grid > 0 or r.laps > 0]
        out += sum(1 for r in starters if not tables.finished(r))
        car_laps += laps * len(starters)
    return out, car_laps


def _pit_loss(tables: HistoryTables, races: list[Race]) -> float | None:
    stops = [
        p.duration_ms
        for r in races[-RECENT:]
        for p in tables.pit_stops_of(r.race_id)
        if p.duration_ms is not None and 0 < p.duration_ms < MAX_STOP_MS
    ]
    return statistics.median(stops) / 1000.0 if stops else None


def _max_stint(tables: HistoryTables, races: list[Race]) -> float | None:
    stints: list[int] = []
    for race in races[-RECENT:]:
        stops = tables.pit_stops_of(race.race_id)
        if not stops:
            continue
        laps = _race_laps(tables, race)
        for result in tables.results_of(race.race_id):
            if tables.finished(result):
                marks = [0, *sorted(p.lap for p in stops if p.driver_id == result.driver_id), laps]
                stints += [b - a for a, b in itertools.pairwise(marks) if b > a]
    return float(np.percentile(stints, 90)) if len(stints) >= 20 else None


def _lap_time(tables: HistoryTables, races: list[Race]) -> float | None:
    means = []
    for race in races[-3:]:
        winner = next((r for r in tables.results_of(race.race_id) if r.position_order == 1), None)
        if winner is not None and winner.milliseconds and winner.laps:
            means.append(winner.milliseconds / winner.laps / 1000.0)
    return statistics.median(means) if means else None
