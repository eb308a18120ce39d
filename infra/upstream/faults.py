"""Fault injection for the local upstream server: make chosen requests fail the way real ones do.

A rule picks requests by ``path_prefix`` or ``path_regex`` (matched against the URL path, no
query) and does one of:

* ``status``: answer ``status`` (e.g. 500, 502, 503) with a small JSON body;
* ``rate_limit``: answer 429 with a ``Retry-After`` header of ``retry_after`` seconds;
* ``slow``: wait ``delay`` seconds, then answer normally;
* ``drop``: send the headers (with the full ``Content-Length``) and the first half of the body,
  then close the connection, as a server dying mid-response does.

``every: k`` applies the rule to every k-th matching request only; ``times: N`` expires the rule
after it was applied N times (``null``: forever). The first rule (in order of creation) that
applies to a request wins. Control requests (``/_upstream/...``) are never faulted.
"""

from __future__ import annotations

import asyncio
import json
import re
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, model_validator
from starlette.types import ASGIApp, Message, Receive, Scope, Send

FaultKind = Literal["status", "rate_limit", "slow", "drop"]
CONTROL_PREFIX = "/_upstream"
# Scope key through which the fault middleware tells the request log which fault it applied.
SCOPE_FAULT_KEY = "pitlane.upstream.fault"


class FaultRule(BaseModel):
    """One fault rule as posted to ``/_upstream/faults`` or given to ``pitlane upstream --fault``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    path_prefix: str | None = None
    path_regex: str | None = None
    kind: FaultKind
    status: int = Field(503, ge=400, le=599, description="HTTP status for kind=status")
    retry_after: int = Field(1, ge=0, description="Retry-After header in seconds, kind=rate_limit")
    delay: float = Field(1.0, ge=0, le=600, description="seconds to wait before answering, kind=slow")
    times: int | None = Field(None, ge=1, description="expire after being applied this many times")
    every: int | None = Field(None, ge=1, description="apply to every k-th matching request only")

    @model_validator(mode="after")
    def _one_selector(self) -> FaultRule:
        if (self.path_prefix is None) == (self.path_regex is None):
            raise ValueError("give exactly one of path_prefix or path_regex")
        if self.path_regex is not None:
            try:
                re.compile(self.path_regex)
            except re.error as exc:
                raise ValueError(f"path_regex does not compile: {exc}") from None
        return self

    def selects(self, path: str) -> bool:
        if self.path_prefix is not None:
            return path.startswith(self.path_prefix)
        return re.search(self.path_regex or "", path) is not None


_RULES = TypeAdapter(FaultRule | list[FaultRule])


def parse_rules(payload: str | bytes | Any) -> list[FaultRule]:
    """One rule or a list of rules, from JSON text or already-decoded JSON (pydantic errors raise)."""
    if isinstance(payload, str | bytes):
        parsed = _RULES.validate_json(payload)
    else:
        parsed = _RULES.validate_python(payload)
    return parsed if isinstance(parsed, list) else [parsed]


@dataclass
class _Active:
    id: int
    rule: FaultRule
    seen: int = 0
    applied: int = 0

    def as_json(self) -> dict[str, Any]:
        remaining = None if self.rule.times is None else self.rule.times - self.applied
        return {
            "id": self.id,
            **self.rule.model_dump(exclude_none=True),
            "seen": self.seen,
            "applied": self.applied,
            "remaining": remaining,
        }


class FaultSet:
    """The active rules and their counters. Used from the server's event loop only."""

    def __init__(self, rules: list[FaultRule] | None = None) -> None:
        self._active: list[_Active] = []
        self._next_id = 1
        for rule in rules or []:
            self.add(rule)

    def add(self, rule: FaultRule) -> dict[str, Any]:
        active = _Active(id=self._next_id, rule=rule)
        self._next_id += 1
        self._active.append(active)
        return active.as_json()

    def clear(self) -> None:
        self._active.clear()

    def listing(self) -> list[dict[str, Any]]:
        return [a.as_json() for a in self._active]

    def take(self, path: str) -> FaultRule | None:
        """The rule to apply to a request for ``path`` (counting it), or ``None``."""
        for active in list(self._active):
            if not active.rule.selects(path):
                continue
            active.seen += 1
            if active.rule.every is not None and active.seen % active.rule.every != 0:
                continue
            active.applied += 1
            if active.rule.times is not None and active.applied >= active.rule.times:
                self._active.remove(active)
            return active.rule
        return None


class FaultMiddleware:
    """Pure ASGI middleware applying a :class:`FaultSet` to HTTP and WebSocket requests."""

    def __init__(self, app: ASGIApp, faults: FaultSet) -> None:
        self.app = app
        self.faults = faults

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket") or scope["path"].startswith(CONTROL_PREFIX):
            await self.app(scope, receive, send)
            return
        rule = self.faults.take(scope["path"])
        if rule is None:
            await self.app(scope, receive, send)
            return
        scope[SCOPE_FAULT_KEY] = rule.kind
        if rule.kind == "slow":
            await asyncio.sleep(rule.delay)
            await self.app(scope, receive, send)
        elif scope["type"] == "websocket":
            # Refuse the handshake (the server answers 403): the closest to an HTTP error here.
            await receive()
            await send({"type": "websocket.close", "code": 1013, "reason": f"upstream fault {rule.kind}"})
        elif rule.kind == "drop":
            await self._drop(scope, receive, send)
        else:
            await _error(send, rule)

    async def _drop(self, scope: Scope, receive: Receive, send: Send) -> None:
        start: Message | None = None
        chunks: list[bytes] = []

        async def capture(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                start = message
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))

        await self.app(scope, receive, capture)
        if start is None:
            return
        body = b"".join(chunks)
        headers = [(k, v) for k, v in start.get("headers", []) if k.lower() != b"content-length"]
        headers.append((b"content-length", str(len(body)).encode()))
        await send({**start, "headers": headers})
        await send({"type": "http.response.body", "body": body[: len(body) // 2], "more_body": True})
        # Returning with the response incomplete makes the server close the connection.


async def _error(send: Send, rule: FaultRule) -> None:
    status = 429 if rule.kind == "rate_limit" else rule.status
    detail = "rate limited" if rule.kind == "rate_limit" else f"injected status {status}"
    body = json.dumps({"detail": detail, "fault": rule.kind}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    if rule.kind == "rate_limit":
        headers.append((b"retry-after", str(rule.retry_after).encode()))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
