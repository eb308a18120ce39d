"""``pitlane schedule sync [--season YEAR] [--horizon-h H] [--no-tasks]``.

Runs the schedule sync (``shared.services.schedule_sync``) once against the configured Firestore,
Pub/Sub ``schedule-events`` and Cloud Tasks: locally after ``source .pitlane/stack.env`` or, with
the default project and no emulator hosts set, the running local stack. The last line on stdout
is one JSON object: ``season, meetings, sessions, changes, changes_published, tasks_enqueued``
and the write counts.
"""

from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from infra.local.stack import DEFAULT_STATE_DIR, cli_settings
from shared.gcp import firestore_client, publisher_client
from shared.services.schedule_sync import SyncOptions, sync_season
from shared.sources.http import make_http_client


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("schedule", help="the season schedule (meetings, sessions, timelines)")
    sub = parser.add_subparsers(dest="schedule_command", required=True, metavar="SUBCOMMAND")
    sync = sub.add_parser("sync", help="sync a season from OpenF1 and f1schedule into Firestore, once")
    sync.add_argument("--season", type=int, default=None, help="year (default: the current UTC year)")
    sync.add_argument("--horizon-h", type=float, default=None, help="hours ahead to enqueue session tasks")
    sync.add_argument("--no-tasks", action="store_true", help="enqueue no Cloud Tasks (horizon 0)")
    sync.add_argument("--state-dir", type=Path, default=DEFAULT_STATE_DIR, help=argparse.SUPPRESS)
    sync.set_defaults(func=handle_sync)


def handle_sync(args: argparse.Namespace) -> int:
    if args.season is not None and not 1950 <= args.season <= 2100:
        raise SystemExit("pitlane schedule sync: --season must be between 1950 and 2100")
    settings = cli_settings(args.state_dir)
    options = SyncOptions()
    if args.no_tasks:
        options = SyncOptions(horizon_h=0)
    elif args.horizon_h is not None:
        options = SyncOptions(horizon_h=args.horizon_h)
    season = args.season or datetime.now(UTC).year
    with make_http_client(settings) as http:
        summary = sync_season(
            season,
            db=firestore_client(settings),
            http=http,
            settings=settings,
            publisher=publisher_client(settings),
            options=options,
        )
    print(json.dumps(summary.model_dump()), flush=True)
    return 0
