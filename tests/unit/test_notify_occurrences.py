"""What race events, schedule changes and reminders mean to subscribers (pure), checked on the
2018 Azerbaijan GP race run through the real reducer."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from shared.feed import archive_messages, estimate_start_utc, read_archive_dir
from shared.models.schedule import ScheduleChange
from shared.notify.model import Topic
from shared.notify.occurrences import (
    classify_race_event,
    meeting_of,
    meeting_title,
    race_occurrence,
    reminder_due,
    reminder_occurrence,
    schedule_occurrence,
    session_context,
)
from shared.timing.models import EventKind, RaceEvent
from shared.timing.reducer import SessionReducer

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT.parent / "shared" / "data"
BAKU = DATA / "livetiming/static/2018/2018-04-29_Azerbaijan_Grand_Prix/2018-04-29_Race"
needs_data = pytest.mark.skipif(not BAKU.is_dir(), reason="recorded data folder not present")
SID = "2018_azerbaijan_grand_prix_r"
T = datetime(2018, 4, 29, 12, 14, 31, tzinfo=UTC)


def _event(kind: EventKind, key: str, **data: object) -> RaceEvent:
    return RaceEvent.make(SID, kind, key, T, **data)


@pytest.mark.parametrize(
    ("kind", "data", "topic", "incident"),
    [
        (EventKind.TRACK_STATUS, {"status": "sc", "code": "4"}, Topic.SC, True),
        (EventKind.TRACK_STATUS, {"status": "vsc", "code": "6"}, Topic.VSC, True),
        (EventKind.TRACK_STATUS, {"status": "red", "code": "5"}, Topic.RED_FLAG, True),
        (EventKind.RACE_CONTROL, {"n": 8, "message": "SAFETY CAR DEPLOYED", "lap": 1}, Topic.SC, True),
        (EventKind.RACE_CONTROL, {"n": 9, "message": "VIRTUAL SAFETY CAR DEPLOYED"}, Topic.VSC, True),
        (EventKind.RACE_CONTROL, {"n": 10, "message": "RED FLAG", "flag": "RED"}, Topic.RED_FLAG, True),
        (EventKind.RACE_CONTROL, {"n": 11, "message": "START DELAYED"}, Topic.SESSION_DELAYED, False),
        (
            EventKind.RACE_CONTROL,
            {"n": 12, "message": "SESSION WILL NOT RESUME"},
            Topic.SESSION_DELAYED,
            False,
        ),
        (EventKind.SESSION_STATUS, {"status": "Finished"}, Topic.RESULTS, False),
    ],
)
def test_alert_events_are_classified(
    kind: EventKind, data: dict[str, object], topic: Topic, incident: bool
) -> None:
    signal = classify_race_event(_event(kind, "k", **data))
    assert signal is not None
    assert (signal.topic, signal.incident) == (topic, incident)


@pytest.mark.parametrize(
    ("kind", "data"),
    [
        (EventKind.TRACK_STATUS, {"status": "yellow"}),
        (EventKind.TRACK_STATUS, {"status": "vsc_ending"}),
        (EventKind.RACE_CONTROL, {"message": "SAFETY CAR IN THIS LAP"}),
        (EventKind.RACE_CONTROL, {"message": "CHEQUERED FLAG", "flag": "CHEQUERED"}),
        (EventKind.SESSION_STATUS, {"status": "Started"}),
        (EventKind.LAP_COMPLETED, {"driver_number": "44", "lap": 3}),
        (EventKind.PIT_IN, {"driver_number": "44"}),
    ],
)
def test_other_events_notify_nobody(kind: EventKind, data: dict[str, object]) -> None:
    assert classify_race_event(_event(kind, "k", **data)) is None


def _track_status_deployments() -> dict[Topic, int]:
    """SC/VSC/red flag deployments as the raw TrackStatus file states them (changes into '4',
    '6', '5'; each line is ``HH:MM:SS.mmm`` then the JSON)."""
    topics = {"4": Topic.SC, "6": Topic.VSC, "5": Topic.RED_FLAG}
    found: dict[Topic, int] = {}
    previous = None
    for line in (BAKU / "TrackStatus.jsonStream").read_text(encoding="utf-8-sig").splitlines():
        status = json.loads(line[12:])["Status"]
        if status in topics and status != previous:
            found[topics[status]] = found.get(topics[status], 0) + 1
        previous = status
    return found


def _race_control_deployments() -> dict[Topic, int]:
    counts: dict[Topic, int] = {}
    text = (BAKU / "RaceControlMessages.jsonStream").read_text(encoding="utf-8-sig")
    for msg in re.findall(r'"Message":"([^"]*)"', text):
        if "VIRTUAL SAFETY CAR DEPLOYED" in msg:
            counts[Topic.VSC] = counts.get(Topic.VSC, 0) + 1
        elif "SAFETY CAR DEPLOYED" in msg:
            counts[Topic.SC] = counts.get(Topic.SC, 0) + 1
        elif msg.startswith("RED FLAG"):
            counts[Topic.RED_FLAG] = counts.get(Topic.RED_FLAG, 0) + 1
    return counts


@needs_data
def test_baku_signals_pair_up_into_the_deployments_of_the_data() -> None:
    texts = read_archive_dir(BAKU)
    reducer = SessionReducer()
    events: list[RaceEvent] = []
    for msg in archive_messages(texts, start_utc=estimate_start_utc(texts, session_path=str(BAKU)).utc):
        events += reducer.apply(msg).events
    events += reducer.finish().events
    signals = [(e, s) for e in events if (s := classify_race_event(e)) is not None]
    incident = [(e, s) for e, s in signals if s.incident]
    by_source = {
        kind: {t: sum(1 for e, s in incident if e.kind is kind and s.topic is t) for t in Topic}
        for kind in (EventKind.TRACK_STATUS, EventKind.RACE_CONTROL)
    }
    from_files = _track_status_deployments()
    assert {t: n for t, n in by_source[EventKind.TRACK_STATUS].items() if n} == from_files
    assert {t: n for t, n in by_source[EventKind.RACE_CONTROL].items() if n} == _race_control_deployments()
    assert sum(from_files.values()) >= 1
    # Each track-status signal has a race-control signal of its kind within seconds: one incident.
    for e, s in incident:
        if e.kind is EventKind.TRACK_STATUS:
            partners = [
                abs((p.utc - e.utc).total_seconds())
                for p, q in incident
                if p.kind is EventKind.RACE_CONTROL and q.topic is s.topic
            ]
            assert min(partners) < 5
    assert sum(1 for _, s in signals if s.topic is Topic.RESULTS) == 1


def test_race_occurrence_ids_and_text() -> None:
    ctx = session_context(SID, {"meeting_name": "Azerbaijan Grand Prix", "session_name": "Race"})
    signal = classify_race_event(
        _event(EventKind.RACE_CONTROL, "0008", n=8, message="SAFETY CAR DEPLOYED", lap=1)
    )
    assert signal is not None
    occ = race_occurrence(signal, ctx, incident_n=2)
    assert occ.occurrence_id == f"{SID}:sc:2"
    assert occ.meeting_id == "2018_azerbaijan_grand_prix"
    assert occ.body == "Azerbaijan Grand Prix, Race: Safety Car deployed on lap 1."
    with pytest.raises(ValueError, match="ordinal"):
        race_occurrence(signal, ctx)
    delayed = classify_race_event(_event(EventKind.RACE_CONTROL, "0011", n=11, message="START DELAYED"))
    assert delayed is not None
    assert race_occurrence(delayed, ctx).occurrence_id == f"{SID}:session_delayed:rc0011"


def test_session_context_without_a_stored_document() -> None:
    ctx = session_context("2024_sao_paulo_grand_prix_sq", None)
    assert (ctx.meeting_id, ctx.meeting_name, ctx.session_name) == (
        "2024_sao_paulo_grand_prix",
        "Sao Paulo Grand Prix",
        "Sprint Qualifying",
    )
    assert meeting_of("not-a-session") is None
    assert meeting_title(None) == "Session"


def _change(kind: str, before: datetime | None, after: datetime | None) -> ScheduleChange:
    return ScheduleChange(
        change_id=f"c-{kind}",
        kind=kind,  # type: ignore[arg-type]
        session_id="2024_singapore_grand_prix_q",
        meeting_id="2024_singapore_grand_prix",
        year=2024,
        name="Qualifying",
        before_start_utc=before,
        after_start_utc=after,
    )


def test_schedule_changes_and_their_topics() -> None:
    start = datetime(2024, 9, 21, 13, tzinfo=UTC)
    later = schedule_occurrence(_change("moved", start, start + timedelta(hours=1)))
    assert later.occurrence_id == "schedule:c-moved"
    assert later.topics == (Topic.SESSION_DELAYED, Topic.SCHEDULE_CHANGED)
    assert "{start}" in later.body and "{was}" in later.body
    earlier = schedule_occurrence(_change("moved", start, start - timedelta(hours=1)))
    assert earlier.topics == (Topic.SCHEDULE_CHANGED,)
    cancelled = schedule_occurrence(_change("cancelled", start, None))
    assert cancelled.topics == (Topic.SESSION_DELAYED, Topic.SCHEDULE_CHANGED)
    assert cancelled.body == "Singapore Grand Prix, Qualifying is cancelled."
    assert schedule_occurrence(_change("added", None, start)).title == "Session added"


def test_reminder_expires_at_the_start_and_is_due_lead_minutes_before() -> None:
    start = datetime(2024, 9, 22, 12, tzinfo=UTC)
    occ = reminder_occurrence(session_context("2024_singapore_grand_prix_r", None), starts_utc=start)
    assert occ.occurrence_id == f"2024_singapore_grand_prix_r:reminder:{int(start.timestamp())}"
    assert occ.expires_utc == start
    assert reminder_due(occ, 45) == start - timedelta(minutes=45)
    assert reminder_due(schedule_occurrence(_change("added", None, start)), 45) is None
