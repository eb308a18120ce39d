"""The prediction routes of the ``api`` function over predictions stored by the predict pipeline's
own store (``shared.stores.predictions``) in the Firestore emulator."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from functions.api import answers
from shared.predict.documents import Accuracy, DriverOdds, Prediction
from shared.stores.predictions import create_history, replace_current, write_accuracy
from tests.function.conftest import load_function

SID = "2018_azerbaijan_grand_prix_r"
T0 = datetime(2018, 4, 29, 12, 10, tzinfo=UTC)


def prediction(lap: int, *, p_ham: float, trigger: str = "lap_completed", sid: str = SID) -> Prediction:
    return Prediction(
        session_id=sid,
        kind="prerace" if lap == 0 else "live",
        model_version="test-1",
        season=2018,
        lap=lap,
        total_laps=51,
        trigger=trigger if lap else "prerace",
        as_of_utc=T0 + timedelta(minutes=2 * lap),
        computed_utc=T0 + timedelta(minutes=2 * lap, seconds=1),
        seq=f"{lap:03d}",
        drivers=[
            DriverOdds(driver_number="44", code="HAM", p_win=p_ham, p_podium=0.9, p_points=1.0),
            DriverOdds(driver_number="5", code="VET", p_win=1 - p_ham, p_podium=0.8, p_points=1.0),
        ],
    )


def store_predictions(db: Any, sid: str = SID) -> None:
    """A pre-race and two live predictions of a race (the 2018 Baku race's odds), the last one
    current, scored."""
    for lap, p in ((0, 0.4), (10, 0.3), (40, 0.7)):
        create_history(db, prediction(lap, p_ham=p, sid=sid))
    replace_current(db, prediction(40, p_ham=0.7, sid=sid), read_at=None)
    write_accuracy(
        db,
        Accuracy(
            session_id=sid,
            season=2018,
            model_version="test-1",
            winner="44",
            podium=["44", "7", "11"],
            scored_utc=T0 + timedelta(hours=2),
            predictions=3,
            mean_brier_win=0.2,
            mean_log_loss_win=0.5,
            winner_hit_rate=1 / 3,
            mean_podium_overlap=0.5,
        ),
    )


@pytest.fixture
def client(firestore_db: Any) -> Any:
    answers().clear()
    return load_function("api", signature_type="http").client


def test_prediction_routes(client: Any, firestore_db: Any) -> None:
    assert client.get("/api/v1/prediction/live").status_code == 404
    store_predictions(firestore_db)
    answers().clear()
    live = client.get("/api/v1/prediction/live").get_json()
    assert (live["session_id"], live["lap"], live["drivers"][0]["p_win"]) == (SID, 40, 0.7)
    assert client.get(f"/api/v1/prediction/live?session_id={SID}").get_json() == live
    assert client.get("/api/v1/prediction/live?session_id=2099_x_r").status_code == 404
    assert client.get("/api/v1/prediction/live?session_id=bad%20id").status_code == 400
    history = client.get(f"/api/sessions/{SID}/predictions").get_json()
    assert [p["lap"] for p in history["items"]] == [0, 10, 40]
    assert history["accuracy"]["winner"] == "44"
    assert client.get("/api/sessions/2099_x_r/predictions").status_code == 404
    summary = client.get("/api/predictions/accuracy").get_json()
    assert [(r["season"], r["sessions"], r["predictions"]) for r in summary["by_season"]] == [(2018, 1, 3)]
    assert summary["by_model_version"][0]["model_version"] == "test-1"
