"""Firestore side of predictions (layout: ``shared/predict/documents.py``).

Writes: a history entry is created once (create-if-absent: a redelivered event finds it and
writes nothing); the current document is replaced only by a later prediction (``seq``) and only
with a precondition on the version read, so two instances never interleave; the caller keeps it to
one write a second. Accuracy buckets are updated in a transaction that skips a session already
counted. Reads (for the API): :func:`get_live`, :func:`list_history`, :func:`get_accuracy`,
:func:`accuracy_summary`, each validating documents on the way out (one that does not validate is
left out with a warning).
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from shared.predict.documents import (
    Accuracy,
    AccuracyBucket,
    AccuracyRow,
    AccuracySummary,
    Prediction,
)
from shared.stores.session_store import to_document

if TYPE_CHECKING:
    from google.cloud import firestore

log = logging.getLogger(__name__)
PREDICTIONS = "predictions"
HISTORY = "history"
ACCURACY = "accuracy"
BUCKETS = "prediction_accuracy"


def prediction_path(session_id: str) -> str:
    return f"{PREDICTIONS}/{session_id}"


def history_path(session_id: str, key: str) -> str:
    return f"{PREDICTIONS}/{session_id}/{HISTORY}/{key}"


def accuracy_path(session_id: str) -> str:
    return f"{PREDICTIONS}/{session_id}/{ACCURACY}/summary"


def bucket_path(season: int | None, model_version: str) -> str:
    return f"{BUCKETS}/{season if season is not None else 'unknown'}_{model_version}"


def _prediction(path: str, data: dict[str, Any] | None) -> Prediction | None:
    try:
        return Prediction.model_validate(data or {})
    except ValidationError as exc:
        log.warning(
            "skipped a stored prediction", extra={"json_fields": {"path": path, "error": str(exc)[:200]}}
        )
        return None


# -- writes -----------------------------------------------------------------------------------


def create_history(db: firestore.Client, prediction: Prediction) -> bool:
    """Store ``prediction`` in its session's history unless an entry with its key exists;
    True when this call wrote it."""
    from google.api_core.exceptions import AlreadyExists

    ref = db.document(history_path(prediction.session_id, prediction.key))
    try:
        ref.create(to_document(prediction))
    except AlreadyExists:
        return False
    return True


def get_history_entry(db: firestore.Client, session_id: str, key: str) -> Prediction | None:
    snap = db.document(history_path(session_id, key)).get()
    return _prediction(snap.reference.path, snap.to_dict()) if snap.exists else None


def read_current(db: firestore.Client, session_id: str) -> tuple[Prediction | None, datetime | None]:
    """The current prediction and the commit time of its document (None, None: none yet)."""
    snap = db.document(prediction_path(session_id)).get()
    if not snap.exists:
        return None, None
    return _prediction(snap.reference.path, snap.to_dict()), snap.update_time


def replace_current(db: firestore.Client, prediction: Prediction, *, read_at: datetime | None) -> bool:
    """Write the current prediction if the document is still the version read at ``read_at``
    (None: it must not exist yet); False when another writer got there first."""
    from google.api_core.exceptions import AlreadyExists, FailedPrecondition

    ref = db.document(prediction_path(prediction.session_id))
    try:
        if read_at is None:
            ref.create(to_document(prediction))
        else:
            # update() replaces every top-level field given (all of them), and only if the document
            # is still the version read.
            ref.update(to_document(prediction), option=db.write_option(last_update_time=read_at))
    except (AlreadyExists, FailedPrecondition):
        return False
    return True


def write_accuracy(db: firestore.Client, accuracy: Accuracy) -> bool:
    """Store a session's accuracy and add it to its season/model bucket, once: False when the
    session was already counted (its summary document is left as it was)."""
    from google.cloud import firestore as fs

    summary_ref = db.document(accuracy_path(accuracy.session_id))
    bucket_ref = db.document(bucket_path(accuracy.season, accuracy.model_version))

    @fs.transactional
    def apply(tx: Any) -> bool:
        bucket_snap = bucket_ref.get(transaction=tx)
        bucket = (
            AccuracyBucket.model_validate(bucket_snap.to_dict())
            if bucket_snap.exists
            else AccuracyBucket(season=accuracy.season, model_version=accuracy.model_version)
        )
        if accuracy.session_id in bucket.sessions:
            return False
        n = accuracy.predictions
        bucket.sessions.append(accuracy.session_id)
        bucket.predictions += n
        bucket.sum_brier_win += accuracy.mean_brier_win * n
        bucket.sum_log_loss_win += accuracy.mean_log_loss_win * n
        bucket.winner_hits += round(accuracy.winner_hit_rate * n)
        bucket.sum_podium_overlap += accuracy.mean_podium_overlap * n
        if accuracy.prerace is not None:
            bucket.prerace_sessions += 1
            bucket.prerace_winner_hits += int(accuracy.prerace.winner_hit)
            bucket.prerace_sum_podium_overlap += accuracy.prerace.podium_overlap
            bucket.prerace_sum_brier_win += accuracy.prerace.brier_win
        tx.set(bucket_ref, bucket.model_dump(mode="json"))
        tx.set(summary_ref, to_document(accuracy))
        return True

    result: bool = apply(db.transaction())
    return result


# -- reads (the API) ----------------------------------------------------------------------------


def get_live(db: firestore.Client, session_id: str | None = None) -> Prediction | None:
    """The current prediction of ``session_id``, or, when None, of the session predicted last."""
    if session_id is not None:
        return read_current(db, session_id)[0]
    from google.cloud.firestore import Query

    query = db.collection(PREDICTIONS).order_by("computed_utc", direction=Query.DESCENDING).limit(1)
    for snap in query.stream():
        return _prediction(snap.reference.path, snap.to_dict())
    return None


def list_history(db: firestore.Client, session_id: str) -> list[Prediction]:
    """Every stored prediction of the session, in order (lap, then race time)."""
    snaps = db.collection(f"{PREDICTIONS}/{session_id}/{HISTORY}").stream()
    found = [p for s in snaps if (p := _prediction(s.reference.path, s.to_dict())) is not None]
    return sorted(found, key=lambda p: (p.lap, p.seq))


def get_accuracy(db: firestore.Client, session_id: str) -> Accuracy | None:
    snap = db.document(accuracy_path(session_id)).get()
    if not snap.exists:
        return None
    try:
        return Accuracy.model_validate(snap.to_dict())
    except ValidationError:
        return None


def accuracy_summary(db: firestore.Client) -> AccuracySummary:
    """Accuracy by season and by model version, over every session scored."""
    buckets = []
    for snap in db.collection(BUCKETS).stream():
        try:
            buckets.append(AccuracyBucket.model_validate(snap.to_dict()))
        except ValidationError:
            log.warning("skipped an accuracy bucket", extra={"json_fields": {"path": snap.reference.path}})
    by_season: dict[int | None, list[AccuracyBucket]] = {}
    by_model: dict[str, list[AccuracyBucket]] = {}
    for b in buckets:
        by_season.setdefault(b.season, []).append(b)
        by_model.setdefault(b.model_version, []).append(b)
    return AccuracySummary(
        by_season=[
            _row(group, season=s, version="*") for s, group in sorted(by_season.items(), key=_season_key)
        ],
        by_model_version=[_row(group, season=None, version=v) for v, group in sorted(by_model.items())],
    )


def _season_key(item: tuple[int | None, list[AccuracyBucket]]) -> int:
    return item[0] if item[0] is not None else 0


def _row(group: list[AccuracyBucket], *, season: int | None, version: str) -> AccuracyRow:
    n = sum(b.predictions for b in group) or 1
    pre = sum(b.prerace_sessions for b in group)
    return AccuracyRow(
        season=season,
        model_version=version,
        sessions=sum(len(b.sessions) for b in group),
        predictions=sum(b.predictions for b in group),
        brier_win=sum(b.sum_brier_win for b in group) / n,
        log_loss_win=sum(b.sum_log_loss_win for b in group) / n,
        winner_accuracy=sum(b.winner_hits for b in group) / n,
        podium_overlap=sum(b.sum_podium_overlap for b in group) / n,
        prerace_winner_accuracy=sum(b.prerace_winner_hits for b in group) / pre if pre else None,
        prerace_podium_overlap=sum(b.prerace_sum_podium_overlap for b in group) / pre if pre else None,
        prerace_brier_win=sum(b.prerace_sum_brier_win for b in group) / pre if pre else None,
    )
