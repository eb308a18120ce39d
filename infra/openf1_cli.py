"""``pitlane openf1 ingest --session-key KEY``: a finished OpenF1 session into Pitlane's documents.

The same path the live poller uses (``shared.services.openf1_ingest``): OpenF1 at
``PITLANE_OPENF1_URL`` through the shared client (rate limiter, retries, cache) into the configured
Firestore and Pub/Sub ``race-events``; with the default project and no emulator hosts set, into the
running local stack (as ``pitlane replay`` finds it). Progress goes to stderr; the last line on
stdout is one JSON object (``session_id, messages, skipped, laps, drivers, race_control,
events_published, firestore_writes``; ``messages`` counts OpenF1 records). Writing into
``PITLANE_ENV=prod`` is refused.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from infra.local.stack import DEFAULT_STATE_DIR, cli_settings
from shared.errors import ConfigError
from shared.services.ingest import summary_line
from shared.services.openf1_ingest import ingest_openf1_session
from shared.sources.http import make_http_client
from shared.sources.openf1 import OpenF1Client


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("openf1", help="OpenF1 sessions into Pitlane's documents")
    sub = parser.add_subparsers(dest="openf1_command", required=True, metavar="COMMAND")
    ingest = sub.add_parser("ingest", help="import a finished session (the live poller's path)")
    ingest.add_argument("--session-key", type=int, required=True, help="OpenF1 session_key, e.g. 9606")
    ingest.add_argument("--state-dir", type=Path, default=DEFAULT_STATE_DIR, help=argparse.SUPPRESS)
    ingest.set_defaults(func=handle_ingest)


def handle_ingest(args: argparse.Namespace) -> int:
    settings = cli_settings(args.state_dir)
    if settings.env == "prod":
        raise ConfigError("pitlane openf1 ingest does not write into PITLANE_ENV=prod")
    from shared.gcp import firestore_client, publisher_client

    db, publisher = firestore_client(settings), publisher_client(settings, ordering=True)
    print(
        f"openf1: session {args.session_key} from {settings.openf1_url} -> project {settings.project}",
        file=sys.stderr,
        flush=True,
    )
    with make_http_client(settings) as http:
        client = OpenF1Client(settings=settings, http=http)
        summary = ingest_openf1_session(
            args.session_key, client=client, db=db, publisher=publisher, settings=settings
        )
    print(
        f"openf1: {summary.messages} records, {summary.laps} laps, {summary.drivers} drivers, "
        f"{summary.events_published} events, {summary.firestore_writes} writes, {summary.seconds:.1f} s",
        file=sys.stderr,
    )
    print(summary_line(summary), flush=True)
    return 0
