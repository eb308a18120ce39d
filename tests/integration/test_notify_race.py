"""Acceptance 1: the 2018 Azerbaijan GP race replayed through the production path (the reducer,
the event publisher with its Firestore ledger, ``race-events`` on the Pub/Sub emulator); every
race event that can alert pushed three times at once, the others three times in a row, to
``notify_race_events`` (functions-framework, as a Pub/Sub push, again on a non-2xx answer). A
webhook subscriber of SC, VSC and red flags gets exactly one notification per deployment in the
race control and track status data, and none twice.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import functions_framework

from shared import gcp
from shared.events import EventPublisher
from shared.feed import archive_messages, estimate_start_utc, read_archive_dir
from shared.notify.signing import verify
from shared.stores.notifications import LEDGER
from shared.stores.session_store import session_path
from shared.timing.models import RaceEvent
from shared.timing.reducer import SessionReducer
from tests.emulators import PubSubHelper
from tests.integration.notify_fixture import ROOT, SECRET, NotifyEnv, deliver, ensure_topic, notify_env, sink

__all__ = ["notify_env", "sink"]  # fixtures used below

SID = "2018_azerbaijan_grand_prix_r"
BAKU = "livetiming/static/2018/2018-04-29_Azerbaijan_Grand_Prix/2018-04-29_Race"
ALERT_KINDS = {"track_status", "race_control", "session_status"}


def deployments_in_data(folder: Path) -> list[str]:
    """SC/VSC/red-flag deployments, in order, from the raw archive files: changes of TrackStatus
    into '4' (SC), '6' (VSC), '5' (red); checked against the race-control messages announcing
    them (both sources must agree on the count of each kind)."""
    codes = {"4": "sc", "6": "vsc", "5": "red_flag"}
    from_track, previous = [], None
    for line in (folder / "TrackStatus.jsonStream").read_text(encoding="utf-8-sig").splitlines():
        status = json.loads(line[12:])["Status"]
        if status in codes and status != previous:
            from_track.append(codes[status])
        previous = status
    text = (folder / "RaceControlMessages.jsonStream").read_text(encoding="utf-8-sig")
    from_messages = []
    for message in re.findall(r'"Message":"([^"]*)"', text):
        if "VIRTUAL SAFETY CAR DEPLOYED" in message:
            from_messages.append("vsc")
        elif "SAFETY CAR DEPLOYED" in message:
            from_messages.append("sc")
        elif message.startswith("RED FLAG"):
            from_messages.append("red_flag")
    assert sorted(from_track) == sorted(from_messages), (from_track, from_messages)
    return from_track


def test_baku_safety_cars_reach_the_webhook_once_each(notify_env: NotifyEnv, pubsub: PubSubHelper) -> None:
    env = notify_env
    folder = env.settings.require_data_dir / BAKU
    expected = deployments_in_data(folder)
    assert expected  # the race had safety cars
    env.subscribe("alice", ["sc", "vsc", "red_flag"], time_zone="Asia/Baku")
    env.subscribe("bob", ["sc", "vsc", "red_flag"], filters={"meetings": ["2018_monaco_grand_prix"]})
    env.subscribe("carol", ["results", "sc"], filters={"drivers": ["44"]})

    publisher_path_events: list[RaceEvent] = []
    topic = ensure_topic(pubsub, env.settings, "race-events")
    pulled = pubsub.make_pull_subscription(topic)
    # The production path from feed to topic: the reducer, then the event publisher (its ledger
    # in Firestore, one message per event); the session document as the live pipeline writes it.
    texts = read_archive_dir(folder)
    reducer = SessionReducer()
    for msg in archive_messages(texts, start_utc=estimate_start_utc(texts, session_path=str(folder)).utc):
        publisher_path_events.extend(reducer.apply(msg).events)
    publisher_path_events.extend(reducer.finish().events)
    env.db.document(session_path(SID)).set(reducer.session().model_dump(mode="python"))
    publisher = EventPublisher(db=env.db, publisher=gcp.publisher_client(env.settings), settings=env.settings)
    publisher.add(publisher_path_events)
    published = publisher.flush()
    assert published == len(publisher_path_events) > 1000
    events = pubsub.pull_all(pulled, timeout=60, expected=published)
    assert len(events) == published

    app = functions_framework.create_app(
        "notify_race_events", str(ROOT / "functions/notify_race_events.py"), "cloudevent"
    )
    statuses: list[int] = []
    for message in events:
        # Three concurrent deliveries of the events that can alert; the rest three times in a row.
        copies = 3 if message.attributes["kind"] in ALERT_KINDS else 1
        for _ in range(3 // copies):
            statuses += deliver(app, "race-events", message, copies=copies)
    assert len([s for s in statuses if s == 200]) == 3 * len(events)

    got = env.sink.received("/alice")
    assert [r.json()["topic"] for r in got] == expected
    assert len({r.json()["occurrence_id"] for r in got}) == len(expected)
    assert {r.json()["occurrence_id"] for r in got} == {
        f"{SID}:{topic}:{n}" for topic in set(expected) for n in range(1, expected.count(topic) + 1)
    }
    for r in got:
        assert r.signature == "ok"
        verify(
            SECRET,
            r.body,
            timestamp=r.headers["x-pitlane-timestamp"],
            signature_header=r.headers["x-pitlane-signature"],
            now=r.received_at,
        )
    first: dict[str, Any] = got[0].json()
    assert first["title"] == "Safety Car" and first["body"].startswith("Azerbaijan Grand Prix, Race: ")
    assert env.sink.received("/bob") == []  # another meeting
    carol = [r.json()["topic"] for r in env.sink.received("/carol")]
    assert sorted(carol) == sorted([t for t in expected if t == "sc"] + ["results"])
    sent = [d.to_dict() for d in env.db.collection(LEDGER).stream()]
    assert sorted(d["state"] for d in sent) == ["sent"] * len(sent)
    assert len(sent) == len(got) + len(carol)
