"""``pitlane gaps report|import`` against the real upstream server (over ../shared/data) and the
Firestore emulator: the 2023 schedule from f1schedule, the archive's ``2023/Index.json``, FastF1
imports in-process, every upstream request counted by the server's log."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import functions_framework
import pytest
from google.api_core.exceptions import AlreadyExists

from infra import gaps_cli
from shared import gcp
from shared.config import Settings, get_settings, load_settings
from shared.gcp import topic_path
from shared.imports.gaps import Host
from shared.imports.quota import used
from tests.emulators import PubSubHelper, RequestSink
from tests.integration.test_schedule_sync import ROOT, tick
from tests.integration.upstream_fixture import Upstream, running_upstream

pytestmark = [pytest.mark.integration, pytest.mark.slow]

BAHRAIN_R = "2023_bahrain_grand_prix_r"
ALL_TYPES = {"results", "laps", "weather", "race_control", "stints", "circuit_info"}
ARCHIVE = "/static/2023/"


@pytest.fixture
def upstream(firestore_env: str, settings: Settings, tmp_path: Path) -> Iterator[Upstream]:
    with running_upstream(data_dir=settings.require_data_dir) as server:
        os.environ["PITLANE_F1_STATIC_URL"] = server.url
        os.environ["PITLANE_JOLPICA_URL"] = server.url
        os.environ["PITLANE_F1_SCHEDULE_URL"] = f"{server.url}/f1schedule/"
        os.environ["PITLANE_MULTIVIEWER_URL"] = server.url
        os.environ["PITLANE_CACHE_DIR"] = str(tmp_path / "cache")
        get_settings.cache_clear()
        yield server


def _run(argv: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> dict[str, Any]:
    parser = argparse.ArgumentParser()
    gaps_cli.register(parser.add_subparsers())
    args = parser.parse_args([*argv, "--state-dir", str(tmp_path / "state")])
    assert args.func(args) == 0
    return dict(json.loads(capsys.readouterr().out.strip().splitlines()[-1]))


def _archive_fetches(requests: list[dict[str, Any]], *, status: int | None = None) -> Counter[str]:
    return Counter(
        e["path"]
        for e in requests
        if e["path"].startswith(ARCHIVE) and (status is None or e.get("status") == status)
    )


def test_report_lists_every_session_with_what_upstream_has_and_what_is_missing(
    firestore_db: Any, upstream: Upstream, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    out = _run(["gaps", "report", "--season", "2023"], tmp_path, capsys)

    assert out["archive_index"] is True
    rows = {r["session_id"]: r for r in out["sessions"]}
    assert len(rows) == out["gaps"] > 100  # nothing held: every 2023 session is a gap
    assert set(rows[BAHRAIN_R]["upstream"]) == ALL_TYPES
    assert set(rows[BAHRAIN_R]["missing"]) == ALL_TYPES and rows[BAHRAIN_R]["in_archive"] is True
    sprint_shootout = rows["2023_azerbaijan_grand_prix_sq"]  # in the archive, no classification
    assert set(sprint_shootout["upstream"]) == ALL_TYPES - {"results"}
    assert not any(r.startswith("2023_pre_season_testing") for r in rows)
    assert len(out["missing_meetings"]) == 22
    # one schedule read and one archive index, nothing per session, charged to the quota ledger
    assert sorted(e["path"] for e in upstream.requests()) == [
        "/f1schedule/schedule_2023.json",
        "/static/2023/Index.json",
    ]
    assert out["calls_spent"] == 2
    assert sum(used(firestore_db, host, now=datetime.now(UTC)) for host in Host) == 2
    # the season is over: the catalogue is kept, the next report asks upstream nothing
    upstream.reset()
    again = _run(["gaps", "report", "--season", "2023"], tmp_path, capsys)
    assert upstream.requests() == [] and again["calls_spent"] == 0
    assert again["sessions"] == out["sessions"]


def _kill_after(progress_lines: int, tmp_path: Path) -> list[str]:
    """``pitlane gaps import --season 2023`` in a child process, SIGKILLed once it reported
    ``progress_lines`` sessions done (another one is then under way); the lines it printed."""
    cmd = [sys.executable, "-m", "infra.cli", "gaps", "import", "--season", "2023"]
    cmd += ["--state-dir", str(tmp_path / "state")]
    child = subprocess.Popen(
        cmd, cwd=ROOT, env=dict(os.environ), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    done: list[str] = []
    assert child.stderr is not None
    for line in child.stderr:
        if line.startswith("gaps import: "):
            done.append(line.split()[2])
            if len(done) >= progress_lines:
                child.send_signal(signal.SIGKILL)
                break
    child.wait(timeout=30)
    assert child.returncode == -signal.SIGKILL, "the import ended before it could be killed"
    return done


def _duplicates(db: Any, session_ids: list[str]) -> list[str]:
    """Documents that hold the same lap, message or sample as another one of their session."""
    dupes: list[str] = []
    for sid in session_ids:
        for part, key in (
            ("laps", ("driver_number", "lap_number")),
            ("race_control", ("utc", "message")),
            ("weather", ("utc",)),
        ):
            seen: Counter[tuple[Any, ...]] = Counter()
            for snap in db.collection(f"sessions/{sid}/{part}").stream():
                doc = snap.to_dict() or {}
                seen[tuple(doc.get(k) for k in key)] += 1
            dupes += [f"{sid}/{part}/{k}" for k, n in seen.items() if n > 1]
    return dupes


def test_import_killed_and_resumed_finishes_once_then_nothing_is_left(
    firestore_db: Any, upstream: Upstream, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    # the whole season in one hour: ~900 archive calls, more than the default quota of 500
    os.environ["PITLANE_QUOTA_DEFAULT_PER_HOUR"] = "5000"
    get_settings.cache_clear()

    first = _kill_after(5, tmp_path)
    killed_requests = upstream.requests()
    upstream.reset()
    out = _run(["gaps", "import", "--season", "2023"], tmp_path, capsys)

    resumed = [s["session_id"] for s in out["sessions"]]
    assert not set(first) & set(resumed), "a session finished before the kill was imported again"
    assert out["deferred"] == [] and out["failed"] == 0
    statuses = {s.id: s.to_dict() for s in firestore_db.collection("imports").stream()}
    report = _run(["gaps", "report", "--season", "2023"], tmp_path, capsys)
    season = [r["session_id"] for r in report["sessions"]]
    assert set(season) <= set(statuses), "a session has no import status"
    complete = [sid for sid, doc in statuses.items() if doc["status"] in ("complete", "partial")]
    assert {"2023_azerbaijan_grand_prix_q", "2023_azerbaijan_grand_prix_sq", BAHRAIN_R} <= set(complete)
    assert _duplicates(firestore_db, complete) == []
    # each archive file fetched at most once by the resumed run; a file found (200) at most once
    # over both runs (FastF1's cache keeps what the killed run fetched)
    assert max(_archive_fetches(upstream.requests()).values()) == 1
    found = _archive_fetches(killed_requests, status=200) + _archive_fetches(upstream.requests(), status=200)
    assert max(found.values()) == 1, [p for p, n in found.items() if n > 1]
    # imported sessions are served with the laps the live pipeline writes
    laps = list(firestore_db.collection("sessions/2023_azerbaijan_grand_prix_q/laps").stream())
    assert len(laps) > 200 and {"lap_time_ms", "compound", "driver_number"} <= set(laps[0].to_dict() or {})

    # nothing is left: no upstream request, no gap
    upstream.reset()
    again = _run(["gaps", "import", "--season", "2023"], tmp_path, capsys)
    assert again["sessions"] == [] and again["calls_spent"] == 0 and again["deferred"] == []
    final = _run(["gaps", "report", "--season", "2023"], tmp_path, capsys)
    assert final["gaps"] == 0 and all(r["missing"] == [] for r in final["sessions"])
    assert final["missing_meetings"] == []
    assert upstream.requests() == []


def test_max_calls_spends_at_most_n_defers_the_rest_and_the_next_run_finishes(
    firestore_db: Any, upstream: Upstream, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    out = _run(
        ["gaps", "import", "--season", "2023", "--rounds", "1-2", "--max-calls", "30"], tmp_path, capsys
    )

    requests = upstream.requests()
    assert len(requests) <= 30, [e["path"] for e in requests]
    assert out["calls_spent"] >= len(requests)
    assert out["calls_left"] == 30 - out["calls_spent"]
    imported = [s["session_id"] for s in out["sessions"]]
    assert imported and imported[0] == "2023_bahrain_grand_prix_fp1"  # oldest first
    assert out["deferred"] and not set(imported) & set(out["deferred"])
    assert len(imported) + len(out["deferred"]) == 10  # Bahrain and Saudi Arabia: 5 sessions each
    for session in out["sessions"]:
        assert session["status"] in ("complete", "partial", "unavailable")
        assert session["data_types"]

    upstream.reset()
    rest = _run(["gaps", "import", "--season", "2023", "--rounds", "1-2"], tmp_path, capsys)
    assert [s["session_id"] for s in rest["sessions"]] == out["deferred"]
    assert rest["deferred"] == []
    report = _run(["gaps", "report", "--season", "2023", "--rounds", "1-2"], tmp_path, capsys)
    assert report["gaps"] == 0


@pytest.fixture
def imports_queue(tasks: Any, upstream: Upstream, http_sink: RequestSink) -> Iterator[str]:
    """The ``imports`` queue on the Cloud Tasks emulator, its tasks delivered to ``http_sink``."""
    from google.api_core.exceptions import AlreadyExists
    from google.cloud import tasks_v2

    os.environ["PITLANE_FUNCTION_URLS"] = json.dumps({"import_session": f"{http_sink.url}/import_session"})
    get_settings.cache_clear()
    path = gcp.queue_path(load_settings(), "imports")
    with contextlib.suppress(AlreadyExists):
        tasks.create_queue(parent=path.rsplit("/queues/", 1)[0], queue=tasks_v2.Queue(name=path))
    yield path
    tasks.delete_queue(name=path)


def test_plan_imports_enqueues_one_task_per_session_and_the_last_one_announces_the_run(
    firestore_db: Any, imports_queue: str, http_sink: RequestSink, upstream: Upstream, pubsub: PubSubHelper
) -> None:
    topic = topic_path(load_settings(), "import-events")
    with contextlib.suppress(AlreadyExists):
        pubsub.publisher.create_topic(request={"name": topic})
    events = pubsub.make_pull_subscription(topic)
    client = functions_framework.create_app(
        "plan_imports", str(ROOT / "functions" / "plan_imports.py"), "cloudevent"
    ).test_client()

    assert tick(client, {"season": 2023, "max_sessions": 3}).status_code == 200

    received = http_sink.wait_for(3, timeout=20)
    bodies = [r.json() for r in received]
    assert sorted(b["session_id"] for b in bodies) == [
        "2023_bahrain_grand_prix_fp1",
        "2023_bahrain_grand_prix_fp2",
        "2023_bahrain_grand_prix_fp3",
    ]
    fp1 = next(b for b in bodies if b["session_id"].endswith("_fp1"))
    assert (fp1["year"], fp1["event"], fp1["session"]) == (2023, 1, "FP1")
    assert set(fp1["data_types"]) == {"laps", "weather", "race_control", "stints", "circuit_info"}
    names = {r.headers["x-cloudtasks-taskname"] for r in received}
    assert all(n.startswith("import-2023_bahrain_grand_prix_fp") for n in names) and len(names) == 3
    assert all(r.path == "/import_session" for r in received)
    assert len({b["run_id"] for b in bodies}) == 1
    # planning reads the schedule and the archive index only, and fills in the season's schedule
    assert len(upstream.requests()) == 2
    assert firestore_db.document("meetings/2023_bahrain_grand_prix").get().exists

    # the tasks run (as Cloud Tasks would deliver them); the last one announces the run, once
    importer = functions_framework.create_app(
        "import_session", str(ROOT / "functions" / "import_session.py"), "http"
    ).test_client()
    for request in received:
        resp = importer.post(
            "/", data=request.body, headers={"X-CloudTasks-TaskName": "t", "Content-Type": "application/json"}
        )
        assert resp.status_code == 200, resp.get_data(as_text=True)
    (message,) = pubsub.pull_all(events, timeout=10, expected=1)
    summary = json.loads(message.data)
    assert summary["run_id"] == fp1["run_id"] and summary["processed"] == 3
    assert summary["unavailable"] + summary["succeeded"] + summary["partial"] + summary["failed"] == 3
    assert summary["calls_spent"] >= 2 and len(summary["deferred"]) > 100
    # a redelivered task does not announce the run again
    resp = importer.post("/", data=received[0].body, headers={"Content-Type": "application/json"})
    assert resp.status_code == 200
    assert pubsub.pull_all(events, timeout=2) == []
