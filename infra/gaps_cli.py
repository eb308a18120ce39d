"""``pitlane gaps report --season YEAR`` and ``pitlane gaps import --season YEAR [--max-calls N]``.

``report`` lists every session of the season with the data types upstream has (``upstream``) and
those Firestore lacks (``missing``), with the estimated calls; ``import`` imports, oldest first and
in this process, what fits this hour's quota ledger and ``--max-calls``
(``shared.services.import_planner``), then publishes the run's summary on ``import-events`` (which
``notify_import_events`` posts to ops Slack when configured). The season's schedule and archive
index are read once and kept in Firestore (``--refresh`` reads them again). Both run against the
configured Firestore and upstreams: locally after ``source .pitlane/stack.env`` or, with the
default project and no emulator hosts set, the running local stack. Progress goes to stderr; the
last line on stdout is one JSON object (``report``: ``season, archive_index, sessions, gaps,
missing_meetings, not_yet, calls, calls_spent``; ``import``:
:class:`shared.imports.runs.RunSummary`: ``sessions`` (each ``session_id, status, data_types,
calls``), ``calls_spent, calls_left, deferred``, the counts and the duration).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from infra.local.stack import DEFAULT_STATE_DIR, cli_settings
from shared.gcp import firestore_client, publisher_client
from shared.imports.runs import SessionOutcome
from shared.services import import_planner, import_runs
from shared.sources.http import make_http_client


def _season(text: str) -> int:
    try:
        year = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"--season must be a year, got {text!r}") from None
    if not 2018 <= year <= 2100:
        raise argparse.ArgumentTypeError("--season must be between 2018 and 2100")
    return year


def _calls(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"--max-calls must be a whole number, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError("--max-calls must be >= 0")
    return value


def _rounds(text: str) -> tuple[int, int]:
    first, _, last = text.partition("-")
    try:
        lo, hi = int(first), int(last or first)
    except ValueError:
        raise argparse.ArgumentTypeError(f"--rounds must be A-B or one round, got {text!r}") from None
    if not 1 <= lo <= hi <= 30:
        raise argparse.ArgumentTypeError(f"--rounds must be 1 <= A <= B <= 30, got {text!r}")
    return lo, hi


def _season_arguments(parser: argparse.ArgumentParser) -> None:
    """What ``report`` and ``import`` both take: the season, its rounds, a fresh catalogue."""
    parser.add_argument("--season", type=_season, required=True, help="year")
    parser.add_argument("--refresh", action="store_true", help="read the season's schedule and index again")
    parser.add_argument("--rounds", type=_rounds, default=None, help="only rounds A-B (or one round)")
    parser.add_argument("--state-dir", type=Path, default=DEFAULT_STATE_DIR, help=argparse.SUPPRESS)


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("gaps", help="what a season lacks in Firestore, and importing it")
    sub = parser.add_subparsers(dest="gaps_command", required=True, metavar="SUBCOMMAND")
    report = sub.add_parser("report", help="per session: data types upstream has and Firestore lacks")
    _season_arguments(report)
    report.set_defaults(func=handle_report)
    run = sub.add_parser("import", help="import the season's gaps that fit the quota, oldest first")
    _season_arguments(run)
    run.add_argument("--max-calls", type=_calls, default=None, help="upstream calls this run may make")
    run.set_defaults(func=handle_import)


def handle_report(args: argparse.Namespace) -> int:
    settings = cli_settings(args.state_dir)
    with make_http_client(settings) as http:
        gaps = import_planner.season_gaps(
            args.season,
            db=firestore_client(settings),
            http=http,
            settings=settings,
            refresh=args.refresh,
            rounds=args.rounds,
        )
    rows = import_planner.report_rows(gaps)
    for row in rows:
        missing = "(too recent)" if row["not_yet"] else ",".join(row["missing"]) or "-"
        print(
            f"{row['session_id']:<40} upstream: {','.join(row['upstream']):<58} missing: {missing}",
            file=sys.stderr,
        )
    summary = {
        "season": args.season,
        "archive_index": gaps.archive_index,
        "sessions": rows,
        "gaps": len(gaps.report.sessions),
        "missing_meetings": list(gaps.report.missing_meetings),
        "not_yet": list(gaps.report.not_yet),
        "calls": import_planner.summary_counts(gaps.report.calls),
        "calls_spent": sum(gaps.calls.values()),
    }
    print(json.dumps(summary), flush=True)
    return 0


def _progress(outcome: SessionOutcome) -> None:
    types = ",".join(t.value for t in outcome.data_types)
    note = f" ({outcome.error})" if outcome.error else ""
    calls = sum(outcome.calls.values())
    print(
        f"gaps import: {outcome.session_id} {outcome.status} [{types}] {calls} calls{note}",
        file=sys.stderr,
        flush=True,
    )


def handle_import(args: argparse.Namespace) -> int:
    settings = cli_settings(args.state_dir)
    with make_http_client(settings) as http:
        summary = import_planner.run_imports(
            args.season,
            db=firestore_client(settings),
            http=http,
            settings=settings,
            max_calls=args.max_calls,
            progress=_progress,
            refresh=args.refresh,
            rounds=args.rounds,
        )
        if summary.processed:
            try:
                import_runs.announce(summary, publisher=publisher_client(settings), settings=settings)
            except Exception as exc:  # the import is done and stored; the announcement is extra
                print(f"gaps import: summary not published on import-events: {exc}", file=sys.stderr)
    print(json.dumps(summary.model_dump(mode="json")), flush=True)
    return 0
