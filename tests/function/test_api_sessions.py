"""The ``api`` function's session routes over the 2018 Baku race, replayed into the Firestore
emulator through the ingest service (the production path), served by functions-framework's app."""

from __future__ import annotations

from typing import Any

import pytest

from functions.api import answers
from shared.config import Settings
from shared.services.ingest import IngestSummary, ingest, messages_from_source
from shared.timing.reducer import SessionReducer
from tests.function.conftest import PROJECT_ROOT, load_function

BAKU = (
    PROJECT_ROOT.parent
    / "shared/data/livetiming/static/2018/2018-04-29_Azerbaijan_Grand_Prix/2018-04-29_Race"
)
SID = "2018_azerbaijan_grand_prix_r"
LAP_FIELDS = {"driver_number", "lap_number", "lap_time_ms", "sector_times_ms", "compound", "tyre_age_laps"}
LAP_FIELDS |= {"pit_in", "pit_out", "position"}
DRIVER_FIELDS = {"driver_number", "abbreviation", "team_name", "position", "laps", "best_lap_ms"}


@pytest.fixture
def replayed(firestore_db: Any, settings: Settings) -> tuple[SessionReducer, IngestSummary]:
    source = messages_from_source(str(BAKU), settings=settings)
    reducer = SessionReducer()
    summary = ingest(source.messages, reducer=reducer, db=firestore_db, publisher=None, settings=settings)
    return reducer, summary


@pytest.fixture
def client(firestore_db: Any) -> Any:
    answers().clear()  # answers cached by an earlier test's instance are of another database
    return load_function("api", signature_type="http").client


def _ok(client: Any, path: str) -> Any:
    resp = client.get(path)
    assert resp.status_code == 200, resp.get_data(as_text=True)
    return resp.get_json()


def _problem(client: Any, path: str, status: int) -> str:
    resp = client.get(path)
    assert resp.status_code == status and resp.mimetype == "application/problem+json"
    return str(resp.get_json(force=True)["detail"])


def test_session_routes_over_the_replayed_race(
    client: Any, replayed: tuple[SessionReducer, IngestSummary]
) -> None:
    reducer, summary = replayed
    base = f"/api/sessions/{SID}"

    drivers = _ok(client, f"{base}/drivers")["items"]
    assert len(drivers) == 20 == summary.drivers
    assert all(set(d) >= DRIVER_FIELDS and isinstance(d["driver_number"], str) for d in drivers)
    positions = [d["position"] for d in drivers if d["position"] is not None]
    assert positions == sorted(positions)
    first = drivers[0]
    assert _ok(client, f"{base}/drivers/{first['driver_number']}") == first

    laps = _ok(client, f"{base}/laps")["items"]
    assert len(laps) == summary.laps == len(reducer.laps())
    assert all(set(lap) >= LAP_FIELDS for lap in laps)
    assert [lap["lap_number"] for lap in laps] == sorted(lap["lap_number"] for lap in laps)
    if laps:
        number = laps[-1]["driver_number"]
        own = _ok(client, f"{base}/laps?driver={number}")["items"]
        assert own and {lap["driver_number"] for lap in own} == {number}
        assert len(own) == sum(1 for lap in reducer.laps() if lap.driver_number == number)
        lap_one = _ok(client, f"{base}/laps/1")["items"]
        assert lap_one == _ok(client, f"{base}/laps?lap=1")["items"]
        assert {lap["lap_number"] for lap in lap_one} == {1}
        both = _ok(client, f"{base}/laps?driver={number}&lap=1")["items"]
        assert both == [lap for lap in lap_one if lap["driver_number"] == number]

    race_control = _ok(client, f"{base}/race-control")["items"]
    assert len(race_control) == summary.race_control == 109
    assert [m["n"] for m in race_control] == sorted(m["n"] for m in race_control)
    assert _ok(client, f"{base}/weather") == {"session_id": SID, "items": []}  # no WeatherData in 2018

    live = _ok(client, f"{base}/live")
    assert live["session_id"] == SID and len(live["rows"]) == 20
    assert live["rows"] == reducer.tower().model_dump(mode="json")["rows"]


def test_session_routes_reject_bad_input(client: Any, firestore_db: Any) -> None:
    firestore_db.collection("sessions").document(SID).set({"session_id": SID})
    base = f"/api/sessions/{SID}"
    for path in ("drivers", "laps", "laps/1", "race-control", "weather", "live", "drivers/44"):
        assert "no session" in _problem(client, f"/api/sessions/2099_nowhere_r/{path}", 404)
    assert _ok(client, f"{base}/drivers") == {"session_id": SID, "items": []}
    assert "no driver 44" in _problem(client, f"{base}/drivers/44", 404)
    assert "no live timing" in _problem(client, f"{base}/live", 404)
    assert "car number" in _problem(client, f"{base}/laps?driver=ham", 400)
    assert "integer" in _problem(client, f"{base}/laps?lap=x", 400)
    assert "between" in _problem(client, f"{base}/laps?lap=0", 400)
    assert "between" in _problem(client, f"{base}/laps/999", 400)
    assert "digits" in _problem(client, f"{base}/drivers/abc", 400)
    assert client.post(f"{base}/laps").status_code == 405
