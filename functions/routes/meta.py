"""Health and the OpenAPI document."""

from __future__ import annotations

import json
from functools import lru_cache

from functions.routes.table import TABLE
from shared.api.models import Health
from shared.api.openapi import document
from shared.api.router import NO_STORE, SCHEDULE, Call

API_VERSION = "1.0.0"
DESCRIPTION = (
    "Pitlane's read API for the frontend: schedules in circuit and local time, live timing, "
    "race-weekend travel planning and circuit history. Errors are RFC 9457 problem JSON; answers "
    "carry ETag and Cache-Control; long lists are paged with opaque cursors."
)


@TABLE.get("/api/health", response=Health, cache=NO_STORE, tags=["meta"], errors=())
def health(call: Call) -> Health:
    """Liveness: answers without touching Firestore."""
    return Health(time=call.now)


@lru_cache(maxsize=1)
def openapi_bytes() -> bytes:
    doc = document(TABLE, title_="Pitlane API", version=API_VERSION, description=DESCRIPTION)
    return json.dumps(doc, separators=(",", ":"), sort_keys=False).encode()


@TABLE.get("/api/openapi.json", response=None, cache=SCHEDULE, tags=["meta"], errors=())
def openapi(call: Call) -> bytes:
    """This API's OpenAPI 3.1 document, generated from its route table and pydantic models."""
    return openapi_bytes()
