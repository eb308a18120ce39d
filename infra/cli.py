"""The ``pitlane`` command line.

Each command group lives in its own module exposing ``register(subparsers)``; this module only
assembles them and turns Pitlane's configuration errors into a one-line message and exit code 2.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from shared.config import load_settings
from shared.errors import ConfigError, PitlaneError

# Modules that add sub-commands; each has ``register(subparsers) -> None`` and sets ``func``.
COMMAND_MODULES = (
    "infra.local.stack_cli",
    "infra.provision_cli",
    "infra.upstream.cli",
    "infra.deploy",
    "infra.replay_cli",
    "infra.races_cli",
    "infra.schedule_cli",
    "infra.openf1_cli",
    "infra.gaps_cli",
    "infra.subscriptions_cli",
    "infra.predict_cli",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="pitlane", description="Pitlane: F1 sessions on Google Cloud.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        load_settings()  # validated up front: a bad setting stops every command with one line
        result = args.func(args)
    except ConfigError as exc:
        print(f"pitlane: error: {exc}", file=sys.stderr)
        return 2
    except PitlaneError as exc:
        print(f"pitlane: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    return int(result or 0)


if __name__ == "__main__":
    sys.exit(main())
