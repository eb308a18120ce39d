"""The local upstream server: the real F1 data services, served from the recorded data folder.

One server stands in for every upstream, so client code only changes base URLs (settings
``PITLANE_F1_STATIC_URL``, ``PITLANE_JOLPICA_URL``, ``PITLANE_OPENF1_URL``,
``PITLANE_MULTIVIEWER_URL`` are this server's root;
``PITLANE_F1_SCHEDULE_URL`` is ``<root>/f1schedule/``):

=====================================  =========================================================
``/static/<path>``                     ``<data>/livetiming/static/<path>`` (F1 archive; also
                                       under ``/livetiming/static/``)
``/ergast/f1/<path>``                  ``<data>/jolpica/ergast/f1/<path>`` (Jolpica; also under
                                       ``/jolpica/ergast/f1/``); see :func:`jolpica_file`
``/f1schedule/schedule_<year>.json``   ``<data>/f1schedule/`` (FastF1's schedule feed)
``/api/v1/circuits/<key>/<year>``      ``<data>/multiviewer/circuits/<key>/<year>.json``
``/v1/<endpoint>``                     OpenF1 over ``<data>/openf1/*/<endpoint>.json``
``/signalr``, ``/signalrcore``         the live feed replay (``infra.upstream.live``, if present)
``/_upstream/...``                     control API: health, request log, faults, replay control
=====================================  =========================================================

Every request outside ``/_upstream`` is logged (``GET /_upstream/requests``, and one JSON line per
request in ``log_path``) and may be faulted (``/_upstream/faults``, see :mod:`.faults`).
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
import time
from collections import deque
from datetime import UTC, datetime
from email.utils import formatdate, parsedate_to_datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

from pydantic import ValidationError
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from infra.upstream import openf1
from infra.upstream.faults import (
    CONTROL_PREFIX,
    SCOPE_FAULT_KEY,
    FaultMiddleware,
    FaultRule,
    FaultSet,
    parse_rules,
)
from shared.errors import ConfigError

_MEDIA_TYPES = {".json": "application/json", ".jsonStream": "application/json", ".txt": "text/plain"}


def _utc_now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class RequestLog:
    """Requests served (newest last, at most ``maxlen`` kept); mirrored as JSON lines to ``path``."""

    def __init__(self, path: Path | None = None, maxlen: int = 10_000) -> None:
        self.path = path
        self._entries: deque[dict[str, Any]] = deque(maxlen=maxlen)
        self._seq = 0
        self._lock = threading.Lock()
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)

    def record(self, **fields: Any) -> dict[str, Any]:
        with self._lock:
            self._seq += 1
            entry = {"seq": self._seq, **fields}
            self._entries.append(entry)
            if self.path is not None:
                with self.path.open("a", encoding="utf-8") as out:
                    out.write(json.dumps(entry) + "\n")
        return entry

    def entries(self) -> list[dict[str, Any]]:
        with self._lock:
            return list(self._entries)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


class RequestLogMiddleware:
    """Logs each HTTP request when it ends, each WebSocket when it is accepted or refused."""

    def __init__(self, app: ASGIApp, log: RequestLog) -> None:
        self.app = app
        self.log = log

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket") or scope["path"].startswith(CONTROL_PREFIX):
            await self.app(scope, receive, send)
            return
        started, t0 = _utc_now(), time.monotonic()
        status: int | None = None
        logged = False

        def write() -> None:
            nonlocal logged
            if not logged:
                logged = True
                self.log.record(
                    ts=started,
                    method=scope.get("method", "WS"),
                    path=scope["path"],
                    query=scope.get("query_string", b"").decode("latin-1"),
                    status=status,
                    fault=scope.get(SCOPE_FAULT_KEY),
                    duration_ms=round((time.monotonic() - t0) * 1000, 1),
                )

        async def watch(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            elif message["type"] in ("websocket.accept", "websocket.close") and status is None:
                status = 101 if message["type"] == "websocket.accept" else 403
                write()
            await send(message)

        try:
            await self.app(scope, receive, watch)
        finally:
            write()


def safe_path(root: Path, rel: str) -> Path | None:
    """``root/rel`` if it stays inside ``root`` (no ``..`` escapes), else ``None``."""
    target = (root / rel.lstrip("/")).resolve()
    return target if target.is_relative_to(root.resolve()) else None


def _file_or_404(root: Path, rel: str, *, not_found: Response | None = None) -> Response:
    target = safe_path(root, rel)
    if target is None or not target.is_file():
        return not_found or Response("Not Found", status_code=404, media_type="text/plain")
    return FileResponse(target, media_type=_MEDIA_TYPES.get(target.suffix, "application/octet-stream"))


def decode_query_suffix(suffix: str) -> list[tuple[str, str]]:
    """``limit-30__offset-60`` (the part after the first ``__``) -> sorted ``[(key, value)]``.

    The recordings only hold one parameter per name (``laps.json__limit-1200`` is
    ``laps.json?limit=1200``); ``__`` or ``&`` between several parameters are both accepted.
    """
    pairs = [p.partition("-") for p in re.split(r"__|&", suffix) if p]
    return sorted((key, value) for key, _, value in pairs)


def jolpica_file(root: Path, rel: str, raw_query: str) -> Path | None:
    """The recorded file answering ``/ergast/f1/<rel>?<raw_query>``, or ``None`` (a 404).

    ``rel`` may end in ``.json`` or ``/`` (Jolpica accepts both). With a query string, the file is
    ``<name>.json__<key>-<value>`` holding exactly those parameters (in any order).
    """
    rel = rel.strip("/")
    if not rel.endswith(".json"):
        rel += ".json"
    target = safe_path(root, rel)
    if target is None:
        return None
    params = sorted(parse_qsl(raw_query, keep_blank_values=True))
    if not params:
        return target if target.is_file() else None
    if not target.parent.is_dir():
        return None
    prefix = target.name + "__"
    for candidate in sorted(target.parent.iterdir()):
        if candidate.name.startswith(prefix) and decode_query_suffix(candidate.name[len(prefix) :]) == params:
            return candidate
    return None


class OpenF1Store:
    """OpenF1 records per endpoint: the union of ``<data>/openf1/*/<endpoint>.json``, read once."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._cache: dict[str, list[openf1.Record] | None] = {}
        self._mtimes: dict[str, int] = {}
        self._lock = threading.Lock()

    def records(self, endpoint: str) -> list[openf1.Record] | None:
        """All records of ``endpoint``; ``None`` when no recording has that endpoint."""
        with self._lock:
            if endpoint not in self._cache:
                files = sorted(self.root.glob(f"*/{endpoint}.json")) if self.root.is_dir() else []
                merged: list[openf1.Record] = []
                for path in files:
                    merged.extend(json.loads(path.read_text(encoding="utf-8")))
                self._cache[endpoint] = merged if files else None
                self._mtimes[endpoint] = max((int(p.stat().st_mtime) for p in files), default=0)
            return self._cache[endpoint]

    def last_modified(self, endpoint: str) -> int:
        """Newest mtime (whole seconds, as HTTP dates have) of the endpoint's recordings."""
        with self._lock:
            return self._mtimes.get(endpoint, 0)


