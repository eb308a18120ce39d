"""The live-feed replay served by real uvicorn, driven by real WebSocket clients.

Each test builds a small Starlette app with only the replay's routes (the full upstream app lives
in ``infra/upstream/app.py``) and serves it on a free port in a background thread.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
import websockets
from starlette.applications import Starlette

from infra.local.emulators import free_port
from infra.upstream.live import LiveReplay
from shared.config import Settings
from shared.feed import ParseStats, load_snapshot, merge_delta, parse_utc, read_recording

RS = "\x1e"
CAPTURE = "livefeed/2024_silverstone_fp1"
BAKU = "livetiming/static/2018/2018-04-29_Azerbaijan_Grand_Prix/2018-04-29_Race"


@pytest.fixture
def data_dir(settings: Settings) -> Path:
    return settings.require_data_dir


@contextmanager
def serving(replay: LiveReplay) -> Iterator[str]:
    """Serve the replay's routes; yields ``http://127.0.0.1:<port>``."""
    app = Starlette(routes=[*replay.routes(), *replay.control_routes()])
    port = free_port()
    # No WebSocket-level pings: signalrcore's own socket client cannot parse ping frames.
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", ws_ping_interval=None)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


async def core_client(
    base: str, topics: list[str], *, delay_s: float = 0.0
) -> tuple[dict[str, Any], list[list[Any]], bool]:
    """SignalR Core session: returns (subscribe result, feed argument lists, got close message)."""
    await asyncio.sleep(delay_s)
    async with httpx.AsyncClient() as http:
        neg = (await http.post(f"{base}/signalrcore/negotiate?negotiateVersion=1")).json()
    assert neg["negotiateVersion"] == 1
    assert neg["availableTransports"][0]["transport"] == "WebSockets"
    url = base.replace("http", "ws") + f"/signalrcore?id={neg['connectionToken']}"
    result: dict[str, Any] | None = None
    feed: list[list[Any]] = []
    closed = False
    async with websockets.connect(url, max_size=None, ping_interval=None) as ws:
        await ws.send(json.dumps({"protocol": "json", "version": 1}) + RS)
        assert await ws.recv() == "{}" + RS
        invocation = {"type": 1, "invocationId": "0", "target": "Subscribe", "arguments": [topics]}
        await ws.send(json.dumps(invocation) + RS)
        async for frame in ws:
            assert isinstance(frame, str) and frame.endswith(RS)
            for record in filter(None, frame.split(RS)):
                msg = json.loads(record)
                if msg["type"] == 3:
                    assert msg["invocationId"] == "0" and result is None and not feed
                    result = msg["result"]
                elif msg["type"] == 1:
                    assert msg["target"] == "feed" and result is not None
                    feed.append(msg["arguments"])
                elif msg["type"] == 7:
                    closed = True
    assert result is not None
    return result, feed, closed


def parsed_capture(data_dir: Path) -> tuple[list[Any], ParseStats]:
    stats = ParseStats()
    with (data_dir / CAPTURE / "live.jsonl").open() as lines:
        return list(read_recording(lines, stats)), stats


def test_core_client_gets_the_whole_capture_at_max_speed(data_dir: Path) -> None:
    messages, stats = parsed_capture(data_dir)
    assert len(messages) == 11_438 - stats.skipped_total
    snapshot = load_snapshot((data_dir / CAPTURE / "subscribe.json").read_text())
    topics = sorted({m.topic for m in messages} | set(snapshot))
    replay = LiveReplay(data_dir=data_dir, source=CAPTURE, speed="max")
    with serving(replay) as base:
        result, feed, closed = asyncio.run(core_client(base, topics))
        status = httpx.get(f"{base}/_upstream/replay").json()

    # The clock held at the start until we subscribed: the snapshot is subscribe.json itself.
    assert set(result) == set(snapshot) and "TimingData" in result and "DriverList" in result
    assert result["SessionInfo"] == snapshot["SessionInfo"]
    assert len(feed) == len(messages) == 11_438
    assert [(t, p) for t, p, _ in feed] == [(m.topic, m.payload) for m in messages]
    times = [parse_utc(utc) for _, _, utc in feed]  # arrival order: F1 publishers jitter by < 5 s
    assert all(b >= a - timedelta(seconds=5) for a, b in itertools.pairwise(times))
    assert feed[0][2] == "2024-07-05T11:50:44.449000Z"
    assert closed
    assert status["finished"] and status["messages_sent"] == status["total"] == 11_438


def test_archive_session_replays_in_time_order_at_high_speed(data_dir: Path) -> None:
    replay = LiveReplay(data_dir=data_dir, source=BAKU, speed=2000, wait_for=1)
    with serving(replay) as base:
        started = time.monotonic()
        result, feed, closed = asyncio.run(core_client(base, ["TimingData", "LapCount", "SessionStatus"]))
        elapsed = time.monotonic() - started
        status = httpx.get(f"{base}/_upstream/replay").json()
    assert result == {}  # an archive starts from nothing
    assert status["anchor"] == {"utc": "2018-04-29T12:05:59.915000Z", "method": "race_control"}
    assert len(feed) == 23_496 + 51 + 5  # TimingData, LapCount, SessionStatus lines
    utcs = [f[2] for f in feed]
    assert utcs == sorted(utcs)
    # 1 h 55 min of session at 2000x is about 3.4 s: the replay waited, but not in real time.
    assert 2.5 < elapsed < 30
    assert closed
    final: dict[str, Any] = {}
    for topic, payload, _ in feed:
        final[topic] = merge_delta(final.get(topic), payload)
    assert final["LapCount"]["CurrentLap"] == 51
    assert final["SessionStatus"]["Status"] == "Ends"


