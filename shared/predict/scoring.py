"""Scoring predictions against results.

For one race (one prediction): ``brier_win``, the mean over starters of ``(p_win - won)^2``;
``log_loss_win``, the mean over starters of the binary cross-entropy of ``p_win`` (probabilities
clipped to [1e-6, 1 - 1e-6]); ``winner_hit``, whether the highest win probability was the winner's;
``podium_overlap``, the share of the real podium found among the three highest podium
probabilities; ``brier_podium`` and ``brier_points`` likewise for those kinds. Summaries pool the
Brier score and log loss over every (race, starter) pair, and average the hit and the overlap over
races.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import numpy as np
from pydantic import BaseModel

CLIP = 1e-6


class Score(BaseModel):
    """How one prediction fared (see module docstring)."""

    starters: int
    brier_win: float
    log_loss_win: float
    winner_hit: bool
    podium_overlap: float
    brier_podium: float | None = None
    brier_points: float | None = None


class ScoreSummary(BaseModel):
    races: int
    winner_accuracy: float
    podium_overlap: float
    brier_win: float
    log_loss_win: float


def score(
    win: np.ndarray,
    finish: np.ndarray,
    *,
    podium: np.ndarray | None = None,
    points_p: np.ndarray | None = None,
    scored: np.ndarray | None = None,
    ranking: np.ndarray | None = None,
) -> Score:
    """Score one race: probabilities per starter and their finishing order (1 = winner).

    The predicted winner is the highest win probability and the predicted podium the three highest
    podium probabilities (the win ones when ``podium`` is None), unless ``ranking`` (higher is
    better) names both, as the grid rule does. ``points_p`` needs ``scored`` (1 for a starter who
    scored points).
    """
    p = np.clip(np.asarray(win, dtype=float), 0.0, 1.0)
    finish = np.asarray(finish, dtype=float)
    if len(p) != len(finish) or not len(p):
        raise ValueError("a prediction and its result must cover the same starters")
    won = (finish == 1).astype(float)
    on_podium = (finish <= 3).astype(float)
    pc = np.clip(p, CLIP, 1 - CLIP)
    pick = int(np.argmax(ranking if ranking is not None else p))
    order_by = ranking if ranking is not None else podium if podium is not None else p
    top = np.argsort(-np.asarray(order_by, dtype=float), kind="stable")[:3]
    real = max(min(3, int(on_podium.sum())), 1)
    return Score(
        starters=len(p),
        brier_win=float(np.mean((p - won) ** 2)),
        log_loss_win=float(np.mean(-(won * np.log(pc) + (1 - won) * np.log(1 - pc)))),
        winner_hit=bool(won[pick] == 1.0),
        podium_overlap=float(on_podium[top].sum() / real),
        brier_podium=float(np.mean((np.asarray(podium) - on_podium) ** 2)) if podium is not None else None,
        brier_points=(
            float(np.mean((np.asarray(points_p) - np.asarray(scored)) ** 2))
            if points_p is not None and scored is not None
            else None
        ),
    )


def score_by_driver(
    win: Mapping[str, float],
    podium: Mapping[str, float],
    finish: Mapping[str, int],
    points_p: Mapping[str, float] | None = None,
    points: Mapping[str, float] | None = None,
) -> Score:
    """:func:`score` for predictions and results keyed by driver (car number as text); a starter
    missing from the result counts as last, one missing from the prediction as probability 0."""
    drivers = sorted(set(win) | set(finish))
    last = len(drivers)
    order = np.asarray([finish.get(d, last) for d in drivers], dtype=float)
    scored = None
    if points is not None:
        scored = np.asarray([1.0 if points.get(d, 0.0) > 0 else 0.0 for d in drivers])
    return score(
        np.asarray([win.get(d, 0.0) for d in drivers]),
        order,
        podium=np.asarray([podium.get(d, 0.0) for d in drivers]),
        points_p=np.asarray([points_p.get(d, 0.0) for d in drivers]) if points_p is not None else None,
        scored=scored,
    )


def summarise(scores: Iterable[Score]) -> ScoreSummary:
    items = list(scores)
    if not items:
        return ScoreSummary(races=0, winner_accuracy=0.0, podium_overlap=0.0, brier_win=0.0, log_loss_win=0.0)
    weights = np.asarray([s.starters for s in items], dtype=float)
    return ScoreSummary(
        races=len(items),
        winner_accuracy=float(np.mean([s.winner_hit for s in items])),
        podium_overlap=float(np.mean([s.podium_overlap for s in items])),
        brier_win=float(np.average([s.brier_win for s in items], weights=weights)),
        log_loss_win=float(np.average([s.log_loss_win for s in items], weights=weights)),
    )
