"""``pitlane gaps report|import`` against the real upstream server (over ../shared/data) and the
Firestore emulator: the 2023 schedule from f1schedule, the archive's ``2023/Index.json``, FastF1
imports in-process, every upstream request counted by the server's log."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import functions_framework
import pytest

from infra import gaps_cli
from shared import gcp
from shared.config import Settings, get_settings, load_settings
from shared.stores.imports import status_path
from tests.emulators import RequestSink
from tests.integration.test_schedule_sync import ROOT, tick
from tests.integration.upstream_fixture import Upstream, running_upstream

pytestmark = [pytest.mark.integration, pytest.mark.slow]

BAHRAIN_R = "2023_bahrain_grand_prix_r"
ALL_TYPES = {"results", "laps", "weather", "race_control", "stints", "circuit_info"}


@pytest.fixture
def upstream(firestore_env: str, settings: Settings, tmp_path: Path) -> Iterator[Upstream]:
    with running_upstream(data_dir=settings.require_data_dir) as server:
        os.environ["PITLANE_F1_STATIC_URL"] = server.url
        os.environ["PITLANE_JOLPICA_URL"] = server.url
        os.environ["PITLANE_F1_SCHEDULE_URL"] = f"{server.url}/f1schedule/"
        os.environ["PITLANE_CACHE_DIR"] = str(tmp_path / "cache")
        get_settings.cache_clear()
        yield server


def _run(argv: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> dict[str, Any]:
    parser = argparse.ArgumentParser()
    gaps_cli.register(parser.add_subparsers())
    args = parser.parse_args([*argv, "--state-dir", str(tmp_path / "state")])
    assert args.func(args) == 0
    return dict(json.loads(capsys.readouterr().out.strip().splitlines()[-1]))


def test_report_lists_the_season_and_archive_types(
    firestore_db: Any, upstream: Upstream, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    out = _run(["gaps", "report", "--season", "2023"], tmp_path, capsys)

    assert out["archive_index"] is True
    assert out["sessions"] == len(out["gaps"]) > 100  # nothing held: every 2023 session is a gap
    rows = {r["session_id"]: r for r in out["gaps"]}
    assert set(rows[BAHRAIN_R]["upstream"]) == ALL_TYPES
    assert set(rows[BAHRAIN_R]["missing"]) == ALL_TYPES and rows[BAHRAIN_R]["in_archive"] is True
    sprint_shootout = rows["2023_azerbaijan_grand_prix_sq"]  # in the archive, no classification
    assert set(sprint_shootout["upstream"]) == ALL_TYPES - {"results"}
    assert not any(r.startswith("2023_pre_season_testing") for r in rows)
    # one schedule read and one archive index, nothing per session
    assert sorted(e["path"] for e in upstream.requests()) == [
        "/f1schedule/schedule_2023.json",
        "/static/2023/Index.json",
    ]


def test_import_stays_within_max_calls_and_defers_the_rest(
    firestore_db: Any, upstream: Upstream, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    out = _run(["gaps", "import", "--season", "2023", "--max-calls", "20"], tmp_path, capsys)

    requests = upstream.requests()
    assert len(requests) <= 20, [e["path"] for e in requests]
    assert out["calls_spent"] >= len(requests)
    assert out["calls_left"] == 20 - out["calls_spent"]
    imported = [s["session_id"] for s in out["sessions"]]
    assert imported and imported[0] == "2023_bahrain_grand_prix_fp1"  # oldest first
    assert len(imported) + len(out["deferred"]) > 100
    assert not set(imported) & set(out["deferred"])
    assert out["deferred"][0] not in imported
    for session in out["sessions"]:
        assert session["status"] in ("complete", "partial", "failed")
        assert "circuit_info" not in session["data_types"]
    status = firestore_db.document(status_path(imported[0])).get().to_dict()
    assert status and status["types"]

    # the next run: what was imported is no longer a gap (or only its failed types)
    upstream.reset()
    report = _run(["gaps", "report", "--season", "2023"], tmp_path, capsys)
    assert len(upstream.requests()) == 2
    rows = {r["session_id"]: r for r in report["gaps"]}
    first = rows.get(imported[0])
    assert first is None or set(first["missing"]) < ALL_TYPES


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


def test_plan_imports_enqueues_one_named_task_per_planned_session(
    firestore_db: Any, imports_queue: str, http_sink: RequestSink, upstream: Upstream
) -> None:
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
    assert set(fp1["data_types"]) == {"laps", "weather", "race_control", "stints"}
    names = {r.headers["x-cloudtasks-taskname"] for r in received}
    assert all(n.startswith("import-2023_bahrain_grand_prix_fp") for n in names) and len(names) == 3
    assert all(r.path == "/import_session" for r in received)
    # planning reads the schedule and the archive index only; the imports run in the tasks
    assert len(upstream.requests()) == 2
