"""The session writer and the race-events publisher against the Firestore and Pub/Sub emulators.

The writer reads state from a reducer; here a small stand-in holding hand-made models plays the
reducer (the real one is exercised end to end in ``test_ingest.py``).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from shared.config import Settings
from shared.errors import TransientError
from shared.events import EventPublisher, ledger_path
from shared.stores.session_store import SessionWriter
from shared.timing.models import (
    DriverRow,
    EventKind,
    Lap,
    RaceControlMessage,
    RaceEvent,
    SessionLive,
    TimingTower,
    TrackStatus,
    WeatherSample,
)
from shared.timing.reducer import Changes

SID = "2018_azerbaijan_grand_prix_r"
T0 = datetime(2018, 4, 29, 12, 10, tzinfo=UTC)


@dataclass
class StateStandIn:
    """What the writer asks a reducer for."""

    session_id: str = SID
    rows: dict[str, DriverRow] = field(default_factory=dict)
    lap_list: list[Lap] = field(default_factory=list)
    lap_now: int = 1

    def tower(self) -> TimingTower:
        return TimingTower(
            session_id=SID, updated_utc=T0, current_lap=self.lap_now, rows=list(self.rows.values())
        )

    def session(self) -> SessionLive:
        return SessionLive(session_id=SID, status="Started", track_status=TrackStatus.GREEN, updated_utc=T0)

    def drivers(self) -> list[DriverRow]:
        return list(self.rows.values())

    def laps(self) -> list[Lap]:
        return self.lap_list

    def race_control(self) -> list[RaceControlMessage]:
        return []

    def weather(self) -> list[WeatherSample]:
        return []


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def _writer(db: Any, state: StateStandIn, clock: FakeClock | None = None) -> SessionWriter:
    if clock is None:
        return SessionWriter(db=db, reducer=state)  # type: ignore[arg-type]
    return SessionWriter(db=db, reducer=state, clock=clock)  # type: ignore[arg-type]


def _changes(state: StateStandIn) -> Changes:
    laps = [
        Lap(session_id=SID, driver_number=n, lap_number=1, lap_time_ms=110_000 + i)
        for i, n in enumerate("15")
    ]
    state.lap_list = laps
    state.rows = {n: DriverRow(driver_number=n, position=i + 1, laps=1) for i, n in enumerate("15")}
    return Changes(
        laps=laps,
        race_control=[RaceControlMessage(session_id=SID, n=0, utc=T0, message="GREEN LIGHT - PIT EXIT OPEN")],
        weather=[WeatherSample(session_id=SID, n=0, utc=T0, air_temp_c=21.5, rainfall=False)],
        drivers={"1", "5"},
        tower=True,
        session=True,
    )


def _update_times(db: Any) -> dict[str, Any]:
    session = db.collection("sessions").document(SID)
    out = {session.path: session.get().update_time}
    for sub in session.collections():
        out |= {snap.reference.path: snap.update_time for snap in sub.stream()}
    return out


def test_layout_merge_and_a_second_run_writes_nothing(firestore_db: Any) -> None:
    firestore_db.collection("sessions").document(SID).set({"session_id": SID, "name": "Race", "round": 4})
    state = StateStandIn()
    writer = _writer(firestore_db, state)
    writer.stage(_changes(state))
    writer.drain()
    assert writer.writes == 8
    session = firestore_db.document(f"sessions/{SID}").get().to_dict()
    assert session["name"] == "Race" and session["round"] == 4  # the schedule's fields stay
    assert session["status"] == "Started" and session["track_status"] == "green"
    assert session["updated_utc"] == T0
    assert firestore_db.document(f"sessions/{SID}/laps/1_001").get().to_dict()["lap_time_ms"] == 110_000
    assert firestore_db.document(f"sessions/{SID}/race_control/0000").get().exists
    assert firestore_db.document(f"sessions/{SID}/weather/0000").get().to_dict()["air_temp_c"] == 21.5
    assert firestore_db.document(f"sessions/{SID}/drivers/5").get().to_dict()["position"] == 2
    assert len(firestore_db.document(f"sessions/{SID}/live/state").get().to_dict()["rows"]) == 2
    before = _update_times(firestore_db)
    assert len(before) == 8

    state2 = StateStandIn()
    again = _writer(firestore_db, state2)
    assert again.stored_watermark() == T0
    again.stage(_changes(state2))
    again.drain()
    assert again.write_log == [] and again.writes == 0
    assert _update_times(firestore_db) == before


def test_a_changed_lap_is_rewritten_and_batches_stay_under_the_limit(firestore_db: Any) -> None:
    state = StateStandIn()
    writer = _writer(firestore_db, state)
    laps = [
        Lap(session_id=SID, driver_number=str(d), lap_number=n) for d in range(1, 21) for n in range(1, 46)
    ]
    writer.stage(Changes(laps=laps))
    assert writer.drain() == 900
    writer.stage(Changes(laps=[laps[0].model_copy(update={"pit_in": True}), laps[1]]))
    assert writer.drain() == 1
    assert firestore_db.document(f"sessions/{SID}/laps/1_001").get().to_dict()["pit_in"] is True
    assert len(list(firestore_db.collection(f"sessions/{SID}/laps").stream())) == 900


def test_listened_documents_are_written_at_most_once_a_second(firestore_db: Any) -> None:
    clock = FakeClock()
    state = StateStandIn()
    writer = _writer(firestore_db, state, clock)
    state.rows = {"44": DriverRow(driver_number="44", position=1)}
    for step in range(50):  # 5 s of updates, ten a second
        state.lap_now = step
        writer.stage(Changes(tower=True, drivers={"44"}))
        writer.pump()
        clock.now += 0.1
    writer.drain(clock.sleep)
    by_path: dict[str, list[float]] = {}
    for at, path in writer.write_log:
        by_path.setdefault(path, []).append(at)
    assert set(by_path) == {f"sessions/{SID}/live/state", f"sessions/{SID}/drivers/44"}
    tower_times = by_path[f"sessions/{SID}/live/state"]
    assert 5 <= len(tower_times) <= 6
    assert all(b - a >= 1.0 - 1e-6 for a, b in itertools.pairwise(tower_times))
    assert len(by_path[f"sessions/{SID}/drivers/44"]) == 1  # unchanged content is not rewritten
    stored = firestore_db.document(f"sessions/{SID}/live/state").get().to_dict()
    assert stored["current_lap"] == 49  # the last state of the burst


def test_hold_keeps_listened_documents_back(firestore_db: Any) -> None:
    clock = FakeClock()
    state = StateStandIn()
    writer = _writer(firestore_db, state, clock)
    writer.hold = True
    writer.stage(Changes(tower=True, session=True))
    clock.now += 5
    writer.stage(Changes(laps=[Lap(session_id=SID, driver_number="44", lap_number=1)]))
    assert writer.pump() == 0 and writer.next_due() is None
    assert writer.drain(clock.sleep) == 3


def _events(n: int, session_id: str = SID) -> list[RaceEvent]:
    return [
        RaceEvent.make(session_id, EventKind.LAP_COMPLETED, f"44/{i}", T0 + timedelta(seconds=i), lap=i)
        for i in range(n)
    ]


def test_events_are_published_once_across_publishers(
    firestore_db: Any, pubsub: Any, settings: Settings
) -> None:
    topic = pubsub.make_topic("race-events")
    sub = pubsub.make_pull_subscription(topic)
    first = EventPublisher(
        db=firestore_db, publisher=pubsub.publisher, settings=settings, topic=topic.rsplit("/", 1)[1]
    )
    first.add(_events(5) + _events(2))  # the repeats are dropped before the ledger
    assert first.flush() == 5 and first.duplicates == 2 and first.ledger_writes == 5
    second = EventPublisher(
        db=firestore_db, publisher=pubsub.publisher, settings=settings, topic=topic.rsplit("/", 1)[1]
    )
    second.add(_events(7))
    assert second.flush() == 2 and second.duplicates == 5
    messages = pubsub.pull_all(sub, expected=7, timeout=10)
    messages += pubsub.pull_all(sub, timeout=1.5)
    ids = [m.attributes["event_id"] for m in messages]
    assert sorted(ids) == sorted(e.event_id for e in _events(7))
    assert messages[0].attributes["kind"] == "lap_completed" and messages[0].attributes["session_id"] == SID
    assert RaceEvent.model_validate_json(messages[0].data).event_id == ids[0]
    ledger = firestore_db.document(ledger_path(_events(1)[0])).get()
    assert ledger.exists and "%2F" in ledger.id


def test_a_failed_publish_raises_and_gives_the_claims_back(
    firestore_db: Any, pubsub: Any, settings: Settings
) -> None:
    missing = EventPublisher(
        db=firestore_db, publisher=pubsub.publisher, settings=settings, topic="no-such-topic"
    )
    missing.add(_events(3))
    with pytest.raises(TransientError):
        missing.flush()
    assert not any(firestore_db.document(ledger_path(e)).get().exists for e in _events(3))
    topic = pubsub.make_topic("race-events")
    retry = EventPublisher(
        db=firestore_db, publisher=pubsub.publisher, settings=settings, topic=topic.rsplit("/", 1)[1]
    )
    retry.add(_events(3))
    assert retry.flush() == 3
