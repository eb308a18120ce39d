"""The SignalR Core client against the upstream server's live replay (real WebSocket)."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from shared.config import load_settings
from shared.errors import TransientError
from shared.feed import read_recording
from shared.sources.livefeed import DEFAULT_TOPICS, open_live_feed
from tests.integration.upstream_fixture import running_upstream

CAPTURE = "livefeed/2024_silverstone_fp1"


@pytest.fixture
def data_dir(test_env: dict[str, str]) -> Path:
    return load_settings().require_data_dir


def test_client_receives_every_recorded_message_in_order(data_dir: Path) -> None:
    with (data_dir / CAPTURE / "live.jsonl").open(encoding="utf-8") as fh:
        expected = list(read_recording(fh))
    with running_upstream(data_dir=data_dir, replay_source=CAPTURE, speed=0) as up, httpx.Client() as http:
        feed = open_live_feed(
            up.url, http=http, topics=sorted({m.topic for m in expected} | set(DEFAULT_TOPICS))
        )
        received = list(feed.messages())
    assert {"TimingData", "DriverList", "SessionInfo"} <= set(feed.snapshot)
    assert feed.snapshot["SessionInfo"]["Meeting"]["Name"] == "British Grand Prix"
    assert len(received) == len(expected) == 11_438
    assert [(m.topic, m.utc) for m in received] == [(m.topic, m.utc) for m in expected]
    assert feed.stats.skipped_total == 0


def test_only_subscribed_topics_arrive(data_dir: Path) -> None:
    with running_upstream(data_dir=data_dir, replay_source=CAPTURE, speed=0) as up, httpx.Client() as http:
        feed = open_live_feed(up.url, http=http, topics=["RaceControlMessages", "TrackStatus"])
        topics = {m.topic for m in feed.messages()}
    assert topics == {"RaceControlMessages", "TrackStatus"}


def test_unreachable_feed_is_transient(data_dir: Path) -> None:
    with running_upstream(data_dir=data_dir) as up, httpx.Client() as http:
        up.add_fault(path_prefix="/signalrcore", kind="status", status=503)
        with pytest.raises(TransientError, match="negotiate"):
            open_live_feed(up.url, http=http)
