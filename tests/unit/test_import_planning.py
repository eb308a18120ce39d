"""Planning imports within the quota left: oldest first, the rest deferred."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from shared.imports.gaps import GapReport, Host, SessionGap, SessionSpec, find_gaps
from shared.imports.planning import plan
from shared.schedule.f1schedule import parse_schedule

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT.parent / "shared" / "data"
T0 = datetime(2023, 3, 3, 11, 30, tzinfo=UTC)
FULL = {Host.F1SCHEDULE: 500, Host.F1_STATIC: 500, Host.JOLPICA: 200, Host.MULTIVIEWER: 500}


def gap(n: int, calls: dict[Host, int]) -> SessionGap:
    return SessionGap(
        session_id=f"s{n}",
        meeting_id="m",
        start_utc=T0 + timedelta(hours=n),
        code="r",
        session_missing=True,
        missing=(),
        calls=calls,
    )


def report(*gaps: SessionGap, season: dict[Host, int] | None = None) -> GapReport:
    season = {Host.F1SCHEDULE: 1} if season is None else season
    return GapReport(
        year=2023,
        missing_meetings=(),
        missing_sessions=(),
        sessions=gaps,
        season_calls=season,
        calls={},
    )


def test_sessions_are_taken_oldest_first_until_one_does_not_fit() -> None:
    r = report(gap(2, {Host.JOLPICA: 2}), gap(0, {Host.JOLPICA: 2}), gap(1, {Host.JOLPICA: 2}))
    p = plan(r, budget={Host.F1SCHEDULE: 5, Host.JOLPICA: 5})
    assert [g.session_id for g in p.sessions] == ["s0", "s1"]
    assert [g.session_id for g in p.deferred] == ["s2"]
    assert p.calls == {Host.F1SCHEDULE: 1, Host.JOLPICA: 4}


def test_a_later_cheaper_session_never_jumps_the_queue() -> None:
    """A race that does not fit blocks the practice after it: the race is first next hour."""
    r = report(gap(0, {Host.JOLPICA: 2, Host.F1_STATIC: 8}), gap(1, {Host.F1_STATIC: 8}))
    p = plan(r, budget={Host.F1SCHEDULE: 1, Host.JOLPICA: 1, Host.F1_STATIC: 100})
    assert p.empty and p.calls == {}
    assert [g.session_id for g in p.deferred] == ["s0", "s1"]


def test_no_budget_for_the_schedule_means_nothing_is_planned() -> None:
    r = report(gap(0, {Host.F1_STATIC: 1}))
    assert plan(r, budget={Host.F1_STATIC: 100}).empty  # f1schedule absent: no calls left
    assert not plan(r, budget={Host.F1_STATIC: 100, Host.F1SCHEDULE: 1}).empty


def test_max_sessions_caps_the_plan_and_negative_budgets_count_as_zero() -> None:
    r = report(gap(0, {Host.F1_STATIC: 1}), gap(1, {Host.F1_STATIC: 1}), season={})
    p = plan(r, budget={Host.F1_STATIC: 100}, max_sessions=1)
    assert [g.session_id for g in p.sessions] == ["s0"] and len(p.deferred) == 1
    assert plan(r, budget={Host.F1_STATIC: -3}).empty
    assert plan(report(), budget=FULL).empty


@pytest.mark.skipif(not DATA.is_dir(), reason="recorded data folder not present")
def test_the_2023_season_within_jolpicas_200_calls_an_hour() -> None:
    """An empty database: the first hour imports the oldest sessions until one host's calls run out
    (here the F1 archive's 500, 8 topic files a session); the next plan starts where this one stopped."""
    parsed = parse_schedule(json.loads((DATA / "f1schedule" / "schedule_2023.json").read_text()), year=2023)
    specs = [SessionSpec.from_session(s) for s in parsed.sessions]
    r = find_gaps(2023, specs, held_meetings=[], holdings={}, now=datetime(2024, 1, 1, tzinfo=UTC))
    p = plan(r, budget=FULL)
    assert p.calls[Host.JOLPICA] <= 200 and p.calls[Host.F1_STATIC] <= 500
    assert all(p.calls[h] <= FULL[h] for h in p.calls)
    assert p.sessions and p.deferred
    assert p.sessions[-1].start_utc <= p.deferred[0].start_utc
    assert len(p.sessions) + len(p.deferred) == len(r.sessions)
    # F1 archive: 8 topic files a session (9 for races and sprints: the lap count): the plan
    # stops at the first session that would pass 500.
    used, taken = 0, 0
    for gap in r.sessions:
        if used + gap.calls[Host.F1_STATIC] > 500:
            break
        used, taken = used + gap.calls[Host.F1_STATIC], taken + 1
    assert len(p.sessions) == taken == 60 and p.calls[Host.F1_STATIC] == used == 493


def test_gaps_and_planning_are_pure() -> None:
    """Neither module pulls in a Google client or httpx (``google``/``google.cloud`` themselves are
    namespace packages that site-packages' .pth files load at start-up)."""
    code = (
        "import sys, shared.imports.gaps, shared.imports.planning; "
        "print(sorted(m for m in sys.modules if m.startswith(('google.', 'httpx')) and m != 'google.cloud'))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    assert out.stdout.strip() == "[]"
