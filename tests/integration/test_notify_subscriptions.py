"""Acceptance 6: a user cannot read or change another user's subscriptions, through the API's
service (the uid comes from a verified ID token) or the security rules (the Firestore emulator
with ``firestore.rules``); what a client writes under the rules is what notify reads. Plus the
``pitlane subscriptions`` CLI."""

from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from infra import subscriptions_cli
from shared.auth import AuthError, bearer_token, verify_id_token
from shared.config import Settings
from shared.errors import BadRequestError, NotFoundError
from shared.notify.model import Topic
from shared.services.subscriptions import (
    PredictionSubscribe,
    SubscriptionCreate,
    create_subscription,
    delete_subscription,
    list_subscriptions,
    subscribe_prediction,
)
from shared.stores import subscriptions as store
from tests.emulators import FirestoreRest, from_value, id_token
from tests.integration.notify_fixture import notify_settings
from tests.unit.test_notify_auth import signed_token

HOOK = {"type": "webhook", "url": "https://hooks.example.com/alice", "secret": "alice-secret-0123456789"}
BODY = {"topics": ["sc", "vsc", "red_flag"], "channels": [HOOK], "time_zone": "Europe/Rome"}


@pytest.fixture
def api_settings(firestore_env: str) -> Settings:
    return notify_settings()


def _uid(settings: Settings, token: str) -> str:
    """What the API route does first: the caller's uid from ``Authorization: Bearer``."""
    return verify_id_token(bearer_token(f"Bearer {token}"), settings=settings)


def test_users_only_reach_their_own_subscriptions_through_the_api(
    firestore_db: Any, api_settings: Settings
) -> None:
    db, settings = firestore_db, api_settings
    alice, bob = _uid(settings, signed_token("alice-uid")), _uid(settings, signed_token("bob-uid"))
    created = create_subscription(
        db=db, uid=alice, body=SubscriptionCreate.model_validate(BODY), settings=settings
    )
    assert created.channels[0].hint == "6789" and "secret" not in created.model_dump_json()
    again = create_subscription(
        db=db, uid=alice, body=SubscriptionCreate.model_validate(BODY), settings=settings
    )
    assert again.id == created.id  # a retried POST creates nothing new
    swing = subscribe_prediction(
        db=db, uid=bob, body=PredictionSubscribe.model_validate({"channels": [HOOK]}), settings=settings
    )
    assert swing.topics == [Topic.PREDICTION_SWING]

    assert [s.id for s in list_subscriptions(db=db, uid=alice).subscriptions] == [created.id]
    assert [s.id for s in list_subscriptions(db=db, uid=bob).subscriptions] == [swing.id]
    with pytest.raises(NotFoundError):
        delete_subscription(db=db, uid=bob, subscription_id=created.id)
    with pytest.raises(NotFoundError):
        delete_subscription(db=db, uid=bob, subscription_id=f"../../{alice}/subscriptions/{created.id}")
    assert store.get(db, alice, created.id) is not None
    delete_subscription(db=db, uid=alice, subscription_id=created.id)
    assert list_subscriptions(db=db, uid=alice).subscriptions == []
    # The token decides who the caller is: an unsigned one (the emulator's) or a forged one fails.
    for forged in (id_token("alice-uid"), signed_token("alice-uid", key="intruder")):
        with pytest.raises(AuthError):
            _uid(settings, forged)


def test_api_refuses_private_webhooks_off_local_and_too_many_subscriptions(
    firestore_db: Any, api_settings: Settings
) -> None:
    prod_like = api_settings.model_copy(update={"env": "staging"})
    private = {**BODY, "channels": [{**HOOK, "url": "https://169.254.169.254/latest"}]}
    with pytest.raises(BadRequestError, match="not a public address"):
        create_subscription(
            db=firestore_db, uid="alice", body=SubscriptionCreate.model_validate(private), settings=prod_like
        )
    for n in range(store.MAX_PER_USER):
        body = SubscriptionCreate.model_validate({**BODY, "reminder_lead_min": 5 + n})
        create_subscription(db=firestore_db, uid="carol", body=body, settings=api_settings)
    with pytest.raises(BadRequestError, match="at most"):
        create_subscription(
            db=firestore_db, uid="carol", body=SubscriptionCreate.model_validate(BODY), settings=api_settings
        )


def _denied(resp: httpx.Response) -> bool:
    return resp.status_code == 403 and "PERMISSION_DENIED" in resp.text


CLIENT_DOC = {
    "topics": ["sc", "schedule_changed"],
    "filters": {"meetings": ["2024_singapore_grand_prix"], "drivers": ["44"]},
    "channels": [HOOK, {"type": "fcm", "token": "device-token-1"}],
    "quiet_hours": {"start": "23:00", "end": "07:00", "action": "hold"},
    "time_zone": "Europe/Rome",
    "reminder_lead_min": 45,
    "created_at": datetime(2024, 9, 1, tzinfo=UTC),
    "updated_at": datetime(2024, 9, 1, tzinfo=UTC),
}


