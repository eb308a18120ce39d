"""Backtest: train on the races up to a season, predict every race of later seasons from its grid.

Each race is predicted from what was known the morning of the race: its starting grid (and its
qualifying times and sprint result), and form figures folded in from the races before it, the
earlier races of the same season included (the model itself stays the one trained up to
``train_until``). The grid baseline predicts from the grid alone: the pole-sitter wins, the grid's
top three is the podium, and the win probability of each slot is its share of wins in the training
races (normalised per race). Figures: :mod:`shared.predict.scoring`.
"""

from __future__ import annotations

import itertools
import time

import numpy as np
from pydantic import BaseModel, Field

from shared.history.tables import HistoryTables
from shared.predict.features import FEATURES, RaceRows
from shared.predict.model import PreRaceModel
from shared.predict.scoring import Score, ScoreSummary, score, summarise
from shared.predict.training import DEFAULT_BOOTSTRAP, DEFAULT_START_YEAR, race_rows, train


class CalibrationBin(BaseModel):
    """Win probabilities predicted in ``[lo, hi)``: how many, their mean, how often they won."""

    lo: float
    hi: float
    n: int
    predicted: float
    observed: float


class BacktestReport(BaseModel):
    """What ``pitlane predict backtest --json`` prints (the model's figures at the top level)."""

    races: int
    winner_accuracy: float
    podium_overlap: float
    brier_win: float
    log_loss_win: float
    baseline: ScoreSummary
    train_until: int
    seasons: list[int]
    model_version: str
    train_races: int
    train_seconds: float
    brier_podium: float
    brier_points: float
    calibration_win: list[CalibrationBin] = Field(default_factory=list)
    per_season: dict[str, dict[str, ScoreSummary]] = Field(default_factory=dict)
    skipped: list[str] = Field(default_factory=list, description="races with no grid, not predicted")


def score_model(model: PreRaceModel, rows: RaceRows) -> Score:
    out = model.predict(rows)
    return score(out.win, rows.finish, podium=out.podium, points_p=out.points, scored=rows.scored)  # type: ignore[arg-type]


def score_baseline(model: PreRaceModel, rows: RaceRows) -> Score:
    grid = rows.x[:, FEATURES.index("grid")]
    return score(model.baseline(rows), rows.finish, ranking=-grid)  # type: ignore[arg-type]


def backtest(
    tables: HistoryTables,
    *,
    train_until: int,
    seasons: list[int],
    start_year: int = DEFAULT_START_YEAR,
    bootstrap: int = DEFAULT_BOOTSTRAP,
) -> BacktestReport:
    """Train on ``start_year..train_until`` and score every race of ``seasons`` (all later)."""
    if any(s <= train_until for s in seasons):
        raise ValueError("backtest seasons must come after the training seasons")
    started = time.perf_counter()
    rows = list(race_rows(tables, since=start_year))
    model = train(rows, trained_until=train_until, start_year=start_year, bootstrap=bootstrap)
    train_seconds = time.perf_counter() - started
    tested = [r for r in rows if r.race.year in seasons]
    predicted = {r.race.race_id for r in tested}
    skipped = [
        race.label
        for year in seasons
        for race in tables.season(year)
        if race.race_id not in predicted and tables.results_of(race.race_id)
    ]
    model_scores = [score_model(model, r) for r in tested]
    base_scores = [score_baseline(model, r) for r in tested]
    summary = summarise(model_scores)
    per_season = {
        str(year): {
            "model": summarise(s for s, r in zip(model_scores, tested, strict=True) if r.race.year == year),
            "baseline": summarise(s for s, r in zip(base_scores, tested, strict=True) if r.race.year == year),
        }
        for year in seasons
    }
    return BacktestReport(
        **summary.model_dump(),
        baseline=summarise(base_scores),
        train_until=train_until,
        seasons=list(seasons),
        model_version=model.version,
        train_races=model.races,
        train_seconds=round(train_seconds, 2),
        brier_podium=_pooled(model_scores, "brier_podium"),
        brier_points=_pooled(model_scores, "brier_points"),
        calibration_win=calibration_bins(model, tested),
        per_season=per_season,
        skipped=skipped,
    )


def _pooled(scores: list[Score], field: str) -> float:
    values = [(getattr(s, field), s.starters) for s in scores if getattr(s, field) is not None]
    if not values:
        return 0.0
    return float(np.average([v for v, _ in values], weights=[n for _, n in values]))


def calibration_bins(
    model: PreRaceModel, rows: list[RaceRows], edges: tuple[float, ...] = (0, 0.05, 0.15, 0.3, 0.5, 1.0001)
) -> list[CalibrationBin]:
    """Reliability of the win probabilities over ``rows``: predicted against observed per bin."""
    p = np.concatenate([model.predict(r).win for r in rows]) if rows else np.zeros(0)
    y = np.concatenate([r.won for r in rows]) if rows else np.zeros(0)
    bins = []
    for lo, hi in itertools.pairwise(edges):
        inside = (p >= lo) & (p < hi)
        if inside.any():
            bins.append(
                CalibrationBin(
                    lo=lo,
                    hi=min(hi, 1.0),
                    n=int(inside.sum()),
                    predicted=float(p[inside].mean()),
                    observed=float(y[inside].mean()),
                )
            )
    return bins
