"""``api``: the frontend's read API (HTTP).

Routes are matched on the path; every error leaves as RFC 9457 problem JSON
(``application/problem+json``) with a 4xx status for the caller's mistakes. Nothing heavy (pandas,
FastF1) is imported on this path: the API cold-starts fast.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import flask
import functions_framework
from google.cloud import firestore

from functions import _runtime
from functions._runtime import problem
from shared.errors import BadRequestError, NotFoundError, PermanentError
from shared.stores import schedule as schedule_store
from shared.stores import session_reads

log = logging.getLogger("pitlane.api")
Handler = Callable[..., Any]
DbFactory = Callable[[], firestore.Client]
_ROUTES: list[tuple[str, re.Pattern[str], Handler]] = []
_ID = r"[A-Za-z0-9_-]{1,128}"
_SESSION = f"/api/sessions/(?P<session_id>{_ID})"
_DRIVER = re.compile(r"^[0-9]{1,3}$")  # F1 car numbers, as strings ("44", "1")
MAX_LAP = 200


def route(method: str, pattern: str) -> Callable[[Handler], Handler]:
    def register(fn: Handler) -> Handler:
        _ROUTES.append((method, re.compile(f"^{pattern}/?$"), fn))
        return fn

    return register


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat().replace("+00:00", "Z")
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    return value


def _int_param(request: flask.Request, name: str, *, lo: int, hi: int, default: int) -> int:
    raw = request.args.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise BadRequestError(f"query parameter {name!r} must be an integer, got {raw!r}") from None
    if not lo <= value <= hi:
        raise BadRequestError(f"query parameter {name!r} must be between {lo} and {hi}, got {value}")
    return value


@route("GET", "/api/health")
def health(request: flask.Request, db: DbFactory) -> dict[str, Any]:
    return {"status": "ok", "time": datetime.now(UTC)}


@route("GET", "/api/meetings")
def meetings(request: flask.Request, db: DbFactory) -> dict[str, Any]:
    season = _int_param(request, "season", lo=1950, hi=2100, default=datetime.now(UTC).year)
    return {"season": season, "items": schedule_store.list_meetings(db(), season)}


@route("GET", f"/api/meetings/(?P<meeting_id>{_ID})")
def meeting(request: flask.Request, db: DbFactory, meeting_id: str) -> dict[str, Any]:
    doc = schedule_store.get_meeting(db(), meeting_id)
    if doc is None:
        raise NotFoundError(f"no meeting {meeting_id!r}")
    return doc


@route("GET", "/api/sessions/current")
def current_session(request: flask.Request, db: DbFactory) -> dict[str, Any]:
    """The session under way now, else the next one to start (sessions last at most ~3 hours)."""
    now = datetime.now(UTC)
    query = (
        db()
        .collection(schedule_store.SESSIONS)
        .where(filter=firestore.FieldFilter("start_utc", ">=", now - timedelta(hours=3)))
        .order_by("start_utc")
        .limit(1)
    )
    docs = [snap.to_dict() or {} for snap in query.stream()]
    if not docs:
        raise NotFoundError("no current or upcoming session")
    return docs[0]


@route("GET", f"/api/sessions/(?P<session_id>{_ID})")
def session(request: flask.Request, db: DbFactory, session_id: str) -> dict[str, Any]:
    doc = schedule_store.get_session(db(), session_id)
    if doc is None:
        raise NotFoundError(f"no session {session_id!r}")
    return doc


def _known_session(db: DbFactory, session_id: str) -> firestore.Client:
    client = db()
    if not session_reads.session_exists(client, session_id):
        raise NotFoundError(f"no session {session_id!r}")
    return client


def _items(session_id: str, models: list[Any]) -> dict[str, Any]:
    return {"session_id": session_id, "items": [m.model_dump(mode="json") for m in models]}


@route("GET", f"{_SESSION}/drivers")
def session_drivers(request: flask.Request, db: DbFactory, session_id: str) -> dict[str, Any]:
    """The timing tower's rows, one per driver, by position."""
    return _items(session_id, session_reads.list_drivers(_known_session(db, session_id), session_id))


