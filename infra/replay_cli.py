"""``pitlane replay SOURCE [--snapshot FILE] [--speed N|max] [--dry-run] [--session-id ID]``.

Runs a recorded session through the production path (``shared.services.ingest``) into the
configured Firestore and Pub/Sub ``race-events``: locally after ``source .pitlane/stack.env``, or,
with the default project and no emulator hosts set, into the running local stack (as
``pitlane provision`` does). ``SOURCE`` is an archive session folder, an archive URL or
``/static/...`` path (under ``PITLANE_F1_STATIC_URL``), a recording file or a capture folder.
``--speed N`` paces the feed at N times real time; ``max`` (the default) does not wait.
``--dry-run`` runs the reducer only. Progress goes to stderr; the last line on stdout is one
JSON object (``session_id, messages, skipped, laps, drivers, race_control, events_published,
firestore_writes``). Replaying into ``PITLANE_ENV=prod`` is refused.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from infra.local.stack import DEFAULT_STATE_DIR, cli_settings
from shared.errors import ConfigError
from shared.services.ingest import IngestSummary, ingest, messages_from_source, summary_line
from shared.sources.http import make_http_client
from shared.timing.reducer import SessionReducer


def _speed(text: str) -> float | None:
    if text == "max":
        return None
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"--speed must be a number or 'max', got {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError("--speed must be > 0")
    return value


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "replay", help="replay a recorded session into Firestore and race-events (the ingest path)"
    )
    parser.add_argument("source", metavar="SOURCE", help="archive folder or URL, recording file, capture")
    parser.add_argument("--snapshot", type=Path, help="subscribe.json: the state the recording starts from")
    parser.add_argument("--speed", type=_speed, default=None, help="N times real time, or 'max' (default)")
    parser.add_argument(
        "--dry-run", action="store_true", help="run the reducer only: no Firestore, no Pub/Sub"
    )
    parser.add_argument("--session-id", help="Pitlane session id (default: from the feed's SessionInfo)")
    parser.add_argument("--state-dir", type=Path, default=DEFAULT_STATE_DIR, help=argparse.SUPPRESS)
    parser.set_defaults(func=handle)


def _progress(summary: IngestSummary) -> None:
    print(
        f"replay: {summary.messages} messages, {summary.laps} laps, {summary.events_published} events, "
        f"{summary.firestore_writes} writes, {summary.seconds:.1f} s",
        file=sys.stderr,
        flush=True,
    )


def handle(args: argparse.Namespace) -> int:
    settings = cli_settings(args.state_dir)
    if not args.dry_run and settings.env == "prod":
        raise ConfigError("pitlane replay does not write into PITLANE_ENV=prod")
    with make_http_client(settings) as http:
        source = messages_from_source(args.source, settings=settings, http=http, snapshot=args.snapshot)
        db = publisher = None
        if not args.dry_run:
            from shared.gcp import firestore_client, publisher_client

            db, publisher = firestore_client(settings), publisher_client(settings, ordering=True)
        where = "dry run" if args.dry_run else f"project {settings.project}"
        print(f"replay: {source.description} -> {where}", file=sys.stderr, flush=True)
        summary = ingest(
            source.messages,
            reducer=SessionReducer(session_id=args.session_id),
            db=db,
            publisher=publisher,
            settings=settings,
            snapshot=source.snapshot,
            speed=args.speed,
            stats=source.stats,
            progress=_progress,
        )
    _progress(summary)
    print(
        f"replay: weather {summary.weather}, events {summary.events} "
        f"({summary.events_duplicate} already published)",
        file=sys.stderr,
    )
    print(summary_line(summary), flush=True)
    if summary.session_id is None and not args.dry_run:
        print("pitlane: error: the feed named no session; pass --session-id", file=sys.stderr)
        return 1
    return 0
