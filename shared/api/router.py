"""The route table: each route names its method, path template, parameter and response models and
cache policy; the same table dispatches requests and generates the OpenAPI document.

A route module registers into a :class:`RouteTable` in a few lines::

    @table.get("/api/races/{race_id}", response=RaceOut, path=RacePath, cache=SCHEDULE, tags=["travel"])
    def race(call: Call) -> RaceOut:
        return ...

Matching: a template segment ``{name}`` matches one path segment; where two routes match, the one
with more literal segments wins (``/api/sessions/current`` before ``/api/sessions/{session_id}``).
A path that matches only under other methods is a 405 with ``Allow``. Parameters are validated by
their models (:mod:`shared.api.params`); a query parameter given twice is an error.
"""

from __future__ import annotations

import functools
import importlib
import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ValidationError

from shared.api.params import NoParams, describe, issues
from shared.api.problem import ApiError, ParamIssue

_PARAM = re.compile(r"\{([a-z_][a-z0-9_]*)\}")
JSON = "application/json"


@dataclass(frozen=True)
class CachePolicy:
    """``Cache-Control: public, max-age=<max_age>`` for clients and CDNs; ``server_ttl_s`` is how
    long one instance reuses a rendered answer (never longer than clients may)."""

    max_age: int
    server_ttl_s: float
    public: bool = True

    def header(self) -> str:
        if not self.public:
            return "private, no-store"
        stale = f", stale-while-revalidate={self.max_age}" if self.max_age >= 60 else ""
        return f"public, max-age={self.max_age}{stale}"


# server_ttl_s is at most half of max_age: the answer cache serves an entry stale for as long again
# while one caller refreshes it (shared/api/cache.py).
LIVE = CachePolicy(max_age=2, server_ttl_s=1.0)  # timing tower, current session: seconds
SESSION = CachePolicy(max_age=10, server_ttl_s=5.0)  # a session's laps, drivers, race control
SCHEDULE = CachePolicy(max_age=300, server_ttl_s=60.0)  # meetings, weekend timelines, travel plans
HISTORY = CachePolicy(max_age=86_400, server_ttl_s=3_600.0)  # past seasons, circuits, weather history
NO_STORE = CachePolicy(max_age=0, server_ttl_s=0.0, public=False)


@dataclass
class Call:
    """What a handler gets: validated ``path``, ``query`` and ``body`` models, request headers, the
    dependencies of the deployment (``deps``: Firestore factory, settings...) and the time."""

    path: Any
    query: Any
    body: Any
    headers: Any  # the request's headers (case-insensitive mapping)
    deps: Any
    now: datetime = field(default_factory=lambda: datetime.now(UTC))
    uid: str | None = None  # the verified caller of a route with ``auth=True``


Handler = Callable[[Call], Any]
# A model, or its import path ("shared.services.subscriptions:SubscriptionCreate") resolved on first
# use, so a route module need not import a heavy service to register its routes.
ModelRef = type[BaseModel] | str | None


@functools.cache
def _import(ref: str) -> type[BaseModel]:
    module, _, name = ref.partition(":")
    model: type[BaseModel] = getattr(importlib.import_module(module), name)
    return model


def resolve(ref: ModelRef) -> type[BaseModel] | None:
    return _import(ref) if isinstance(ref, str) else ref


@dataclass(frozen=True)
class Route:
    method: str
    template: str
    handler: Handler
    response_ref: ModelRef
    path_model: type[BaseModel]
    query_model: type[BaseModel]
    body_ref: ModelRef
    cache: CachePolicy
    summary: str
    description: str
    tags: tuple[str, ...]
    media_type: str = JSON
    status: int = 200
    errors: tuple[int, ...] = (400, 404)
    auth: bool = False  # needs a Firebase ID token (Authorization: Bearer): 401 without one
    regex: re.Pattern[str] = field(init=False, compare=False, repr=False)
    literals: int = field(init=False, compare=False)
    prefix: str = field(init=False, compare=False, repr=False)  # the template up to its first {

    def __post_init__(self) -> None:
        pattern = _PARAM.sub(
            lambda m: f"(?P<{m.group(1)}>[^/]+)",
            re.escape(self.template).replace(r"\{", "{").replace(r"\}", "}"),
        )
        object.__setattr__(self, "regex", re.compile(f"^{pattern}/?$"))
        object.__setattr__(self, "literals", sum(1 for s in self.template.split("/") if s and "{" not in s))
        object.__setattr__(self, "prefix", self.template.split("{", 1)[0].rstrip("/"))

    @property
    def response(self) -> type[BaseModel] | None:
        return resolve(self.response_ref)

    @property
    def body_model(self) -> type[BaseModel] | None:
        return resolve(self.body_ref)

    @property
    def operation_id(self) -> str:
        return self.handler.__name__

    @property
    def path_names(self) -> list[str]:
        return _PARAM.findall(self.template)


