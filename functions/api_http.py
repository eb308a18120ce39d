"""HTTP around the route table for the ``api`` function (Flask, as functions-framework gives it).

Per request: CORS (preflight and the allowed-origin headers), the body-size limit (413), route
matching (404/405 with ``Allow``), parameter validation (400), the handler, then the answer:
``ETag`` of its bytes, ``304`` when ``If-None-Match`` names it, ``Cache-Control`` of the route,
gzip when the client accepts it and the body is worth compressing. Cacheable GETs are rendered
once per instance per ``server_ttl_s`` (:class:`shared.api.cache.TtlCache`). Every error is
problem JSON; an unexpected one is logged with its stack and answers a 500 that says nothing
about internals.
"""

from __future__ import annotations

import gzip
import logging
import threading
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import flask
from pydantic import BaseModel

from shared.api.cache import TtlCache
from shared.api.etag import etag_of, matches
from shared.api.problem import PROBLEM_MEDIA_TYPE, ApiError, problem_for
from shared.api.router import Call, Route, RouteTable, parse_body, query_dict, validate
from shared.config import Settings

log = logging.getLogger("pitlane.api")
_CORS_HEADERS = "Content-Type, Authorization, If-None-Match"
_EXPOSED = "ETag, Cache-Control, Content-Language"


