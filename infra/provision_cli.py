"""``pitlane provision [--dry-run]``: make the project (or the local emulators) match the manifest.

Settings come from the environment (``load_settings``). Locally, with the default project and no
emulator hosts set, the running stack's ``.pitlane/stack.json`` supplies the emulator hosts; the
functions' push URLs always come from it.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from infra.local.stack import DEFAULT_STATE_DIR, cli_settings, read_state
from infra.manifest import MANIFEST_PATH, load_manifest
from infra.provision import provision
from shared.errors import ConfigError


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "provision", help="create or update topics, subscriptions, queues and scheduler jobs"
    )
    parser.add_argument("--dry-run", action="store_true", help="only report what would change")
    parser.add_argument("--manifest", type=Path, default=MANIFEST_PATH, help=argparse.SUPPRESS)
    parser.add_argument(
        "--state-dir",
        type=Path,
        default=DEFAULT_STATE_DIR,
        help="the local stack's state folder (local only)",
    )
    parser.set_defaults(func=handle)


def handle(args: argparse.Namespace) -> int:
    settings = cli_settings(args.state_dir)
    state = read_state(args.state_dir)
    manifest = load_manifest(args.manifest)
    function_urls: dict[str, str] = {}
    if settings.pubsub_emulator_host:
        if state is None:
            raise ConfigError(f"the local stack is not running ({args.state_dir / 'stack.json'} missing)")
        function_urls = state.function_urls()
    report = provision(
        manifest=manifest, settings=settings, function_urls=function_urls, dry_run=args.dry_run
    )
    for line in report.lines():
        print(line)
    print(report.summary())
    return 0
