"""``make demo``: the local stack replaying a real recorded session, with the API answering.

1. ``pitlane stack up`` (emulators, upstream server, scheduler, every function), provisioned.
2. The schedule arrives through the production path: a Scheduler job and a schedule tick on
   Pub/Sub, pushed to ``sync_schedule``, stored in Firestore, served by ``api``.
3. The upstream server replays the 2018 Azerbaijan Grand Prix race as a SignalR live feed at
   ``--speed``; the demo subscribes with Pitlane's live-feed client, folds the deltas into state
   and shows the race as it unfolds (lap, track status, leader, race control).
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
from shared.feed import apply_message
from shared.gcp import publisher_client, topic_path
from shared.sources.livefeed import open_live_feed

SESSION_ID = "2018_azerbaijan_grand_prix_r"
TRACK = {"1": "green", "2": "yellow", "4": "SAFETY CAR", "5": "RED FLAG", "6": "VSC", "7": "VSC ending"}
console = Console()


def _publish_tick(env: dict[str, str], season: int) -> None:
    """A schedule tick for ``season`` on the emulator's ``schedule-tick`` topic (as Scheduler sends)."""
    settings = stack.settings_for(env)
    topic = topic_path(settings, "schedule-tick")
    payload = json.dumps({"reason": "demo", "season": season}).encode()
    publisher_client(settings, ordering=False).publish(topic, payload).result(timeout=10)


def _wait_for_api(api: str, path: str, timeout: float = 30.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        resp = httpx.get(api + path, timeout=5)
        if resp.status_code == 200:
            return dict(resp.json())
        time.sleep(0.3)
    raise PitlaneError(f"the api did not serve {path} within {timeout:.0f} s")


def _leader(states: dict[str, Any]) -> str:
    lines = states.get("TimingData", {}).get("Lines", {})
    drivers = states.get("DriverList", {})
    for number, line in lines.items():
        if isinstance(line, dict) and str(line.get("Position")) == "1":
            info = drivers.get(number, {}) if isinstance(drivers, dict) else {}
            return f"#{number} {info.get('Tla', '') if isinstance(info, dict) else ''}".strip()
    return "-"


def run(speed: float, keep: bool) -> int:
    opts = stack.StackOptions(data_dir=load_settings().require_data_dir, replay_speed=speed)
    result = stack.up(opts)
    state = result.state
    urls = {p.name: p.url for p in state.parts}
    console.print(
        f"[bold]stack[/] up in {state.up_seconds or 0:.1f} s: "
        + ", ".join(f"{k} {v}" for k, v in urls.items())
    )
    try:
        upstream, api = urls["upstream"], urls["api"]
        httpx.post(
            f"{upstream}/_upstream/replay", json={"source": stack.DEFAULT_REPLAY, "speed": speed}, timeout=30
        )
        httpx.post(f"{urls['scheduler']}/jobs/sync-schedule-hourly:run", timeout=10)
        _publish_tick(state.env, 2018)
        session = _wait_for_api(api, f"/api/sessions/{SESSION_ID}")
        console.print(
            f"[bold]api[/] {api}/api/sessions/{SESSION_ID}: {session['name']} of round {session['round']}, "
            f"{session['start_local']} local (UTC{session['gmt_offset']}) = {session['start_utc']}"
        )
        return _follow(upstream, speed)
    finally:
        if not keep:
            stack.down(opts.state_dir)
            console.print("[bold]stack[/] down (use --keep to leave it running)")


def _follow(upstream: str, speed: float) -> int:
    console.print(
        f"[bold]live feed[/] replaying the 2018 Azerbaijan Grand Prix at {speed:g}x from {upstream}"
    )
    states: dict[str, Any] = {}
    last_lap, last_track, count, rc_seen = 0, "", 0, 0
    with httpx.Client(timeout=20) as http:
        feed = open_live_feed(upstream, http=http)
        states.update(feed.snapshot)
        for message in feed.messages():
            apply_message(states, message)
            count += 1
            lap = int(states.get("LapCount", {}).get("CurrentLap", 0) or 0)
            track = TRACK.get(str(states.get("TrackStatus", {}).get("Status")), "?")
            messages = states.get("RaceControlMessages", {}).get("Messages", [])
            for rc in messages[rc_seen:] if isinstance(messages, list) else []:
                console.print(f"  [dim]{message.utc:%H:%M:%S}[/] race control: {rc.get('Message', '')}")
            rc_seen = len(messages) if isinstance(messages, list) else rc_seen
            if lap != last_lap or track != last_track:
                console.print(
                    f"[bold]lap {lap}/51[/]  track {track:<10}  leader {_leader(states)}  ({count} messages)"
                )
                last_lap, last_track = lap, track
    status = states.get("SessionStatus", {}).get("Status")
    console.print(
        f"[bold]replay finished[/]: {count} messages, session status {status}, "
        f"winner {_leader(states)}; skipped {feed.stats.skipped_total}"
    )
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make demo", description=__doc__.splitlines()[0] if __doc__ else "")
    parser.add_argument(
        "--speed", type=float, default=40.0, help="replay speed factor (default 40: the race in ~3 min)"
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
