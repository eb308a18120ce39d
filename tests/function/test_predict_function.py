"""``predict`` through functions-framework's app with real Pub/Sub CloudEvents: bad payloads and
other sessions are acknowledged and leave nothing; a qualifying session (2019 Italian GP,
replayed into the Firestore emulator) gets a predicted grid that settles on the real pole-sitter.
"""

from __future__ import annotations

from typing import Any

import pytest

from shared.config import load_settings
from shared.services.ingest import ingest, messages_from_source
from shared.stores import predictions as store
from shared.timing.models import EventKind, RaceEvent
from shared.timing.reducer import Changes, SessionReducer
from tests.function.conftest import (
    PROJECT_ROOT,
    FunctionApp,
    load_function,
    post_cloud_event,
    pubsub_cloud_event,
)

# The entry point's own module (functions/main.py serves it under the same name).
PREDICT = PROJECT_ROOT / "functions" / "predict.py"
QUALI = "livetiming/static/2019/2019-09-08_Italian_Grand_Prix/2019-09-07_Qualifying"
QUALI_ID = "2019_italian_grand_prix_q"


@pytest.fixture
def fn(firestore_db: Any) -> FunctionApp:
    return load_function("predict", PREDICT)


def deliver(fn: FunctionApp, event: RaceEvent) -> Any:
    return post_cloud_event(
        fn.client, pubsub_cloud_event(event.model_dump(mode="json"), message_id=event.event_id)
    )


def test_bad_payloads_and_other_sessions_are_acknowledged(fn: FunctionApp, firestore_db: Any) -> None:
    resp = post_cloud_event(fn.client, pubsub_cloud_event(b"not json"))
    assert resp.status_code == 200  # permanent: logged and acknowledged, never retried
    resp = post_cloud_event(fn.client, pubsub_cloud_event({"kind": "lap_completed"}))
    assert resp.status_code == 200
    practice = RaceEvent.make(
        "2019_italian_grand_prix_fp1", EventKind.LAP_COMPLETED, "16_003", "2019-09-06T09:10:00Z",
        driver_number="16", lap=3, lap_time_ms=82000,
    )  # fmt: skip
    assert deliver(fn, practice).status_code == 200
    assert list(firestore_db.collection("predictions").stream()) == []


class Recorder(SessionReducer):
    """The reducer, keeping the race events it emits (the test delivers them itself)."""

    def __init__(self) -> None:
        super().__init__()
        self.events: list[RaceEvent] = []

    def apply(self, msg: Any) -> Changes:
        changes = super().apply(msg)
        self.events.extend(changes.events)
        return changes

    def finish(self) -> Changes:
        changes = super().finish()
        self.events.extend(changes.events)
        return changes


@pytest.mark.slow
def test_qualifying_gets_a_predicted_grid(fn: FunctionApp, firestore_db: Any) -> None:
    settings = load_settings()
    source = messages_from_source(str(settings.require_data_dir / QUALI), settings=settings)
    reducer = Recorder()
    ingest(source.messages, reducer=reducer, db=firestore_db, publisher=None, settings=settings)
    laps = [e for e in reducer.events if e.kind is EventKind.LAP_COMPLETED and e.data.get("lap_time_ms")]
    assert len(laps) > 100
    delivered = laps[::4] + laps[-3:]  # a quarter of them keeps the test short; each is read in full
    for event in delivered:
        assert deliver(fn, event).status_code == 200
    history = store.list_history(firestore_db, QUALI_ID)
    assert len(history) == len({e.event_id for e in delivered}) and all(p.kind == "grid" for p in history)
    for p in history:
        assert sum(g.p_pole for g in p.grid) == pytest.approx(1.0)
        assert sum(g.p_top10 for g in p.grid) == pytest.approx(min(10, len(p.grid)))
        assert sorted(g.predicted_grid for g in p.grid) == list(range(1, len(p.grid) + 1))
    # The last prediction has the real pole-sitter first (the session's fastest lap).
    fastest = min(laps, key=lambda e: e.data["lap_time_ms"]).data["driver_number"]
    assert history[-1].grid[0].driver_number == fastest
    assert history[-1].grid[0].p_pole > 0.5
    current = store.get_live(firestore_db, QUALI_ID)
    assert current is not None and current.kind == "grid" and current.revision >= 1
