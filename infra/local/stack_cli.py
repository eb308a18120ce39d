"""``pitlane stack up|down|status``: the local stack in the background (see ``infra.local.stack``).

Ports: ``--base-port`` (default 8700) + 0 Firestore, +1 Pub/Sub, +2 Cloud Tasks, +3 upstream,
+4 scheduler, +10.. functions in manifest order. State and logs go to ``--state-dir`` (default
``.pitlane/``): ``stack.json``, ``stack.env``, ``logs/<part>.log``, ``upstream-requests.jsonl``.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from infra.local import stack
from shared.config import load_settings


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("stack", help="run the local stack (emulators, upstream, functions)")
    parser.add_argument(
        "--state-dir", type=Path, default=stack.DEFAULT_STATE_DIR, help="state and logs (default .pitlane/)"
    )
    sub = parser.add_subparsers(dest="stack_command", required=True, metavar="ACTION")
    up = sub.add_parser("up", help="start every part in the background and provision it")
    up.add_argument(
        "--base-port",
        type=int,
        default=stack.DEFAULT_BASE_PORT,
        help=f"first of {stack.PORT_SPAN} ports (default {stack.DEFAULT_BASE_PORT})",
    )
    up.add_argument(
        "--replay",
        default=stack.DEFAULT_REPLAY,
        help="live feed the upstream server replays, relative to the data dir (default: 2018 Baku race)",
    )
    up.add_argument("--speed", type=float, default=1.0, help="replay speed factor (default 1 = real time)")
    up.set_defaults(func=handle_up)
    sub.add_parser("down", help="stop every part").set_defaults(func=handle_down)
    sub.add_parser("status", help="health-check every part").set_defaults(func=handle_status)


def _parts_table(state: stack.StackState, health: dict[str, tuple[bool, str]] | None = None) -> Table:
    table = Table(title=f"pitlane stack (base port {state.base_port})")
    for column in ("part", "kind", "address", "pid", "health" if health else "log"):
        table.add_column(column, overflow="fold")
    for part in state.parts:
        if health is None:
            last = Path(part.log).name
        else:
            ok, word = health[part.name]
            last = f"[green]healthy[/] ({word})" if ok else f"[red]down[/] ({word})"
        table.add_row(part.name, part.kind, part.url.removeprefix("http://"), str(part.pid), last)
    for name, reason in state.skipped.items():
        table.add_row(name, "function", "-", "-", f"[yellow]skipped[/] ({reason})")
    return table


def handle_up(args: argparse.Namespace) -> int:
    console = Console()
    settings = load_settings()
    opts = stack.StackOptions(
        state_dir=args.state_dir,
        base_port=args.base_port,
        data_dir=settings.data_dir,
        replay_source=args.replay or None,
        replay_speed=args.speed,
    )
    with console.status("starting the local stack..."):
        result = stack.up(opts)
    if result.already_up:
        console.print(f"the stack is already up (since {result.state.started_at:%Y-%m-%d %H:%M:%S} UTC)")
        console.print(_parts_table(result.state))
        return 0
    console.print(_parts_table(result.state))
    console.print(f"logs: {args.state_dir / 'logs'}")
    if result.report is not None:
        for line in result.report.lines():
            print(line)
        print(result.report.summary())
    console.print(f"stack up in {result.state.up_seconds:.1f} s; `source {args.state_dir / 'stack.env'}`")
    return 0


def handle_down(args: argparse.Namespace) -> int:
    stopped = stack.down(args.state_dir)
    if stopped is None:
        print("the stack is not running (nothing to stop)")
    else:
        print(f"stopped {len(stopped)} processes: " + ", ".join(f"{p.name}={p.pid}" for p in stopped))
    return 0


def handle_status(args: argparse.Namespace) -> int:
    results = stack.status(args.state_dir)
    if results is None:
        print("the stack is not running")
        return 1
    state = stack.read_state(args.state_dir)
    assert state is not None
    Console().print(_parts_table(state, {part.name: (ok, word) for part, ok, word in results}))
    down = [part.name for part, ok, _ in results if not ok]
    if down:
        print(f"down: {', '.join(down)}")
        return 1
    print(f"all {len(results)} parts healthy")
    return 0
