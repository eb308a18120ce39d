"""The ``api`` function through functions-framework's own app, against the Firestore emulator."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import functions_framework
import pytest

from functions.api import answers
from shared.schedule.f1schedule import parse_schedule
from shared.stores.schedule import upsert_meetings, upsert_sessions

ROOT = Path(__file__).resolve().parents[2]
SCHEDULES = ROOT.parent / "shared" / "data" / "f1schedule"


@pytest.fixture
def client(firestore_db: Any) -> Any:
    answers().clear()  # answers cached by an earlier test's instance are of another database
    app = functions_framework.create_app("api", str(ROOT / "functions" / "main.py"), "http")
    return app.test_client()


@pytest.fixture
def season_2024(firestore_db: Any) -> None:
    parsed = parse_schedule(json.loads((SCHEDULES / "schedule_2024.json").read_text()), year=2024)
    upsert_meetings(firestore_db, parsed.meetings)
    upsert_sessions(firestore_db, parsed.sessions)


def _problem(resp: Any, status: int) -> dict[str, Any]:
    assert resp.status_code == status
    assert resp.mimetype == "application/problem+json"
    body: dict[str, Any] = resp.get_json(force=True)
    assert body["status"] == status and body["title"] and body["detail"]
    return body


def test_health(client: Any) -> None:
    resp = client.get("/api/health")
    assert resp.status_code == 200
    assert resp.get_json()["status"] == "ok"


@pytest.mark.usefixtures("season_2024")
def test_session_and_meeting_documents(client: Any) -> None:
    resp = client.get("/api/sessions/2024_singapore_grand_prix_r")
    assert resp.status_code == 200
    body = resp.get_json()
    assert body["start_utc"] == "2024-09-22T12:00:00Z"
    assert body["start_local"] == "2024-09-22T20:00:00"
    assert body["gmt_offset"] == "+08:00"
    meetings = client.get("/api/meetings?season=2024").get_json()["items"]
    assert len(meetings) == 25
    starts = [m["start_utc"] for m in meetings]
    assert starts == sorted(starts)
    singapore = client.get("/api/meetings/2024_singapore_grand_prix").get_json()
    assert len(singapore["session_ids"]) == 5


def test_current_session_is_the_next_to_start(client: Any, firestore_db: Any) -> None:
    _problem(client.get("/api/sessions/current"), 404)
    now = datetime.now(UTC).replace(microsecond=0)
    for sid, hours in (("2030_past_gp_r", -10), ("2030_next_gp_r", 2), ("2030_later_gp_r", 30)):
        firestore_db.collection("sessions").document(sid).set(
            {"session_id": sid, "start_utc": now + timedelta(hours=hours)}
        )
    assert client.get("/api/sessions/current").get_json()["session_id"] == "2030_next_gp_r"


def test_bad_input_is_a_4xx_problem(client: Any) -> None:
    assert "no session" in _problem(client.get("/api/sessions/2099_nowhere_r"), 404)["detail"]
    assert "no route" in _problem(client.get("/api/nothing-here"), 404)["detail"]
    assert "integer" in _problem(client.get("/api/meetings?season=abc"), 400)["detail"]
    assert "between" in _problem(client.get("/api/meetings?season=1800"), 400)["detail"]
    resp = client.post("/api/sessions/2024_singapore_grand_prix_r")
    _problem(resp, 405)
    assert resp.headers["Allow"] == "GET, HEAD"
    assert "session id" in _problem(client.get("/api/sessions/" + "x" * 300), 400)["detail"]


@pytest.mark.usefixtures("season_2024")
def test_etag_gzip_and_cache_headers(client: Any) -> None:
    import gzip

    plain = client.get("/api/meetings?season=2024", headers={"Accept-Encoding": "identity"})
    assert plain.headers["Cache-Control"] == "public, max-age=300, stale-while-revalidate=300"
    etag = plain.headers["ETag"]
    zipped = client.get("/api/meetings?season=2024", headers={"Accept-Encoding": "gzip, deflate"})
    assert zipped.headers["Content-Encoding"] == "gzip" and zipped.headers["ETag"] == etag
    assert gzip.decompress(zipped.get_data()) == plain.get_data()
    assert "Accept-Encoding" in zipped.headers["Vary"]
    again = client.get("/api/meetings?season=2024", headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.get_data() == b"" and again.headers["ETag"] == etag
    assert client.get("/api/meetings?season=2024", headers={"If-None-Match": '"stale"'}).status_code == 200
    live = client.get("/api/sessions/2024_singapore_grand_prix_r")
    assert live.headers["Cache-Control"] == "public, max-age=10"
    head = client.head("/api/sessions/2024_singapore_grand_prix_r")
    assert head.status_code == 200 and head.get_data() == b"" and head.headers["ETag"] == live.headers["ETag"]
    assert client.get("/api/health").headers["Cache-Control"] == "private, no-store"


def test_cors_for_the_configured_origins(firestore_db: Any) -> None:
    import os

    from shared.config import get_settings

    os.environ["PITLANE_API_CORS_ORIGINS"] = '["https://app.pitlane.example"]'
    get_settings.cache_clear()
    answers().clear()
    app = functions_framework.create_app("api", str(ROOT / "functions" / "main.py"), "http").test_client()
    ok = app.get("/api/health", headers={"Origin": "https://app.pitlane.example"})
    assert ok.headers["Access-Control-Allow-Origin"] == "https://app.pitlane.example"
    assert "ETag" in ok.headers["Access-Control-Expose-Headers"] and "Origin" in ok.headers["Vary"]
    other = app.get("/api/health", headers={"Origin": "https://evil.example"})
    assert "Access-Control-Allow-Origin" not in other.headers
    pre = app.options(
        "/api/races/2025_x",
        headers={"Origin": "https://app.pitlane.example", "Access-Control-Request-Method": "GET"},
    )
    assert (
        pre.status_code == 204 and pre.headers["Access-Control-Allow-Origin"] == "https://app.pitlane.example"
    )
    assert pre.headers["Access-Control-Allow-Methods"] == "GET, HEAD, OPTIONS"
    assert "If-None-Match" in pre.headers["Access-Control-Allow-Headers"]
    assert app.options("/api/nowhere", headers={"Origin": "https://app.pitlane.example"}).status_code == 404
