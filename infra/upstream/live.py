"""Time-scaled replay of a recorded F1 live feed, served the way livetiming.formula1.com serves it.

A :class:`LiveReplay` plays one source: a live capture (any recording format that
:mod:`shared.feed.recording` reads, with the ``subscribe.json`` snapshot next to it when there
is one) or an archive session folder (all topics merged into time order). Paths are relative to
the data folder. The replay clock starts when the replay is configured, like a session you join
mid-way; ``speed`` scales it (1 = real time, 10 = ten times faster, ``"max"``/0 = no waiting; at
max speed the clock holds until the first client has subscribed, or it would be over before
anyone could connect).

Clients speak either protocol:

* SignalR Core (FastF1's live client, the ``signalrcore`` package): ``POST /signalrcore/negotiate``
  then a WebSocket on ``/signalrcore?id=<connectionToken or connectionId>``; JSON hub protocol with
  ``\\x1e``-terminated records; ``Subscribe`` answers with a completion holding each topic's state
  at the current replay position; ``feed`` invocations follow; ``{"type":6}`` pings when idle and
  ``{"type":7}`` (close) at the end of the recording.
* classic SignalR 1.5: ``GET /signalr/negotiate`` then ``/signalr/connect?transport=webSockets&
  connectionToken=...``; ``{"R": snapshot, "I": id}`` answers the hub call; ``{}`` keep-alives.

Every subscriber gets each message published after its snapshot exactly once, in order: the
snapshot is taken and the subscriber registered in one step of the event loop. Topics asked for
with a ``.z`` suffix are sent compressed, as F1 sends ``CarData.z``/``Position.z``.
"""

from __future__ import annotations

import asyncio
import copy
import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import anyio.to_thread
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

from shared.feed import (
    FeedMessage,
    ParseStats,
    StreamAnchor,
    apply_message,
    archive_messages,
    encode_z,
    estimate_start_utc,
    format_utc,
    index_session_info,
    load_snapshot,
    read_archive_dir,
    read_recording,
)

RS = "\x1e"
HUB = "Streaming"
_BATCH = 64  # records per WebSocket frame at most; real hubs batch too


@dataclass
class Timeline:
    """A loaded source: messages in replay order plus the state to start from."""

    source: str
    kind: str  # "recording" | "archive"
    messages: list[FeedMessage]
    snapshot: dict[str, Any]
    stats: ParseStats
    anchor: StreamAnchor | None = None


def parse_speed(value: Any) -> float | None:
    """``"max"``, 0 or None -> None (no waiting); otherwise a positive factor of real time."""
    if value is None or value == "max":
        return None
    speed = float(value)
    if speed == 0:
        return None
    if speed < 0:
        raise ValueError("speed must be positive, 0 or 'max'")
    return speed


def _inside(data_dir: Path, relative: str) -> Path:
    base = data_dir.resolve()
    path = (base / relative).resolve()
    if not path.is_relative_to(base):
        raise ValueError(f"source {relative!r} is outside the data folder")
    if not path.exists():
        raise FileNotFoundError(f"no such source: {relative}")
    return path


def load_timeline(data_dir: Path, source: str, snapshot: str | None = None) -> Timeline:
    """Load ``source`` (relative to ``data_dir``): an archive folder, a capture folder or file."""
    path = _inside(data_dir, source)
    stats = ParseStats()
    if path.is_dir() and any(path.glob("*.jsonStream")):
        texts = read_archive_dir(path)
        index_file = path.parent.parent / "Index.json"
        info = None
        if "SessionInfo" not in texts and index_file.is_file():
            index = json.loads(index_file.read_text(encoding="utf-8-sig"))
            info = index_session_info(index, str(path.relative_to(path.parent.parent.parent)))
        anchor = estimate_start_utc(texts, session_path=str(path), session_info=info)
        messages = list(archive_messages(texts, start_utc=anchor.utc, stats=stats))
        return Timeline(source, "archive", messages, {}, stats, anchor)
    if path.is_dir():
        path = path / "live.jsonl"
        if not path.is_file():
            raise FileNotFoundError(f"{source} holds neither .jsonStream files nor live.jsonl")
    with path.open(encoding="utf-8", errors="replace") as lines:
        messages = list(read_recording(lines, stats))
    snap_path = _inside(data_dir, snapshot) if snapshot else path.parent / "subscribe.json"
    state = load_snapshot(snap_path.read_text(encoding="utf-8-sig")) if snap_path.is_file() else {}
    return Timeline(source, "recording", messages, state, stats)


