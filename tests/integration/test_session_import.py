"""``import_session`` against the real upstream server (over ../shared/data) and Firestore emulator.

Session: 2024 British GP FP1 (laps, weather and race control in the archive).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import functions_framework
import pytest

from shared.config import Settings
from shared.imports.gaps import DataType, Host
from shared.services.session_import import ImportRequest, import_session
from shared.stores.imports import status_path
from tests.integration.upstream_fixture import Upstream, running_upstream

pytestmark = [pytest.mark.integration, pytest.mark.slow]

SID = "2024_british_grand_prix_fp1"
FP1 = "/static/2024/2024-07-07_British_Grand_Prix/2024-07-05_Practice_1/"
ROOT = Path(__file__).resolve().parents[2]


def _request(*types: DataType) -> ImportRequest:
    return ImportRequest(
        session_id=SID, year=2024, event="British Grand Prix", session="FP1", data_types=list(types)
    )


@pytest.fixture
def upstream(settings: Settings) -> Iterator[Upstream]:
    with running_upstream(data_dir=settings.require_data_dir) as server:
        yield server


@pytest.fixture
def import_settings(settings: Settings, upstream: Upstream, tmp_path: Path) -> Settings:
    return settings.model_copy(
        update={
            "f1_static_url": upstream.url,
            "jolpica_url": upstream.url,
            "f1_schedule_url": f"{upstream.url}/f1schedule/",
            "multiviewer_url": upstream.url,
            "cache_dir": tmp_path / "cache",
        }
    )


def _laps(db: Any) -> dict[str, Any]:
    return {s.id: s for s in db.collection(f"sessions/{SID}/laps").get()}


def _archive_fetches(upstream: Upstream) -> Counter[str]:
    return Counter(e["path"] for e in upstream.requests() if e["path"].startswith("/static/"))


def test_imports_every_type_from_one_load(
    firestore_db: Any, import_settings: Settings, upstream: Upstream
) -> None:
    import fastf1

    req = _request(DataType.LAPS, DataType.WEATHER, DataType.RACE_CONTROL, DataType.RESULTS)
    result = import_session(req, db=firestore_db, settings=import_settings)

    assert result.status == "complete", result
    assert set(result.types.values()) == {"complete"}
    fetches = _archive_fetches(upstream)
    assert fetches[FP1 + "TimingData.jsonStream"] == 1
    assert fetches[FP1 + "WeatherData.jsonStream"] == 1
    assert max(fetches.values()) == 1, fetches
    # FastF1's own count, from the cache the import filled (no upstream call).
    session = fastf1.get_session(2024, "British Grand Prix", "FP1")
    session.load(laps=True, telemetry=False, weather=False, messages=False)
    assert _archive_fetches(upstream) == fetches
    stored = _laps(firestore_db)
    assert len(stored) == result.laps == len(session.laps) > 400
    weather = firestore_db.collection(f"sessions/{SID}/weather").get()
    assert len(weather) == result.weather > 50
    assert result.race_control > 10
    status = firestore_db.document(status_path(SID)).get().to_dict()
    assert status["status"] == "complete"
    assert status["types"] == {
        "laps": "complete",
        "weather": "complete",
        "race_control": "complete",
        "results": "complete",
    }
    assert result.calls and result.calls[Host.F1_STATIC] == sum(fetches.values())

    # Served by the live pipeline's API, with the live pipeline's fields.
    client = functions_framework.create_app("api", str(ROOT / "functions" / "main.py"), "http").test_client()
    laps = client.get(f"/api/sessions/{SID}/laps?driver=1").get_json()
    items = laps["items"] if isinstance(laps, dict) else laps
    lap4 = next(x for x in items if x["lap_number"] == 4)
    assert lap4["lap_time_ms"] == 89049 and lap4["sector_times_ms"] == [28681, 36145, 24223]
    assert lap4["compound"] == "HARD" and lap4["tyre_age_laps"] == 4 and lap4["stint"] == 1
    assert lap4["source"] == "fastf1"
    assert client.get(f"/api/sessions/{SID}/weather").status_code == 200
    assert client.get(f"/api/sessions/{SID}/race-control").status_code == 200

    # Nothing left to import: no upstream call, nothing written.
    again = import_session(req, db=firestore_db, settings=import_settings)
    assert again.laps == again.weather == again.race_control == 0
    assert again.calls == {} and again.status == "complete"


def test_weather_failing_leaves_the_session_partial_then_weather_alone(
    firestore_db: Any, import_settings: Settings, upstream: Upstream
) -> None:
    upstream.add_fault(path_prefix=FP1 + "WeatherData.jsonStream", kind="status", status=503, times=None)
    result = import_session(
        _request(DataType.LAPS, DataType.WEATHER, DataType.RACE_CONTROL, DataType.RESULTS),
        db=firestore_db,
        settings=import_settings,
    )
    assert result.status == "partial"
    assert result.types == {
        "laps": "complete",
        "weather": "failed",
        "race_control": "complete",
        "results": "complete",
    }
    assert result.laps > 400 and result.weather == 0 and result.drivers == 20
    weather_tries = _archive_fetches(upstream)[FP1 + "WeatherData.jsonStream"]
    assert weather_tries == 4  # the first try and 3 retries, then given up (no mirror fallback)
    assert firestore_db.document(status_path(SID)).get().to_dict()["status"] == "partial"
    before = {k: s.update_time for k, s in _laps(firestore_db).items()}

    upstream.reset()
    later = import_session(
        _request(DataType.LAPS, DataType.WEATHER), db=firestore_db, settings=import_settings
    )
    assert later.status == "complete"
    assert later.types == {"weather": "complete"}  # laps were held: not asked for again
    assert later.laps == 0 and later.weather > 50
    fetched = _archive_fetches(upstream)
    assert FP1 + "TimingData.jsonStream" not in fetched
    assert {k: s.update_time for k, s in _laps(firestore_db).items()} == before
    status = firestore_db.document(status_path(SID)).get().to_dict()
    assert status["status"] == "complete" and status["types"]["weather"] == "complete"


def test_transient_5xx_and_429_are_retried(
    firestore_db: Any, import_settings: Settings, upstream: Upstream
) -> None:
    upstream.add_fault(path_prefix=FP1 + "TimingData.jsonStream", kind="rate_limit", retry_after=1, times=1)
    upstream.add_fault(path_prefix=FP1 + "RaceControlMessages.jsonStream", kind="status", status=502, times=2)
    result = import_session(
        _request(DataType.LAPS, DataType.RACE_CONTROL), db=firestore_db, settings=import_settings
    )
    assert result.status == "complete", result
    fetches = _archive_fetches(upstream)
    assert fetches[FP1 + "TimingData.jsonStream"] == 2
    assert fetches[FP1 + "RaceControlMessages.jsonStream"] == 3
    assert result.laps > 400


def test_types_the_archive_does_not_have_are_unavailable_not_failed(
    firestore_db: Any, import_settings: Settings, upstream: Upstream
) -> None:
    """The recorded 2023 Bahrain FP1 folder holds DriverList only: TimingData, TimingAppData,
    WeatherData and RaceControlMessages answer 404, so those types do not exist upstream."""
    sid = "2023_bahrain_grand_prix_fp1"
    req = ImportRequest(
        session_id=sid,
        year=2023,
        event=1,
        session="FP1",
        data_types=[DataType.LAPS, DataType.WEATHER, DataType.RACE_CONTROL],
    )
    result = import_session(req, db=firestore_db, settings=import_settings)
    assert result.types == {"laps": "unavailable", "weather": "unavailable", "race_control": "unavailable"}
    status = firestore_db.document(status_path(sid)).get().to_dict()
    assert set(status["types"].values()) == {"unavailable"}
    upstream.reset()
    again = import_session(req, db=firestore_db, settings=import_settings)
    assert again.types == {} and again.calls == {}  # held as unavailable: nothing is asked again
    assert upstream.requests() == []


def test_circuit_info_is_imported_once_per_circuit_and_season(
    firestore_db: Any, import_settings: Settings, upstream: Upstream
) -> None:
    """2020 Italian GP race: SessionInfo says circuit 39 (Monza); MultiViewer has its 2020 layout."""
    req = ImportRequest(
        session_id="2020_italian_grand_prix_r",
        year=2020,
        event="Italian Grand Prix",
        session="R",
        data_types=[DataType.CIRCUIT_INFO, DataType.WEATHER],
    )
    result = import_session(req, db=firestore_db, settings=import_settings)
    assert result.types == {"circuit_info": "complete", "weather": "complete"}
    assert result.calls[Host.MULTIVIEWER] == 1
    layout = firestore_db.document("circuit_layouts/39_2020").get().to_dict()
    assert layout["available"] is True and layout["circuit_name"] == "Monza"
    assert len(layout["corners"]) == 11 and layout["corners"][0]["number"] == 1
    assert len(layout["outline_x"]) == len(layout["outline_y"]) > 100
    assert layout["pit_loss_s"]["sc"] < layout["pit_loss_s"]["normal"]

    # another session at the same circuit that season finds it stored: no MultiViewer call
    upstream.reset()
    other = req.model_copy(update={"session_id": "2020_italian_grand_prix_r_again"})
    assert (
        import_session(other, db=firestore_db, settings=import_settings).types["circuit_info"] == "complete"
    )
    assert not [e for e in upstream.requests() if e["path"].startswith("/api/v1/circuits/")]


def test_a_circuit_multiviewer_does_not_have_is_unavailable_and_asked_once(
    firestore_db: Any, import_settings: Settings, upstream: Upstream
) -> None:
    req = ImportRequest(
        session_id=SID,
        year=2024,
        event="British Grand Prix",
        session="FP1",
        data_types=[DataType.CIRCUIT_INFO],
    )
    assert import_session(req, db=firestore_db, settings=import_settings).status == "unavailable"
    marker = firestore_db.document("circuit_layouts/2_2024").get().to_dict()
    assert marker == {"circuit_key": 2, "year": 2024, "available": False}
