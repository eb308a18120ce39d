"""OpenF1 into the Firestore emulator through the real upstream server over the recorded 2024
Singapore race (session 9606): the finished-session import, a rerun, injected 429/5xx, a live lap
kept, overlapping poll runs, watermark polls over growing data, and the CLI's summary line."""

from __future__ import annotations

import argparse
import contextlib
import json
import shutil
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from google.api_core.exceptions import AlreadyExists

from infra.openf1_cli import register
from shared.config import Settings, load_settings
from shared.events import TOPIC
from shared.gcp import topic_path
from shared.openf1.state import POLL_ORDER, OpenF1State
from shared.services.openf1_ingest import PollResult, ingest_openf1_session, poll_live, poll_tick
from shared.sources.http import make_http_client
from shared.sources.openf1 import OpenF1Client
from shared.stores import openf1_polls
from shared.timing.models import Lap, SessionLive, TrackStatus
from tests.integration.upstream_fixture import Upstream, running_upstream

RACE = 9606
SID = "2024_singapore_grand_prix_r"
FAST = {"openf1_rate_per_s": 1000.0, "openf1_rate_per_min": 60_000}  # rate limits not under test
SINGAPORE = "openf1/2024_singapore"


@pytest.fixture(scope="module")
def data_dir() -> Path:
    return load_settings().require_data_dir


@pytest.fixture(scope="module")
def upstream(data_dir: Path) -> Iterator[Upstream]:
    with running_upstream(data_dir=data_dir) as server:
        yield server


@pytest.fixture(autouse=True)
def _clean(upstream: Upstream) -> None:
    upstream.reset()


@contextmanager
def _client(url: str) -> Iterator[OpenF1Client]:
    settings = load_settings(openf1_url=url, **FAST)
    with make_http_client(settings) as http:
        yield OpenF1Client(settings=settings, http=http)


def _ingest(upstream: Upstream, db: Any, settings: Settings, publisher: Any = None) -> Any:
    with _client(upstream.url) as client:
        return ingest_openf1_session(RACE, client=client, db=db, publisher=publisher, settings=settings)


def _lap_docs(db: Any) -> dict[str, dict[str, Any]]:
    return {s.id: s.to_dict() for s in db.collection(f"sessions/{SID}/laps").stream()}


def _raw(data_dir: Path, endpoint: str) -> list[dict[str, Any]]:
    path = data_dir / SINGAPORE / f"{endpoint}.json"
    return list(json.loads(path.read_text())) if path.is_file() else []


def test_ingest_lands_every_lap_and_a_rerun_writes_nothing(
    upstream: Upstream, firestore_db: Any, settings: Settings, data_dir: Path
) -> None:
    first = _ingest(upstream, firestore_db, settings)
    assert first.session_id == SID and first.laps == 1159 and first.drivers == 20
    docs = _lap_docs(firestore_db)
    assert len(docs) == 1159
    raw = {f"{r['driver_number']}_{r['lap_number']:03d}": r for r in _raw(data_dir, "laps")}
    assert set(docs) == set(raw)
    for doc_id, doc in docs.items():
        lap = Lap.model_validate(doc)
        assert lap.source == "openf1" and lap.doc_id == doc_id
        duration = raw[doc_id]["lap_duration"]
        assert lap.lap_time_ms == (None if duration is None else round(duration * 1000))
    assert len(list(firestore_db.collection(f"sessions/{SID}/drivers").list_documents())) == 20
    session = firestore_db.document(f"sessions/{SID}").get().to_dict()
    assert session["f1_session_key"] == RACE and session["meeting_name"] == "Singapore Grand Prix"
    assert first.firestore_writes >= 1159 + 20

    again = _ingest(upstream, firestore_db, settings)
    assert (again.laps, again.firestore_writes) == (1159, 0)


def test_injected_rate_limits_and_5xx_lose_no_record(
    upstream: Upstream, firestore_db: Any, settings: Settings
) -> None:
    upstream.add_fault(path_prefix="/v1/laps", kind="status", status=503, times=2)
    upstream.add_fault(path_prefix="/v1/position", kind="rate_limit", retry_after=1, times=1)
    upstream.add_fault(path_prefix="/v1/drivers", kind="status", status=502, times=1)
    summary = _ingest(upstream, firestore_db, settings)
    assert summary.laps == 1159 and len(_lap_docs(firestore_db)) == 1159 and summary.drivers == 20
    statuses = [r["status"] for r in upstream.requests() if r["path"] in ("/v1/laps", "/v1/position")]
    assert statuses.count(503) == 2 and statuses.count(429) == 1