def _openf1_endpoint(store: OpenF1Store) -> Any:
    def handle(request: Request) -> Response:
        endpoint = request.path_params["endpoint"].lower()
        records = store.records(endpoint) if re.fullmatch(r"\w+", endpoint) else None
        if records is None:
            return JSONResponse({"detail": "Not Found"}, status_code=404)
        try:
            wants_csv, filters = openf1.pop_csv(openf1.parse_query(request.scope["query_string"].decode()))
        except openf1.QueryError as exc:
            return JSONResponse({"detail": str(exc)}, status_code=400)
        filters = openf1.resolve_latest(
            filters, sessions=store.records("sessions") or [], meetings=store.records("meetings") or []
        )
        results = openf1.apply(records, filters)
        if not results:
            # The live API answers an empty result with 404 {"detail": "No results found."}.
            return JSONResponse({"detail": "No results found."}, status_code=404)
        if wants_csv:
            headers = {"Content-Disposition": f"attachment; filename={endpoint}.csv"}
            return Response(openf1.to_csv(results), media_type="text/csv", headers=headers)
        return _conditional_json(request, results, last_modified=store.last_modified(endpoint))

    return handle


def _conditional_json(request: Request, results: list[openf1.Record], *, last_modified: int) -> Response:
    """JSON with ``ETag`` (hash of the body) and ``Last-Modified`` (the recording's mtime); ``304``
    when the request's ``If-None-Match`` matches, or, without it, ``If-Modified-Since`` is not older.
    """
    body = JSONResponse(results).body
    headers = {
        "ETag": f'"{hashlib.sha256(body).hexdigest()[:32]}"',
        "Last-Modified": formatdate(last_modified, usegmt=True),
    }
    if_none_match = request.headers.get("if-none-match")
    if if_none_match is not None:
        tags = {tag.strip().removeprefix("W/") for tag in if_none_match.split(",")}
        fresh = headers["ETag"] in tags or "*" in tags
    else:
        try:
            since = parsedate_to_datetime(request.headers.get("if-modified-since", ""))
            fresh = since.timestamp() >= last_modified
        except (TypeError, ValueError):
            fresh = False
    if fresh:
        return Response(status_code=304, headers=headers)
    return Response(body, media_type="application/json", headers=headers)