class RouteTable:
    """Routes in registration order, matched by path then method."""

    def __init__(self) -> None:
        self.routes: list[Route] = []

    def add(
        self,
        method: str,
        template: str,
        *,
        response: ModelRef,
        path: type[BaseModel] = NoParams,
        query: type[BaseModel] = NoParams,
        body: ModelRef = None,
        cache: CachePolicy = SESSION,
        tags: Iterable[str] = (),
        media_type: str = JSON,
        status: int = 200,
        errors: Iterable[int] = (400, 404),
        auth: bool = False,
    ) -> Callable[[Handler], Handler]:
        def register(fn: Handler) -> Handler:
            doc = (fn.__doc__ or "").strip()
            summary, _, rest = doc.partition("\n")
            route = Route(
                method=method,
                template=template,
                handler=fn,
                response_ref=response,
                path_model=path,
                query_model=query,
                body_ref=body,
                cache=cache,
                summary=summary.strip() or fn.__name__.replace("_", " "),
                description=" ".join(line.strip() for line in rest.splitlines()).strip(),
                tags=tuple(tags),
                media_type=media_type,
                status=status,
                errors=tuple(errors) + ((401,) if auth else ()) + ((422,) if body is not None else ()),
                auth=auth,
            )
            missing = set(route.path_names) ^ set(path.model_fields)
            if missing:
                raise ValueError(f"{template}: path model {path.__name__} and template disagree on {missing}")
            if any(r.method == method and r.template == template for r in self.routes):
                raise ValueError(f"{method} {template} registered twice")
            self.routes.append(route)
            return fn

        return register

    def get(self, template: str, **kw: Any) -> Callable[[Handler], Handler]:
        return self.add("GET", template, **kw)

    def post(self, template: str, **kw: Any) -> Callable[[Handler], Handler]:
        return self.add("POST", template, **kw)

    def delete(self, template: str, **kw: Any) -> Callable[[Handler], Handler]:
        return self.add("DELETE", template, **kw)

    def match(self, method: str, path: str) -> tuple[Route, dict[str, str]]:
        """The route for ``method`` and ``path`` with its raw path parameters; 404 or 405 if none."""
        found: list[tuple[Route, dict[str, str]]] = []
        for route in self.routes:
            if not path.startswith(route.prefix):
                continue  # cheaper than the regex, and most routes fail it
            m = route.regex.match(path)
            if m:
                found.append((route, m.groupdict()))
        if not found:
            raise ApiError(404, f"no route for {path}")
        wanted = "GET" if method == "HEAD" else method
        same = [f for f in found if f[0].method == wanted]
        if not same:
            allowed = sorted(
                {r.method for r, _ in found}
                | ({"HEAD"} if any(r.method == "GET" for r, _ in found) else set())
            )
            raise ApiError(405, f"{method} is not allowed on {path}", headers={"Allow": ", ".join(allowed)})
        return max(same, key=lambda f: f[0].literals)


def validate(model: type[BaseModel], raw: dict[str, Any], where: str, *, status: int = 400) -> Any:
    """``model`` built from ``raw``; an :class:`ApiError` (400, or ``status``) naming every invalid
    field."""
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        found = issues(model, exc, where, raw)
        raise ApiError(status, describe(found[0]), errors=found) from None


def query_dict(pairs: Iterable[tuple[str, str]], model: type[BaseModel]) -> dict[str, str]:
    """Single-valued query parameters the model knows; one given twice is a 400."""
    out: dict[str, str] = {}
    for key, value in pairs:
        if key not in model.model_fields:
            continue  # unknown names (cache busters...) are ignored
        if key in out:
            issue = ParamIssue(where="query", name=key, message="must be given once")
            raise ApiError(400, describe(issue), errors=[issue])
        out[key] = value
    return out


def parse_body(route: Route, raw: bytes, content_type: str | None) -> Any:
    """The JSON body of a route that takes one: 415 for another media type, 400 for malformed
    JSON, 422 for JSON that does not fit the body's model."""
    if route.body_model is None:
        return None
    if (content_type or "").split(";")[0].strip().lower() != JSON:
        raise ApiError(415, f"send the body as {JSON}")
    try:
        data = json.loads(raw or b"null")
    except (ValueError, UnicodeDecodeError):
        issue = ParamIssue(where="body", name="", message="is not valid JSON")
        raise ApiError(400, describe(issue), errors=[issue]) from None
    if not isinstance(data, dict):
        issue = ParamIssue(where="body", name="", message="must be a JSON object")
        raise ApiError(400, describe(issue), errors=[issue])
    return validate(route.body_model, data, "body", status=422)  # well-formed JSON, invalid content