def test_a_lap_from_the_live_feed_is_not_degraded(
    upstream: Upstream, firestore_db: Any, settings: Settings
) -> None:
    sectors = [29_000, None, 27_000]
    live = Lap(session_id=SID, driver_number="4", lap_number=2, lap_time_ms=98_000,
               sector_times_ms=sectors, compound="MEDIUM", tyre_age_laps=2, stint=1)  # fmt: skip
    firestore_db.document(f"sessions/{SID}/laps/4_002").set(live.model_dump(mode="json"))
    stored = SessionLive(session_id=SID, status="Finalised", track_status=TrackStatus.GREEN, total_laps=62)
    firestore_db.document(f"sessions/{SID}").set(stored.model_dump(mode="json"))
    _ingest(upstream, firestore_db, settings)
    lap = Lap.model_validate(_lap_docs(firestore_db)["4_002"])
    assert (lap.source, lap.lap_time_ms, lap.compound, lap.tyre_age_laps) == (
        "livetiming",
        98_000,
        "MEDIUM",
        2,
    )
    assert lap.sector_times_ms == [29_000, 41_412, 27_000]  # only the missing sector filled in
    session = firestore_db.document(f"sessions/{SID}").get().to_dict()
    assert (session["status"], session["track_status"], session["total_laps"]) == ("Finalised", "green", 62)
    assert session["f1_session_key"] == RACE  # filled where the stored document had nothing


def _poll(url: str, db: Any, settings: Settings, results: list[PollResult], **kw: Any) -> None:
    with _client(url) as client:
        kw = {"budget_s": 4.0, "every_s": 1.0, **kw}
        results.append(poll_live(RACE, client=client, db=db, publisher=None, settings=settings, **kw))


def test_overlapping_poll_runs_never_duplicate(
    upstream: Upstream, firestore_db: Any, settings: Settings, data_dir: Path
) -> None:
    results: list[PollResult] = []
    runs = [
        threading.Thread(target=_poll, args=(upstream.url, firestore_db, settings, results)) for _ in range(2)
    ]
    for run in runs:
        run.start()
    for run in runs:
        run.join(timeout=60)
    assert sorted(r.status for r in results) == ["polled", "polled"]  # the second waited for the lease
    assert all(r.cycles >= 1 for r in results) and sum(r.cycles for r in results) >= 3, results
    expected = OpenF1State(session_key=RACE)
    for endpoint in POLL_ORDER:
        expected.apply_records(endpoint, _raw(data_dir, endpoint))
    # while live, each driver's last lap without a duration is still in progress: not written
    assert set(_lap_docs(firestore_db)) == {lap.doc_id for lap in expected.laps()}
    laps_queries = [r["query"] for r in upstream.requests() if r["path"] == "/v1/laps"]
    assert laps_queries[0] == f"session_key={RACE}" and all("date_start%3E=" in q or "date_start>=" in q
                                                            for q in laps_queries[1:])  # fmt: skip
    later = [r.summary for r in results[1:] if r.summary is not None]
    assert later and all(s.firestore_writes == 0 for s in later)  # resumed from the first's watermarks
    assert not firestore_db.document(f"{openf1_polls.LEASES}/{RACE}").get().exists  # released
    cp = openf1_polls.load_checkpoint(firestore_db, RACE)
    assert cp is not None and cp.session_id == SID and set(cp.watermarks) >= {"laps", "position", "pit"}


def _truncated(src: Path, dst: Path, cut: datetime) -> None:
    dst.mkdir(parents=True)
    fields = {"laps": "date_start", "position": "date", "pit": "date", "overtakes": "date"}
    for path in src.glob("*.json"):
        records = json.loads(path.read_text())
        field = fields.get(path.stem)
        if field is not None:
            records = [r for r in records if r.get(field) and datetime.fromisoformat(r[field]) <= cut]
        (dst / path.name).write_text(json.dumps(records))


