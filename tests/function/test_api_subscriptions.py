"""The subscription routes of the ``api`` function (``shared.services.subscriptions`` behind
Firebase ID-token auth) through functions-framework's app and the Firestore emulator; tokens are
real RS256 JWTs signed by a key the settings trust for this test run."""

from __future__ import annotations

import os
from typing import Any

import pytest

from functions.api import answers
from shared.config import get_settings
from tests.function.conftest import load_function
from tests.unit.test_notify_auth import signed_token, trusted_public_pem

HOOK = {"type": "webhook", "url": "https://hooks.example.com/alice", "secret": "alice-secret-0123456789"}
BODY = {"topics": ["sc", "red_flag"], "channels": [HOOK], "time_zone": "Europe/Rome"}


@pytest.fixture
def client(firestore_db: Any) -> Any:
    os.environ["PITLANE_AUTH_TEST_PUBLIC_KEY"] = trusted_public_pem()
    get_settings.cache_clear()
    answers().clear()
    return load_function("api", signature_type="http").client


def _as(uid: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {signed_token(uid)}"}


def _problem(resp: Any, status: int) -> dict[str, Any]:
    assert resp.status_code == status, resp.get_data(as_text=True)
    assert resp.mimetype == "application/problem+json"
    body: dict[str, Any] = resp.get_json(force=True)
    assert body["status"] == status and body["detail"]
    return body


def test_a_user_creates_lists_and_deletes_their_subscriptions(client: Any) -> None:
    created = client.post("/api/subscriptions", json=BODY, headers=_as("alice"))
    assert created.status_code == 201, created.get_data(as_text=True)
    sub = created.get_json()
    assert sub["topics"] == ["sc", "red_flag"] and sub["channels"][0]["hint"] == "6789"
    assert (
        "secret" not in created.get_data(as_text=True)
        and created.headers["Cache-Control"] == "private, no-store"
    )
    again = client.post("/api/subscriptions", json=BODY, headers=_as("alice"))
    assert again.status_code == 201 and again.get_json()["id"] == sub["id"]  # idempotent
    swing = client.post("/api/v1/prediction/subscribe", json={"channels": [HOOK]}, headers=_as("alice"))
    assert swing.status_code == 201 and swing.get_json()["topics"] == ["prediction_swing"]
    mine = client.get("/api/subscriptions", headers=_as("alice")).get_json()["subscriptions"]
    assert {s["id"] for s in mine} == {sub["id"], swing.get_json()["id"]}
    assert client.get("/api/subscriptions", headers=_as("bob")).get_json() == {"subscriptions": []}
    _problem(client.delete(f"/api/subscriptions/{sub['id']}", headers=_as("bob")), 404)  # not bob's
    deleted = client.delete(f"/api/subscriptions/{sub['id']}", headers=_as("alice"))
    assert deleted.status_code == 204 and deleted.get_data() == b""
    _problem(client.delete(f"/api/subscriptions/{sub['id']}", headers=_as("alice")), 404)


def test_subscription_errors_are_problems(client: Any) -> None:
    missing = _problem(client.get("/api/subscriptions"), 401)
    assert "bearer" in missing["detail"].lower()
    assert client.get("/api/subscriptions").headers["WWW-Authenticate"].startswith("Bearer")
    forged = {"Authorization": f"Bearer {signed_token('mallory', key='untrusted')}"}
    _problem(client.get("/api/subscriptions", headers=forged), 401)
    bad = _problem(
        client.post("/api/subscriptions", json={**BODY, "topics": ["nope"]}, headers=_as("alice")), 422
    )
    assert bad["errors"][0]["where"] == "body" and bad["errors"][0]["name"].startswith("topics")
    _problem(client.post("/api/subscriptions", json={**BODY, "extra": 1}, headers=_as("alice")), 422)
    _problem(
        client.post(
            "/api/subscriptions", data="{not json", content_type="application/json", headers=_as("alice")
        ),
        400,
    )
    _problem(
        client.post("/api/subscriptions", data="x=1", content_type="text/plain", headers=_as("alice")), 415
    )
    big = {**BODY, "time_zone": "x" * 70_000}
    _problem(client.post("/api/subscriptions", json=big, headers=_as("alice")), 413)
    _problem(client.put("/api/subscriptions", json=BODY, headers=_as("alice")), 405)
