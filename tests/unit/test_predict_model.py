"""The pre-race model on the real history (``../shared/data/history``, read in place; skipped
without it): training, prediction, intervals, the artefact, the backtest and the CLI.

A small model (2008-2014, three bootstrap replicas) is trained once for the module; the full
backtest of the acceptance (trained to 2021, 2022-2023 predicted) belongs to ``pitlane predict
backtest`` and its figures to the README.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pytest

from infra import predict_cli
from shared.history import HistoryTables, load_history
from shared.predict.backtest import backtest
from shared.predict.features import FEATURES, NON_STARTERS, FormTracker, MissingGridError
from shared.predict.model import PreRaceModel
from shared.predict.training import race_rows, train
from shared.services.predict_model import load_model, save_model, train_model
from shared.services.prerace import find_history_race, prerace_for_history_race

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"
pytestmark = pytest.mark.skipif(not (DATA / "history").is_dir(), reason="no recorded data")


@pytest.fixture(scope="module")
def tables() -> HistoryTables:
    return load_history(DATA)


@pytest.fixture(scope="module")
def model(tables: HistoryTables) -> PreRaceModel:
    return train_model(tables, trained_until=2014, start_year=2008, bootstrap=3)


def test_prediction_of_an_unseen_race(tables: HistoryTables, model: PreRaceModel) -> None:
    race = tables.find_race(2016, 1)
    assert race is not None
    prediction = prerace_for_history_race(race, tables=tables, model=model)
    drivers = prediction.drivers
    assert prediction.model_version == model.version and prediction.kind == "prerace"
    assert sum(d.p_win for d in drivers) == pytest.approx(1.0)
    assert sum(d.p_podium for d in drivers) == pytest.approx(3.0)
    assert sum(d.p_points for d in drivers) == pytest.approx(10.0)
    for d in drivers:
        assert 0.0 <= d.p_win <= d.p_podium <= d.p_points <= 1.0
        assert d.win_interval[0] <= d.p_win <= d.win_interval[1]
        assert d.podium_interval[0] <= d.p_podium <= d.podium_interval[1]
    by_grid = {d.grid: d for d in drivers}
    assert by_grid[1].p_win > by_grid[max(by_grid)].p_win  # pole beats the back of the grid
    assert drivers[0].p_win == max(d.p_win for d in drivers)  # listed favourite first
    assert prediction.params is not None and 10 < prediction.params.pit_loss_s < 40


def test_training_is_deterministic_and_needs_enough_races(tables: HistoryTables) -> None:
    rows = [r for r in race_rows(tables, since=2012) if r.race.year <= 2014]
    first = train(rows, trained_until=2014, start_year=2012, bootstrap=0)
    again = train(rows, trained_until=2014, start_year=2012, bootstrap=0)
    assert first.version == again.version and first.version.startswith("prerace-2014-")
    assert first.features == list(FEATURES) and first.races == len(rows)
    with pytest.raises(ValueError, match="too few races"):
        train(rows[:5], trained_until=2014, start_year=2012)


def test_a_race_without_a_grid_is_an_error_not_a_guess(tables: HistoryTables) -> None:
    tracker = FormTracker(tables)
    with pytest.raises(MissingGridError, match="no starting grid for 424242"):
        tracker.starters(424242)
    race = tables.find_race(2016, 1)
    assert race is not None
    with pytest.raises(MissingGridError, match="2016 Australian Grand Prix"):
        tracker.features(race, [])


def test_artefact_round_trip(model: PreRaceModel, tmp_path: Path, tables: HistoryTables) -> None:
    uri = str(tmp_path / "models" / "prerace.json")
    assert load_model(uri) is None
    save_model(model, uri)
    loaded = load_model(uri)
    assert loaded == model
    race = tables.find_race(2016, 2)
    assert race is not None
    a = prerace_for_history_race(race, tables=tables, model=model)
    b = prerace_for_history_race(race, tables=tables, model=loaded)  # type: ignore[arg-type]
    assert [d.p_win for d in a.drivers] == [d.p_win for d in b.drivers]
    stale = model.model_copy(update={"features": ["grid"]})
    with pytest.raises(ValueError, match="retrain"):
        stale.standardise(np.zeros((1, len(FEATURES))))


def test_session_ids_find_their_history_race(tables: HistoryTables) -> None:
    race = find_history_race(tables, "2018_azerbaijan_grand_prix_r")
    assert race is not None and (race.year, race.round) == (2018, 4)
    assert find_history_race(tables, "2018_azerbaijan_grand_prix_q") is None
    assert find_history_race(tables, "2031_atlantis_grand_prix_r") is None


def test_small_backtest_and_its_grid_baseline(tables: HistoryTables) -> None:
    report = backtest(tables, train_until=2014, seasons=[2015], start_year=2008, bootstrap=0)
    races = tables.season(2015)
    assert report.races == len(races) and report.skipped == []
    # The baseline's winner is the pole-sitter: its accuracy is the share of races won from pole.
    pole_wins = [
        any(r.grid == 1 and r.position_order == 1 for r in tables.results_of(x.race_id)) for x in races
    ]
    assert report.baseline.winner_accuracy == pytest.approx(sum(pole_wins) / len(races))
    for figures in (report, report.baseline):
        assert 0 <= figures.brier_win <= 1 and 0 <= figures.podium_overlap <= 1 and figures.log_loss_win > 0
    assert set(report.per_season) == {"2015"}
    starters = [
        r for x in races for r in tables.results_of(x.race_id)
        if r.grid > 0 or tables.status_text(r.status_id) not in NON_STARTERS
    ]  # fmt: skip
    assert sum(b.n for b in report.calibration_win) == len(starters)  # every starter, once
    with pytest.raises(ValueError, match="after the training seasons"):
        backtest(tables, train_until=2015, seasons=[2015])


def run_cli(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="pitlane")
    predict_cli.register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    code: int = args.func(args)
    return code


def test_cli_backtest_json(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["predict", "backtest", "--history", str(DATA / "history"), "--train-until", "2014",
            "--seasons", "2015", "--start-year", "2008", "--bootstrap", "0", "--json"]  # fmt: skip
    assert run_cli(argv) == 0
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    for key in ("races", "winner_accuracy", "podium_overlap", "brier_win", "log_loss_win"):
        assert isinstance(out[key], int | float) and isinstance(out["baseline"][key], int | float)
    assert out["races"] == len(load_history(DATA).season(2015))


def test_cli_race_prints_the_configured_models_prediction(
    model: PreRaceModel, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from shared.config import get_settings

    uri = str(tmp_path / "prerace.json")
    save_model(model, uri)
    monkeypatch.setenv("PITLANE_PREDICT_MODEL_URI", uri)
    get_settings.cache_clear()
    assert run_cli(["predict", "race", "--season", "2016", "--round", "1", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["model_version"] == model.version and len(out["drivers"]) == 22
    assert run_cli(["predict", "race", "--season", "2016", "--round", "1"]) == 0
    assert "Australian Grand Prix" in capsys.readouterr().out
