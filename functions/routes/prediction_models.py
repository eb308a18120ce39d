"""Answer models of the prediction routes, in their own module so that ``functions/routes/
predictions.py`` can name them by import path: the prediction documents' module is loaded on the
first prediction request, not at the function's import."""

from __future__ import annotations

from pydantic import BaseModel, Field

from shared.predict.documents import Accuracy, Prediction


class PredictionHistory(BaseModel):
    session_id: str
    items: list[Prediction] = Field(description="every prediction made for the session, by lap then time")
    accuracy: Accuracy | None = Field(description="how they scored once the result was known; null before")