@dataclass(eq=False)
class _Subscriber:
    queue: asyncio.Queue[tuple[str, str] | None] = field(default_factory=asyncio.Queue)
    topics: set[str] = field(default_factory=set)


@dataclass(frozen=True)
class _Protocol:
    wrap: Callable[[list[str], int], str]  # feed argument lists (JSON), frame number -> frame
    ping: str
    close: str | None


def _core_frame(args: list[str], _: int) -> str:
    return "".join(f'{{"type":1,"target":"feed","arguments":{a}}}{RS}' for a in args)


def _classic_frame(args: list[str], n: int) -> str:
    calls = ",".join(f'{{"H":"{HUB}","M":"feed","A":{a}}}' for a in args)
    return f'{{"C":"d-{n}","M":[{calls}]}}'


def _classic_reply(invocation: str) -> Callable[[str], str]:
    return lambda snapshot: f'{{"R":{snapshot},"I":{json.dumps(invocation)}}}'


CORE = _Protocol(_core_frame, '{"type":6}' + RS, '{"type":7}' + RS)
CLASSIC = _Protocol(_classic_frame, "{}", None)


class LiveReplay:
    """A replay of one recorded session to any number of SignalR clients (see module docstring)."""

    def __init__(
        self,
        *,
        data_dir: Path | str,
        source: str,
        speed: float | str = 1.0,
        snapshot: str | None = None,
        start_offset_s: float = 0.0,
        wait_for: int | None = None,
        ping_interval_s: float = 10.0,
    ) -> None:
        self.data_dir = Path(data_dir)
        self.ping_interval_s = ping_interval_s
        self._tokens: dict[str, str] = {}
        self._subs: set[_Subscriber] = set()
        self._task: asyncio.Task[None] | None = None
        self._gate: asyncio.Event | None = None
        self._install(load_timeline(self.data_dir, source, snapshot), speed, start_offset_s, wait_for)

    # -- timeline and clock -------------------------------------------------------------------

    def _install(self, timeline: Timeline, speed: Any, start_offset_s: float, wait_for: int | None) -> None:
        """Swap in a timeline and restart the clock; connected clients are closed, like a session end."""
        self._speed = parse_speed(speed)
        self._end_subscribers()
        if self._task is not None:
            self._task.cancel()
            self._task = None
        self._timeline = timeline
        self._state: dict[str, Any] = copy.deepcopy(timeline.snapshot)
        self._index = 0
        self._sent = 0
        self._finished = False
        messages = timeline.messages
        first = messages[0].utc if messages else None
        self._origin = first + timedelta(seconds=start_offset_s) if first else None
        while self._index < len(messages) and self._origin and messages[self._index].utc < self._origin:
            apply_message(self._state, messages[self._index])  # joined mid-way: fold what went before
            self._index += 1
        self._position = self._origin
        self._wait_for = wait_for if wait_for is not None else (1 if self._speed is None else 0)
        self._clock: float | None = time.monotonic() if self._wait_for == 0 else None

    def configure(
        self,
        *,
        source: str,
        speed: float | str = 1.0,
        snapshot: str | None = None,
        start_offset_s: float = 0.0,
        wait_for: int | None = None,
    ) -> None:
        """Replay another source (or the same one again) from ``start_offset_s`` seconds in."""
        self._install(load_timeline(self.data_dir, source, snapshot), speed, start_offset_s, wait_for)

    def restart(self, *, start_offset_s: float = 0.0, speed: Any = ..., wait_for: int | None = None) -> None:
        """Restart the current timeline's clock (the source is not re-read)."""
        new_speed = ("max" if self._speed is None else self._speed) if speed is ... else speed
        self._install(self._timeline, new_speed, start_offset_s, wait_for)

    def status(self) -> dict[str, Any]:
        """What the replay is doing, for ``GET /_upstream/replay`` and for tests."""
        tl = self._timeline
        return {
            "source": tl.source,
            "kind": tl.kind,
            "speed": "max" if self._speed is None else self._speed,
            "position_utc": format_utc(self._position) if self._position else None,
            "messages_sent": self._sent,
            "position_index": self._index,
            "total": len(tl.messages),
            "subscribers": len(self._subs),
            "clock_started": self._clock is not None,
            "finished": self._finished,
            "anchor": {"utc": format_utc(tl.anchor.utc), "method": tl.anchor.method} if tl.anchor else None,
            "skipped": dict(tl.stats.skipped),
            "snapshot_topics": sorted(tl.snapshot),
        }

    def _ensure_running(self) -> None:
        loop = asyncio.get_running_loop()
        if self._task is not None and self._task.get_loop() is loop:
            return
        self._gate = asyncio.Event()
        self._open_gate_if_due()
        self._task = loop.create_task(self._run(), name="live-replay")

    def _open_gate_if_due(self) -> None:
        if self._gate is not None and (self._clock is not None or len(self._subs) >= self._wait_for):
            self._gate.set()

    async def _run(self) -> None:
        assert self._gate is not None
        await self._gate.wait()
        if self._clock is None:
            self._clock = time.monotonic()
        messages, clock, origin = self._timeline.messages, self._clock, self._origin
        while self._index < len(messages):
            message = messages[self._index]
            if self._speed is not None and origin is not None:
                delay = clock + (message.utc - origin).total_seconds() / self._speed - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
            elif self._index % _BATCH == 0:
                await asyncio.sleep(0)  # let writers drain at max speed
            self._publish(message)
        self._finished = True
        self._end_subscribers()

    def _publish(self, message: FeedMessage) -> None:
        apply_message(self._state, message)
        self._index += 1
        self._sent += 1
        self._position = max(self._position, message.utc) if self._position else message.utc
        utc = format_utc(message.utc)
        plain = zipped = None
        for sub in self._subs:
            if message.topic in sub.topics:
                plain = plain or json.dumps([message.topic, message.payload, utc], separators=(",", ":"))
                sub.queue.put_nowait(("feed", plain))
            if message.topic + ".z" in sub.topics:
                zipped = zipped or json.dumps([message.topic + ".z", encode_z(message.payload), utc])
                sub.queue.put_nowait(("feed", zipped))

    def _end_subscribers(self) -> None:
        for sub in self._subs:
            sub.queue.put_nowait(None)
        self._subs.clear()

    def _subscribe(self, sub: _Subscriber, topics: list[str], reply: Callable[[str], str] | None) -> None:
        """Snapshot the requested topics and register ``sub`` in one step (no await in between)."""
        result: dict[str, Any] = {}
        for topic in topics:
            base = topic.removesuffix(".z")
            if base in self._state:
                result[topic] = encode_z(self._state[base]) if topic.endswith(".z") else self._state[base]
        if reply is not None:  # an invocation without id expects no answer
            sub.queue.put_nowait(("raw", reply(json.dumps(result, separators=(",", ":")))))
        sub.topics.update(topics)
        if self._finished:
            sub.queue.put_nowait(None)
            return
        self._subs.add(sub)
        self._open_gate_if_due()

    # -- transport ----------------------------------------------------------------------------

    def _new_connection(self) -> tuple[str, str]:
        connection_id, token = uuid.uuid4().hex, uuid.uuid4().hex
        self._tokens[connection_id] = self._tokens[token] = connection_id
        return connection_id, token

    async def _pump(self, ws: WebSocket, sub: _Subscriber, proto: _Protocol) -> None:
        """Write one connection's queue to its socket, batching feed messages, pinging when idle."""
        frames = 0
        while True:
            try:
                item = await asyncio.wait_for(sub.queue.get(), self.ping_interval_s)
            except TimeoutError:
                await ws.send_text(proto.ping)
                continue
            feed: list[str] = []
            while item is not None and item[0] == "feed":
                feed.append(item[1])
                if len(feed) >= _BATCH or sub.queue.empty():
                    item = ("", "")  # nothing else pending
                    break
                item = sub.queue.get_nowait()
            if feed:
                frames += 1
                await ws.send_text(proto.wrap(feed, frames))
            if item is None:  # end of the recording, or the replay was reconfigured
                if proto.close:
                    await ws.send_text(proto.close)
                await ws.close()
                return
            if item[0] == "raw" and item[1]:
                await ws.send_text(item[1])

    async def _serve(self, ws: WebSocket, sub: _Subscriber, proto: _Protocol, reader: Any) -> None:
        pump = asyncio.create_task(self._pump(ws, sub, proto))
        read = asyncio.create_task(reader())
        try:
            await asyncio.wait({pump, read}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            self._subs.discard(sub)
            for task in (pump, read):
                task.cancel()
            await asyncio.gather(pump, read, return_exceptions=True)

    async def _core_ws(self, ws: WebSocket) -> None:
        if ws.query_params.get("id") not in self._tokens:
            await ws.close(code=1008)
            return
        self._ensure_running()
        await ws.accept()
        sub = _Subscriber()
        try:
            first = await ws.receive_text()
        except WebSocketDisconnect:
            return
        handshake, _, rest = first.partition(RS)
        try:
            protocol = json.loads(handshake).get("protocol")
        except (ValueError, AttributeError):
            protocol = None
        if protocol != "json":
            await ws.send_text(json.dumps({"error": "only the json protocol is supported"}) + RS)
            await ws.close()
            return
        await ws.send_text("{}" + RS)

        def handle(record: str) -> None:
            msg = json.loads(record)
            if msg.get("type") != 1:
                return  # pings, acks and closes need no answer
            inv = msg.get("invocationId")
            if str(msg.get("target", "")).lower() == "subscribe":
                args = msg.get("arguments") or [[]]
                topics = [t for t in args[0] if isinstance(t, str)] if isinstance(args[0], list) else []

                def reply(snapshot: str) -> str:
                    return f'{{"type":3,"invocationId":{json.dumps(inv)},"result":{snapshot}}}{RS}'

                self._subscribe(sub, topics, reply if inv is not None else None)
            elif inv is not None:
                error = f"Unknown hub method '{msg.get('target')}'"
                sub.queue.put_nowait(
                    ("raw", json.dumps({"type": 3, "invocationId": inv, "error": error}) + RS)
                )

        async def reader() -> None:
            pending = rest
            while True:
                for record in pending.split(RS):
                    if record.strip():
                        try:
                            handle(record)
                        except (ValueError, AttributeError, IndexError, TypeError):
                            continue
                try:
                    pending = await ws.receive_text()
                except (WebSocketDisconnect, RuntimeError):
                    return

        await self._serve(ws, sub, CORE, reader)

    async def _classic_ws(self, ws: WebSocket) -> None:
        connection_id = self._tokens.get(ws.query_params.get("connectionToken", ""))
        if connection_id is None:
            await ws.close(code=1008)
            return
        self._ensure_running()
        await ws.accept()
        sub = _Subscriber()
        await ws.send_text(json.dumps({"C": f"s-{connection_id}", "S": 1, "M": []}))

        async def reader() -> None:
            while True:
                try:
                    msg = json.loads(await ws.receive_text())
                except (WebSocketDisconnect, RuntimeError):
                    return
                except ValueError:
                    continue
                if not isinstance(msg, dict) or "I" not in msg:
                    continue
                inv = str(msg["I"])
                if str(msg.get("M", "")).lower() == "subscribe" and isinstance(msg.get("A"), list):
                    first = (msg["A"] or [[]])[0]
                    topics = [t for t in first if isinstance(t, str)] if isinstance(first, list) else []
                    self._subscribe(sub, topics, _classic_reply(inv))
                else:
                    error = {"I": inv, "E": f"Unknown hub method '{msg.get('M')}'"}
                    sub.queue.put_nowait(("raw", json.dumps(error)))

        await self._serve(ws, sub, CLASSIC, reader)

    async def _core_negotiate(self, request: Request) -> Response:
        connection_id, token = self._new_connection()
        return JSONResponse(
            {
                "connectionId": connection_id,
                "connectionToken": token,
                "negotiateVersion": 1,
                "availableTransports": [{"transport": "WebSockets", "transferFormats": ["Text"]}],
            }
        )

    async def _classic_negotiate(self, request: Request) -> Response:
        connection_id, token = self._new_connection()
        return JSONResponse(
            {
                "Url": "/signalr",
                "ConnectionToken": token,
                "ConnectionId": connection_id,
                "KeepAliveTimeout": 20.0,
                "DisconnectTimeout": 30.0,
                "ConnectionTimeout": 110.0,
                "TryWebSockets": True,
                "ProtocolVersion": "1.5",
                "TransportConnectTimeout": 5.0,
                "LongPollDelay": 0.0,
            }
        )

    async def _classic_start(self, request: Request) -> Response:
        return JSONResponse({"Response": "started"})

    def routes(self) -> list[BaseRoute]:
        """The upstream's SignalR endpoints, as livetiming.formula1.com exposes them."""
        return [
            Route("/signalrcore/negotiate", self._core_negotiate, methods=["POST", "OPTIONS"]),
            WebSocketRoute("/signalrcore", self._core_ws),
            Route("/signalr/negotiate", self._classic_negotiate, methods=["GET"]),
            Route("/signalr/start", self._classic_start, methods=["GET"]),
            WebSocketRoute("/signalr/connect", self._classic_ws),
        ]

    # -- control ------------------------------------------------------------------------------

    async def _get_status(self, request: Request) -> Response:
        return JSONResponse(self.status())

    async def _post_replay(self, request: Request) -> Response:
        try:
            body = await request.json() if await request.body() else {}
            if not isinstance(body, dict):
                raise ValueError("body must be a JSON object")
            speed = body.get("speed", "max" if self._speed is None else self._speed)
            parse_speed(speed)
            offset = float(body.get("start_offset_s", 0.0))
            wait_for = body.get("wait_for")
            if "source" in body or "snapshot" in body:
                source = str(body.get("source", self._timeline.source))
                snapshot = body.get("snapshot")
                timeline = await anyio.to_thread.run_sync(load_timeline, self.data_dir, source, snapshot)
            else:
                timeline = self._timeline
        except FileNotFoundError as exc:
            return JSONResponse({"title": "source not found", "detail": str(exc)}, status_code=404)
        except (ValueError, TypeError) as exc:
            return JSONResponse({"title": "bad replay request", "detail": str(exc)}, status_code=400)
        self._install(timeline, speed, offset, None if wait_for is None else int(wait_for))
        self._ensure_running()
        return JSONResponse(self.status())

    async def _post_restart(self, request: Request) -> Response:
        body = await request.json() if await request.body() else {}
        self.restart(start_offset_s=float(body.get("start_offset_s", 0.0)) if isinstance(body, dict) else 0.0)
        self._ensure_running()
        return JSONResponse(self.status())

    def control_routes(self) -> list[BaseRoute]:
        """``GET/POST /_upstream/replay`` (status, reconfigure) and ``POST .../restart``."""
        return [
            Route("/_upstream/replay", self._get_status, methods=["GET"]),
            Route("/_upstream/replay", self._post_replay, methods=["POST"]),
            Route("/_upstream/replay/restart", self._post_restart, methods=["POST"]),
        ]
