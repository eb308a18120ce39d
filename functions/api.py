"""``api``: the frontend's read API (HTTP).

The routes live in ``functions/routes/`` (one module per feature, registered on one route table
whose pydantic models also generate ``/api/openapi.json``); ``functions/api_http.py`` does the HTTP
around them: CORS, validation, problem JSON (RFC 9457), ETag/304, Cache-Control, gzip and the
per-instance answer cache. Nothing heavy is imported on this path (no pandas, FastF1; Firestore's
library on the first request that needs it): the function cold-starts fast.
"""

from __future__ import annotations

import functools
from typing import Any

import flask
import functions_framework
from werkzeug.exceptions import HTTPException

from functions.api_http import Deps, Rendered, framework_problem, handle
from functions.routes import TABLE
from shared.api.cache import TtlCache
from shared.config import Settings, get_settings
from shared.logs import configure_logging

_cache: TtlCache[Rendered] | None = None


def _settings() -> Settings:
    settings = get_settings()
    configure_logging(settings.log_level)
    return settings


def _db() -> object:
    from shared.gcp import firestore_client

    return firestore_client(get_settings())


@functools.lru_cache(maxsize=1)
def _certs_http() -> Any:
    """One HTTP client for Google's token keys (fetched once per their max-age), built on use."""
    import httpx

    return httpx.Client(timeout=10.0)


def _authenticate(authorization: str | None) -> str:
    """The uid of the caller's Firebase ID token (``shared.auth``); a 401 ``AuthError`` if none."""
    from shared.auth import bearer_token, verify_id_token

    settings = get_settings()
    http = None if settings.auth_test_public_key else _certs_http()
    return verify_id_token(bearer_token(authorization), settings=settings, http=http)


def answers() -> TtlCache[Rendered]:
    """This instance's cache of rendered answers (built on first use, sized by settings)."""
    global _cache  # noqa: PLW0603 - one per instance, like the Firestore client
    if _cache is None:
        _cache = TtlCache(max_entries=get_settings().api_cache_entries)
    return _cache


@functions_framework.http
def api(request: flask.Request) -> flask.Response:
    settings = _settings()
    deps = Deps(settings=settings, db=_db, authenticate=_authenticate)
    return handle(request, table=TABLE, deps=deps, cache=answers())


def install(app: flask.Flask) -> None:
    """Answer what Flask rejects before the function runs (a path its router cannot match, such
    as one with a newline; a method it does not route) as problem JSON too. functions-framework
    names its app after the target, so other functions' apps are left as they are."""
    if app.name != "api" or getattr(app, "_pitlane_problems", False):
        return
    app.register_error_handler(HTTPException, framework_problem)
    app._pitlane_problems = True  # type: ignore[attr-defined]


if flask.has_app_context():  # functions-framework runs this module inside its app's context
    install(flask.current_app._get_current_object())  # type: ignore[attr-defined]
