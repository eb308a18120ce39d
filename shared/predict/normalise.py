"""Per-race normalisation: probabilities of one kind that sum to what the race allows.

In a race of ``n`` starters exactly one wins, ``min(3, n)`` stand on the podium and
``min(points places, n)`` score: the win probabilities must sum to 1, the podium ones to 3, the
points ones to 10 (since 2010), each staying in [0, 1]. Independent per-driver models do not know
that, so their outputs are scaled to the total; a value the scaling pushes above 1 is held at 1
(or below its floor, at the floor) and the others are scaled again (iterative proportional
fitting with bounds). The floor keeps the kinds nested: a winner is on the podium, so a driver's
podium probability is never below their win probability, nor points below podium.

:class:`Odds` holds what both predictors produce: the three kinds per car with their intervals.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np


def capped_total(p: np.ndarray, total: float, floor: np.ndarray | None = None) -> np.ndarray:
    """``p`` scaled so it sums to ``min(total, len(p))`` with ``floor <= value <= 1`` each.

    ``floor`` (default 0) must itself sum to at most the total. A zero stays zero unless its floor
    lifts it or every value is zero (then the total is spread evenly).
    """
    q = np.clip(np.asarray(p, dtype=float), 0.0, 1.0)
    n = len(q)
    if n == 0:
        return q
    lo = np.zeros(n) if floor is None else np.clip(np.asarray(floor, dtype=float), 0.0, 1.0)
    target = min(float(total), float(n))
    if lo.sum() > target + 1e-9:
        raise ValueError("the floors sum to more than the total")
    q = np.maximum(q, lo)
    if q.sum() <= 0:
        return np.full(n, target / n)
    fixed = np.zeros(n, dtype=bool)
    for _ in range(2 * n + 1):
        free = ~fixed
        free_total = target - q[fixed].sum()
        s = q[free].sum()
        if not free.any():
            break
        if s <= 0:
            q[free] = free_total / free.sum()
        else:
            q[free] *= free_total / s
        high = free & (q > 1.0)
        low = free & (q < lo)
        if not high.any() and not low.any():
            break
        q[high], q[low] = 1.0, lo[low]
        fixed |= high | low
    return np.clip(q, lo, 1.0)


def race_totals(n: int, points_places: int) -> tuple[float, float, float]:
    """What the win, podium and points probabilities of ``n`` starters sum to."""
    return min(1.0, n), float(min(3, n)), float(min(points_places, n))


@dataclass(frozen=True)
class Odds:
    """Per-car probabilities of winning, a podium and points, each with its 90% interval: arrays
    in one order (the pre-race model's and the live simulation's outputs)."""

    win: np.ndarray
    podium: np.ndarray
    points: np.ndarray
    win_lo: np.ndarray
    win_hi: np.ndarray
    podium_lo: np.ndarray
    podium_hi: np.ndarray
    points_lo: np.ndarray
    points_hi: np.ndarray

    def of(self, i: int) -> dict[str, Any]:
        """Car ``i``'s fields of a ``DriverOdds`` (``p_win`` ... ``points_interval``)."""
        return {
            "p_win": float(self.win[i]),
            "p_podium": float(self.podium[i]),
            "p_points": float(self.points[i]),
            "win_interval": (float(self.win_lo[i]), float(self.win_hi[i])),
            "podium_interval": (float(self.podium_lo[i]), float(self.podium_hi[i])),
            "points_interval": (float(self.points_lo[i]), float(self.points_hi[i])),
        }
