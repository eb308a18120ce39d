"""Race predictions (``predictions/...``, written by the ``predict`` function): the current one,
a session's history with its accuracy, and accuracy by season and model version. Reads go through
``shared.stores.predictions``; the models load on the first prediction request."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import Field

from functions.routes.table import TABLE, SessionId, SessionPath, db
from shared.api.params import Params
from shared.api.router import LIVE, SCHEDULE, SESSION, Call
from shared.errors import NotFoundError

if TYPE_CHECKING:
    from functions.routes.prediction_models import PredictionHistory
    from shared.predict.documents import AccuracySummary, Prediction

DOCS = "shared.predict.documents"


class LiveQuery(Params):
    session_id: SessionId | None = Field(
        None, description="a session id; default: the session predicted last"
    )


@TABLE.get(
    "/api/v1/prediction/live",
    response=f"{DOCS}:Prediction",
    query=LiveQuery,
    cache=LIVE,
    tags=["v1", "predictions"],
)
def v1_prediction_live(call: Call) -> Prediction:
    """The current prediction: win, podium and points odds per driver, as of the latest lap.

    Without ``session_id``: the session predicted last (the one under way during a race)."""
    from shared.stores.predictions import get_live

    found = get_live(db(call), call.query.session_id)
    if found is None:
        raise NotFoundError(
            "no prediction yet" + (f" for {call.query.session_id!r}" if call.query.session_id else "")
        )
    return found


@TABLE.get(
    "/api/sessions/{session_id}/predictions", response="functions.routes.prediction_models:PredictionHistory",
    path=SessionPath, cache=SESSION, tags=["predictions"],
)  # fmt: skip
def session_predictions(call: Call) -> PredictionHistory:
    """Every prediction made for a session, and how they scored once the result was known."""
    from functions.routes.prediction_models import PredictionHistory
    from shared.stores.predictions import get_accuracy, list_history

    sid = call.path.session_id
    items = list_history(db(call), sid)
    accuracy = get_accuracy(db(call), sid)
    if not items and accuracy is None:
        raise NotFoundError(f"no predictions for session {sid!r}")
    return PredictionHistory(session_id=sid, items=items, accuracy=accuracy)


@TABLE.get(
    "/api/predictions/accuracy", response=f"{DOCS}:AccuracySummary", cache=SCHEDULE, tags=["predictions"],
    errors=(),
)  # fmt: skip
def predictions_accuracy(call: Call) -> AccuracySummary:
    """How the predictions scored, by season and by model version (Brier score, log loss, winner
    and podium hits), over every session scored."""
    from shared.stores.predictions import accuracy_summary

    return accuracy_summary(db(call))