def test_rules_keep_subscriptions_to_their_owner(firestore_rest: FirestoreRest, firestore_db: Any) -> None:
    alice, bob = id_token("alice-uid"), id_token("bob-uid")
    path = "users/alice-uid/subscriptions/web"
    created = firestore_rest.create(path, CLIENT_DOC, token=alice)
    assert created.status_code == 200, created.text
    assert _denied(firestore_rest.get(path, token=bob))
    assert _denied(firestore_rest.list("users/alice-uid/subscriptions", token=bob))
    assert _denied(
        firestore_rest.update(path, {"channels": [{**HOOK, "url": "https://evil.example.com/"}]}, token=bob)
    )
    assert _denied(firestore_rest.delete(path, token=bob))
    assert _denied(firestore_rest.create("users/alice-uid/subscriptions/planted", CLIENT_DOC, token=bob))
    assert _denied(firestore_rest.get(path))
    fields = {k: from_value(v) for k, v in firestore_rest.get(path, token=alice).json()["fields"].items()}
    assert fields["channels"][0]["url"] == HOOK["url"]
    # What the client wrote is what notify finds by topic.
    (found,) = store.with_topics(firestore_db, [Topic.SC])
    assert (found.uid, found.id, found.reminder_lead_min, found.quiet_hours and found.quiet_hours.action) == (
        "alice-uid",
        "web",
        45,
        "hold",
    )


@pytest.mark.parametrize(
    "change",
    [
        pytest.param({"channels": [{**HOOK, "url": "http://hooks.example.com/x"}]}, id="webhook-not-https"),
        pytest.param({"channels": [{**HOOK, "secret": "short"}]}, id="secret-too-short"),
        pytest.param({"channels": [{**HOOK, "extra": 1}]}, id="unknown-channel-key"),
        pytest.param({"channels": [{"type": "sms", "to": "+39"}]}, id="unknown-channel-type"),
        pytest.param({"channels": [{"type": "fcm", "token": ""}]}, id="empty-fcm-token"),
        pytest.param({"quiet_hours": {"start": "25:00", "end": "07:00"}}, id="quiet-hours-bad-time"),
        pytest.param(
            {"quiet_hours": {"start": "23:00", "end": "07:00", "action": "snooze"}}, id="quiet-bad-action"
        ),
        pytest.param({"reminder_lead_min": 600}, id="lead-too-long"),
        pytest.param({"filters": {"teams": ["ferrari"]}}, id="unknown-filter"),
    ],
)
def test_rules_reject_bad_channels_and_settings(
    firestore_rest: FirestoreRest, change: dict[str, Any]
) -> None:
    alice = id_token("alice-uid")
    assert _denied(
        firestore_rest.create("users/alice-uid/subscriptions/bad", {**CLIENT_DOC, **change}, token=alice)
    )


def _cli(args: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Any:
    parser = argparse.ArgumentParser()
    subscriptions_cli.register(parser.add_subparsers())
    parsed = parser.parse_args(["subscriptions", *args, "--state-dir", str(tmp_path)])
    assert parsed.func(parsed) == 0
    return json.loads(capsys.readouterr().out.strip().splitlines()[-1])


def test_cli_add_list_delete(
    api_settings: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    added = _cli(
        ["add", "--user", "ops-test", "--topics", "sc,vsc,red_flag", "--webhook", "http://127.0.0.1:8705/demo",
         "--secret", "pitlane-local-webhook-secret", "--fcm-token", "tok-42", "--meetings",
         "2018_azerbaijan_grand_prix", "--quiet", "23:00-07:00", "--tz", "Asia/Baku", "--lead-min", "15"],
        tmp_path,
        capsys,
    )  # fmt: skip
    assert added["topics"] == ["sc", "vsc", "red_flag"] and added["reminder_lead_min"] == 15
    assert [c["type"] for c in added["channels"]] == ["webhook", "fcm"]
    assert added["quiet_hours"] == {"start": "23:00", "end": "07:00", "action": "hold"}
    listed = _cli(["list", "--user", "ops-test"], tmp_path, capsys)
    assert [s["id"] for s in listed["subscriptions"]] == [added["id"]]
    assert _cli(["delete", "--user", "ops-test", "--id", added["id"]], tmp_path, capsys) == {
        "deleted": added["id"]
    }
    assert _cli(["list", "--user", "ops-test"], tmp_path, capsys) == {"subscriptions": []}
    parser = argparse.ArgumentParser()
    subscriptions_cli.register(parser.add_subparsers())
    bad = parser.parse_args(
        ["subscriptions", "add", "--user", "u", "--topics", "sc", "--webhook", "http://x/y"]
    )
    with pytest.raises(BadRequestError, match="--secret"):
        bad.func(bad)
