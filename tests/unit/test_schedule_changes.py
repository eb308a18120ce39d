"""Change detection, task planning, the weekend window and the OpenF1-over-f1schedule merge (pure)."""

from __future__ import annotations

import ast
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from shared.models.schedule import Session
from shared.openf1.models import Meeting as OF1Meeting
from shared.openf1.models import Session as OF1Session
from shared.schedule.changes import Stored, diff_sessions, moved_by
from shared.schedule.f1schedule import parse_schedule
from shared.schedule.planning import in_weekend_window, plan_tasks
from shared.schedule.season import merge_season

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT.parent / "shared" / "data"
needs_data = pytest.mark.skipif(not DATA.is_dir(), reason="recorded data folder not present")
T0 = datetime(2030, 5, 5, 13, 0, tzinfo=UTC)


def _session(code: str = "r", start: datetime = T0, **kw: object) -> Session:
    fields: dict[str, object] = {
        "session_id": f"2030_x_grand_prix_{code}",
        "meeting_id": "2030_x_grand_prix",
        "year": 2030,
        "round": 1,
        "name": {"r": "Race", "q": "Qualifying", "fp1": "Practice 1"}[code],
        "code": code,
        "start_utc": start,
        "start_local": start.replace(tzinfo=None) + timedelta(hours=2),
        "gmt_offset": "+02:00",
        "time_zone": "Europe/Paris",
    }
    return Session.model_validate(fields | kw)


def test_diff_kinds_and_ids() -> None:
    stored = {
        s.session_id: Stored(s, "v1")
        for s in (
            _session("r"),
            _session("q", T0 - timedelta(days=1)),
            _session("fp1", T0 - timedelta(days=2)),
        )
    }
    assert diff_sessions(stored, [st.session for st in stored.values()]) == []  # unchanged: nothing
    new = [
        _session("r", T0 + timedelta(hours=1)),  # moved
        _session("q", T0 - timedelta(days=1), cancelled=True),  # cancelled
    ]  # fp1 gone: removed
    changes = diff_sessions(stored, new)
    assert [(c.kind, c.session_id[-2:]) for c in changes] == [
        ("moved", "_r"),
        ("cancelled", "_q"),
        ("removed", "p1"),
    ]
    assert moved_by(changes[0]) == timedelta(hours=1)
    assert len({c.change_id for c in changes}) == 3
    again = diff_sessions(stored, new)  # same stored state (a retried run): same ids
    assert [c.change_id for c in again] == [c.change_id for c in changes]
    newer = {k: Stored(v.session, "v2") for k, v in stored.items()}  # another stored version: new ids
    assert not {c.change_id for c in diff_sessions(newer, new)} & {c.change_id for c in changes}
    # reinstated, re-added after removal, and brand new
    back = {
        "2030_x_grand_prix_q": Stored(_session("q", cancelled=True), "v3"),
        "2030_x_grand_prix_fp1": Stored(_session("fp1", published=False), "v3"),
    }
    kinds = [c.kind for c in diff_sessions(back, [_session("q"), _session("fp1"), _session("r")])]
    assert kinds == ["reinstated", "added", "added"]


def test_plan_tasks_leads_names_and_horizon() -> None:
    sessions = [
        _session("fp1", T0 - timedelta(hours=5)),
        _session("q", T0 - timedelta(hours=2)),
        _session("r", T0),
    ]
    now = T0 - timedelta(hours=3)
    tasks = plan_tasks(sessions, now=now, horizon=timedelta(hours=4))
    assert [(t.kind, t.session_id[-1], t.schedule_time - now) for t in tasks] == [
        ("record", "q", timedelta(minutes=45)),  # 15 min before qualifying
        ("reminder", "q", timedelta(minutes=30)),
        ("record", "r", timedelta(hours=2)),  # 60 min before a race
        ("reminder", "r", timedelta(hours=2, minutes=30)),
    ]
    assert tasks[2].name == f"record-2030_x_grand_prix_r-{int(T0.timestamp())}"
    assert tasks[2].queue == "live-timing" and tasks[3].queue == "reminders"
    assert tasks[2].body == {"source": "live", "session_id": "2030_x_grand_prix_r"}
    moved = plan_tasks([_session("r", T0 + timedelta(minutes=30))], now=now, horizon=timedelta(hours=4))
    assert moved[0].name != tasks[2].name  # a moved session gets a new task
    late = plan_tasks([_session("r")], now=T0 - timedelta(minutes=10), reminders=False)
    assert [t.schedule_time for t in late] == [T0 - timedelta(minutes=10)]  # overdue: at once
    assert plan_tasks([_session("r", cancelled=True)], now=now) == []
    assert plan_tasks([_session("r")], now=T0) == []  # started: not planned again


