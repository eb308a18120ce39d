"""Training the pre-race model (scikit-learn; imported only here, only when training).

:func:`race_rows` walks the history once and returns each race's feature rows, as known before
the race, with its outcome. :func:`train` fits the three logistic heads (win, podium, points) on
the rows of seasons ``start_year..trained_until``, an isotonic calibration per head on
out-of-fold predictions (folds are blocks of seasons, so a race never calibrates its own model),
``bootstrap`` race-resampled replicas for the intervals, the ridge pace head and the grid
baseline's P(win | slot). The logistic heads are fitted by Newton's method in numpy (exact and a
few steps per warm-started replica); scikit-learn fits the isotonic maps.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from datetime import UTC, datetime

import numpy as np

from shared.history.tables import HistoryTables
from shared.predict.features import FEATURES, FormTracker, MissingGridError, RaceRows, points_places
from shared.predict.model import KINDS, Calibration, KindParams, LinearHead, PreRaceModel, sigmoid
from shared.predict.normalise import capped_total, race_totals

DEFAULT_START_YEAR = 1990
DEFAULT_BOOTSTRAP = 20
FOLDS = 5
L2 = 1.0  # L2 penalty of the logistic heads (features are standardised)
RIDGE = 1.0
MAX_SLOT = 26


def race_rows(tables: HistoryTables, *, since: int = DEFAULT_START_YEAR) -> Iterable[RaceRows]:
    """Every race from ``since`` on, in calendar order, its features as known before it and its
    outcome; races without a grid are left out (the backtest counts them)."""
    tracker = FormTracker(tables)
    for race in tables.races:
        if race.year >= since and tables.results_by_race.get(race.race_id):
            try:
                rows = tracker.outcome(tracker.features(race, tracker.starters(race.race_id)))
            except MissingGridError:
                rows = None
            if rows is not None:
                yield rows
        tracker.update(race)


def targets(rows: RaceRows) -> dict[str, np.ndarray]:
    return {"win": rows.won, "podium": rows.podium, "points": rows.scored}


def fit_logistic(
    z: np.ndarray,
    y: np.ndarray,
    weight: np.ndarray | None = None,
    start: LinearHead | None = None,
    l2: float = L2,
) -> LinearHead:
    """L2-penalised logistic regression by Newton's method (the intercept unpenalised); the same
    optimum as scikit-learn's ``LogisticRegression(C=1/l2)``, reached in a few steps when started
    from a nearby solution (the bootstrap replicas start from the full fit)."""
    n, d = z.shape
    a = np.column_stack([z, np.ones(n)])
    w = np.ones(n) if weight is None else np.asarray(weight, dtype=float)
    beta = np.zeros(d + 1) if start is None else np.asarray([*start.coef, start.intercept], dtype=float)
    penalty = np.full(d + 1, l2)
    penalty[-1] = 0.0
    for _ in range(50):
        p = sigmoid(a @ beta)
        grad = a.T @ (w * (p - y)) + penalty * beta
        hess = (a * (w * p * (1 - p))[:, None]).T @ a + np.diag(penalty)
        step = np.linalg.solve(hess, grad)
        beta -= step
        if np.abs(step).max() < 1e-7:
            break
    return LinearHead(coef=[float(v) for v in beta[:-1]], intercept=float(beta[-1]))


def _normalised(head: LinearHead, rows: list[RaceRows], zs: list[np.ndarray], kind: str) -> np.ndarray:
    out = []
    for r, z in zip(rows, zs, strict=True):
        total = race_totals(len(r.starters), points_places(r.race.year))[KINDS.index(kind)]
        out.append(capped_total(sigmoid(head.score(z)), total))
    return np.concatenate(out)


def _isotonic(p: np.ndarray, y: np.ndarray) -> Calibration:
    from sklearn.isotonic import IsotonicRegression

    iso = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip").fit(p, y)
    xs, ys = np.asarray(iso.X_thresholds_, dtype=float), np.asarray(iso.y_thresholds_, dtype=float)
    # Strictly increasing knots keep np.interp monotone and the map informative between them.
    ys = ys + np.linspace(0, 1e-6, len(ys))
    return Calibration(x=[float(v) for v in xs], y=[float(min(v, 1.0)) for v in ys])


def _ridge(z: np.ndarray, y: np.ndarray) -> LinearHead:
    a = np.column_stack([z, np.ones(len(z))])
    reg = RIDGE * np.eye(a.shape[1])
    reg[-1, -1] = 0.0
    w = np.linalg.solve(a.T @ a + reg, a.T @ y)
    return LinearHead(coef=[float(v) for v in w[:-1]], intercept=float(w[-1]))


def train(
    rows: list[RaceRows],
    *,
    trained_until: int,
    start_year: int = DEFAULT_START_YEAR,
    bootstrap: int = DEFAULT_BOOTSTRAP,
    seed: int = 0,
) -> PreRaceModel:
    """Fit the model on the races of ``rows`` from seasons ``start_year..trained_until``."""
    train_rows = [r for r in rows if start_year <= r.race.year <= trained_until]
    if len(train_rows) < 20:
        raise ValueError(f"too few races to train on ({len(train_rows)}) in {start_year}-{trained_until}")
    x = np.vstack([r.x for r in train_rows])
    mean, scale = x.mean(axis=0), x.std(axis=0)
    scale[scale == 0] = 1.0
    zs = [(r.x - mean) / scale for r in train_rows]
    z = np.vstack(zs)
    ys = {kind: np.concatenate([targets(r)[kind] for r in train_rows]) for kind in KINDS}
    seasons = sorted({r.race.year for r in train_rows})
    fold_of = {year: i * FOLDS // len(seasons) for i, year in enumerate(seasons)}
    race_fold = np.asarray([fold_of[r.race.year] for r in train_rows])
    row_fold = np.concatenate([np.full(len(r.starters), fold_of[r.race.year]) for r in train_rows])
    rng = np.random.default_rng(seed)
    draws = [rng.integers(0, len(train_rows), len(train_rows)) for _ in range(bootstrap)]
    kinds: dict[str, KindParams] = {}
    for kind in KINDS:
        head = fit_logistic(z, ys[kind])
        oof = np.empty(len(z))
        for fold in range(FOLDS):
            inside = row_fold != fold
            if inside.all() or not inside.any():
                continue
            fold_head = fit_logistic(z[inside], ys[kind][inside], start=head)
            held = [i for i in range(len(train_rows)) if race_fold[i] == fold]
            oof[row_fold == fold] = _normalised(
                fold_head, [train_rows[i] for i in held], [zs[i] for i in held], kind
            )
        replicas = []
        for draw in draws:
            weight = np.concatenate(
                [
                    np.full(len(r.starters), c)
                    for r, c in zip(train_rows, np.bincount(draw, minlength=len(train_rows)), strict=True)
                ]
            )
            keep = weight > 0
            replicas.append(fit_logistic(z[keep], ys[kind][keep], weight[keep], start=head))
        kinds[kind] = KindParams(head=head, calibration=_isotonic(oof, ys[kind]), bootstrap=replicas)
    finish = np.concatenate([1.0 - (r.finish - 1) / max(len(r.starters) - 1, 1) for r in train_rows])  # type: ignore[operator]
    fields = {
        "features": list(FEATURES), "trained_until": trained_until, "start_year": start_year,
        "races": len(train_rows), "rows": len(z), "mean": [float(v) for v in mean],
        "scale": [float(v) for v in scale], **{k: v.model_dump() for k, v in kinds.items()},
        "pace": _ridge(z, finish).model_dump(), "slot_win": _slot_win(train_rows),
    }  # fmt: skip
    digest = hashlib.sha256(json.dumps(fields, sort_keys=True).encode()).hexdigest()[:10]
    return PreRaceModel.model_validate(
        {**fields, "version": f"prerace-{trained_until}-{digest}", "trained_utc": datetime.now(UTC)}
    )


def _slot_win(rows: list[RaceRows]) -> list[float]:
    """P(win | grid slot) over ``rows`` (slot 0 unused), smoothed towards 1/slot for thin slots."""
    wins, starts = np.zeros(MAX_SLOT + 1), np.zeros(MAX_SLOT + 1)
    for r in rows:
        grid = np.clip(r.x[:, FEATURES.index("grid")].astype(int), 0, MAX_SLOT)
        np.add.at(wins, grid, r.won)
        np.add.at(starts, grid, 1.0)
    prior = np.asarray([0.0] + [0.5 / s for s in range(1, MAX_SLOT + 1)])
    return [float(v) for v in (wins + 2 * prior) / (starts + 2)]