@dataclass
class Rendered:
    """One answer's bytes; the gzip form is made once, on first need."""

    body: bytes
    media_type: str
    status: int
    etag: str
    _gz: bytes | None = field(default=None, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def gzipped(self) -> bytes:
        with self._lock:
            if self._gz is None:
                self._gz = gzip.compress(self.body, compresslevel=5, mtime=0)
            return self._gz


@dataclass
class Deps:
    """What handlers reach through ``call.deps``: ``db()`` builds the Firestore client lazily;
    ``authenticate(authorization header)`` returns the caller's uid or raises a 401 ``ApiError``."""

    settings: Settings
    db: Any
    authenticate: Any = None


def _render(route: Route, call: Call) -> Rendered:
    result = route.handler(call)
    if route.status == 204:
        body = b""
    elif isinstance(result, bytes):
        body = result
    elif route.response is not None:
        model = result if isinstance(result, route.response) else route.response.model_validate(result)
        body = model.model_dump_json().encode()
    elif isinstance(result, BaseModel):
        body = result.model_dump_json().encode()
    else:
        raise TypeError(f"{route.operation_id} returned {type(result).__name__}")
    return Rendered(body=body, media_type=route.media_type, status=route.status, etag=etag_of(body))


def _cache_key(route: Route, path: str, query: dict[str, str]) -> str:
    return f"{route.method} {path.rstrip('/')}?{urlencode(sorted(query.items()))}"


def _problem_response(exc: Exception, path: str) -> flask.Response:
    problem, headers = problem_for(exc, instance=path)
    if problem.status >= 500:
        log.error("api: unexpected error on %s", path, exc_info=exc)
    resp = flask.Response(problem.model_dump_json(exclude_none=True), status=problem.status)
    resp.mimetype = PROBLEM_MEDIA_TYPE
    resp.headers["Cache-Control"] = "no-store"
    resp.headers.update(headers)
    return resp


def framework_problem(exc: Exception) -> flask.Response:
    """An HTTP error Flask raised itself (no route, method), as problem JSON."""
    code = getattr(exc, "code", None) or 500
    detail = "no route for this path" if code == 404 else getattr(exc, "description", "") or str(exc)
    return _problem_response(ApiError(code, detail) if code < 500 else exc, flask.request.path)


def _allowed_origin(origin: str | None, settings: Settings) -> str | None:
    if not origin:
        return None
    allowed = settings.api_cors_origins
    if "*" in allowed:
        return "*"
    return origin if origin in allowed else None


def _cors(resp: flask.Response, request: flask.Request, settings: Settings) -> flask.Response:
    origin = _allowed_origin(request.headers.get("Origin"), settings)
    if origin:
        resp.headers["Access-Control-Allow-Origin"] = origin
        resp.headers["Access-Control-Expose-Headers"] = _EXPOSED
    if settings.api_cors_origins:
        resp.headers["Vary"] = ", ".join(v for v in (resp.headers.get("Vary"), "Origin") if v)
    return resp


def _preflight(request: flask.Request, table: RouteTable, path: str, settings: Settings) -> flask.Response:
    methods = sorted({r.method for r in table.routes if r.regex.match(path)})
    if not methods:
        raise ApiError(404, f"no route for {path}")
    allow = ", ".join([*methods, *(["HEAD"] if "GET" in methods else []), "OPTIONS"])
    resp = flask.Response(status=204)
    resp.headers["Allow"] = allow
    if _allowed_origin(request.headers.get("Origin"), settings):
        resp.headers["Access-Control-Allow-Methods"] = allow
        resp.headers["Access-Control-Allow-Headers"] = _CORS_HEADERS
        resp.headers["Access-Control-Max-Age"] = "600"
    return resp


def handle(
    request: flask.Request, *, table: RouteTable, deps: Deps, cache: TtlCache[Rendered]
) -> flask.Response:
    path = request.path
    settings = deps.settings
    try:
        if request.method == "OPTIONS":
            return _cors(_preflight(request, table, path, settings), request, settings)
        length = request.content_length
        if length is not None and length > settings.api_max_body_bytes:
            raise ApiError(
                413, f"the body is {length} bytes; at most {settings.api_max_body_bytes} are accepted"
            )
        route, raw_path = table.match(request.method, path)
        uid = deps.authenticate(request.headers.get("Authorization")) if route.auth else None
        params = validate(route.path_model, raw_path, "path")
        raw_query = query_dict(request.args.items(multi=True), route.query_model)
        query = validate(route.query_model, raw_query, "query")
        body = None
        if route.body_model is not None:
            data = request.stream.read(settings.api_max_body_bytes + 1)
            if len(data) > settings.api_max_body_bytes:
                raise ApiError(413, f"the body is larger than {settings.api_max_body_bytes} bytes")
            body = parse_body(route, data, request.content_type)
        call = Call(path=params, query=query, body=body, headers=request.headers, deps=deps, uid=uid)
        if route.method == "GET" and route.cache.server_ttl_s > 0:
            key = _cache_key(route, path, raw_query)
            rendered = cache.get_or_compute(key, route.cache.server_ttl_s, lambda: _render(route, call))
        else:
            rendered = _render(route, call)
    except Exception as exc:  # every failure leaves as problem JSON (a 5xx is logged)
        return _cors(_problem_response(exc, path), request, settings)
    return _cors(_answer(request, route, rendered, settings), request, settings)


def _answer(request: flask.Request, route: Route, rendered: Rendered, settings: Settings) -> flask.Response:
    headers = {"Cache-Control": route.cache.header()}
    if route.method == "GET":
        headers["ETag"] = rendered.etag
        if matches(request.headers.get("If-None-Match"), rendered.etag):
            headers["Vary"] = "Accept-Encoding"
            return flask.Response(status=304, headers=headers)
    body = rendered.body
    gz = len(body) >= settings.api_gzip_min_bytes and accepts_gzip(request.headers.get("Accept-Encoding"))
    if gz:
        body = rendered.gzipped()
        headers["Content-Encoding"] = "gzip"
    if rendered.status == 204:
        return flask.Response(status=204, headers=headers)
    headers["Vary"] = "Accept-Encoding"
    return flask.Response(body, status=rendered.status, headers=headers, content_type=_content_type(rendered))


def accepts_gzip(header: str | None) -> bool:
    """Whether ``Accept-Encoding`` allows gzip (``gzip`` or ``*`` without ``q=0``)."""
    for part in (header or "").split(","):
        name, _, params = part.strip().partition(";")
        if name.strip().lower() in ("gzip", "*"):
            q = params.replace(" ", "").lower().removeprefix("q=")
            return not (params and q in ("0", "0.0", "0.00", "0.000"))
    return False


def _content_type(rendered: Rendered) -> str:
    if rendered.media_type.startswith("text/"):
        return f"{rendered.media_type}; charset=utf-8"
    return rendered.media_type
