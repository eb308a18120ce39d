"""``make demo``: the local stack replaying a real session through the production path.

1. ``pitlane stack up``: Google's emulators, the upstream server, the scheduler and every
   function, provisioned from the manifest.
2. The schedule arrives as in production: a schedule tick on Pub/Sub, pushed to
   ``sync_schedule``, stored in Firestore.
3. The upstream server replays the 2018 Azerbaijan Grand Prix race as a SignalR live feed at
   ``--speed``; a Cloud Task starts ``record_live_timing``, which subscribes to the feed, folds it
   through the reducer into Firestore and publishes race events.
4. Meanwhile the demo reads the ``api`` function, as the frontend would, and prints the race:
   lap, track status, leader, race control.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any

import httpx
from rich.console import Console

from infra.local import stack
from shared.config import load_settings
from shared.errors import PitlaneError
from shared.gcp import publisher_client, topic_path
from shared.services.live_recorder import RecordRequest
from shared.tasks import enqueue_http, task_name

SESSION_ID = "2018_azerbaijan_grand_prix_r"
console = Console()


def _publish_tick(env: dict[str, str], season: int) -> None:
    """A schedule tick for ``season`` on ``schedule-tick`` (what the Scheduler job sends)."""
    settings = stack.settings_for(env)
    payload = json.dumps({"reason": "demo", "season": season}).encode()
    publisher_client(settings, ordering=False).publish(topic_path(settings, "schedule-tick"), payload).result(
        10
    )


def _get(api: str, path: str) -> Any:
    resp = httpx.get(api + path, timeout=10)
    return resp.json() if resp.status_code == 200 else None


def _wait_for(api: str, path: str, timeout: float = 30.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if (body := _get(api, path)) is not None:
            return body
        time.sleep(0.3)
    raise PitlaneError(f"the api did not serve {path} within {timeout:.0f} s")


def run(speed: float, keep: bool) -> int:
    opts = stack.StackOptions(data_dir=load_settings().require_data_dir, replay_speed=speed)
    result = stack.up(opts)
    state = result.state
    urls = {p.name: p.url for p in state.parts}
    console.print(
        f"[bold]stack[/] up in {state.up_seconds or 0:.1f} s ({len(urls)} parts); logs in .pitlane/logs"
    )
    try:
        api = urls["api"]
        _publish_tick(state.env, 2018)
        session = _wait_for(api, f"/api/sessions/{SESSION_ID}")
        console.print(
            f"[bold]schedule[/] {session['name']} of round {session['round']}: "
            f"{session['start_local']} local (UTC{session['gmt_offset']}) = {session['start_utc']}"
            "  [dim]via Pub/Sub -> sync_schedule -> api[/]"
        )
        # The replay clock starts when record_live_timing subscribes: it sees the race from the start.
        replay = {"source": stack.DEFAULT_REPLAY, "speed": speed, "wait_for": 1}
        httpx.post(f"{urls['upstream']}/_upstream/replay", json=replay, timeout=30).raise_for_status()
        req = RecordRequest(source="live", session_id=SESSION_ID, run_seconds=540)
        enqueue_http(
            stack.settings_for(state.env),
            queue="live-timing",
            function="record_live_timing",
            body=req.model_dump(mode="json"),
            name=task_name("demo", SESSION_ID, time.time_ns()),
        )
        console.print(f"[bold]live[/] Cloud Task -> record_live_timing <- SignalR replay at {speed:g}x")
        return _follow(api)
    finally:
        if not keep:
            stack.down(opts.state_dir)
            console.print("[bold]stack[/] down (make demo DEMO_ARGS=--keep leaves it running)")


def _follow(api: str, timeout_s: float = 900.0) -> int:
    """Print the race from the API until the session is over."""
    base = f"/api/sessions/{SESSION_ID}"
    seen_rc, last_line = 0, ""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        tower = _get(api, f"{base}/live")
        rc = (_get(api, f"{base}/race-control") or {}).get("items", [])
        for item in rc[seen_rc:]:
            console.print(f"  [dim]{item['utc'][11:19]}[/] race control: {item['message']}")
        seen_rc = len(rc)
        if tower:
            rows = tower.get("rows") or []
            leader = rows[0] if rows else {}
            lap = f"{tower.get('current_lap') or 0}/{tower.get('total_laps') or '?'}"
            line = f"lap {lap}  track {tower.get('track_status')}  leader {leader.get('abbreviation') or '-'}"
            if line != last_line:
                console.print(f"[bold]{line}[/]")
                last_line = line
            if tower.get("session_status") in {"Finished", "Finalised", "Ends"} and _finished(api, base):
                return 0
        time.sleep(1.0)
    raise PitlaneError(f"the session did not finish within {timeout_s:.0f} s")


def _finished(api: str, base: str) -> bool:
    laps = (_get(api, f"{base}/laps") or {}).get("items", [])
    drivers = (_get(api, f"{base}/drivers") or {}).get("items", [])
    if not laps:
        return False
    podium = ", ".join(
        f"P{d['position']} {d['abbreviation']}" for d in drivers if (d.get("position") or 99) <= 3
    )
    console.print(
        f"[bold]finished[/]: {len(laps)} laps of {len(drivers)} drivers served by the api; {podium}"
    )
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make demo", description="the local stack replaying a real session")
    parser.add_argument(
        "--speed", type=float, default=40.0, help="replay speed (default 40: the race in ~3 min)"
    )
    parser.add_argument("--keep", action="store_true", help="leave the stack running afterwards")
    args = parser.parse_args(argv)
    try:
        return run(args.speed, args.keep)
    except PitlaneError as exc:
        print(f"demo: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
