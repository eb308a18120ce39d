"""The pre-race model: its parameters (a versioned JSON artefact) and prediction, numpy only.

Three logistic heads on the standardised features of :mod:`shared.predict.features` give each
starter's raw chance to win, to finish on the podium and to score points. Per race they are
scaled to their totals (:mod:`shared.predict.normalise`), mapped through an isotonic calibration
fitted on out-of-fold predictions, and scaled again with floors so the kinds stay nested
(win <= podium <= points). Each head also has ``bootstrap`` replicas, fitted on training sets
resampled by race; the spread of their (normalised, calibrated) predictions gives the interval,
``interval`` wide (90%): it says how sure the model is of its own estimate, not how likely the
outcome is. A ridge head predicts the finish score (1 = first, 0 = last) that the live model turns
into race pace.

Training (scikit-learn) is in :mod:`shared.predict.training`; this module needs numpy only, so the
``predict`` function loads and applies an artefact without scikit-learn.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from shared.predict.features import FEATURES, RaceRows, points_places
from shared.predict.normalise import Odds, capped_total, race_totals

KINDS = ("win", "podium", "points")


class LinearHead(BaseModel):
    model_config = ConfigDict(frozen=True)
    coef: list[float]
    intercept: float

    def score(self, z: np.ndarray) -> np.ndarray:
        return np.asarray(z @ np.asarray(self.coef) + self.intercept, dtype=float)


class Calibration(BaseModel):
    """An increasing map from the normalised probability to the calibrated one (knots, applied
    by linear interpolation; identity when empty)."""

    model_config = ConfigDict(frozen=True)
    x: list[float] = Field(default_factory=list)
    y: list[float] = Field(default_factory=list)

    def apply(self, p: np.ndarray) -> np.ndarray:
        if not self.x:
            return p
        return np.interp(p, np.asarray(self.x), np.asarray(self.y))


class KindParams(BaseModel):
    model_config = ConfigDict(frozen=True)
    head: LinearHead
    calibration: Calibration = Field(default_factory=Calibration)
    bootstrap: list[LinearHead] = Field(default_factory=list)


class PreRaceModel(BaseModel):
    """A trained pre-race model; ``version`` names it in every stored prediction."""

    model_config = ConfigDict(frozen=True)
    version: str
    features: list[str]
    trained_until: int = Field(description="last season whose races the model was trained on")
    start_year: int
    races: int
    rows: int
    trained_utc: datetime
    mean: list[float]
    scale: list[float]
    win: KindParams
    podium: KindParams
    points: KindParams
    pace: LinearHead = Field(description="ridge head: expected finish score, 1 first, 0 last")
    slot_win: list[float] = Field(description="grid baseline: P(win | grid slot), index = slot")
    interval: float = 0.9

    def standardise(self, x: np.ndarray) -> np.ndarray:
        if list(self.features) != list(FEATURES):
            raise ValueError(f"model {self.version} was trained on other features; retrain it")
        return (x - np.asarray(self.mean)) / np.asarray(self.scale)

    def predict(self, rows: RaceRows) -> PreRaceOutput:
        """Calibrated, per-race normalised probabilities for ``rows``' starters, with intervals."""
        z = self.standardise(rows.x)
        n = len(rows.starters)
        totals = race_totals(n, points_places(rows.race.year))
        point = _probabilities(self, z, totals, None)
        replicas = [
            _probabilities(self, z, totals, b) for b in range(min(len(k.bootstrap) for k in self._kinds()))
        ]
        lo_q, hi_q = (1 - self.interval) / 2 * 100, (1 + self.interval) / 2 * 100
        bounds = {}
        for i, kind in enumerate(KINDS):
            if replicas:
                stack = np.stack([r[i] for r in replicas])
                lo, hi = np.percentile(stack, lo_q, axis=0), np.percentile(stack, hi_q, axis=0)
            else:
                lo, hi = point[i], point[i]
            bounds[kind] = (np.minimum(lo, point[i]), np.maximum(hi, point[i]))
        pace = np.clip(self.pace.score(z), 0.0, 1.0)
        return PreRaceOutput(
            win=point[0], podium=point[1], points=point[2],
            win_lo=bounds["win"][0], win_hi=bounds["win"][1],
            podium_lo=bounds["podium"][0], podium_hi=bounds["podium"][1],
            points_lo=bounds["points"][0], points_hi=bounds["points"][1],
            finish_score=pace,
        )  # fmt: skip

    def _kinds(self) -> tuple[KindParams, KindParams, KindParams]:
        return self.win, self.podium, self.points

    def baseline(self, rows: RaceRows) -> np.ndarray:
        """The grid rule's win probabilities: P(win | slot) from training history, normalised."""
        grid = rows.x[:, FEATURES.index("grid")].astype(int)
        rates = np.asarray(self.slot_win)
        p = rates[np.clip(grid, 0, len(rates) - 1)]
        return capped_total(p, 1.0)


@dataclass(frozen=True)
class PreRaceOutput(Odds):
    """:class:`Odds` per starter, in the order of the ``RaceRows`` predicted, and each starter's
    expected finish (``finish_score``, 1 first, 0 last)."""

    finish_score: np.ndarray


def sigmoid(s: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(s, -35, 35)))


def _probabilities(
    model: PreRaceModel, z: np.ndarray, totals: tuple[float, float, float], replica: int | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    out: list[np.ndarray] = []
    floor: np.ndarray | None = None
    for params, total in zip((model.win, model.podium, model.points), totals, strict=True):
        head = params.head if replica is None else params.bootstrap[replica]
        p = capped_total(sigmoid(head.score(z)), total)
        p = capped_total(params.calibration.apply(p), total, floor)
        out.append(p)
        floor = p
    return out[0], out[1], out[2]
