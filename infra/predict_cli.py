"""``pitlane predict backtest|train|race``: the pre-race model from the command line.

* ``backtest --history DIR --train-until YEAR --seasons A,B [--json]``: trains on the races up to
  YEAR and predicts every race of the named seasons from its grid, with only what was known before
  that race (``shared.predict.backtest``); prints a table, or with ``--json`` one object:
  ``races, winner_accuracy, podium_overlap, brier_win, log_loss_win, baseline{...}`` and more
  (``train_until, seasons, model_version, train_seconds, brier_podium, brier_points,
  calibration_win, per_season, skipped``).
* ``train [--history DIR] [--train-until YEAR] [--out URI]``: trains the production model (up to
  the last complete season by default) and saves the artefact at URI (a path or gs://bucket/object;
  default ``PITLANE_PREDICT_MODEL_URI``); the last line is JSON ``{version, uri, races, seconds}``.
* ``race --season YEAR --round N [--history DIR] [--json]``: the configured model's pre-race
  prediction for one race of the history, from its grid (what ``predict`` stores as lap 0).

* ``prerace --session-id ID``: computes and stores a race session's pre-race prediction now
  (``predictions/{id}``, history ``000_prerace``), as ``predict`` does on the session's first event;
* ``score --session-id ID``: scores a finished race session's stored predictions (after a results
  import, say); the last line is JSON ``{session_id, scored}``;
* ``history-upload [--history DIR]``: copies the CSV tables into Firestore (``history_<table>``),
  for instances without the data folder.

``--history`` defaults to ``<PITLANE_DATA_DIR>/history``. ``backtest``, ``train`` and ``race`` do
not touch Firestore; the others use the configured one (the running local stack by default).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from infra.local.stack import DEFAULT_STATE_DIR, cli_settings
from shared.config import load_settings
from shared.errors import BadRequestError
from shared.history.tables import HistoryTables, load_history
from shared.predict.backtest import BacktestReport, backtest
from shared.predict.training import DEFAULT_BOOTSTRAP, DEFAULT_START_YEAR


def _year(text: str) -> int:
    try:
        year = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a year, got {text!r}") from None
    if not 1950 <= year <= 2100:
        raise argparse.ArgumentTypeError(f"a year between 1950 and 2100, got {year}")
    return year


def _years(text: str) -> list[int]:
    return [_year(part.strip()) for part in text.split(",") if part.strip()]


def _count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError("must be >= 0")
    return value


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("predict", help="the pre-race model: backtest, train, predict a race")
    sub = parser.add_subparsers(dest="predict_command", required=True, metavar="SUBCOMMAND")
    bt = sub.add_parser("backtest", help="train up to a season, predict later seasons from their grids")
    bt.add_argument("--history", type=Path, default=None, help="folder of the Ergast-schema CSV tables")
    bt.add_argument("--train-until", type=_year, required=True, help="last season trained on")
    bt.add_argument("--seasons", type=_years, required=True, help="seasons to predict, e.g. 2022,2023")
    bt.add_argument("--start-year", type=_year, default=DEFAULT_START_YEAR, help="first season trained on")
    bt.add_argument("--bootstrap", type=_count, default=DEFAULT_BOOTSTRAP, help="replicas for the intervals")
    bt.add_argument("--json", action="store_true", help="print one JSON object")
    bt.set_defaults(func=handle_backtest)
    tr = sub.add_parser("train", help="train the model and save the artefact")
    tr.add_argument("--history", type=Path, default=None, help="folder of the Ergast-schema CSV tables")
    tr.add_argument("--train-until", type=_year, default=None, help="last season (default: last complete)")
    tr.add_argument("--start-year", type=_year, default=DEFAULT_START_YEAR, help="first season trained on")
    tr.add_argument("--out", default=None, help="artefact URI: a path or gs://bucket/object")
    tr.set_defaults(func=handle_train)
    race = sub.add_parser("race", help="the pre-race prediction of one race of the history")
    race.add_argument("--history", type=Path, default=None, help="folder of the Ergast-schema CSV tables")
    race.add_argument("--season", type=_year, required=True, help="year")
    race.add_argument("--round", type=int, required=True, help="round of the season")
    race.add_argument("--json", action="store_true", help="print one JSON object")
    race.set_defaults(func=handle_race)
    pre = sub.add_parser("prerace", help="compute and store a race session's pre-race prediction")
    pre.add_argument("--session-id", required=True, help="e.g. 2018_azerbaijan_grand_prix_r")
    pre.add_argument("--history", type=Path, default=None, help="folder of the Ergast-schema CSV tables")
    pre.add_argument("--state-dir", type=Path, default=DEFAULT_STATE_DIR, help=argparse.SUPPRESS)
    pre.set_defaults(func=handle_prerace)
    score = sub.add_parser("score", help="score a finished race session's stored predictions")
    score.add_argument("--session-id", required=True, help="e.g. 2018_azerbaijan_grand_prix_r")
    score.add_argument("--history", type=Path, default=None, help="folder of the Ergast-schema CSV tables")
    score.add_argument("--state-dir", type=Path, default=DEFAULT_STATE_DIR, help=argparse.SUPPRESS)
    score.set_defaults(func=handle_score)
    up = sub.add_parser("history-upload", help="copy the history tables into Firestore")
    up.add_argument("--history", type=Path, default=None, help="folder of the Ergast-schema CSV tables")
    up.add_argument("--state-dir", type=Path, default=DEFAULT_STATE_DIR, help=argparse.SUPPRESS)
    up.set_defaults(func=handle_upload)


def _tables(folder: Path | None) -> HistoryTables:
    if folder is not None:
        return load_history(folder)
    return load_history(load_settings().require_data_dir)


def handle_backtest(args: argparse.Namespace) -> int:
    if not args.seasons:
        raise BadRequestError("--seasons names no season")
    try:
        report = backtest(
            _tables(args.history),
            train_until=args.train_until,
            seasons=args.seasons,
            start_year=args.start_year,
            bootstrap=args.bootstrap,
        )
    except ValueError as exc:
        raise BadRequestError(str(exc)) from None
    if args.json:
        print(report.model_dump_json(), flush=True)
    else:
        _print_table(report)
    return 0


def _print_table(report: BacktestReport) -> None:
    base = report.baseline
    print(f"model {report.model_version}: trained on {report.train_races} races up to {report.train_until} "
          f"in {report.train_seconds:.1f} s; predicting {report.races} races of "
          f"{','.join(map(str, report.seasons))}")  # fmt: skip
    print(f"{'':<18}{'model':>10}{'grid rule':>12}")
    for name, ours, theirs in (
        ("winner accuracy", report.winner_accuracy, base.winner_accuracy),
        ("podium overlap", report.podium_overlap, base.podium_overlap),
        ("Brier (win)", report.brier_win, base.brier_win),
        ("log loss (win)", report.log_loss_win, base.log_loss_win),
    ):
        print(f"{name:<18}{ours:>10.4f}{theirs:>12.4f}")
    if report.skipped:
        print(f"not predicted (no grid): {', '.join(report.skipped)}")


def handle_train(args: argparse.Namespace) -> int:
    from shared.services.predict_model import artefact_uri, save_model, train_model

    settings = load_settings()
    uri = args.out or artefact_uri(settings)
    started = time.perf_counter()
    model = train_model(_tables(args.history), trained_until=args.train_until, start_year=args.start_year)
    save_model(model, uri)
    seconds = round(time.perf_counter() - started, 2)
    print(f"predict: trained {model.version} on {model.races} races in {seconds} s", file=sys.stderr)
    print(json.dumps({"version": model.version, "uri": uri, "races": model.races, "seconds": seconds}))
    return 0


def handle_race(args: argparse.Namespace) -> int:
    from shared.services.predict_model import model_for
    from shared.services.prerace import prerace_for_history_race

    settings = load_settings()
    tables = _tables(args.history)
    race = tables.find_race(args.season, args.round)
    if race is None:
        raise BadRequestError(f"no round {args.round} in {args.season}")
    prediction = prerace_for_history_race(race, tables=tables, model=model_for(settings))
    if args.json:
        print(prediction.model_dump_json(), flush=True)
        return 0
    print(f"{race.label}: model {prediction.model_version}")
    print(f"{'driver':<24}{'grid':>5}{'win':>16}{'podium':>16}{'points':>16}")
    for d in prediction.drivers:
        print(f"{d.name or d.driver_number:<24}{d.grid or 0:>5}"
              f"{_pct(d.p_win, d.win_interval):>16}{_pct(d.p_podium, d.podium_interval):>16}"
              f"{_pct(d.p_points, d.points_interval):>16}")  # fmt: skip
    return 0


def _pct(p: float, interval: tuple[float, float]) -> str:
    return f"{p * 100:5.1f} ({interval[0] * 100:.0f}-{interval[1] * 100:.0f})"


def handle_prerace(args: argparse.Namespace) -> int:
    from shared.gcp import firestore_client
    from shared.services.predict_model import model_for
    from shared.services.predictions import Pending, Resources, ensure_prerace

    settings = cli_settings(args.state_dir)
    tables = _tables(args.history)
    resources = Resources(tables=lambda: tables, model=lambda: model_for(settings))
    prediction = ensure_prerace(
        args.session_id, db=firestore_client(settings), resources=resources, pending=Pending(),
        clock=time.monotonic, now=lambda: datetime.now(UTC),
    )  # fmt: skip
    for d in prediction.drivers[:5]:
        print(f"{d.name or d.driver_number:<24} win {d.p_win:.3f}  podium {d.p_podium:.3f}", file=sys.stderr)
    print(json.dumps({"session_id": args.session_id, "model_version": prediction.model_version}))
    return 0


def handle_score(args: argparse.Namespace) -> int:
    from shared.gcp import firestore_client
    from shared.services.prediction_scoring import score_session

    settings = cli_settings(args.state_dir)
    scored = score_session(
        args.session_id,
        db=firestore_client(settings),
        tables=lambda: _tables(args.history),
        now=datetime.now(UTC),
    )
    print(json.dumps({"session_id": args.session_id, "scored": scored}))
    return 0


def handle_upload(args: argparse.Namespace) -> int:
    from shared.gcp import firestore_client
    from shared.history.firestore import upload_history

    settings = cli_settings(args.state_dir)
    folder = args.history or settings.require_data_dir / "history"
    written = upload_history(folder, db=firestore_client(settings))
    print(json.dumps({"tables": written, "rows": sum(written.values())}))
    return 0
