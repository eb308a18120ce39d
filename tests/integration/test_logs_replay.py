"""A replayed session's logs, as Cloud Logging would read them: ``record_live_timing`` under
functions-framework (its own process, stdout and stderr captured) records the 2018 Baku race from
the archive into the emulators, called as Cloud Tasks calls it; every line it writes is Cloud
Logging JSON with a severity, the request's trace and the session id, and the pipeline's counters
are among them."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from google.api_core.exceptions import AlreadyExists

from infra.local import emulators
from shared import gcp
from shared.config import load_settings
from shared.logs import SEVERITIES, SOURCE, TRACE
from tests.emulators import TEST_PROJECT

ROOT = Path(__file__).resolve().parents[2]
SESSION = "2018_azerbaijan_grand_prix_r"
TRACE_ID = "0af7651916cd43dd8448eb211c80319c"


@pytest.fixture
def function_logs(firestore_env: str, pubsub: Any, tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """``record_live_timing`` under functions-framework; yields its URL and its log file."""
    settings = load_settings()
    topic = gcp.topic_path(settings, "race-events")
    with contextlib.suppress(AlreadyExists):
        pubsub.publisher.create_topic(name=topic)
    pubsub._topics.append(topic)  # deleted at teardown
    port = emulators.free_port()
    log_file = tmp_path / "function.log"
    argv = [str(Path(sys.executable).parent / "functions-framework"), "--target", "record_live_timing",
            "--source", str(ROOT / "functions" / "main.py"), "--port", str(port)]  # fmt: skip
    env = dict(os.environ) | {"PYTHONUNBUFFERED": "1"}
    with log_file.open("wb") as out:
        proc = subprocess.Popen(argv, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        emulators.wait_tcp("127.0.0.1", port, timeout=30, proc=proc, what="record_live_timing")
        yield f"http://127.0.0.1:{port}", log_file
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)


@pytest.mark.slow
def test_every_line_of_a_replayed_session_is_cloud_logging_json_with_trace_and_session(
    function_logs: tuple[str, Path],
) -> None:
    url, log_file = function_logs
    source = (
        load_settings().require_data_dir
        / "livetiming/static/2018/2018-04-29_Azerbaijan_Grand_Prix/2018-04-29_Race"
    )
    body = {"source": str(source), "session_id": SESSION, "run_seconds": 600, "checkpoint_every_s": 1.0}
    headers = {"X-Cloud-Trace-Context": f"{TRACE_ID}/42;o=1", "X-CloudTasks-TaskName": "record-baku-0"}
    resp = httpx.post(url, json=body, headers=headers, timeout=120)
    assert resp.status_code == 200, resp.text
    assert resp.json()["status"] == "finished" and resp.json()["summary"]["laps"] == 841

    text = log_file.read_text(encoding="utf-8")
    raw = [line for line in text.splitlines() if line.strip()]
    assert len(raw) >= 5
    lines: list[dict[str, Any]] = []
    for line in raw:
        entry = json.loads(line)  # a line that is not JSON fails here
        assert isinstance(entry, dict)
        lines.append(entry)
    for entry in lines:
        assert entry["severity"] in SEVERITIES, entry
        assert entry[TRACE] == f"projects/{TEST_PROJECT}/traces/{TRACE_ID}", entry
        assert entry["session_id"] == SESSION, entry
        assert entry["function"] == "record_live_timing" and entry["task"] == "record-baku-0"
        assert {"file", "line", "function"} <= set(entry[SOURCE])

    by_metric: dict[str, list[dict[str, Any]]] = {}
    for entry in lines:
        if "metric" in entry:
            by_metric.setdefault(entry["metric"], []).append(entry)
    lags = by_metric["ingest_lag_s"]
    assert all(e["feed"] == "replay" for e in lags)
    assert min(e["value"] for e in lags) > 365 * 86400  # the 2018 race, replayed years later
    written = sum(e["events"] for e in by_metric["firestore_writes_per_s"])
    summary = resp.json()["summary"]
    assert 1000 < written <= summary["firestore_writes"]  # the writer's documents (the event ledger's apart)
    done = next(e for e in lines if e["message"] == "ingest done")
    assert done["laps"] == 841
