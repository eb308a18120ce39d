"""``record_live_timing``: killed mid-run and resumed, or chained through Cloud Tasks in bounded
runs, it leaves exactly what one uninterrupted run leaves in Firestore."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from google.api_core.exceptions import AlreadyExists

from infra.local import emulators
from shared import gcp
from shared.config import load_settings
from shared.services.live_recorder import CHECKPOINTS, RecordRequest, record
from shared.sources.http import make_http_client
from tests.emulators import TEST_PROJECT, wipe_firestore
from tests.integration.upstream_fixture import running_upstream

ROOT = Path(__file__).resolve().parents[2]
SESSION = "2018_azerbaijan_grand_prix_r"
VOLATILE = {"claimed_utc"}  # wall-clock stamps of the event ledger


@pytest.fixture
def env(firestore_env: str, pubsub: Any, tasks: Any) -> dict[str, str]:
    """Emulators, the race-events topic and the live-timing queue; the environment to pass on."""
    from google.cloud import tasks_v2

    settings = load_settings()
    topic = gcp.topic_path(settings, "race-events")
    with contextlib.suppress(AlreadyExists):  # the emulator lives for the whole session
        pubsub.publisher.create_topic(name=topic)
    pubsub._topics.append(topic)  # deleted at teardown
    queue = gcp.queue_path(settings, "live-timing")
    parent = queue.rsplit("/queues/", 1)[0]
    if queue not in {q.name for q in tasks.list_queues(parent=parent)}:
        tasks.create_queue(parent=parent, queue=tasks_v2.Queue(name=queue))
    return dict(os.environ)


@pytest.fixture
def source(env: dict[str, str]) -> str:
    return str(
        load_settings().require_data_dir
        / "livetiming/static/2018"
        / "2018-04-29_Azerbaijan_Grand_Prix/2018-04-29_Race"
    )


def firestore_content(db: Any) -> dict[str, Any]:
    """Every document under ``sessions/`` (all sub-collections), volatile stamps left out."""
    out: dict[str, Any] = {}

    def walk(ref: Any) -> None:
        for snap in ref.stream():
            out[snap.reference.path] = {k: v for k, v in (snap.to_dict() or {}).items() if k not in VOLATILE}
            for sub in snap.reference.collections():
                walk(sub)

    walk(db.collection("sessions"))
    return out


def _no_enqueue(_: RecordRequest) -> None:
    pytest.fail("an uninterrupted run must not re-enqueue")


_REFERENCE: dict[str, dict[str, Any]] = {}  # source -> content of an uninterrupted run, per session


def uninterrupted(db: Any, source: str) -> dict[str, Any]:
    """What an uninterrupted run stores (recorded once per test session: the tests that compare
    with it share it; each test starts from an empty database all the same)."""
    if source not in _REFERENCE:
        _REFERENCE[source] = _record_whole(db, source)
    return _REFERENCE[source]


def _record_whole(db: Any, source: str) -> dict[str, Any]:
    settings = load_settings()
    req = RecordRequest(source=source, run_seconds=600)
    with make_http_client(settings) as http:
        publisher = gcp.publisher_client(settings)
        result = record(req, db=db, publisher=publisher, settings=settings, http=http, enqueue=_no_enqueue)
    assert result.status == "finished"
    assert result.summary is not None and result.summary.laps > 800
    return firestore_content(db)


class FunctionProcess:
    """``record_live_timing`` under functions-framework in its own process group."""

    def __init__(self, env: dict[str, str], port: int) -> None:
        self.url = f"http://127.0.0.1:{port}"
        argv = [str(Path(sys.executable).parent / "functions-framework"), "--target", "record_live_timing",
                "--source", str(ROOT / "functions" / "main.py"), "--port", str(port)]  # fmt: skip
        self.proc = subprocess.Popen(argv, env=env, start_new_session=True,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
        emulators.wait_tcp("127.0.0.1", port, timeout=30, proc=self.proc, what="record_live_timing")

    def kill(self) -> None:
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=10)


@pytest.fixture
def function_process() -> Iterator[Any]:
    started: list[FunctionProcess] = []

    def start(env: dict[str, str]) -> FunctionProcess:
        port = emulators.free_port()
        env = env | {"PITLANE_FUNCTION_URLS": json.dumps({"record_live_timing": f"http://127.0.0.1:{port}"})}
        fp = FunctionProcess(env, port)
        started.append(fp)
        return fp

    yield start
    for fp in started:
        if fp.proc.poll() is None:
            fp.kill()


def checkpoint(db: Any, key: str) -> dict[str, Any]:
    snap = db.collection(CHECKPOINTS).document(key).get()
    return snap.to_dict() or {} if snap.exists else {}


def wait_for(predicate: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.1)


@pytest.mark.slow
def test_killed_mid_run_and_resumed_leaves_the_same_content(
    env: dict[str, str], source: str, firestore_db: Any, firestore_env: str, function_process: Any
) -> None:
    expected = uninterrupted(firestore_db, source)
    assert len(expected) > 1000
    wipe_firestore(firestore_env, TEST_PROJECT)

    body = RecordRequest(source=source, speed=1500, checkpoint_every_s=0.2, run_seconds=600).model_dump(
        mode="json"
    )
    key = RecordRequest.model_validate(body).key
    first = function_process(env)
    threading.Thread(target=lambda: httpx.post(first.url, json=body, timeout=60), daemon=True).start()
    wait_for(lambda: checkpoint(firestore_db, key).get("position", 0) > 8000, 60, "a checkpoint mid-race")
    first.kill()
    killed_at = checkpoint(firestore_db, key)["position"]
    assert not checkpoint(firestore_db, key)["done"]

    second = function_process(env)  # what Cloud Tasks' retry of the same task does
    resp = httpx.post(second.url, json=body, timeout=120)
    assert resp.status_code == 200, resp.text
    assert resp.json()["status"] == "finished"
    assert resp.json()["position"] > killed_at
    assert firestore_content(firestore_db) == expected


@pytest.mark.slow
def test_bounded_runs_chained_by_cloud_tasks_leave_the_same_content(
    env: dict[str, str], source: str, firestore_db: Any, firestore_env: str, function_process: Any
) -> None:
    expected = uninterrupted(firestore_db, source)
    wipe_firestore(firestore_env, TEST_PROJECT)

    fp = function_process(env)
    body = RecordRequest(source=source, speed=2000, run_seconds=1.0, checkpoint_every_s=0.5).model_dump(
        mode="json"
    )
    key = RecordRequest.model_validate(body).key
    first = httpx.post(fp.url, json=body, timeout=60)
    assert first.status_code == 200, first.text
    assert first.json()["status"] == "continuing"
    wait_for(lambda: checkpoint(firestore_db, key).get("done") is True, 90, "the chain to reach the end")
    assert checkpoint(firestore_db, key)["generation"] >= 2
    assert firestore_content(firestore_db) == expected


def test_bad_body_is_a_problem_for_callers_and_acknowledged_for_cloud_tasks(
    env: dict[str, str], function_process: Any
) -> None:
    fp = function_process(env)
    resp = httpx.post(fp.url, json={"run_seconds": -1})
    assert resp.status_code == 400 and resp.headers["content-type"].startswith("application/problem+json")
    resp = httpx.post(fp.url, json={"bogus": 1}, headers={"X-CloudTasks-QueueName": "live-timing"})
    assert resp.status_code == 200 and resp.json()["status"] == "dropped"


def test_live_feed_is_recorded_through_connection_failures(env: dict[str, str], firestore_db: Any) -> None:
    data_dir = load_settings().require_data_dir
    with running_upstream(data_dir=data_dir, replay_source="livefeed/2024_silverstone_fp1", speed=0) as up:
        up.add_fault(path_prefix="/signalrcore/negotiate", kind="status", status=503, times=2)
        os.environ["PITLANE_F1_LIVE_URL"] = up.url
        settings = load_settings()
        with make_http_client(settings) as http:
            result = record(
                RecordRequest(source="live", run_seconds=120),
                db=firestore_db,
                publisher=gcp.publisher_client(settings),
                settings=settings,
                http=http,
                enqueue=_no_enqueue,
            )
        negotiations = [r["status"] for r in up.requests() if r["path"] == "/signalrcore/negotiate"]
    assert negotiations == [503, 503, 200]
    assert result.status == "finished"
    assert result.summary is not None and result.summary.session_id == "2024_british_grand_prix_fp1"
    laps = firestore_db.collection(f"sessions/{result.summary.session_id}/laps").count().get()[0][0].value
    assert laps == result.summary.laps > 300
