"""The 2018 Azerbaijan GP race replayed through the production path into the emulators, its
``race-events`` pulled from a real Pub/Sub subscription (ordered) and delivered as real CloudEvents
to the ``predict`` function (functions-framework's app): the live prediction follows the race lap
by lap, the current document is written at most once a second, every prediction's probabilities
add up, and the accuracy is stored and summarised once the result is final.

The pre-race model is a small one (few bootstrap replicas) trained once for the module.
"""

from __future__ import annotations

import itertools
import os
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from shared import gcp
from shared.config import load_settings
from shared.history import load_history
from shared.predict.documents import Prediction
from shared.services.ingest import ingest, messages_from_source
from shared.services.predict_model import save_model, train_model
from shared.stores import predictions as store
from shared.timing.models import EventKind, RaceEvent
from shared.timing.reducer import SessionReducer
from tests.emulators import PubSubHelper
from tests.function.conftest import PROJECT_ROOT, load_function, post_cloud_event, pubsub_cloud_event

SID = "2018_azerbaijan_grand_prix_r"
RACE = "livetiming/static/2018/2018-04-29_Azerbaijan_Grand_Prix/2018-04-29_Race"
WINNER = "44"  # Hamilton
# The entry point's own module (functions/main.py serves it under the same name).
PREDICT = PROJECT_ROOT / "functions" / "predict.py"


@pytest.fixture(scope="module")
def model_uri(tmp_path_factory: pytest.TempPathFactory) -> str:
    settings = load_settings()
    model = train_model(
        load_history(settings.require_data_dir), trained_until=2017, start_year=2006, bootstrap=3
    )
    uri = str(tmp_path_factory.mktemp("model") / "prerace.json")
    save_model(model, uri)
    return uri


class Commits:
    """``on_snapshot`` on ``predictions/{SID}``: the commit time and revision of every version."""

    def __init__(self, db: Any) -> None:
        self.seen: dict[int, float] = {}
        self._lock = threading.Lock()
        self.watch = db.document(store.prediction_path(SID)).on_snapshot(self._on)

    def _on(self, snaps: list[Any], changes: Any, read_time: Any) -> None:
        for snap in snaps:
            if snap.exists:
                with self._lock:
                    revision = int((snap.to_dict() or {}).get("revision", 0))
                    self.seen.setdefault(revision, snap.update_time.timestamp())

    def close(self) -> None:
        self.watch.unsubscribe()


@pytest.fixture
def replayed(firestore_db: Any, pubsub: PubSubHelper, model_uri: str) -> Iterator[tuple[list[Any], Any]]:
    """The race replayed at full speed; yields its race-events messages (in delivery order) and
    the loaded ``predict`` function."""
    os.environ["PITLANE_PREDICT_MODEL_URI"] = model_uri
    settings = load_settings()
    topic = pubsub.make_topic("race-events")
    subscription = pubsub.make_pull_subscription(topic, ordering=True)
    source = messages_from_source(str(settings.require_data_dir / RACE), settings=settings)
    summary = ingest(
        source.messages,
        reducer=SessionReducer(),
        db=firestore_db,
        publisher=gcp.publisher_client(settings),
        settings=settings,
        stats=source.stats,
        events_topic=topic.rsplit("/", 1)[-1],
    )
    messages = pubsub.pull_all(subscription, timeout=30, expected=summary.events_published)
    assert len(messages) == summary.events_published > 1000
    yield messages, load_function("predict", PREDICT)


def deliver(fn: Any, messages: list[Any]) -> None:
    for message in messages:
        event = pubsub_cloud_event(
            bytes(message.data), attributes=dict(message.attributes), message_id=str(message.message_id)
        )
        resp = post_cloud_event(fn.client, event)
        assert resp.status_code == 200, resp.get_data(as_text=True)


def mean_win(history: list[Prediction], laps: range, driver: str) -> float:
    values = [
        next(d.p_win for d in p.drivers if d.driver_number == driver)
        for p in history
        if p.trigger == "lap_completed" and p.lap in laps
    ]
    assert values
    return sum(values) / len(values)


