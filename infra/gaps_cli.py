"""``pitlane gaps report --season YEAR`` and ``pitlane gaps import --season YEAR [--max-calls N]``.

``report`` lists, per session of the season with anything missing, the data types the upstream
has (``upstream``) and those Firestore lacks (``missing``), with the estimated calls; ``import``
imports, oldest first and in this process, what fits this hour's quota ledger and ``--max-calls``
(``shared.services.import_planner``). Both run against the configured Firestore and upstreams:
locally after ``source .pitlane/stack.env`` or, with the default project and no emulator hosts
set, the running local stack. Progress goes to stderr; the last line on stdout is one JSON object
(``report``: ``season, archive_index, sessions, gaps, not_yet, calls``; ``import``: ``season,
sessions, calls_spent, calls_left, deferred``).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from infra.local.stack import DEFAULT_STATE_DIR, cli_settings
from shared.gcp import firestore_client
from shared.services import import_planner
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


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("gaps", help="what a season lacks in Firestore, and importing it")
    sub = parser.add_subparsers(dest="gaps_command", required=True, metavar="SUBCOMMAND")
    report = sub.add_parser("report", help="per session: data types upstream has and Firestore lacks")
    report.add_argument("--season", type=_season, required=True, help="year")
    report.add_argument("--state-dir", type=Path, default=DEFAULT_STATE_DIR, help=argparse.SUPPRESS)
    report.set_defaults(func=handle_report)
    run = sub.add_parser("import", help="import the season's gaps that fit the quota, oldest first")
    run.add_argument("--season", type=_season, required=True, help="year")
    run.add_argument("--max-calls", type=_calls, default=None, help="upstream calls this run may make")
    run.add_argument("--state-dir", type=Path, default=DEFAULT_STATE_DIR, help=argparse.SUPPRESS)
    run.set_defaults(func=handle_import)


def handle_report(args: argparse.Namespace) -> int:
    settings = cli_settings(args.state_dir)
    with make_http_client(settings) as http:
        gaps = import_planner.season_gaps(
            args.season, db=firestore_client(settings), http=http, settings=settings
        )
    rows = import_planner.report_rows(gaps)
    for row in rows:
        print(
            f"{row['session_id']:<40} upstream: {','.join(row['upstream']):<50} "
            f"missing: {','.join(row['missing']) or '-'}",
            file=sys.stderr,
        )
    summary = {
        "season": args.season,
        "archive_index": gaps.archive_index,
        "sessions": len(gaps.sessions),
        "gaps": rows,
        "not_yet": list(gaps.report.not_yet),
        "calls": import_planner.summary_counts(gaps.report.calls),
    }
    print(json.dumps(summary), flush=True)
    return 0


def _progress(run: import_planner.SessionRun) -> None:
    types = ",".join(t.value for t in run.data_types)
    note = f" ({run.error})" if run.error else ""
    print(f"gaps import: {run.session_id} {run.status} [{types}]{note}", file=sys.stderr, flush=True)


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
        )
    out = {
        "season": summary.season,
        "sessions": [
            {"session_id": r.session_id, "status": r.status, "data_types": [t.value for t in r.data_types]}
            for r in summary.sessions
        ],
        "calls_spent": summary.calls_spent,
        "calls_left": summary.calls_left,
        "deferred": summary.deferred,
    }
    print(json.dumps(out), flush=True)
    return 0
