"""OpenF1State on the recorded 2024 Singapore race (session 9606): every lap mapped, each field
checked against the raw records; pit, stint and position derivations; idempotence, order,
incremental polls and checkpoints; the merge rules and the takeover predicate."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from shared.openf1.merge import fill_missing, merge_lap, should_poll
from shared.openf1.state import POLL_ORDER, OpenF1State
from shared.timing.models import Lap, SessionLive, TrackStatus

DATA = Path(__file__).resolve().parents[3] / "shared" / "data" / "openf1" / "2024_singapore"
RACE = 9606
SID = "2024_singapore_grand_prix_r"


def _records(endpoint: str) -> list[dict[str, Any]]:
    path = DATA / f"{endpoint}.json"
    return list(json.loads(path.read_text())) if path.is_file() else []


@pytest.fixture(scope="module")
def raw() -> dict[str, list[dict[str, Any]]]:
    return {e: _records(e) for e in POLL_ORDER}


def _build(raw: dict[str, list[dict[str, Any]]], order: tuple[str, ...] = POLL_ORDER) -> OpenF1State:
    state = OpenF1State(session_key=RACE)
    for endpoint in order:
        state.apply_records(endpoint, raw[endpoint])
    state.finish()
    return state


def _utc(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


def test_every_race_lap_is_mapped_from_its_record(raw: dict[str, list[dict[str, Any]]]) -> None:
    state = _build(raw)
    laps = {lap.doc_id: lap for lap in state.laps()}
    assert state.session_id == SID and len(laps) == len(raw["laps"]) == 1159
    assert state.skipped["bad_row"] == 0
    for rec in raw["laps"]:
        lap = laps[f"{rec['driver_number']}_{rec['lap_number']:03d}"]
        assert lap.source == "openf1" and lap.session_id == SID
        duration = rec["lap_duration"]
        assert lap.lap_time_ms == (None if duration is None else round(duration * 1000))
        for i in range(3):
            sector = rec[f"duration_sector_{i + 1}"]
            assert lap.sector_times_ms[i] == (None if sector is None else round(sector * 1000))
        assert lap.pit_out is bool(rec["is_pit_out_lap"])
        if duration is not None:
            assert lap.completed_utc == _utc(rec["date_start"]) + timedelta(seconds=duration)


def test_pit_laps_and_positions_follow_the_raw_records(raw: dict[str, list[dict[str, Any]]]) -> None:
    state = _build(raw)
    pit_in = {(str(p["driver_number"]), p["lap_number"]) for p in raw["pit"]}
    assert {(lap.driver_number, lap.lap_number) for lap in state.laps() if lap.pit_in} == pit_in
    assert len(pit_in) == 23
    # every in-lap is followed by an out-lap in OpenF1's own flags
    out = {(lap.driver_number, lap.lap_number) for lap in state.laps() if lap.pit_out}
    assert {(d, n + 1) for d, n in pit_in} == out
    history: dict[str, list[tuple[datetime, int]]] = {}
    for p in raw["position"]:
        history.setdefault(str(p["driver_number"]), []).append((_utc(p["date"]), p["position"]))
    checked = 0
    for lap in state.laps():
        hist = sorted(history.get(lap.driver_number, []))
        before = [pos for when, pos in hist if lap.completed_utc and when <= lap.completed_utc]
        assert lap.position == (before[-1] if before else None)
        checked += lap.position is not None
    assert checked > 1000  # the recording's positions start a few minutes into the race
    rows = {row.driver_number: row for row in state.drivers()}
    assert len(rows) == 20 and rows["1"].abbreviation == "VER" and rows["1"].team_name == "Red Bull Racing"
    assert rows["1"].pit_stops == sum(1 for p in raw["pit"] if p["driver_number"] == 1)
    assert rows["1"].best_lap_ms == min(
        round(r["lap_duration"] * 1000) for r in raw["laps"] if r["driver_number"] == 1 and r["lap_duration"]
    )


def test_stints_give_compound_age_and_number(raw: dict[str, list[dict[str, Any]]]) -> None:
    keys = {"meeting_key": 1246, "session_key": RACE, "driver_number": 1}
    stints: list[dict[str, Any]] = [
        {
            **keys,
            "stint_number": 1,
            "lap_start": 1,
            "lap_end": 20,
            "compound": "MEDIUM",
            "tyre_age_at_start": 0,
        },
        {
            **keys,
            "stint_number": 2,
            "lap_start": 21,
            "lap_end": None,
            "compound": "HARD",
            "tyre_age_at_start": 3,
        },
    ]
    state = _build({**raw, "stints": stints})
    laps = {lap.lap_number: lap for lap in state.laps() if lap.driver_number == "1"}
    assert (laps[5].compound, laps[5].tyre_age_laps, laps[5].stint) == ("MEDIUM", 5, 1)
    assert (laps[20].compound, laps[20].tyre_age_laps) == ("MEDIUM", 20)
    assert (laps[21].compound, laps[21].tyre_age_laps, laps[21].stint) == ("HARD", 4, 2)
    row = next(r for r in state.drivers() if r.driver_number == "1")
    assert row.compound == "HARD" and row.tyre_age_laps == 3 + max(laps) - 21 + 1


def test_idempotent_and_order_independent(raw: dict[str, list[dict[str, Any]]]) -> None:
    state = _build(raw)
    for endpoint in POLL_ORDER:
        assert not state.apply_records(endpoint, raw[endpoint])  # nothing new: no changes at all
    laps_first = _build(raw, ("laps", *[e for e in POLL_ORDER if e != "laps"]))
    assert laps_first.laps() == state.laps() and laps_first.drivers() == state.drivers()


def test_incremental_polls_equal_one_fetch(raw: dict[str, list[dict[str, Any]]]) -> None:
    """Two polls (records up to T, then from each watermark on, less 5 s) give the same state."""
    cut = _utc("2024-09-22T13:00:00+00:00")
    field = {"laps": "date_start", "pit": "date", "position": "date"}
    state = OpenF1State(session_key=RACE)
    for endpoint in POLL_ORDER:
        f = field.get(endpoint)
        part = [r for r in raw[endpoint] if f is None or (r.get(f) and _utc(r[f]) <= cut)]
        state.apply_records(endpoint, part)
    emitted = len(state.laps())
    assert 0 < emitted < 1159
    restored = OpenF1State.restore(json.loads(json.dumps(state.checkpoint())))
    assert restored.laps() == state.laps() and restored.drivers() == state.drivers()
    for endpoint in POLL_ORDER:
        f, mark = field.get(endpoint), restored.watermark(endpoint)
        assert (mark is None) == (f is None)
        since = [
            r for r in raw[endpoint] if f is None or mark is None or _utc(r[f]) >= mark - timedelta(seconds=5)
        ]
        restored.apply_records(endpoint, since)
    restored.finish()
    assert restored.laps() == _build(raw).laps()


def test_race_control_and_weather_keep_their_numbers() -> None:
    keys = {"meeting_key": 1, "session_key": 7}
    session = {**keys, "session_name": "Race", "year": 2024, "date_start": "2024-03-02T15:00:00+00:00"}
    state = OpenF1State(session_key=7)
    state.apply_records("sessions", [session])
    state.apply_records("meetings", [{"meeting_key": 1, "meeting_name": "Bahrain Grand Prix", "year": 2024}])
    rc = [
        {**keys, "date": f"2024-03-02T15:0{i}:00+00:00", "message": f"M{i}", "category": "Flag"}
        for i in range(3)
    ]
    first = state.apply_records("race_control", rc[:2])
    assert [m.n for m in first.race_control] == [] and [m.n for m in state.race_control()] == [0, 1]
    assert [e.event_id for e in first.events] == [
        f"2024_bahrain_grand_prix_r:race_control:000{i}" for i in (0, 1)
    ]
    again = state.apply_records("race_control", rc[1:])  # overlap: message 1 again, message 2 new
    assert [e.event_id.rsplit(":", 1)[1] for e in again.events] == ["0002"]
    assert [(m.n, m.message) for m in state.race_control()] == [(0, "M0"), (1, "M1"), (2, "M2")]
    weather = {**keys, "date": "2024-03-02T15:00:30+00:00", "air_temperature": 21.5, "rainfall": 1}
    state.apply_records("weather", [weather, weather])
    assert [(w.n, w.air_temp_c, w.rainfall) for w in state.weather()] == [(0, 21.5, True)]
    assert OpenF1State.restore(state.checkpoint()).race_control() == state.race_control()


def _lap(**kw: Any) -> Lap:
    return Lap(session_id=SID, driver_number="44", lap_number=3, **kw)


def test_a_live_lap_is_never_degraded() -> None:
    live = _lap(lap_time_ms=97_000, sector_times_ms=[30_000, None, 27_000], compound="SOFT", position=None)
    ours = _lap(lap_time_ms=97_001, sector_times_ms=[30_001, 40_000, 27_001], position=4, source="openf1")
    merged = merge_lap(ours, live)
    assert merged.source == "livetiming" and merged.lap_time_ms == 97_000 and merged.compound == "SOFT"
    assert merged.sector_times_ms == [30_000, 40_000, 27_000] and merged.position == 4
    assert merge_lap(ours, None) is ours
    assert merge_lap(ours, ours.model_copy(update={"position": 9})) is ours  # OpenF1's own: replaced
    stored = SessionLive(session_id=SID, status="Finalised", track_status=TrackStatus.GREEN)
    assert fill_missing(SessionLive(session_id=SID, current_lap=62), stored).status == "Finalised"
    assert fill_missing(SessionLive(session_id=SID), stored).track_status is TrackStatus.GREEN


def test_should_poll_only_when_the_live_feed_is_quiet() -> None:
    now = datetime(2024, 9, 22, 13, 0, tzinfo=UTC)
    assert should_poll(now, None, True)
    assert not should_poll(now, None, False)
    assert not should_poll(now, now - timedelta(seconds=29), True)
    assert should_poll(now, now - timedelta(seconds=30), True)
    assert not should_poll(now, now - timedelta(hours=1), False)
