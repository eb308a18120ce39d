"""The ingest service end to end: the 2018 Baku race archive through the reducer into the Firestore
and Pub/Sub emulators, replayed twice, paced at 10x, from the upstream server and from bad input.

Counts are checked against what the reducer itself reports (it is being completed alongside),
plus facts certain from the data: 20 drivers, 109 race control messages in the stream.
"""

from __future__ import annotations

import itertools
import json
import threading
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx

from shared.config import Settings, load_settings
from shared.feed import FeedMessage, ParseStats, archive_messages, estimate_start_utc, read_archive_dir
from shared.services.ingest import IngestSummary, ingest, messages_from_source
from shared.stores.session_store import tower_path
from shared.timing.reducer import SessionReducer
from tests.integration.upstream_fixture import running_upstream

DATA = Path(__file__).resolve().parents[3] / "shared" / "data"
BAKU = "livetiming/static/2018/2018-04-29_Azerbaijan_Grand_Prix/2018-04-29_Race"
SID = "2018_azerbaijan_grand_prix_r"
RACE_CONTROL_IN_STREAM = 109  # entries of RaceControlMessages.jsonStream


def _baku() -> list[FeedMessage]:
    texts = read_archive_dir(DATA / BAKU)
    return list(archive_messages(texts, start_utc=estimate_start_utc(texts, session_path=BAKU).utc))


def _replay(
    messages: list[FeedMessage], db: Any, pubsub: Any, settings: Settings, topic: str, **kw: Any
) -> Any:
    reducer = SessionReducer()
    summary = ingest(
        messages,
        reducer=reducer,
        db=db,
        publisher=pubsub.publisher,
        settings=settings,
        events_topic=topic,
        **kw,
    )
    return reducer, summary


def _update_times(db: Any) -> dict[str, Any]:
    session = db.collection("sessions").document(SID)
    out = {session.path: session.get().update_time}
    for sub in session.collections():
        out |= {snap.reference.path: snap.update_time for snap in sub.stream()}
    return out


def _count(db: Any, name: str) -> int:
    return len(list(db.collection(f"sessions/{SID}/{name}").list_documents()))


def test_baku_replayed_twice_stores_everything_once(
    firestore_db: Any, pubsub: Any, settings: Settings
) -> None:
    topic = pubsub.make_topic("race-events")
    sub = pubsub.make_pull_subscription(topic)
    messages = _baku()
    started = time.monotonic()
    reducer, first = _replay(messages, firestore_db, pubsub, settings, topic.rsplit("/", 1)[1])
    took = time.monotonic() - started
    assert first.session_id == SID == reducer.session_id
    assert first.messages == len(messages) and first.skipped == sum(reducer.stats.skipped.values())
    assert first.drivers == len(reducer.drivers()) == _count(firestore_db, "drivers") == 20
    assert first.laps == len(reducer.laps()) == _count(firestore_db, "laps")
    assert first.race_control == _count(firestore_db, "race_control") == RACE_CONTROL_IN_STREAM
    assert _count(firestore_db, "weather") == first.weather == 0  # this session has no WeatherData
    stored_tower = firestore_db.document(tower_path(SID)).get().to_dict()
    assert stored_tower == json.loads(reducer.tower().model_dump_json()) | {
        "updated_utc": stored_tower["updated_utc"]
    }
    distinct_events = first.events - first.events_duplicate
    assert first.events_published == distinct_events == _count(firestore_db, "event_ledger")
    pulled = pubsub.pull_all(sub, expected=first.events_published, timeout=30)
    ids = [m.attributes["event_id"] for m in pulled]
    assert len(ids) == len(set(ids)) == first.events_published
    docs = _update_times(firestore_db)
    print(f"first replay: {first.model_dump()} in {took:.1f} s; {len(docs)} documents")

    _, second = _replay(messages, firestore_db, pubsub, settings, topic.rsplit("/", 1)[1])
    assert (second.events_published, second.firestore_writes) == (0, 0)
    assert second.laps == first.laps and second.race_control == first.race_control
    assert _update_times(firestore_db) == docs  # not one document rewritten
    assert pubsub.pull_all(sub, timeout=2) == []  # not one event published again


