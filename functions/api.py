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
from shared.errors import BadRequestError, NotFoundError, PermanentError
from shared.stores import schedule as schedule_store

log = logging.getLogger("pitlane.api")
Handler = Callable[..., Any]
DbFactory = Callable[[], firestore.Client]
_ROUTES: list[tuple[str, re.Pattern[str], Handler]] = []
_ID = r"[A-Za-z0-9_-]{1,128}"


def route(method: str, pattern: str) -> Callable[[Handler], Handler]:
    def register(fn: Handler) -> Handler:
        _ROUTES.append((method, re.compile(f"^{pattern}/?$"), fn))
        return fn

    return register


def problem(status: int, title: str, detail: str) -> flask.Response:
    body = {"type": "about:blank", "title": title, "status": status, "detail": detail}
    resp = flask.jsonify(body)
    resp.status_code = status
    resp.mimetype = "application/problem+json"
    return resp


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
