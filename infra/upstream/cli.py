"""``pitlane upstream``: run the local upstream server in the foreground.

Example::

    pitlane upstream --port 8765 --log /tmp/upstream.jsonl \\
        --fault '{"path_prefix": "/v1/laps", "kind": "rate_limit", "retry_after": 2, "times": 3}'
"""

from __future__ import annotations

import argparse
from pathlib import Path

from pydantic import ValidationError

from infra.upstream.faults import FaultRule, parse_rules
from shared.config import load_settings
from shared.errors import ConfigError

DEFAULT_PORT = 8765


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "upstream",
        help="serve the recorded F1 data as the upstream services (archive, Jolpica, OpenF1, live feed)",
        description="Run the local upstream server in the foreground (Ctrl-C stops it).",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT)
    parser.add_argument(
        "--data-dir", type=Path, default=None, help="recorded data (default: settings data_dir)"
    )
    parser.add_argument("--replay", default=None, metavar="SOURCE", help="live feed recording to replay")
    parser.add_argument(
        "--speed", type=float, default=1.0, help="live replay time factor (2 = twice as fast, 0 = no waiting)"
    )
    parser.add_argument(
        "--log", type=Path, default=None, metavar="FILE", help="append one JSON line per request"
    )
    parser.add_argument(
        "--fault",
        action="append",
        default=[],
        metavar="JSON",
        help="fault rule (or list of rules) active from start-up; repeatable",
    )
    parser.set_defaults(func=run)


def _faults(texts: list[str]) -> list[FaultRule]:
    rules: list[FaultRule] = []
    for text in texts:
        try:
            rules.extend(parse_rules(text))
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"]) or "rule"
            raise ConfigError(f"invalid --fault {text!r}: {where}: {first['msg']}") from None
    return rules


def run(args: argparse.Namespace) -> int:
    from infra.local.emulators import ensure_port_free
    from infra.upstream.app import serve

    data_dir: Path | None = args.data_dir
    if data_dir is None:
        data_dir = load_settings().require_data_dir
    if not data_dir.is_dir():
        raise ConfigError(f"data dir {str(data_dir)!r} does not exist")
    if args.speed < 0:
        raise ConfigError(f"--speed must be 0 (no waiting) or positive, got {args.speed}")
    faults = _faults(args.fault)
    ensure_port_free(args.port, args.host, what="the upstream server")
    print(f"pitlane upstream: serving {data_dir} on http://{args.host}:{args.port}", flush=True)
    serve(
        data_dir=data_dir,
        host=args.host,
        port=args.port,
        replay_source=args.replay,
        speed=args.speed,
        log_path=args.log,
        faults=faults,
    )
    return 0
