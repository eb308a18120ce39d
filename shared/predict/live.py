"""Live race probabilities: simulate the rest of the race from where it stands.

From the race state after a lap (or a safety car, a red flag, a pit stop), each of ``SIMS`` runs
plays out the laps left: every running car finishes at

    its gap to the leader now
    + stops still due x the pit loss (cheaper under a safety car or VSC, free at a red flag)
    + its race pace x laps left (from the pre-race model's expected finish: a faster car gains)
    + noise growing with the laps left (lap-to-lap variation, and pace the prior got wrong)

and may retire (per-lap hazard) or see a safety car (per-lap hazard), which bunches the field: the
gaps built so far are cut to a few tenths per place. The order of the finishing times gives the
winner, the podium and the points of that run; the shares over runs are the probabilities, so the
win ones sum to 1, the podium ones to three (fewer when fewer cars run) and the points ones to the
points places. Runs come in batches that each draw the model's own constants from a range; the
spread of the batch shares is the interval.

Units: seconds, laps. All constants are per lap of racing; :class:`RaceParams` holds the per
circuit ones, estimated from history (:mod:`shared.predict.circuit`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from shared.predict.normalise import Odds, capped_total
from shared.predict.params import RaceParams

SIMS = 4000
BATCHES = 10
# Race pace: lap time between the expected winner (score 1) and last (score 0), and the per-lap
# pace the prior can get wrong per car (held for the whole race). Chosen by the Brier score and log
# loss of the simulation from the grid (lap 0) over the 160 races of 2014-2021, with a pre-race
# model trained up to 2013 (docs/decisions/0003-predictions.md).
PACE_S_PER_SCORE = 2.4
PACE_SD_S = 0.25
LAP_SD_S = 0.5  # lap-to-lap variation, per car and lap
TYRE_DEG_S = 0.006  # extra lap time per lap of tyre age, for a car not stopping again
SC_GAP_S = 0.5  # gap per place after a safety car bunches the field
SC_PIT_FACTOR = 0.5  # share of the pit loss paid under a safety car
VSC_PIT_FACTOR = 0.6
GRID_GAP_S = 0.25  # gap per grid slot before the first lap is complete


@dataclass(frozen=True)
class CarState:
    """One car now. ``gap_s``: behind the leader, in seconds (a lapped car's gap includes the lap);
    ``pace_score``: the pre-race expected finish (1 first, 0 last)."""

    driver_number: str
    gap_s: float
    pace_score: float
    stops_made: int = 0
    tyre_age_laps: int | None = None
    compound: str | None = None
    running: bool = True


@dataclass(frozen=True)
class RaceState:
    """The race now: ``laps_done`` by the leader of ``total_laps``; ``track``: green, yellow, sc,
    sc_ending, vsc, vsc_ending or red."""

    laps_done: int
    total_laps: int
    track: str
    cars: list[CarState]
    points_places: int = 10


@dataclass(frozen=True)
class LiveOutput(Odds):
    """:class:`Odds` of the cars numbered ``drivers``, in that order."""

    drivers: list[str]


def stops_due(car: CarState, params: RaceParams, laps_left: int, laps_done: int = 0) -> int:
    """Stops a car still has to make: as many as its tyres need to last the laps left at the
    circuit's longest usual stint (its set's age counts), and at least one for a car that has not
    stopped on dry tyres (two dry compounds are compulsory); none when the race is nearly over or
    the car runs on wet-weather tyres (the rule is lifted and the weather decides)."""
    if laps_left <= 2 or (car.compound or "").upper() in ("INTERMEDIATE", "WET"):
        return 0
    age = car.tyre_age_laps if car.tyre_age_laps is not None else laps_done
    need = max(math.ceil((age + laps_left) / max(params.max_stint_laps, 1.0)) - 1, 0)
    if car.stops_made == 0:
        need = max(need, 1)
    return min(need, 3)


def simulate(state: RaceState, params: RaceParams, *, seed: int, sims: int = SIMS) -> LiveOutput:
    """Probabilities of every car of ``state`` (retired cars get 0)."""
    drivers = [c.driver_number for c in state.cars]
    n = len(drivers)
    running = np.asarray([c.running for c in state.cars])
    laps_left = max(state.total_laps - state.laps_done, 0)
    rng = np.random.default_rng(seed)
    per = max(sims // BATCHES, 1)
    shares = []
    for _ in range(BATCHES):
        shares.append(_batch(state, params, rng, laps_left=laps_left, running=running, sims=per))
    stack = np.stack(shares)  # (batches, 3, n)
    mean = stack.mean(axis=0)
    lo, hi = np.percentile(stack, 5, axis=0), np.percentile(stack, 95, axis=0)
    mean[:, ~running] = 0.0
    return LiveOutput(
        drivers=drivers,
        win=mean[0], podium=mean[1], points=mean[2],
        win_lo=np.minimum(lo[0], mean[0]), win_hi=np.maximum(hi[0], mean[0]),
        podium_lo=np.minimum(lo[1], mean[1]), podium_hi=np.maximum(hi[1], mean[1]),
        points_lo=np.minimum(lo[2], mean[2]), points_hi=np.maximum(hi[2], mean[2]),
    ) if n else _empty()  # fmt: skip


def _empty() -> LiveOutput:
    z = np.zeros(0)
    return LiveOutput(z, z, z, z, z, z, z, z, z, drivers=[])


def _batch(
    state: RaceState,
    params: RaceParams,
    rng: np.random.Generator,
    *,
    laps_left: int,
    running: np.ndarray,
    sims: int,
) -> np.ndarray:
    """Shares of runs won, on the podium and in the points, per car: shape (3, n)."""
    cars = state.cars
    n = len(cars)
    # This batch's constants, drawn around the nominal ones: the interval is their spread.
    k_pace = PACE_S_PER_SCORE * rng.uniform(0.6, 1.4)
    pace_sd = PACE_SD_S * rng.uniform(0.6, 1.4)
    lap_sd = LAP_SD_S * rng.uniform(0.7, 1.3)
    sc_rate = params.sc_per_lap * rng.uniform(0.5, 1.5)
    dnf_rate = params.dnf_per_lap * rng.uniform(0.5, 1.5)

    gap = np.asarray([c.gap_s for c in cars], dtype=float)
    score = np.asarray([c.pace_score for c in cars], dtype=float)
    order = np.argsort(np.where(running, gap, np.inf), kind="stable")
    rank = np.empty(n)
    rank[order] = np.arange(n)  # place now, 0 = leader (retired cars last)
    if state.track in ("sc", "sc_ending", "red"):
        # The field is (or is about to be) bunched up behind the safety car or on the grid.
        gap = np.where(gap < params.lap_time_s * 0.8, np.minimum(gap, rank * SC_GAP_S), gap)
    due = np.asarray([stops_due(c, params, laps_left, state.laps_done) for c in cars], dtype=float)
    if state.track == "red":
        due = np.maximum(due - 1, 0)  # tyres may be changed during the stoppage
    # The next stop may be taken now at the price of the moment (cheaper under SC or VSC), or at
    # the safety-car price if one comes; further stops cost the green price.
    now_factor = {"sc": SC_PIT_FACTOR, "vsc": VSC_PIT_FACTOR}.get(state.track, 1.0)
    extra = np.maximum(due - 1, 0) * params.pit_loss_s
    cost_green = np.where(due > 0, params.pit_loss_s * now_factor + extra, 0.0)
    cost_sc = np.where(due > 0, params.pit_loss_s * min(now_factor, SC_PIT_FACTOR) + extra, 0.0)
    age = np.asarray([c.tyre_age_laps or 0 for c in cars], dtype=float)
    deg = np.where(due > 0, 0.0, TYRE_DEG_S * age * laps_left)
    pace = -k_pace * (score - (score[running].mean() if running.any() else 0.0))
    lapped = gap >= params.lap_time_s * 0.8

    shape = (sims, n)
    per_lap = pace[None, :] + rng.normal(0.0, pace_sd, shape)
    # A safety car in the laps left (at most one modelled), at a uniform lap: it erases the gaps
    # built so far between cars on the lead lap and makes the next stop cheaper.
    sc = rng.random(sims) < 1.0 - (1.0 - sc_rate) ** laps_left
    before = np.where(sc, rng.uniform(0, max(laps_left, 1), sims), laps_left)[:, None]
    after = laps_left - before
    t = gap[None, :] + per_lap * before + rng.normal(0.0, lap_sd, shape) * np.sqrt(before)
    place = np.argsort(np.argsort(np.where(running[None, :], t, np.inf), axis=1), axis=1)
    t = np.where(sc[:, None] & ~lapped[None, :], place * SC_GAP_S, t)
    t = t + per_lap * after + rng.normal(0.0, lap_sd, shape) * np.sqrt(after)
    t = t + np.where(sc[:, None], cost_sc[None, :], cost_green[None, :]) + deg[None, :]
    retire = rng.random(shape) < 1.0 - (1.0 - dnf_rate) ** laps_left
    out = retire | ~running[None, :]
    t = np.where(out, np.inf, t)
    finish = np.argsort(np.argsort(t, axis=1, kind="stable"), axis=1)  # 0 = winner
    win = ((finish == 0) & ~out).mean(axis=0)
    podium = ((finish < 3) & ~out).mean(axis=0)
    points = ((finish < state.points_places) & ~out).mean(axis=0)
    alive = int(running.sum())
    win = capped_total(win, min(1, alive))
    podium = capped_total(podium, min(3, alive), win)
    return np.stack([win, podium, capped_total(points, min(state.points_places, alive), podium)])
