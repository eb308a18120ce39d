"""Subscriptions (lenient parsing, ids), filters, quiet hours in the subscriber's zone, and the
send/hold/drop decision (pure)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from shared.notify.matching import decide, matches, quiet_until
from shared.notify.model import (
    FcmChannel,
    QuietHours,
    Subscription,
    Topic,
    WebhookChannel,
    channel_id,
    parse_subscription,
    subscription_id,
)
from shared.notify.occurrences import Occurrence, reminder_occurrence, session_context

HOOK = {"type": "webhook", "url": "https://hooks.example.com/pitlane", "secret": "s" * 20}
T = datetime(2024, 9, 22, 12, 0, tzinfo=UTC)


def _sub(**kw: Any) -> Subscription:
    fields: dict[str, Any] = {"id": "s1", "uid": "alice", "topics": ["sc"], "channels": [HOOK]}
    return Subscription.model_validate(fields | kw)


def _occ(**kw: Any) -> Occurrence:
    fields: dict[str, Any] = {
        "occurrence_id": "x:sc:1",
        "topics": ["sc"],
        "title": "Safety Car",
        "body": "b",
        "utc": T,
        "session_id": "2024_singapore_grand_prix_r",
        "meeting_id": "2024_singapore_grand_prix",
    }
    return Occurrence.model_validate(fields | kw)


def test_stored_documents_are_read_leniently() -> None:
    doc = {
        "topics": ["sc", "race_start", "vsc"],
        "channels": ["push", HOOK, {"type": "webhook", "url": "ftp://x", "secret": "short"}],
        "time_zone": "Europe/Rome",
        "quiet_hours": {"start": "23:00", "end": "07:00"},
    }
    sub, problems = parse_subscription("alice", "s1", doc)
    assert sub is not None
    assert sub.topics == (Topic.SC, Topic.VSC)
    assert [c.type for c in sub.channels] == ["webhook"]
    assert len(problems) == 3  # the unknown topic, the bare string, the invalid webhook
    none, why = parse_subscription("bob", "s2", {"topics": ["race_start"], "channels": [HOOK]})
    assert none is None and why[-1] == "no known topic"
    assert parse_subscription("bob", "s3", {"topics": ["sc"], "channels": ["push"]})[0] is None
    bad_zone, why = parse_subscription(
        "bob", "s4", {"topics": ["sc"], "channels": [HOOK], "time_zone": "Mars/Base"}
    )
    assert bad_zone is None and "invalid" in why[-1]


def test_document_round_trip_and_ids() -> None:
    sub = _sub(filters={"drivers": ["44"]}, channels=[HOOK, {"type": "fcm", "token": "tok-123"}])
    doc = sub.to_doc()
    assert doc["filters"] == {"drivers": ["44"]}
    assert doc["channels"][1] == {"type": "fcm", "token": "tok-123"}
    again, problems = parse_subscription("alice", "s1", doc)
    assert again == sub and problems == []
    fcm = FcmChannel(token="tok-123")
    assert channel_id(fcm) == channel_id(FcmChannel(token="tok-123")) != channel_id(WebhookChannel(**HOOK))
    assert "tok" not in channel_id(fcm)
    body = {"topics": ["sc"], "channels": [HOOK]}
    assert subscription_id("alice", body) == subscription_id("alice", dict(body))
    assert subscription_id("alice", body) != subscription_id("bob", body)


def test_filters() -> None:
    occ = _occ()
    assert matches(_sub(), occ)
    assert not matches(_sub(topics=["vsc"]), occ)
    assert matches(_sub(filters={"meetings": ["2024_singapore_grand_prix"]}), occ)
    assert not matches(_sub(filters={"meetings": ["2024_italian_grand_prix"]}), occ)
    assert not matches(_sub(filters={"series": ["f2"]}), occ)
    # Drivers restrict only occurrences naming drivers.
    assert matches(_sub(filters={"drivers": ["44"]}), occ)
    assert matches(_sub(filters={"drivers": ["44"]}), _occ(drivers=("44", "1")))
    assert not matches(_sub(filters={"drivers": ["44"]}), _occ(drivers=("16",)))
    # A cancellation is also a delay: a subscriber of either hears of it.
    cancelled = _occ(topics=["session_delayed", "schedule_changed"])
    assert matches(_sub(topics=["schedule_changed"]), cancelled)


@pytest.mark.parametrize(
    ("start", "end", "local", "until"),
    [
        ("23:00", "07:00", "2024-09-22T01:30", "2024-09-22T07:00"),  # after midnight
        ("23:00", "07:00", "2024-09-21T23:10", "2024-09-22T07:00"),  # before midnight
        ("23:00", "07:00", "2024-09-22T07:00", None),  # the end is not quiet
        ("23:00", "07:00", "2024-09-22T12:00", None),
        ("12:00", "14:00", "2024-09-22T13:59", "2024-09-22T14:00"),
        ("08:00", "08:00", "2024-09-22T08:00", None),  # equal: no quiet hours
    ],
)
def test_quiet_hours_in_the_subscribers_zone(start: str, end: str, local: str, until: str | None) -> None:
    zone = "Asia/Singapore"  # UTC+8, no daylight saving
    at = datetime.fromisoformat(local + "+08:00")
    got = quiet_until(QuietHours(start=start, end=end), zone, at)
    assert got == (datetime.fromisoformat(until + "+08:00") if until else None)
    assert got is None or got.tzinfo is UTC


def test_quiet_hours_across_daylight_saving() -> None:
    quiet = QuietHours(start="22:00", end="07:00")
    # Paris, night of 30 to 31 March 2024: clocks go from 02:00 CET to 03:00 CEST.
    at = datetime(2024, 3, 30, 23, 30, tzinfo=UTC)  # 00:30 CET
    assert quiet_until(quiet, "Europe/Paris", at) == datetime(2024, 3, 31, 5, 0, tzinfo=UTC)  # 07:00 CEST
    # Night of 26 to 27 October 2024: back from CEST to CET.
    at = datetime(2024, 10, 26, 21, 0, tzinfo=UTC)  # 23:00 CEST
    assert quiet_until(quiet, "Europe/Paris", at) == datetime(2024, 10, 27, 6, 0, tzinfo=UTC)  # 07:00 CET


def test_decide_send_hold_drop() -> None:
    occ = _occ()
    assert decide(_sub(), occ, T).action == "send"
    quiet = {"start": "19:00", "end": "23:00", "action": "hold"}  # T is 20:00 in Singapore
    held = decide(_sub(quiet_hours=quiet, time_zone="Asia/Singapore"), occ, T)
    assert (held.action, held.not_before) == ("hold", datetime(2024, 9, 22, 15, 0, tzinfo=UTC))
    dropped = decide(_sub(quiet_hours={**quiet, "action": "drop"}, time_zone="Asia/Singapore"), occ, T)
    assert dropped.action == "drop"
    assert decide(_sub(quiet_hours=quiet, time_zone="Europe/London"), occ, T).action == "send"


def test_decide_reminders_by_lead_and_expiry() -> None:
    start = T + timedelta(minutes=120)
    occ = reminder_occurrence(session_context("2024_singapore_grand_prix_r", None), starts_utc=start)
    sub = _sub(topics=["reminder"], reminder_lead_min=30)
    held = decide(sub, occ, T)
    assert (held.action, held.not_before) == ("hold", start - timedelta(minutes=30))
    assert decide(_sub(topics=["reminder"], reminder_lead_min=120), occ, T).action == "send"
    assert decide(sub, occ, start).action == "drop"  # expired
    # Quiet until after the start: a reminder then is pointless.
    quiet = {"start": "19:00", "end": "23:59", "action": "hold"}
    late = decide(_sub(topics=["reminder"], quiet_hours=quiet, time_zone="Asia/Singapore"), occ, T)
    assert late.action == "drop" and "expired" in late.reason
