"""firestore.rules, enforced by the Firestore emulator, as client apps meet them over REST.

Anonymous requests carry no token, signed-in ones an unsigned Firebase ID token
(``tests.emulators.id_token``); the backend's writes (seeding here) use ``Bearer owner``, which
bypasses the rules as admin credentials do in production.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from tests.emulators import FirestoreRest, from_value, id_token

ALICE, BOB = "alice-uid", "bob-uid"

PUBLISHED = [
    "meetings/2024_monza",
    "sessions/2024_monza_race",
    "sessions/2024_monza_race/drivers/16",
    "sessions/2024_monza_race/laps/16_001",
    "sessions/2024_monza_race/race_control/0001",
    "sessions/2024_monza_race/weather/0001",
    "sessions/2024_monza_race/live/state",
    "meetings/2024_monza/timeline/weekend",
    "predictions/2024_monza_race",
    "predictions/2024_monza_race/laps/050",
    "races/2024_16",
    "circuits/monza",
]
INTERNAL = [
    "quota_ledgers/openf1_2024-09-01",
    "import_plans/2024",
    "notification_ledgers/alice-uid_2024_monza_race",
    "checkpoints/2024_monza_race",
    "live_checkpoints/2024_monza_race",
    "sessions/2024_monza_race/event_ledger/2024_monza_race:lap_completed:16_001",
    "sessions/2024_monza_race/openf1_watermarks/laps",
    "schedule_changes/abc",
    "schedule_tasks/record-2024_monza_race-1",
    "race_keys/1246",
    f"users/{ALICE}",
    "unknown_collection/doc",
]
SUBSCRIPTION = {
    "topics": ["race_start", "safety_car"],
    "filters": {"drivers": ["16", "44"]},
    "channels": ["push"],
    "quiet_hours": {"start": "23:00", "end": "07:00"},
    "time_zone": "Europe/Rome",
    "created_at": datetime(2024, 9, 1, 12, 0, tzinfo=UTC),
    "updated_at": datetime(2024, 9, 1, 12, 0, tzinfo=UTC),
}


def _denied(resp: httpx.Response) -> bool:
    return resp.status_code == 403 and "PERMISSION_DENIED" in resp.text


def _fields(resp: httpx.Response) -> dict[str, Any]:
    return {k: from_value(v) for k, v in resp.json().get("fields", {}).items()}


@pytest.fixture
def seeded(firestore_rest: FirestoreRest) -> FirestoreRest:
    docs: dict[str, dict[str, Any]] = {path: {"seed": path} for path in PUBLISHED + INTERNAL}
    docs[f"users/{ALICE}/subscriptions/main"] = {"topics": ["race_start"]}
    docs[f"users/{BOB}/subscriptions/main"] = {"topics": ["qualifying"]}
    firestore_rest.admin_set_many(docs)
    return firestore_rest


# --- published content ----------------------------------------------------------------------------


@pytest.mark.parametrize("path", PUBLISHED)
def test_anyone_reads_published_content(seeded: FirestoreRest, path: str) -> None:
    for token in (None, id_token(ALICE)):
        resp = seeded.get(path, token=token)
        assert resp.status_code == 200, resp.text
        assert _fields(resp) == {"seed": path}


def test_anonymous_lists_published_collections(seeded: FirestoreRest) -> None:
    resp = seeded.list("sessions/2024_monza_race/laps")
    assert resp.status_code == 200, resp.text
    assert [d["name"].rsplit("/", 1)[-1] for d in resp.json()["documents"]] == ["16_001"]
    assert seeded.list("sessions").status_code == 200
    assert seeded.list("predictions/2024_monza_race/laps").status_code == 200


# Anonymous callers also try Alice's subscriptions; Alice herself may write those (tested below).
WRITE_ATTEMPTS = [("anonymous", p) for p in [*PUBLISHED, *INTERNAL, f"users/{ALICE}/subscriptions/main"]] + [
    ("signed-in", p) for p in PUBLISHED + INTERNAL
]


@pytest.mark.parametrize(("who", "path"), WRITE_ATTEMPTS)
def test_clients_cannot_write_published_or_internal_data(seeded: FirestoreRest, who: str, path: str) -> None:
    token = id_token(ALICE) if who == "signed-in" else None
    collection = path.rsplit("/", 1)[0]
    assert _denied(seeded.create(f"{collection}/new_doc", {"topics": ["x"]}, token=token))
    assert _denied(seeded.set(path, {"topics": ["x"]}, token=token))
    assert _denied(seeded.update(path, {"seed": "changed"}, token=token))
    assert _denied(seeded.delete(path, token=token))
    # Nothing changed.
    assert _fields(seeded.get(path, token="owner")) == (
        {"topics": ["race_start"]}
        if path.startswith("users/") and "/subscriptions/" in path
        else {"seed": path}
    )


# --- server-only data -----------------------------------------------------------------------------


@pytest.mark.parametrize("path", INTERNAL)
def test_internal_collections_are_unreadable(seeded: FirestoreRest, path: str) -> None:
    collection = path.rsplit("/", 1)[0]
    for token in (None, id_token(ALICE)):
        assert _denied(seeded.get(path, token=token))
        assert _denied(seeded.list(collection, token=token))


# --- users/{uid}/subscriptions --------------------------------------------------------------------


def test_user_cannot_touch_another_users_subscriptions(seeded: FirestoreRest) -> None:
    alice = id_token(ALICE)
    bob_sub = f"users/{BOB}/subscriptions/main"
    assert _denied(seeded.get(bob_sub, token=alice))
    assert _denied(seeded.list(f"users/{BOB}/subscriptions", token=alice))
    assert _denied(seeded.create(f"users/{BOB}/subscriptions/planted", SUBSCRIPTION, token=alice))
    assert _denied(seeded.set(bob_sub, SUBSCRIPTION, token=alice))
    assert _denied(seeded.update(bob_sub, {"topics": ["spam"]}, token=alice))
    assert _denied(seeded.delete(bob_sub, token=alice))
    assert _fields(seeded.get(bob_sub, token=id_token(BOB))) == {"topics": ["qualifying"]}


def test_anonymous_cannot_read_subscriptions(seeded: FirestoreRest) -> None:
    assert _denied(seeded.get(f"users/{ALICE}/subscriptions/main"))
    assert _denied(seeded.list(f"users/{ALICE}/subscriptions"))


def test_user_manages_own_subscriptions(firestore_rest: FirestoreRest) -> None:
    alice = id_token(ALICE)
    path = f"users/{ALICE}/subscriptions/monza"

    created = firestore_rest.create(path, SUBSCRIPTION, token=alice)
    assert created.status_code == 200, created.text

    got = firestore_rest.get(path, token=alice)
    assert got.status_code == 200
    assert _fields(got)["topics"] == ["race_start", "safety_car"]
    listed = firestore_rest.list(f"users/{ALICE}/subscriptions", token=alice)
    assert [d["name"].rsplit("/", 1)[-1] for d in listed.json()["documents"]] == ["monza"]

    updated = firestore_rest.update(
        path, {"topics": ["race_start"], "updated_at": datetime.now(UTC)}, token=alice
    )
    assert updated.status_code == 200, updated.text
    assert _fields(firestore_rest.get(path, token=alice))["topics"] == ["race_start"]

    minimal = firestore_rest.create(f"users/{ALICE}/subscriptions/min", {"topics": ["x"]}, token=alice)
    assert minimal.status_code == 200, minimal.text

    assert firestore_rest.delete(path, token=alice).status_code == 200
    assert firestore_rest.get(path, token="owner").status_code == 404


@pytest.mark.parametrize(
    "change",
    [
        pytest.param({"topics": []}, id="empty-topics"),
        pytest.param({"topics": "race_start"}, id="topics-not-a-list"),
        pytest.param({"topics": [f"t{i}" for i in range(21)]}, id="too-many-topics"),
        pytest.param({"topics": ["race_start", "race_start"]}, id="duplicate-topics"),
        pytest.param({"topics": [1]}, id="topic-not-a-string"),
        pytest.param({"topics": None}, id="topics-null"),
        pytest.param({"admin": True}, id="unknown-key"),
        pytest.param({"filters": ["16"]}, id="filters-not-a-map"),
        pytest.param({"channels": ["push"] * 6}, id="too-many-channels"),
        pytest.param({"time_zone": "X" * 65}, id="time-zone-too-long"),
        pytest.param({"created_at": "yesterday"}, id="created-at-not-a-timestamp"),
    ],
)
def test_bad_subscription_shapes_are_rejected(firestore_rest: FirestoreRest, change: dict[str, Any]) -> None:
    alice = id_token(ALICE)
    path = f"users/{ALICE}/subscriptions/bad"
    assert _denied(firestore_rest.create(path, {**SUBSCRIPTION, **change}, token=alice))

    # The same change is refused on update of a valid document.
    assert firestore_rest.create(path, SUBSCRIPTION, token=alice).status_code == 200
    assert _denied(firestore_rest.update(path, change, token=alice))


def test_subscription_needs_topics_and_keeps_created_at(firestore_rest: FirestoreRest) -> None:
    alice = id_token(ALICE)
    without_topics = {k: v for k, v in SUBSCRIPTION.items() if k != "topics"}
    assert _denied(firestore_rest.create(f"users/{ALICE}/subscriptions/none", without_topics, token=alice))

    path = f"users/{ALICE}/subscriptions/kept"
    assert firestore_rest.create(path, SUBSCRIPTION, token=alice).status_code == 200
    assert _denied(firestore_rest.update(path, {"created_at": datetime.now(UTC)}, token=alice))
    # Replacing the whole document without created_at would drop it: also refused.
    assert _denied(firestore_rest.set(path, {"topics": ["x"]}, token=alice))