@needs_data
def test_weekend_window_and_singapore_merge() -> None:
    base = parse_schedule(json.loads((DATA / "f1schedule" / "schedule_2024.json").read_text()), year=2024)
    of1_dir = DATA / "openf1" / "2024_singapore"
    meetings = [OF1Meeting.model_validate(r) for r in json.loads((of1_dir / "meetings.json").read_text())]
    sessions = [OF1Session.model_validate(r) for r in json.loads((of1_dir / "sessions.json").read_text())]
    season = merge_season(base, year=2024, openf1_meetings=meetings, openf1_sessions=sessions)
    assert season.openf1_sessions == 5 and len(season.meetings) == len(base.meetings)
    sgp = next(m for m in season.meetings if m.meeting_id == "2024_singapore_grand_prix")
    assert (sgp.meeting_key, sgp.time_zone, sgp.session_ids[-1]) == (
        1246,
        "Asia/Singapore",
        "2024_singapore_grand_prix_r",
    )
    fp1 = next(s for s in season.sessions if s.session_id == "2024_singapore_grand_prix_fp1")
    assert (fp1.session_key, fp1.start_local, fp1.end_utc) == (
        9599,
        datetime(2024, 9, 20, 17, 30),
        datetime(2024, 9, 20, 10, 30, tzinfo=UTC),
    )
    assert in_weekend_window(season.meetings, datetime(2024, 9, 21, 12, tzinfo=UTC))
    assert in_weekend_window(season.meetings, datetime(2024, 9, 19, 12, tzinfo=UTC))  # the day before
    assert not in_weekend_window(season.meetings, datetime(2024, 9, 25, tzinfo=UTC))
    # a moved and cancelled OpenF1 session wins over f1schedule; an unknown meeting stands alone
    moved = sessions[-1].model_copy(
        update={"date_start": datetime(2024, 9, 22, 13, tzinfo=UTC), "is_cancelled": True}
    )
    extra_m = OF1Meeting(
        meeting_key=9999,
        meeting_name="Moon Grand Prix",
        year=2024,
        gmt_offset="-03:00:00",
        date_start=datetime(2024, 12, 20, tzinfo=UTC),
        location="Crater",
    )
    extra_s = OF1Session(
        meeting_key=9999,
        session_key=1,
        session_name="Race",
        year=2024,
        date_start=datetime(2024, 12, 22, 18, tzinfo=UTC),
        gmt_offset="-03:00:00",
    )
    odd = OF1Session(
        meeting_key=9999,
        session_key=2,
        session_name="Day 1",
        year=2024,
        date_start=datetime(2024, 12, 20, 18, tzinfo=UTC),
    )
    again = merge_season(
        base,
        year=2024,
        openf1_meetings=[*meetings, extra_m],
        openf1_sessions=[*sessions[:-1], moved, extra_s, odd],
    )
    race = next(s for s in again.sessions if s.session_id == "2024_singapore_grand_prix_r")
    assert (race.start_local, race.cancelled) == (datetime(2024, 9, 22, 21, 0), True)
    moon = next(s for s in again.sessions if s.meeting_id == "2024_moon_grand_prix")
    assert (moon.start_local, moon.time_zone, moon.gmt_offset) == (
        datetime(2024, 12, 22, 15),
        "Etc/GMT+3",
        "-03:00",
    )
    assert again.openf1_skipped == 1


def test_pure_schedule_modules_import_neither_google_nor_httpx() -> None:
    for path in sorted((ROOT / "shared" / "schedule").glob("*.py")):
        tree = ast.parse(path.read_text())
        names = [a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names]
        names += [n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)]
        assert not [n for n in names if n.startswith(("google", "httpx"))], path.name