@route("GET", f"{_SESSION}/drivers/(?P<driver_number>[^/]+)")
def session_driver(
    request: flask.Request, db: DbFactory, session_id: str, driver_number: str
) -> dict[str, Any]:
    if not _DRIVER.match(driver_number):
        raise BadRequestError(f"driver number must be 1 to 3 digits, got {driver_number!r}")
    row = session_reads.get_driver(_known_session(db, session_id), session_id, driver_number)
    if row is None:
        raise NotFoundError(f"no driver {driver_number} in session {session_id!r}")
    return row.model_dump(mode="json")


@route("GET", f"{_SESSION}/laps")
def session_laps(request: flask.Request, db: DbFactory, session_id: str) -> dict[str, Any]:
    """Laps by lap number then position; ``driver`` (car number) and ``lap`` filter them."""
    driver = request.args.get("driver")
    if driver is not None and not _DRIVER.match(driver):
        raise BadRequestError(
            f"query parameter 'driver' must be a car number (1 to 3 digits), got {driver!r}"
        )
    lap = _int_param(request, "lap", lo=1, hi=MAX_LAP, default=0) or None
    laps = session_reads.list_laps(_known_session(db, session_id), session_id, driver=driver, lap=lap)
    return _items(session_id, laps)


@route("GET", f"{_SESSION}/laps/(?P<lap>[^/]+)")
def session_lap(request: flask.Request, db: DbFactory, session_id: str, lap: str) -> dict[str, Any]:
    """Every driver's lap ``lap``, by position at its end."""
    if not lap.isdigit() or not 1 <= int(lap) <= MAX_LAP:
        raise BadRequestError(f"lap must be an integer between 1 and {MAX_LAP}, got {lap!r}")
    laps = session_reads.list_laps(_known_session(db, session_id), session_id, lap=int(lap))
    return _items(session_id, laps)


@route("GET", f"{_SESSION}/race-control")
def session_race_control(request: flask.Request, db: DbFactory, session_id: str) -> dict[str, Any]:
    return _items(session_id, session_reads.list_race_control(_known_session(db, session_id), session_id))


@route("GET", f"{_SESSION}/weather")
def session_weather(request: flask.Request, db: DbFactory, session_id: str) -> dict[str, Any]:
    return _items(session_id, session_reads.list_weather(_known_session(db, session_id), session_id))


@route("GET", f"{_SESSION}/live")
def session_live(request: flask.Request, db: DbFactory, session_id: str) -> dict[str, Any]:
    """The timing tower (``sessions/{id}/live/state``)."""
    tower = session_reads.get_tower(_known_session(db, session_id), session_id)
    if tower is None:
        raise NotFoundError(f"no live timing for session {session_id!r} yet")
    return tower.model_dump(mode="json")


def dispatch(request: flask.Request, *, db: DbFactory) -> flask.Response:
    path = request.path.rstrip("/") or "/"
    allowed: list[str] = []
    for method, pattern, handler in _ROUTES:
        match = pattern.match(path)
        if not match:
            continue
        if method != request.method and not (method == "GET" and request.method == "HEAD"):
            allowed.append(method)
            continue
        try:
            body = handler(request, db, **match.groupdict())
        except NotFoundError as exc:
            return problem(404, "Not Found", str(exc))
        except PermanentError as exc:
            return problem(400, "Bad Request", str(exc))
        resp = flask.jsonify(_jsonable(body))
        resp.headers["Cache-Control"] = "public, max-age=5"
        return resp
    if allowed:
        resp = problem(405, "Method Not Allowed", f"{request.method} is not allowed on {path}")
        resp.headers["Allow"] = ", ".join(sorted(set(allowed)))
        return resp
    return problem(404, "Not Found", f"no route for {path}")


@functions_framework.http
def api(request: flask.Request) -> flask.Response:
    _runtime.settings()
    return dispatch(request, db=_runtime.db)