def _control_routes(log: RequestLog, faults: FaultSet) -> list[BaseRoute]:
    async def health(_: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def requests_log(request: Request) -> Response:
        if request.method == "DELETE":
            log.clear()
            return Response(status_code=204)
        return JSONResponse(log.entries())

    async def fault_rules(request: Request) -> Response:
        if request.method == "DELETE":
            faults.clear()
            return Response(status_code=204)
        if request.method == "POST":
            try:
                rules = parse_rules(await request.body())
            except ValidationError as exc:
                return JSONResponse({"detail": json.loads(exc.json())}, status_code=422)
            return JSONResponse([faults.add(rule) for rule in rules], status_code=201)
        return JSONResponse(faults.listing())

    return [
        Route(f"{CONTROL_PREFIX}/health", health, methods=["GET"]),
        Route(f"{CONTROL_PREFIX}/requests", requests_log, methods=["GET", "DELETE"]),
        Route(f"{CONTROL_PREFIX}/faults", fault_rules, methods=["GET", "POST", "DELETE"]),
    ]


def _live_routes(data_dir: Path, replay_source: str | None, speed: float) -> list[BaseRoute]:
    """The live feed replay's SignalR and control routes; none without a source to replay."""
    if replay_source is None:
        return []
    try:
        from infra.upstream.live import LiveReplay  # type: ignore[import-not-found,unused-ignore]
    except ModuleNotFoundError as exc:
        if exc.name != "infra.upstream.live":
            raise  # live.py exists but is broken: say so rather than serve without it
        return []
    try:
        replay = LiveReplay(data_dir=data_dir, source=replay_source, speed=speed)
    except (OSError, ValueError) as exc:
        raise ConfigError(f"cannot replay {replay_source!r}: {exc}") from None
    return [*replay.routes(), *replay.control_routes()]


def create_app(
    *,
    data_dir: Path,
    replay_source: str | None = None,
    speed: float = 1.0,
    log_path: Path | None = None,
    faults: list[FaultRule] | None = None,
) -> Starlette:
    """The upstream server over ``data_dir`` (the shared recorded data folder, read in place).

    ``replay_source`` (a path relative to ``data_dir``, e.g. ``livefeed/2024_silverstone_fp1``)
    enables the live feed under ``/signalr`` and ``/signalrcore``; ``speed`` is its time factor
    (2.0 = twice real time, 0 = no waiting). ``faults`` are active from the first request on.
    """
    if not data_dir.is_dir():
        raise ConfigError(f"data dir {str(data_dir)!r} does not exist")
    log = RequestLog(log_path)
    fault_set = FaultSet(faults)
    static_root = data_dir / "livetiming" / "static"
    jolpica_root = data_dir / "jolpica" / "ergast" / "f1"

    def static(request: Request) -> Response:
        return _file_or_404(static_root, request.path_params["path"])

    def jolpica(request: Request) -> Response:
        found = jolpica_file(
            jolpica_root, request.path_params["path"], request.scope["query_string"].decode()
        )
        if found is None:
            return JSONResponse({"detail": "Not found."}, status_code=404)
        return FileResponse(found, media_type="application/json")

    def schedule(request: Request) -> Response:
        return _file_or_404(data_dir / "f1schedule", request.path_params["name"])

    def circuit(request: Request) -> Response:
        key, year = request.path_params["key"], request.path_params["year"]
        return _file_or_404(data_dir / "multiviewer" / "circuits", f"{key}/{year}.json")

    routes: list[BaseRoute] = [
        *_control_routes(log, fault_set),
        Route("/static/{path:path}", static),
        Route("/livetiming/static/{path:path}", static),
        Route("/ergast/f1/{path:path}", jolpica),
        Route("/jolpica/ergast/f1/{path:path}", jolpica),
        Route("/f1schedule/{name}", schedule),
        Route("/api/v1/circuits/{key:int}/{year:int}", circuit),
        Route("/v1/{endpoint}", _openf1_endpoint(OpenF1Store(data_dir / "openf1"))),
        *_live_routes(data_dir, replay_source, speed),
    ]
    middleware = [Middleware(RequestLogMiddleware, log=log), Middleware(FaultMiddleware, faults=fault_set)]
    app = Starlette(routes=routes, middleware=middleware)
    app.state.request_log = log
    app.state.faults = fault_set
    return app


def serve(
    *,
    data_dir: Path,
    host: str = "127.0.0.1",
    port: int = 8765,
    replay_source: str | None = None,
    speed: float = 1.0,
    log_path: Path | None = None,
    faults: list[FaultRule] | None = None,
) -> None:
    """Run the server in the foreground with uvicorn until interrupted."""
    import uvicorn

    app = create_app(
        data_dir=data_dir, replay_source=replay_source, speed=speed, log_path=log_path, faults=faults
    )
    # SignalR has its own keep-alives ({"type": 6}); uvicorn's WebSocket ping frames confuse the
    # signalrcore client (it reads them as data), so they are off.
    uvicorn.run(app, host=host, port=port, log_level="warning", access_log=False, ws_ping_interval=None)