def test_late_joiner_gets_state_up_to_its_join(data_dir: Path) -> None:
    replay = LiveReplay(data_dir=data_dir, source=BAKU, speed=3000, wait_for=1)
    topics = ["TimingData", "TrackStatus", "LapCount"]

    async def both() -> tuple[Any, Any]:
        first = asyncio.create_task(core_client(base, topics))
        late = asyncio.create_task(core_client(base, topics, delay_s=1.0))
        return await first, await late

    with serving(replay) as base:
        (snap_a, feed_a, _), (snap_b, feed_b, closed_b) = asyncio.run(both())
    joined_at = len(feed_a) - len(feed_b)
    assert 0 < joined_at < len(feed_a)
    assert feed_b == feed_a[joined_at:]  # exactly once, in order, after its snapshot
    state: dict[str, Any] = dict(snap_a)
    for topic, payload, _ in feed_a[:joined_at]:
        state[topic] = merge_delta(state.get(topic), payload)
    assert snap_b == state
    assert closed_b


async def classic_client(base: str, topics: list[str]) -> tuple[dict[str, Any], list[list[Any]]]:
    async with httpx.AsyncClient() as http:
        neg = (await http.get(f"{base}/signalr/negotiate", params={"clientProtocol": "1.5"})).json()
    assert neg["ProtocolVersion"] == "1.5" and neg["TryWebSockets"] is True
    url = (
        base.replace("http", "ws")
        + f"/signalr/connect?transport=webSockets&connectionToken={neg['ConnectionToken']}"
    )
    result: dict[str, Any] | None = None
    feed: list[list[Any]] = []
    async with websockets.connect(url, max_size=None, ping_interval=None) as ws:
        init = json.loads(await ws.recv())
        assert init["S"] == 1 and init["M"] == []
        await ws.send(json.dumps({"H": "Streaming", "M": "Subscribe", "A": [topics], "I": 0}))
        async for frame in ws:
            msg = json.loads(frame)
            if "R" in msg:
                assert msg["I"] == "0" and not feed
                result = msg["R"]
            for call in msg.get("M", []):
                assert call["H"] == "Streaming" and call["M"] == "feed"
                feed.append(call["A"])
    assert result is not None
    return result, feed


def test_classic_client(data_dir: Path) -> None:
    messages, _ = parsed_capture(data_dir)
    replay = LiveReplay(data_dir=data_dir, source=CAPTURE, speed="max")
    with serving(replay) as base:
        result, feed = asyncio.run(classic_client(base, ["TimingData", "RaceControlMessages"]))
    assert set(result) == {"TimingData", "RaceControlMessages"}
    expected = [m for m in messages if m.topic in {"TimingData", "RaceControlMessages"}]
    assert len(feed) == len(expected) == 10_329 + 10
    assert [a[1] for a in feed] == [m.payload for m in expected]


def test_control_routes_reconfigure_and_reject_bad_sources(data_dir: Path) -> None:
    replay = LiveReplay(data_dir=data_dir, source=CAPTURE, speed=1)
    with serving(replay) as base:
        status = httpx.get(f"{base}/_upstream/replay").json()
        assert status["source"] == CAPTURE and status["total"] == 11_438 and status["clock_started"]
        status = httpx.post(
            f"{base}/_upstream/replay", json={"source": BAKU, "speed": 10, "start_offset_s": 3600}
        ).json()
        assert status["kind"] == "archive" and status["speed"] == 10
        assert status["position_utc"] == "2018-04-29T13:05:59.915000Z"
        assert 0 < status["position_index"] < status["total"]  # joined an hour in
        assert httpx.post(f"{base}/_upstream/replay", json={"source": "../etc"}).status_code in (400, 404)
        assert httpx.post(f"{base}/_upstream/replay", json={"source": "nope/x"}).status_code == 404
        assert httpx.post(f"{base}/_upstream/replay", json={"speed": -2}).status_code == 400
        assert httpx.get(f"{base}/_upstream/replay").json()["source"] == BAKU
        bad = httpx.post(f"{base}/signalrcore/negotiate").json()["connectionId"] + "x"
        with pytest.raises(websockets.exceptions.InvalidStatus):
            asyncio.run(_connect(base.replace("http", "ws") + f"/signalrcore?id={bad}"))


async def _connect(url: str) -> None:
    async with websockets.connect(url):
        pass


def test_signalrcore_package_client(data_dir: Path) -> None:
    """The SignalR Core client FastF1's live client is built on connects, subscribes and streams."""
    from signalrcore.hub_connection_builder import HubConnectionBuilder

    messages, _ = parsed_capture(data_dir)
    replay = LiveReplay(data_dir=data_dir, source=CAPTURE, speed="max")
    feed: list[list[Any]] = []
    result: dict[str, Any] = {}
    opened, closed = threading.Event(), threading.Event()
    with serving(replay) as base:
        connection = HubConnectionBuilder().with_url(f"{base}/signalrcore").build()
        connection.on_open(opened.set)
        connection.on_close(closed.set)
        connection.on("feed", feed.append)
        connection.start()
        try:
            assert opened.wait(10)
            connection.send(
                "Subscribe", [["TimingData", "DriverList"]], on_invocation=lambda m: result.update(m.result)
            )
            assert closed.wait(30), "the replay's close message should end the connection"
        finally:
            connection.stop()
    assert sorted(result) == ["DriverList", "TimingData"]
    assert len(feed) == sum(m.topic in {"TimingData", "DriverList"} for m in messages) == 10_329 + 47
