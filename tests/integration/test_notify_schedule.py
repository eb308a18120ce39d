"""Acceptance 3: a schedule change reaches each subscriber of that meeting once, also when
``schedule-events`` delivers it three times at once; quiet hours hold it back (delivered through
Cloud Tasks and the real ``notify`` function when they end) or drop it, as the subscription says.
"""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import functions_framework

from shared.models.schedule import ScheduleChange
from shared.services import notify as service
from shared.stores.notifications import LEDGER
from tests.emulators import serve_wsgi
from tests.integration.notify_fixture import ROOT, NotifyEnv, notify_env, notify_settings, sink

__all__ = ["notify_env", "sink"]  # fixtures used below

MEETING = "2024_singapore_grand_prix"
BEFORE = datetime(2024, 9, 21, 13, 0, tzinfo=UTC)
# When the change is noticed: 02:30 in Singapore (UTC+8), 20:30 in Paris (CEST).
NOW = datetime(2024, 9, 20, 18, 30, tzinfo=UTC)
CHANGE = ScheduleChange(
    change_id="c0ffee",
    kind="moved",
    session_id=f"{MEETING}_q",
    meeting_id=MEETING,
    year=2024,
    name="Qualifying",
    before_start_utc=BEFORE,
    after_start_utc=BEFORE + timedelta(minutes=30),
    time_zone="Asia/Singapore",
)


def test_schedule_change_once_per_subscriber_with_quiet_hours(
    notify_env: NotifyEnv, tasks_queue: str
) -> None:
    env = notify_env
    queue = tasks_queue.rsplit("/", 1)[1]
    meeting = {"meetings": [MEETING]}
    env.subscribe("u1", ["schedule_changed"], filters=meeting, time_zone="Europe/Paris")
    env.subscribe("u2", ["session_delayed"])  # every meeting; a later start is a delay
    env.subscribe("u3", ["schedule_changed"], filters={"meetings": ["2024_italian_grand_prix"]})
    night = {"start": "23:00", "end": "07:00"}
    env.subscribe("u4", ["schedule_changed"], filters=meeting, quiet_hours=night, time_zone="Asia/Singapore")
    drop = {**night, "action": "drop"}
    env.subscribe("u5", ["schedule_changed"], filters=meeting, quiet_hours=drop, time_zone="Asia/Singapore")
    env.subscribe("u6", ["schedule_changed", "session_delayed"], filters=meeting)  # both topics: once
    env.subscribe("u7", ["schedule_changed"], filters=meeting, quiet_hours=night, time_zone="Europe/Paris")

    app = functions_framework.create_app("notify", str(ROOT / "functions/notify.py"), "http")
    with serve_wsgi(app) as url:
        env.settings = notify_settings(PITLANE_FUNCTION_URLS=json.dumps({"notify": url}))
        deps = env.deps(clock=lambda: NOW, queue=queue)
        with ThreadPoolExecutor(max_workers=3) as pool:  # delivered three times at once
            reports = list(pool.map(lambda _: service.on_schedule_change(CHANGE, deps), range(3)))
        assert sum(r.sent for r in reports) == 4  # u1, u2, u6, u7 (not quiet in Paris)
        assert sum(r.held for r in reports) == 1 and sum(r.dropped for r in reports) == 1
        # u4's quiet hours end at 07:00 in Singapore: the held task is due then (in the past for
        # the emulator, which dispatches it at once to the notify function).
        env.sink.wait_for(1, "/u4", timeout=20)
        _wait_for_states(env, {"sent": 5, "dropped": 1})
        again = service.on_schedule_change(CHANGE, env.deps(clock=lambda: NOW, queue=queue))
        assert again.duplicate == 6 and again.sent == again.held == 0

    counts = {f"/u{i}": len(env.sink.received(f"/u{i}")) for i in range(1, 8)}
    assert counts == {"/u1": 1, "/u2": 1, "/u3": 0, "/u4": 1, "/u5": 0, "/u6": 1, "/u7": 1}
    u1 = env.sink.received("/u1")[0].json()
    assert u1["occurrence_id"] == "schedule:c0ffee" and u1["title"] == "Session delayed"
    assert u1["body"] == (
        "Singapore Grand Prix, Qualifying moved: now Sat 21 Sep 15:30 CEST (was Sat 21 Sep 15:00 CEST)."
    )
    u4 = env.sink.received("/u4")[0]
    assert u4.json()["occurrence_id"] == "schedule:c0ffee" and u4.signature == "ok"
    held = next(d.to_dict() for d in env.db.collection(LEDGER).stream() if d.to_dict()["uid"] == "u4")
    assert held["not_before"] == datetime(2024, 9, 20, 23, 0, tzinfo=UTC)  # 07:00 in Singapore


def _wait_for_states(env: NotifyEnv, want: dict[str, int], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        states: dict[str, int] = {}
        for doc in env.db.collection(LEDGER).stream():
            state = doc.to_dict()["state"]
            states[state] = states.get(state, 0) + 1
        if states == want:
            return
        assert time.monotonic() < deadline, f"ledger states {states}, wanted {want}"
        time.sleep(0.1)