def test_listened_documents_are_written_at_most_once_a_second_at_10x(
    firestore_db: Any, pubsub: Any, settings: Settings
) -> None:
    """A minute of racing after lap 10 at ten times real time (~6 s): the feed changes the tower
    several times a second, the stored tower changes at most once a second."""
    messages = _baku()
    reducer = SessionReducer()
    cut = next(i for i, m in enumerate(messages) if m.utc >= messages[0].utc + timedelta(minutes=40))
    for message in messages[:cut]:
        reducer.apply(message)
    window = list(
        itertools.takewhile(lambda m: m.utc <= messages[cut].utc + timedelta(seconds=60), messages[cut:])
    )
    seen: list[Any] = []
    done = threading.Event()

    def on_snapshot(snaps: list[Any], changes: Any, read_time: Any) -> None:
        seen.extend(s.update_time for s in snaps if s.exists)
        done.set()

    watch = firestore_db.document(tower_path(SID)).on_snapshot(on_snapshot)
    try:
        topic = pubsub.make_topic("race-events").rsplit("/", 1)[1]
        summary = ingest(
            window,
            reducer=reducer,
            db=firestore_db,
            publisher=pubsub.publisher,
            settings=settings,
            events_topic=topic,
            speed=10,
        )
        time.sleep(1.0)  # let the listener see the last write
    finally:
        watch.unsubscribe()
    assert len(window) > 3 * 60  # the feed: more than three messages a second of race time
    assert 6.0 <= summary.seconds <= 9.0
    listened = 2 + len(reducer.drivers())  # session, tower, one per driver
    assert summary.firestore_writes - summary.events_published <= listened * (summary.seconds + 1) + 200
    times = sorted({t.timestamp() for t in seen})
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert len(times) >= 5, times
    assert min(gaps) >= 0.9, gaps  # server commit times: 1 s apart, minus commit jitter


def test_garbage_lines_are_counted_as_skipped(
    tmp_path: Path, firestore_db: Any, pubsub: Any, settings: Settings
) -> None:
    good = [
        json.dumps({"type": 1, "target": "feed", "arguments": [m.topic, m.payload, m.utc.isoformat()]})
        for m in _baku()[:300]
    ]
    garbage = ["{not json", '{"type": 1, "target": "feed", "arguments": ["TimingData"]}', "[1, 2", "\x00\x01"]
    recording = tmp_path / "garbage.jsonl"
    recording.write_text("\n".join(good[:100] + garbage + good[100:]) + "\n", encoding="utf-8")
    source = messages_from_source(str(recording), settings=settings)
    topic = pubsub.make_topic("race-events").rsplit("/", 1)[1]
    reducer, summary = _replay(
        list(source.messages), firestore_db, pubsub, settings, topic, stats=source.stats
    )
    assert source.stats.skipped_total == len(garbage)
    assert summary.messages == 300
    assert summary.skipped == len(garbage) + sum(reducer.stats.skipped.values())

    bahrain = messages_from_source(
        str(DATA / "livetiming/recorded_with_errors_2021_bahrain.txt"), settings=settings
    )
    dry = ingest(
        bahrain.messages,
        reducer=SessionReducer(),
        db=None,
        publisher=None,
        settings=settings,
        stats=bahrain.stats,
    )
    assert dry.skipped >= bahrain.stats.skipped_total > 0 and dry.firestore_writes == 0


def test_archive_from_the_upstream_server_is_the_same_feed(test_env: dict[str, str]) -> None:
    settings = load_settings()
    with running_upstream(data_dir=settings.require_data_dir) as upstream:
        remote = load_settings(f1_static_url=upstream.url)
        with httpx.Client() as http:
            source = messages_from_source("/" + BAKU.removeprefix("livetiming/"), settings=remote, http=http)
            fetched = list(source.messages)
    assert [(m.topic, m.utc) for m in fetched] == [(m.topic, m.utc) for m in _baku()]
    summary: IngestSummary = ingest(
        fetched, reducer=SessionReducer(), db=None, publisher=None, settings=settings
    )
    assert summary.session_id == SID and summary.race_control == RACE_CONTROL_IN_STREAM
    assert isinstance(source.stats, ParseStats)
