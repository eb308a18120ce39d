"""The f1schedule feed: ``<PITLANE_F1_SCHEDULE_URL>schedule_<year>.json`` (raw JSON)."""

from __future__ import annotations

from typing import Any

import httpx

from shared.config import Settings
from shared.errors import TransientError
from shared.sources.http import get_json


def fetch_schedule(year: int, *, http: httpx.Client, settings: Settings) -> dict[str, Any]:
    """The raw schedule document of ``year``; ``NotFoundError`` when the feed has no such year."""
    payload = get_json(http, f"{settings.f1_schedule_folder}schedule_{year}.json")
    if not isinstance(payload, dict):
        raise TransientError(f"schedule_{year}.json: expected an object, got {type(payload).__name__}")
    return payload
