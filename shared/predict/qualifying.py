"""The predicted grid during qualifying (pure).

Each driver's expected best lap by the end of the session starts from the best of the session so
far; a driver with no time yet is placed from practice pace (their best practice lap, shifted by
the field's median practice-to-qualifying gain) or, lacking that, behind the slowest time set.
Laps still to come improve on it: the track evolves and the fuel comes out, so the expected gain
shrinks as the session runs (``GAIN_S`` at the start, none at the end), and so does the spread
(``SPREAD_S``). ``SIMS`` runs draw every driver's final best; the order of each run is its grid.
The share of runs on pole and in the top ten (reaching Q3) are the probabilities; the predicted
grid is the order of the median simulated places.

Knock-out segments are not modelled: the grid is ordered by expected best lap, which is what the
three segments approximate. Times in milliseconds; ``progress`` from 0 (start) to 1 (end).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

SIMS = 2000
GAIN_S = 0.8  # expected improvement on the best lap so far, at the start of the session
SPREAD_S = 0.6  # spread of a driver's final best around the expectation, at the start
NO_TIME_SPREAD_S = 1.2
QUALI_DURATION_S = 60 * 60  # Q1 + Q2 + Q3 and the breaks between them


@dataclass(frozen=True)
class DriverPace:
    driver_number: str
    best_ms: int | None  # best lap of this session so far
    practice_ms: int | None = None  # best lap of the weekend's practice sessions


@dataclass(frozen=True)
class GridOutput:
    drivers: list[str]
    predicted_grid: np.ndarray  # 1 = pole
    expected_ms: np.ndarray
    p_pole: np.ndarray
    p_top10: np.ndarray


def expected_best(paces: list[DriverPace], progress: float) -> tuple[np.ndarray, np.ndarray]:
    """Expected final best (ms) and its spread (ms) per driver."""
    left = 1.0 - min(max(progress, 0.0), 1.0)
    gains = [p.best_ms - p.practice_ms for p in paces if p.best_ms and p.practice_ms]
    shift = float(np.median(gains)) if gains else -1000.0
    known = [p.best_ms for p in paces if p.best_ms]
    slowest = max(known) if known else None
    exp, spread = [], []
    for p in paces:
        if p.best_ms:
            exp.append(p.best_ms - GAIN_S * 1000 * left)
            spread.append(SPREAD_S * 1000 * left + 50.0)
        elif p.practice_ms:
            exp.append(p.practice_ms + shift)
            spread.append(NO_TIME_SPREAD_S * 1000)
        else:
            exp.append((slowest or 90_000) + 1000.0)
            spread.append(NO_TIME_SPREAD_S * 1000 * 2)
    return np.asarray(exp, dtype=float), np.asarray(spread, dtype=float)


def predict_grid(paces: list[DriverPace], progress: float, *, seed: int, sims: int = SIMS) -> GridOutput:
    """Simulated grids of ``paces`` at ``progress`` (see module docstring)."""
    n = len(paces)
    if n == 0:
        z = np.zeros(0)
        return GridOutput([], z.astype(int), z, z, z)
    exp, spread = expected_best(paces, progress)
    rng = np.random.default_rng(seed)
    # Improvement only: a driver keeps the best lap already set, later laps can only beat it.
    draws = exp[None, :] + rng.normal(0.0, 1.0, (sims, n)) * spread[None, :]
    best = np.asarray([p.best_ms if p.best_ms else np.inf for p in paces], dtype=float)
    draws = np.minimum(draws, best[None, :])
    places = np.argsort(np.argsort(draws, axis=1, kind="stable"), axis=1)  # 0 = pole
    median_place = np.median(places, axis=0) + exp / 1e9  # ties broken by expected time
    order = np.argsort(median_place, kind="stable")
    grid = np.empty(n, dtype=int)
    grid[order] = np.arange(1, n + 1)
    return GridOutput(
        drivers=[p.driver_number for p in paces],
        predicted_grid=grid,
        expected_ms=exp,
        p_pole=(places == 0).mean(axis=0),
        p_top10=(places < min(10, n)).mean(axis=0),
    )