def test_polls_over_growing_data_continue_from_the_watermarks(
    firestore_db: Any, settings: Settings, data_dir: Path, tmp_path: Path
) -> None:
    """First run while OpenF1 has the race up to 13:00, the next once it has all of it."""
    _truncated(data_dir / SINGAPORE, tmp_path / "early" / SINGAPORE, datetime(2024, 9, 22, 13, tzinfo=UTC))
    shutil.copytree(data_dir / "openf1", tmp_path / "full" / "openf1")
    results: list[PollResult] = []
    with running_upstream(data_dir=tmp_path / "early") as early:
        _poll(early.url, firestore_db, settings, results, budget_s=1.0)
    partial = len(_lap_docs(firestore_db))
    assert 0 < partial < 1100
    with running_upstream(data_dir=tmp_path / "full") as full:
        _poll(full.url, firestore_db, settings, results, budget_s=1.0)
        queries = [r["query"] for r in full.requests() if r["path"] == "/v1/laps"]
    assert [r.status for r in results] == ["polled", "polled"]
    assert queries and all("date_start" in q for q in queries)  # never the whole race again
    expected = OpenF1State(session_key=RACE)
    for endpoint in POLL_ORDER:
        expected.apply_records(endpoint, _raw(data_dir, endpoint))
    docs = _lap_docs(firestore_db)
    assert set(docs) == {lap.doc_id for lap in expected.laps()}
    assert [Lap.model_validate(docs[lap.doc_id]) for lap in expected.laps()] == expected.laps()
    assert results[1].summary is not None and results[1].summary.messages < 1159  # only the new part


@pytest.mark.usefixtures("firestore_db")
def test_cli_prints_the_summary_last(
    upstream: Upstream, pubsub: Any, settings: Settings, capsys: pytest.CaptureFixture[str],
    tmp_path: Path, *, monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    monkeypatch.setenv("PITLANE_OPENF1_URL", upstream.url)
    topic = topic_path(settings, TOPIC)
    with contextlib.suppress(AlreadyExists):
        pubsub.publisher.create_topic(request={"name": topic})
    pubsub._topics.append(topic)  # deleted at teardown with the helper's own
    parser = argparse.ArgumentParser()
    register(parser.add_subparsers())
    args = parser.parse_args(["openf1", "ingest", "--session-key", str(RACE), "--state-dir", str(tmp_path)])
    assert args.func(args) == 0
    out, err = capsys.readouterr()
    summary = json.loads(out.strip().splitlines()[-1])
    assert summary["session_id"] == SID and summary["laps"] == 1159 and summary["drivers"] == 20
    keys = ["session_id", "messages", "skipped", "laps", "drivers", "race_control", "events_published"]
    assert list(summary) == [*keys, "firestore_writes"]
    assert "openf1: session 9606" in err
    assert summary["events_published"] > 1159  # lap_completed for every lap, pit_in for every stop


def test_tick_takes_over_only_when_the_live_feed_is_quiet(
    upstream: Upstream, firestore_db: Any, settings: Settings
) -> None:
    """At 13:00 UTC on race day (session 9606 is OpenF1's latest), with record_live_timing's
    checkpoint 10 s old the tick leaves the session to it; 31 s old, OpenF1 takes over."""
    race_time = datetime(2024, 9, 22, 13, tzinfo=UTC)
    checkpoint = firestore_db.collection("live_checkpoints").document(SID)
    with _client(upstream.url) as client:
        tick = {"client": client, "db": firestore_db, "publisher": None, "settings": settings}
        checkpoint.set({"updated_utc": race_time - timedelta(seconds=10)})
        quiet = poll_tick(**tick, now=lambda: race_time, budget_s=2.0, every_s=1.0)
        assert (quiet.status, quiet.session_id) == ("live_feed_active", SID)
        assert not _lap_docs(firestore_db)
        checkpoint.set({"updated_utc": race_time - timedelta(seconds=31)})
        took_over = poll_tick(**tick, now=lambda: race_time, budget_s=2.0, every_s=1.0)
        assert poll_tick(**tick, now=lambda: race_time + timedelta(days=1)).status == "not_live"
    assert (took_over.status, took_over.session_key) == ("polled", RACE) and took_over.cycles >= 1
    assert len(_lap_docs(firestore_db)) > 1100
