"""Webhook signatures (the documented recipe), texts per subscriber, payloads per channel,
destination checks and the API's request models."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pydantic import ValidationError

from shared.errors import BadRequestError
from shared.notify.occurrences import Occurrence, reminder_occurrence, session_context
from shared.notify.render import ImportSummary, ops_alert, push_message, render, webhook_body
from shared.notify.signing import SignatureError, signature_headers, verify
from shared.services.notify_delivery import check_webhook_url
from shared.services.subscriptions import PredictionSubscribe, SubscriptionCreate

SECRET = "a-shared-secret-of-some-length"
NOW = 1_714_392_871


def test_signature_follows_the_documented_recipe() -> None:
    body = b'{"topic":"sc"}'
    headers = signature_headers(SECRET, body, timestamp=NOW)
    # The recipe, written out as a receiver would, independent of shared.notify.signing:
    expected = hmac.new(SECRET.encode(), f"{NOW}.".encode() + body, hashlib.sha256).hexdigest()
    assert headers == {"X-Pitlane-Timestamp": str(NOW), "X-Pitlane-Signature": f"v1={expected}"}
    verify(SECRET, body, timestamp=str(NOW), signature_header=headers["X-Pitlane-Signature"], now=NOW + 10)


@pytest.mark.parametrize(
    ("secret", "body", "timestamp", "now", "why"),
    [
        ("the-wrong-secret-entirely", b'{"topic":"sc"}', str(NOW), NOW, "mismatch"),
        (SECRET, b'{"topic":"vsc"}', str(NOW), NOW, "mismatch"),  # body changed
        (SECRET, b'{"topic":"sc"}', str(NOW + 1), NOW, "mismatch"),  # timestamp changed
        (SECRET, b'{"topic":"sc"}', str(NOW), NOW + 301, "away from now"),  # a replay
        (SECRET, b'{"topic":"sc"}', None, NOW, "malformed"),
    ],
)
def test_signature_fails(secret: str, body: bytes, timestamp: str | None, now: int, why: str) -> None:
    signed = signature_headers(SECRET, b'{"topic":"sc"}', timestamp=NOW)["X-Pitlane-Signature"]
    with pytest.raises(SignatureError, match=why):
        verify(secret, body, timestamp=timestamp, signature_header=signed, now=now)


def test_signature_accepts_any_of_several_during_rotation() -> None:
    body = b"{}"
    old = signature_headers("old-secret-0123456789", body, timestamp=NOW)["X-Pitlane-Signature"]
    new = signature_headers(SECRET, body, timestamp=NOW)["X-Pitlane-Signature"]
    verify(SECRET, body, timestamp=str(NOW), signature_header=f"{old}, {new}", now=NOW)
    with pytest.raises(SignatureError, match="missing"):
        verify(SECRET, body, timestamp=str(NOW), signature_header="sha1=abc", now=NOW)


def _schedule_occ() -> Occurrence:
    return Occurrence(
        occurrence_id="schedule:c1",
        topics=("schedule_changed",),  # type: ignore[arg-type]
        title="Session moved",
        body="Singapore Grand Prix, Qualifying moved: now {start} (was {was}).",
        utc=datetime(2024, 9, 21, 14, tzinfo=UTC),
        session_id="2024_singapore_grand_prix_q",
        meeting_id="2024_singapore_grand_prix",
        starts_utc=datetime(2024, 9, 21, 14, tzinfo=UTC),
        was_utc=datetime(2024, 9, 21, 13, tzinfo=UTC),
    )


def test_times_are_rendered_in_the_subscribers_zone() -> None:
    occ = _schedule_occ()
    now = datetime(2024, 9, 20, tzinfo=UTC)
    paris = render(occ, time_zone="Europe/Paris", now=now)
    assert (
        paris.body
        == "Singapore Grand Prix, Qualifying moved: now Sat 21 Sep 16:00 CEST (was Sat 21 Sep 15:00 CEST)."
    )
    ny = render(occ, time_zone="America/New_York", now=now).body
    assert "Sat 21 Sep 10:00 EDT" in ny
    start = datetime(2024, 9, 22, 12, tzinfo=UTC)
    reminder = reminder_occurrence(session_context("2024_singapore_grand_prix_r", None), starts_utc=start)
    text = render(reminder, time_zone="Asia/Singapore", now=start - timedelta(minutes=90))
    assert text.title == "Race starts in 1 h 30 min"
    assert text.body == "Singapore Grand Prix, Race: Sun 22 Sep 20:00 +08."
    long = occ.model_copy(update={"body": "x" * 500})
    assert len(render(long, time_zone="UTC", now=now).body) == 240


def test_channel_payloads() -> None:
    occ = _schedule_occ()
    now = datetime(2024, 9, 20, tzinfo=UTC)
    text = render(occ, time_zone="UTC", now=now)
    body = webhook_body(occ, text, delivery_id="d1", subscription_id="s1", sent_utc=now)
    doc = json.loads(body)
    assert (doc["delivery_id"], doc["topic"], doc["title"], doc["subscription_id"]) == (
        "d1",
        "schedule_changed",
        "Session moved",
        "s1",
    )
    assert body == json.dumps(doc, sort_keys=True, separators=(",", ":")).encode()
    push = push_message(occ, text, now=now)
    assert push.data == {
        "occurrence_id": "schedule:c1",
        "topic": "schedule_changed",
        "session_id": "2024_singapore_grand_prix_q",
        "meeting_id": "2024_singapore_grand_prix",
    }
    assert push.ttl_s == 86_400


def test_ops_alert_for_every_run_with_a_warning_for_failures() -> None:
    ok = ImportSummary.model_validate(
        {"season": 2023, "processed": 5, "succeeded": 3, "unavailable": 2, "deferred": ["a", "b"]}
    )
    fine = ops_alert(ok).text
    assert fine.startswith(":white_check_mark: *Gap import 2023*: 0 failed, 0 partial of 5 processed")
    assert "(3 complete, 2 unavailable upstream)" in fine and "; 2 deferred" in fine
    summary: dict[str, Any] = {
        "run_id": "r1",
        "season": 2023,
        "processed": 5,
        "succeeded": 3,
        "partial": 1,
        "failed": 1,
        "calls_spent": 40,
        "calls_left": 160,
        "duration_s": 93.2,
        "sessions": [{"session_id": "2023_x_r", "status": "failed", "error": "HTTP 500"}],
        "something_new": [1, 2],
    }
    alert = ops_alert(ImportSummary.model_validate(summary))
    assert alert is not None and alert.alert_id == "imports:r1"
    assert "1 failed, 1 partial of 5 processed" in alert.text and "40 calls spent, 160 left" in alert.text
    assert "- 2023_x_r: failed (HTTP 500)" in alert.text
    unnamed = ops_alert(ImportSummary.model_validate({k: v for k, v in summary.items() if k != "run_id"}))
    assert (
        unnamed is not None and unnamed.alert_id.startswith("imports:") and unnamed.alert_id != "imports:r1"
    )


@pytest.mark.parametrize(
    "url",
    [
        "http://hooks.example.com/x",
        "https://127.0.0.1/x",
        "https://10.1.2.3/x",
        "https://169.254.169.254/computeMetadata/v1/",
        "https://[::1]/x",
        "https://localhost/x",
        "https://metadata.google.internal/x",
        "ftp://example.com/x",
    ],
)
def test_private_or_plain_destinations_are_refused_off_local(url: str) -> None:
    with pytest.raises(BadRequestError):
        check_webhook_url(url, allow_private=False, resolve=False)


def test_public_and_local_destinations() -> None:
    check_webhook_url("https://hooks.example.com/pitlane", allow_private=False, resolve=False)
    check_webhook_url("https://8.8.8.8/x", allow_private=False, resolve=False)
    check_webhook_url("http://127.0.0.1:8705/demo", allow_private=True)


def test_api_request_models() -> None:
    hook = {"type": "webhook", "url": "https://h.example.com/x", "secret": SECRET}
    body = SubscriptionCreate.model_validate({"topics": ["sc", "sc", "vsc"], "channels": [hook]})
    assert [t.value for t in body.topics] == ["sc", "vsc"] and body.reminder_lead_min == 30
    for bad in (
        {"topics": ["race_start"], "channels": [hook]},
        {"topics": ["sc"], "channels": []},
        {"topics": ["sc"], "channels": [{**hook, "secret": "short"}]},
        {"topics": ["sc"], "channels": [hook], "time_zone": "Mars/Base"},
        {"topics": ["sc"], "channels": [hook], "reminder_lead_min": 600},
        {"topics": ["sc"], "channels": [hook], "quiet_hours": {"start": "25:00", "end": "07:00"}},
        {"topics": ["sc"], "channels": [hook], "admin": True},
    ):
        with pytest.raises(ValidationError):
            SubscriptionCreate.model_validate(bad)
    with pytest.raises(ValidationError):
        PredictionSubscribe.model_validate({"topics": ["sc"], "channels": [hook]})  # topics are implied
