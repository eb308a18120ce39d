"""OpenF1 through the deployed entry points: the ``api`` function serves OpenF1's 9606 race laps
with the fields of live-feed laps, and ``poll_openf1_live`` handles real ``openf1-tick``
CloudEvents (no session live now: nothing polled; a bad payload acknowledged)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from shared.config import Settings, get_settings, load_settings
from shared.services.ingest import ingest, messages_from_source
from shared.services.openf1_ingest import ingest_openf1_session
from shared.sources.http import make_http_client
from shared.sources.openf1 import OpenF1Client
from shared.timing.reducer import SessionReducer
from tests.function.conftest import PROJECT_ROOT, load_function, post_cloud_event, pubsub_cloud_event
from tests.integration.upstream_fixture import Upstream, running_upstream

SID = "2024_singapore_grand_prix_r"
BAKU = (
    PROJECT_ROOT.parent
    / "shared/data/livetiming/static/2018/2018-04-29_Azerbaijan_Grand_Prix/2018-04-29_Race"
)


@pytest.fixture(scope="module")
def upstream() -> Iterator[Upstream]:
    with running_upstream(data_dir=load_settings().require_data_dir) as server:
        yield server


def _live_feed_lap_keys(settings: Settings) -> set[str]:
    reducer = SessionReducer()
    source = messages_from_source(str(BAKU), settings=settings)
    ingest(source.messages, reducer=reducer, db=None, publisher=None, settings=settings)
    return set(reducer.laps()[0].model_dump(mode="json"))


def test_api_serves_openf1_laps_like_live_feed_laps(
    firestore_db: Any, settings: Settings, upstream: Upstream
) -> None:
    fast = load_settings(openf1_url=upstream.url, openf1_rate_per_s=1000.0, openf1_rate_per_min=60_000)
    with make_http_client(fast) as http:
        client = OpenF1Client(settings=fast, http=http)
        summary = ingest_openf1_session(
            9606, client=client, db=firestore_db, publisher=None, settings=settings
        )
    api = load_function("api", signature_type="http").client
    resp = api.get(f"/api/sessions/{SID}/laps")
    assert resp.status_code == 200
    laps, page = [], resp.get_json()
    while True:  # long lists come in pages
        laps += page["items"]
        if not page.get("next_cursor"):
            break
        page = api.get(f"/api/sessions/{SID}/laps?cursor={page['next_cursor']}").get_json()
    assert len(laps) == summary.laps == 1159
    live_keys = _live_feed_lap_keys(settings)
    assert all(set(lap) == live_keys for lap in laps)
    assert {lap["source"] for lap in laps} == {"openf1"}
    one = api.get(f"/api/sessions/{SID}/laps?driver=4&lap=2").get_json()["items"]
    assert [(x["lap_time_ms"], x["sector_times_ms"]) for x in one] == [(98480, [29268, 41412, 27800])]
    drivers = api.get(f"/api/sessions/{SID}/drivers").get_json()["items"]
    assert len(drivers) == 20 and {d["abbreviation"] for d in drivers} >= {"VER", "NOR", "PIA"}


@pytest.fixture
def poller(firestore_db: Any, pubsub: Any, upstream: Upstream) -> Any:
    upstream.reset()
    os.environ["PITLANE_OPENF1_URL"] = upstream.url
    get_settings.cache_clear()
    return load_function("poll_openf1_live", source=Path(PROJECT_ROOT / "functions" / "poll_openf1_live.py"))


def test_tick_polls_nothing_when_no_session_is_live(
    poller: Any, upstream: Upstream, firestore_db: Any
) -> None:
    event = pubsub_cloud_event({"reason": "minute"}, topic="openf1-tick")
    resp = post_cloud_event(poller.client, event)
    assert resp.status_code == 200
    paths = [r["path"] for r in upstream.requests()]
    assert paths.count("/v1/sessions") >= 1 and "/v1/laps" not in paths  # the 2024 race is long over
    assert not list(firestore_db.collection("openf1_polls").list_documents())


def test_tick_with_a_bad_payload_is_acknowledged(poller: Any) -> None:
    resp = post_cloud_event(poller.client, pubsub_cloud_event({"budget_s": 999}, topic="openf1-tick"))
    assert resp.status_code == 200  # permanent: logged and acknowledged, never retried
