"""The predictions store and the history tables on the Firestore emulator: the read functions the
API serves (live, history, accuracy), the once-a-second current document's preconditions, the
accuracy buckets counted once per session, and the history tables' Firestore copy."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from shared.history import HistoryTables
from shared.history.firestore import load_history_from_firestore, upload_history
from shared.predict.documents import Accuracy, DriverOdds, Prediction, ScoredPrediction
from shared.stores import predictions as store
from tests.unit.test_history_tables import small_folder

T0 = datetime(2024, 9, 1, 13, 0, tzinfo=UTC)


def prediction(
    sid: str, *, lap: int, minutes: int, kind: str = "live", version: str = "prerace-2023-x"
) -> Prediction:
    odds = [DriverOdds(driver_number="16", p_win=0.7, p_podium=0.9, p_points=1.0),
            DriverOdds(driver_number="4", p_win=0.3, p_podium=0.8, p_points=1.0)]  # fmt: skip
    at = T0 + timedelta(minutes=minutes)
    return Prediction(session_id=sid, kind=kind, model_version=version, season=int(sid[:4]), lap=lap,  # type: ignore[arg-type]
                      trigger="lap_completed", event_id=f"{sid}:lap_completed:16_{lap:03d}", as_of_utc=at,
                      computed_utc=at, seq=f"{at.isoformat()}|{lap}", drivers=odds)  # fmt: skip


def accuracy(sid: str, *, brier: float, hit: bool, version: str = "prerace-2023-x") -> Accuracy:
    pre = ScoredPrediction(key="000_prerace", lap=0, kind="prerace", brier_win=brier, log_loss_win=0.1,
                           winner_hit=hit, podium_overlap=2 / 3)  # fmt: skip
    return Accuracy(
        session_id=sid, season=int(sid[:4]), model_version=version, winner="16", podium=["16", "4", "81"],
        scored_utc=T0, predictions=2, prerace=pre, mean_brier_win=brier, mean_log_loss_win=0.1,
        winner_hit_rate=1.0 if hit else 0.0, mean_podium_overlap=2 / 3,
    )  # fmt: skip


def test_history_current_and_live(firestore_db: Any) -> None:
    a, b = "2024_italian_grand_prix_r", "2024_dutch_grand_prix_r"
    for p in (prediction(a, lap=2, minutes=4), prediction(a, lap=1, minutes=2)):
        assert store.create_history(firestore_db, p)
    assert not store.create_history(firestore_db, prediction(a, lap=1, minutes=2))  # written once
    assert [p.lap for p in store.list_history(firestore_db, a)] == [1, 2]

    assert store.replace_current(firestore_db, prediction(a, lap=1, minutes=2), read_at=None)
    assert not store.replace_current(firestore_db, prediction(a, lap=2, minutes=4), read_at=None)  # exists
    current, read_at = store.read_current(firestore_db, a)
    assert current is not None and current.lap == 1 and read_at is not None
    assert store.replace_current(firestore_db, prediction(a, lap=2, minutes=4), read_at=read_at)
    assert not store.replace_current(firestore_db, prediction(a, lap=3, minutes=6), read_at=read_at)  # stale
    assert store.replace_current(firestore_db, prediction(b, lap=1, minutes=1), read_at=None)

    assert store.get_live(firestore_db, a).lap == 2  # type: ignore[union-attr]
    live = store.get_live(firestore_db)  # the session predicted last
    assert live is not None and live.session_id == a
    assert store.get_live(firestore_db, "2024_monaco_grand_prix_r") is None


def test_accuracy_is_counted_once_per_session_and_summarised(firestore_db: Any) -> None:
    assert store.write_accuracy(firestore_db, accuracy("2023_italian_grand_prix_r", brier=0.02, hit=True))
    assert not store.write_accuracy(firestore_db, accuracy("2023_italian_grand_prix_r", brier=0.9, hit=False))
    assert store.write_accuracy(firestore_db, accuracy("2023_dutch_grand_prix_r", brier=0.04, hit=False))
    assert store.write_accuracy(
        firestore_db, accuracy("2024_dutch_grand_prix_r", brier=0.06, hit=True, version="v2")
    )
    stored = store.get_accuracy(firestore_db, "2023_italian_grand_prix_r")
    assert stored is not None and stored.mean_brier_win == 0.02  # the second write changed nothing

    summary = store.accuracy_summary(firestore_db)
    by_season = {row.season: row for row in summary.by_season}
    assert set(by_season) == {2023, 2024}
    assert by_season[2023].sessions == 2 and by_season[2023].predictions == 4
    assert by_season[2023].brier_win == pytest.approx(0.03)
    assert by_season[2023].winner_accuracy == pytest.approx(0.5)
    assert by_season[2023].prerace_winner_accuracy == pytest.approx(0.5)
    assert by_season[2023].prerace_podium_overlap == pytest.approx(2 / 3)
    by_model = {row.model_version: row for row in summary.by_model_version}
    assert by_model["v2"].sessions == 1 and by_model["prerace-2023-x"].sessions == 2


def test_history_tables_round_trip_through_firestore(firestore_db: Any, tmp_path: Path) -> None:
    folder = small_folder(tmp_path)
    written = upload_history(folder, db=firestore_db)
    assert written["races"] == 3 and written["results"] == 3
    from_csv = HistoryTables.load(folder)
    from_firestore = load_history_from_firestore(firestore_db)
    assert from_firestore.races == from_csv.races
    assert from_firestore.results == from_csv.results
    assert from_firestore.safety_cars == from_csv.safety_cars
    assert from_firestore.skipped == from_csv.skipped
    upload_history(folder, db=firestore_db)  # the same documents again, nothing added
    assert len(list(firestore_db.collection("history_races").stream())) == 3


def test_cli_stores_a_pre_race_prediction_and_scores_on_request(
    firestore_db: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import json
    import os

    from shared.config import get_settings
    from shared.history import load_history
    from shared.services.predict_model import save_model, train_model
    from tests.unit.test_predict_model import DATA, run_cli

    if not (DATA / "history").is_dir():
        pytest.skip("no recorded data")
    model = train_model(load_history(DATA), trained_until=2017, start_year=2012, bootstrap=0)
    os.environ["PITLANE_PREDICT_MODEL_URI"] = str(tmp_path / "prerace.json")
    save_model(model, os.environ["PITLANE_PREDICT_MODEL_URI"])
    get_settings.cache_clear()
    sid = "2018_azerbaijan_grand_prix_r"
    assert run_cli(["predict", "prerace", "--session-id", sid, "--state-dir", str(tmp_path)]) == 0
    assert json.loads(capsys.readouterr().out) == {"session_id": sid, "model_version": model.version}
    stored = store.get_live(firestore_db, sid)
    assert stored is not None and stored.kind == "prerace" and stored.revision == 1
    assert [p.key for p in store.list_history(firestore_db, sid)] == ["000_prerace"]
    # No classification in Firestore: the history's result of the race is used.
    assert run_cli(["predict", "score", "--session-id", sid, "--state-dir", str(tmp_path)]) == 0
    assert json.loads(capsys.readouterr().out) == {"session_id": sid, "scored": True}
    accuracy = store.get_accuracy(firestore_db, sid)
    assert accuracy is not None and accuracy.winner == "44" and accuracy.predictions == 1
