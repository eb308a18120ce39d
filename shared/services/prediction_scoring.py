"""Scoring a session's predictions once its result is known.

The classification is the session's final timing tower order (``sessions/{id}/drivers``: the live
pipeline's, or the import's classification fields), or, when Firestore holds none, the history
tables' result of the same race. Every stored prediction, pre-race and live, is scored
(:mod:`shared.predict.scoring`; not the final one, made from every lap: it is the result itself);
the session's :class:`~shared.predict.documents.Accuracy` goes to
``predictions/{id}/accuracy/summary`` and into its season and model-version bucket, once: scoring
the same session again (a redelivered Finalised event, the Ends after it) changes nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING

import numpy as np

from shared.history.tables import HistoryTables
from shared.predict.documents import Accuracy, Prediction, ScoredPrediction
from shared.predict.features import points_places
from shared.predict.scoring import score_by_driver
from shared.services.prerace import find_history_race
from shared.stores import predictions as store

if TYPE_CHECKING:
    from google.cloud import firestore

log = logging.getLogger(__name__)


def classification(
    session_id: str, *, db: firestore.Client, tables: Callable[[], HistoryTables] | None = None
) -> dict[str, int]:
    """Driver number -> finishing place (1 = winner); empty when no result is known yet."""
    from shared.stores.session_reads import list_drivers

    found = {r.driver_number: r.position for r in list_drivers(db, session_id) if r.position}
    if found:
        return {k: int(v) for k, v in found.items() if v is not None}
    if tables is None:
        return {}
    history = tables()
    race = find_history_race(history, session_id)
    if race is None:
        return {}
    return {str(r.number): r.position_order for r in history.results_of(race.race_id) if r.number is not None}


def score_prediction(prediction: Prediction, finish: dict[str, int]) -> ScoredPrediction:
    places = points_places(prediction.season or 2010)
    result = score_by_driver(
        win={d.driver_number: d.p_win for d in prediction.drivers},
        podium={d.driver_number: d.p_podium for d in prediction.drivers},
        finish=finish,
        points_p={d.driver_number: d.p_points for d in prediction.drivers},
        points={d: 1.0 if p <= places else 0.0 for d, p in finish.items()},
    )
    return ScoredPrediction(
        key=prediction.key, lap=prediction.lap, kind=prediction.kind, brier_win=result.brier_win,
        log_loss_win=result.log_loss_win, winner_hit=result.winner_hit, podium_overlap=result.podium_overlap,
    )  # fmt: skip


def score_session(
    session_id: str,
    *,
    db: firestore.Client,
    tables: Callable[[], HistoryTables] | None = None,
    now: datetime,
) -> bool:
    """Score and store every prediction of ``session_id``; False when there is nothing to score
    (no predictions, no result yet) or it was scored before."""
    history = [p for p in store.list_history(db, session_id) if p.kind in ("prerace", "live") and p.drivers]
    if not history:
        return False
    finish = classification(session_id, db=db, tables=tables)
    if not finish:
        log.warning("no classification to score against", extra={"json_fields": {"session_id": session_id}})
        return False
    scored = [score_prediction(p, finish) for p in history]
    prerace = next((s for s, p in zip(scored, history, strict=True) if p.kind == "prerace"), None)
    ordered = sorted(finish, key=lambda d: finish[d])
    accuracy = Accuracy(
        session_id=session_id,
        season=history[0].season,
        model_version=history[0].model_version,
        winner=ordered[0] if ordered else None,
        podium=ordered[:3],
        scored_utc=now,
        predictions=len(scored),
        prerace=prerace,
        mean_brier_win=float(np.mean([s.brier_win for s in scored])),
        mean_log_loss_win=float(np.mean([s.log_loss_win for s in scored])),
        winner_hit_rate=float(np.mean([s.winner_hit for s in scored])),
        mean_podium_overlap=float(np.mean([s.podium_overlap for s in scored])),
        by_prediction=scored,
    )
    written = store.write_accuracy(db, accuracy)
    log.info(
        "predictions scored" if written else "predictions already scored",
        extra={"json_fields": {"session_id": session_id, "predictions": len(scored)}},
    )
    return written
