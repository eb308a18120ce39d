"""``predict``: race events (Pub/Sub ``race-events``) -> ``predictions/{session_id}`` and its history.

Race sessions (``..._r``): the pre-race prediction, live updates after every lap and on safety
car, VSC, red flag and pit events, scoring when the result is final
(``shared.services.predictions``). Qualifying sessions (``..._q``, ``..._sq``): the predicted
grid, updated as laps are completed (``shared.services.grid_predictions``). Other sessions'
events are acknowledged and ignored.

Deployed with retries: a transient Firestore failure raises and Pub/Sub delivers again (every
write is idempotent); a bad payload or a race without a grid is permanent, logged and acknowledged.
The history tables (the data dir's CSV folder, else their Firestore copy) and the model are loaded
on the first prediction that needs them, once per instance; the per-instance :class:`Pending` holds
a prediction waiting for its one-second slot. NumPy and the prediction services load on the first
event, not at import: ``main.py`` imports every entry point, and the other functions' cold starts
must not pay for them.
"""

from __future__ import annotations

import functools
import logging
from datetime import UTC, datetime
from typing import Any

import functions_framework
from cloudevents.http import CloudEvent

from functions import _runtime
from shared.history.firestore import load_history_from_firestore
from shared.history.tables import HistoryTables, load_history
from shared.logs import metric
from shared.timing.models import RaceEvent

log = logging.getLogger(__name__)


@functools.lru_cache(maxsize=1)
def _firestore_tables() -> HistoryTables:
    return load_history_from_firestore(_runtime.db())


def _tables() -> HistoryTables:
    """The CSV folder under the data dir when the instance has one, else Firestore's copy
    (``pitlane predict history-upload``)."""
    data_dir = _runtime.settings().data_dir
    if data_dir is not None and any((d / "races.csv").is_file() for d in (data_dir, data_dir / "history")):
        return load_history(data_dir)
    return _firestore_tables()


def _model() -> Any:
    from shared.services.predict_model import model_for

    return model_for(_runtime.settings())


@functools.lru_cache(maxsize=1)
def _instance() -> tuple[Any, Any]:
    """The per-instance resources (tables and model, loaded on use) and pending slot."""
    from shared.services import predictions

    return predictions.Resources(tables=_tables, model=_model), predictions.Pending()


@functions_framework.cloud_event
@_runtime.event_function
def predict(event: CloudEvent) -> None:
    race_event = _runtime.pubsub_payload(event, RaceEvent)
    sid = race_event.session_id
    if not sid.endswith(("_r", "_q", "_sq")):
        return
    from shared.services import grid_predictions, predictions

    resources, pending = _instance()
    if sid.endswith("_r"):
        outcome = predictions.handle_event(race_event, db=_runtime.db(), resources=resources, pending=pending)
    else:
        outcome = grid_predictions.handle_event(
            race_event, db=_runtime.db(), pending=pending, resources=resources
        )
    if outcome.action == "predicted":
        _latency(event)
    if outcome.action != "ignored":
        log.info(
            "predict: %s",
            outcome.action,
            extra={"json_fields": {**outcome.model_dump(), "event_id": race_event.event_id}},
        )


def _latency(event: CloudEvent) -> None:
    """``prediction_latency_ms``: from the race event's publication to its prediction written."""
    try:
        published = datetime.fromisoformat(str(event["time"]).replace("Z", "+00:00"))
    except (KeyError, ValueError):
        return
    metric("prediction_latency_ms", (datetime.now(UTC) - published).total_seconds() * 1000)