@pytest.mark.slow
def test_replayed_race_is_predicted_lap_by_lap(replayed: tuple[list[Any], Any], firestore_db: Any) -> None:
    messages, fn = replayed
    commits = Commits(firestore_db)
    try:
        deliver(fn, messages)
    finally:
        commits.close()
    history = store.list_history(firestore_db, SID)

    # Acceptance 2: a prediction after every lap of the 51.
    laps = {p.lap for p in history if p.trigger == "lap_completed"}
    assert laps == set(range(1, 52))
    assert history[0].kind == "prerace" and history[0].key == "000_prerace"
    assert {p.trigger for p in history} >= {"track_status", "pit_in", "pit_out", "session_status"}
    sc = [p for p in history if p.track_status == "sc"]
    assert sc and {p.lap for p in sc} & set(range(40, 48))  # the late safety car is seen as one
    first, last = mean_win(history, range(1, 11), WINNER), mean_win(history, range(42, 52), WINNER)
    assert last > first
    (final_lap,) = [p for p in history if p.trigger == "lap_completed" and p.lap == 51]
    assert final_lap.drivers[0].driver_number == WINNER  # the favourite once the flag falls

    # Acceptance 3: every prediction's probabilities add up and stay in [0, 1].
    for p in history:
        running = sum(d.running for d in p.drivers)
        assert sum(d.p_win for d in p.drivers) == pytest.approx(1.0, abs=1e-6), p.key
        assert sum(d.p_podium for d in p.drivers) == pytest.approx(min(3, running), abs=1e-6), p.key
        assert all(0.0 <= d.p_win <= d.p_podium <= d.p_points <= 1.0 for d in p.drivers), p.key
        assert all(lo <= d.p_win <= hi for d in p.drivers for lo, hi in [d.win_interval]), p.key

    # At most one write a second of the current document, and the listener saw every one.
    current = store.get_live(firestore_db, SID)
    assert current is not None and current.kind == "final" and current.revision >= 2
    assert sorted(commits.seen) == list(range(1, current.revision + 1))
    times = [commits.seen[r] for r in sorted(commits.seen)]
    assert min(b - a for a, b in itertools.pairwise(times)) >= 0.99
    top = current.drivers[0]
    assert top.driver_number == WINNER and top.p_win == pytest.approx(1.0)

    # Acceptance 4: the accuracy is stored and summarised.
    accuracy = store.get_accuracy(firestore_db, SID)
    scored = [p for p in history if p.kind != "final"]  # the final one is the result itself
    assert accuracy is not None and accuracy.winner == WINNER and accuracy.predictions == len(scored)
    assert accuracy.prerace is not None and accuracy.prerace.key == "000_prerace"
    summary = store.accuracy_summary(firestore_db)
    (season,) = summary.by_season
    assert season.season == 2018 and season.sessions == 1 and season.predictions == len(scored)
    assert summary.by_model_version[0].model_version == current.model_version
    # ... and served by the API, as the frontend reads them
    api = load_function("api", PROJECT_ROOT / "functions" / "main.py", "http").client
    served = api.get("/api/predictions/accuracy").get_json()
    assert served["by_season"][0]["predictions"] == len(scored)
    assert served["by_season"][0]["brier_win"] == pytest.approx(season.brier_win)
    live = api.get(f"/api/v1/prediction/live?session_id={SID}").get_json()
    assert live["drivers"][0]["driver_number"] == WINNER and live["revision"] == current.revision

    # Redelivery (Pub/Sub at least once): nothing new is written, nothing is scored twice.
    deliver(fn, messages[:200] + messages[-5:])
    assert len(store.list_history(firestore_db, SID)) == len(history)
    assert store.get_live(firestore_db, SID) == current
    assert store.accuracy_summary(firestore_db) == summary


def test_a_race_without_a_grid_gets_no_prediction(firestore_db: Any, model_uri: str) -> None:
    """A race the history does not hold and no qualifying classification in Firestore: the event is
    acknowledged (a permanent problem) and nothing is stored."""
    os.environ["PITLANE_PREDICT_MODEL_URI"] = model_uri
    sid = "2031_atlantis_grand_prix_r"
    firestore_db.document(f"sessions/{sid}").set({"session_id": sid, "total_laps": 57})
    fn = load_function("predict", PREDICT)
    event = RaceEvent.make(
        sid, EventKind.SESSION_STATUS, "started_1", "2031-05-04T14:03:00Z", status="Started"
    )
    resp = post_cloud_event(fn.client, pubsub_cloud_event(event.model_dump(mode="json")))
    assert resp.status_code == 200
    assert store.list_history(firestore_db, sid) == []
    assert store.get_live(firestore_db, sid) is None
