"""A SignalR Core client for the F1 live-timing feed (transport only).

Protocol (ASP.NET Core SignalR, JSON hub protocol; records end with ``\\x1e``):
``POST <root>/signalrcore/negotiate?negotiateVersion=1`` gives a connection token; the WebSocket
``<root>/signalrcore?id=<token>`` opens with the handshake ``{"protocol":"json","version":1}``;
the invocation ``Subscribe([topics])`` is answered by a completion (type 3) whose ``result`` is the
current state of each topic; then ``feed`` invocations (type 1) carry ``[topic, delta, utc]``.
Type 6 is a ping, type 7 closes the stream. ``.z`` topics are decoded by ``shared.feed``.

The same code talks to ``https://livetiming.formula1.com`` and to the local upstream server.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from shared.errors import TransientError
from shared.feed import FeedMessage, ParseStats, load_snapshot, parse_line
from shared.feed.recording import LineError

log = logging.getLogger(__name__)
RS = "\x1e"
DEFAULT_TOPICS = (
    "Heartbeat", "SessionInfo", "SessionStatus", "TrackStatus", "LapCount", "DriverList",
    "TimingData", "TimingAppData", "TimingStats", "RaceControlMessages", "WeatherData",
    "ExtrapolatedClock", "TopThree", "SessionData", "TyreStintSeries", "PitLaneTimeCollection",
    "TeamRadio", "ChampionshipPrediction",
)  # fmt: skip
# Telemetry (CarData.z, Position.z) is left out by default: ~20 MB a session nothing here uses yet.


@dataclass
class LiveFeed:
    """One connection: ``snapshot`` (topic -> state at subscribe time), then ``messages()``."""

    snapshot: dict[str, Any]
    _ws: Any
    stats: ParseStats = field(default_factory=ParseStats)

    def messages(self) -> Iterator[FeedMessage]:
        """Feed messages until the server closes the stream (after its close record, type 7).

        Malformed frames are skipped and counted in ``stats``; a connection lost without a clean
        close raises ``TransientError`` so the caller resumes from its checkpoint.
        """
        try:
            for frame in self._ws:  # ends on a clean close
                yield from self._parse(frame.decode() if isinstance(frame, bytes) else frame)
        except ConnectionClosed as exc:
            raise TransientError(f"live feed connection lost: {exc}") from exc

    def _parse(self, text: str) -> Iterator[FeedMessage]:
        self.stats.lines += 1
        try:
            messages = parse_line(text)
        except LineError as exc:
            self.stats.skipped[exc.reason] += 1
            return
        self.stats.messages += len(messages)
        yield from messages

    def close(self) -> None:
        self._ws.close()


def _ws_url(root: str) -> str:
    return root.replace("https://", "wss://", 1).replace("http://", "ws://", 1)


def open_live_feed(
    root: str, *, http: httpx.Client, topics: Sequence[str] = DEFAULT_TOPICS, timeout_s: float = 20.0
) -> LiveFeed:
    """Negotiate, connect and subscribe; ``TransientError`` if the server cannot be reached."""
    root = root.rstrip("/")
    try:
        resp = http.post(f"{root}/signalrcore/negotiate", params={"negotiateVersion": 1})
        resp.raise_for_status()
        token = resp.json().get("connectionToken") or resp.json()["connectionId"]
        ws = connect(f"{_ws_url(root)}/signalrcore?id={token}", open_timeout=timeout_s, max_size=None)
    except (httpx.HTTPError, OSError, KeyError, ValueError) as exc:
        raise TransientError(f"live feed negotiate/connect failed: {exc}") from exc
    try:
        ws.send(json.dumps({"protocol": "json", "version": 1}) + RS)
        handshake = json.loads(str(ws.recv(timeout=timeout_s)).split(RS)[0])
        if handshake.get("error"):
            raise TransientError(f"live feed handshake refused: {handshake['error']}")
        invocation = {"type": 1, "invocationId": "0", "target": "Subscribe", "arguments": [list(topics)]}
        ws.send(json.dumps(invocation) + RS)
        snapshot = _await_completion(ws, timeout_s)
    except (ConnectionClosed, TimeoutError, ValueError) as exc:
        ws.close()
        raise TransientError(f"live feed subscribe failed: {exc}") from exc
    return LiveFeed(snapshot=snapshot, _ws=ws)


def _await_completion(ws: Any, timeout_s: float) -> dict[str, Any]:
    while True:
        for record in str(ws.recv(timeout=timeout_s)).split(RS):
            if not record.strip():
                continue
            frame = json.loads(record)
            if frame.get("type") == 3 and frame.get("invocationId") == "0":
                if frame.get("error"):
                    raise ValueError(f"subscribe failed: {frame['error']}")
                return load_snapshot(frame.get("result") or {})
