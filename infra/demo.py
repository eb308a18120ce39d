"""``make demo``: the local stack replaying a real session through the production path.

1. ``pitlane stack up``: Google's emulators, the upstream server, the scheduler and every
   function, provisioned from the manifest.
2. The schedule arrives as in production: a schedule tick on Pub/Sub, pushed to
   ``sync_schedule``, stored in Firestore.
3. The upstream server replays the 2018 Azerbaijan Grand Prix race as a SignalR live feed at
   ``--speed``; a Cloud Task starts ``record_live_timing``, which subscribes to the feed, folds it
   through the reducer into Firestore and publishes race events.
4. A user subscribed to Safety Car, VSC, red flag and results alerts on a webhook (the stack's
   webhook sink): ``notify_race_events`` sends each deployment once, signed.
5. ``predict`` follows the race events: the pre-race odds, then live win probabilities after
   every lap; when the race is final it scores them.
6. Meanwhile the demo reads the ``api`` function, as the frontend would, and prints the race:
   lap, track status, leader and the favourite's win probability, race control, and the alerts
   the webhook received.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import sys
import time
from typing import Any

import httpx
from rich.console import Console

from infra import cli
from infra.local import stack
from infra.local.webhook_sink import LOCAL_SECRET
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
        _subscribe(urls["webhook_sink"])
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
        code = _follow(api, urls["webhook_sink"])
        _scores(state.env)
        return code
    finally:
        if not keep:
            stack.down(opts.state_dir)
            console.print("[bold]stack[/] down (make demo DEMO_ARGS=--keep leaves it running)")


def _subscribe(sink: str) -> None:
    """A demo user with a webhook on the sink for SC, VSC, red flags and results."""
    argv = ["subscriptions", "add", "--user", "demo", "--topics", "sc,vsc,red_flag,results"]
    argv += ["--webhook", f"{sink}/demo", "--secret", LOCAL_SECRET]
    with contextlib.redirect_stdout(io.StringIO()):
        if cli.main(argv) != 0:
            raise PitlaneError("could not subscribe the demo user")
    console.print(f"[bold]alerts[/] user demo subscribed: sc, vsc, red_flag, results -> {sink}/demo")


def _alerts(sink: str, seen: int) -> int:
    try:
        items = httpx.get(f"{sink}/_sink/received", params={"path": "/demo"}, timeout=5).json()
    except (httpx.HTTPError, ValueError):
        return seen
    for item in items[seen:]:
        doc = item.get("json") or {}
        console.print(
            f"  [magenta]webhook[/] [{doc.get('topic')}] {doc.get('title')}: {doc.get('body')} "
            f"[dim](signature {item.get('signature')})[/]"
        )
    return len(items)


def _favourite(api: str) -> str:
    pred = _get(api, f"/api/v1/prediction/live?session_id={SESSION_ID}")
    drivers = (pred or {}).get("drivers") or []
    if not drivers:
        return ""
    best = max(drivers, key=lambda d: d.get("p_win") or 0)
    return f"  P(win) {best.get('code') or best.get('driver_number')} {best.get('p_win', 0):.2f}"


def _follow(api: str, sink: str, timeout_s: float = 900.0) -> int:
    """Print the race from the API until the session is over."""
    base = f"/api/sessions/{SESSION_ID}"
    seen_rc, seen_alerts, last_line = 0, 0, ""
    finish = _Finish()
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        tower = _get(api, f"{base}/live")
        rc = (_get(api, f"{base}/race-control") or {}).get("items", [])
        for item in rc[seen_rc:]:
            console.print(f"  [dim]{item['utc'][11:19]}[/] race control: {item['message']}")
        seen_rc = len(rc)
        seen_alerts = _alerts(sink, seen_alerts)
        if tower:
            rows = tower.get("rows") or []
            leader = rows[0] if rows else {}
            lap = f"{tower.get('current_lap') or 0}/{tower.get('total_laps') or '?'}"
            line = f"lap {lap}  track {tower.get('track_status')}  leader {leader.get('abbreviation') or '-'}"
            if line != last_line:
                console.print(f"[bold]{line}[/]{_favourite(api)}")
                last_line = line
            if tower.get("session_status") in {"Finished", "Finalised", "Ends"} and finish.done(api, base):
                _alerts(sink, seen_alerts)
                return 0
        time.sleep(1.0)
    raise PitlaneError(f"the session did not finish within {timeout_s:.0f} s")


class _Finish:
    """The session is over for the demo once the API's lap count has not moved for
    :data:`SETTLE_S` (cars still finish their last lap after the leader takes the flag, and the
    API keeps an answer for a few seconds)."""

    SETTLE_S = 8.0

    def __init__(self) -> None:
        self.count, self.since = -1, 0.0

    def done(self, api: str, base: str) -> bool:
        laps = (_get(api, f"{base}/laps") or {}).get("items", [])
        if len(laps) != self.count:
            self.count, self.since = len(laps), time.monotonic()
            return False
        if not laps or time.monotonic() - self.since < self.SETTLE_S:
            return False
        drivers = (_get(api, f"{base}/drivers") or {}).get("items", [])
        podium = ", ".join(
            f"P{d['position']} {d['abbreviation']}" for d in drivers if (d.get("position") or 99) <= 3
        )
        console.print(
            f"[bold]finished[/]: {len(laps)} laps of {len(drivers)} drivers served by the api; {podium}"
        )
        return True


def _scores(env: dict[str, str], wait_s: float = 60.0) -> None:
    """The race's prediction scores (``predictions/{id}/accuracy/summary``), once predict has
    scored them; read from Firestore, since the API keeps accuracy answers for minutes."""
    from shared.gcp import firestore_client
    from shared.stores.predictions import get_accuracy

    db = firestore_client(stack.settings_for(env))
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:
        acc = get_accuracy(db, SESSION_ID)
        if acc is not None:
            pre = acc.prerace
            console.print(
                f"[bold]predictions scored[/] {len(acc.by_prediction)} predictions: mean Brier (win) "
                f"{acc.mean_brier_win:.4f}, winner picked {acc.winner_hit_rate:.0%} of the time; "
                + (f"pre-race Brier {pre.brier_win:.4f}" if pre else "no pre-race prediction")
                + "  [dim]GET /api/predictions/accuracy[/]"
            )
            return
        time.sleep(1.0)
    console.print("[dim]predictions not scored yet (predict scores once the session is final)[/]")


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
