"""Small parsers for the values the F1 timing feed sends as strings.

The feed sends lap and sector times as text (``"1:47.845"``, ``"26.749"``; ``""`` means "no value"),
positions and counters as strings or numbers, and flags as JSON booleans or ``"true"``/``"1"``.
Every parser here returns ``None`` for anything it cannot read, so a malformed field never stops
the reducer.
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any

from shared.feed.messages import parse_utc
from shared.timing.models import TrackStatus

TRACK_STATUS_CODES: dict[str, TrackStatus] = {
    "1": TrackStatus.GREEN,
    "2": TrackStatus.YELLOW,
    "4": TrackStatus.SAFETY_CAR,
    "5": TrackStatus.RED_FLAG,
    "6": TrackStatus.VSC,
    "7": TrackStatus.VSC_ENDING,
}


def time_ms(text: Any) -> int | None:
    """``"1:47.845"`` / ``"26.749"`` / ``"1:02:03.4"`` -> milliseconds; ``None`` if empty or bad."""
    if not isinstance(text, str) or not text:
        return None
    total = 0.0
    try:
        for part in text.split(":"):
            total = total * 60 + float(part)
    except ValueError:
        return None
    if total < 0 or not math.isfinite(total):
        return None
    return round(total * 1000)


def as_int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        try:
            return int(value.strip())
        except ValueError:
            return None
    return None


def as_float(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    return None


def as_bool(value: Any) -> bool | None:
    """JSON booleans, and the strings ``"true"``/``"false"``/``"1"``/``"0"`` the feed also uses."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return bool(value)
    if isinstance(value, str):
        lowered = value.strip().lower()
        if lowered in ("true", "1"):
            return True
        if lowered in ("false", "0"):
            return False
    return None


def as_text(value: Any) -> str | None:
    if isinstance(value, str) and value:
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return None


def as_utc(value: Any) -> datetime | None:
    try:
        return parse_utc(value)
    except (TypeError, ValueError):
        return None


def track_status(code: Any) -> TrackStatus:
    return TRACK_STATUS_CODES.get(str(code), TrackStatus.UNKNOWN)


def entries(value: Any) -> list[tuple[int, Any]]:
    """The (index, item) pairs of a feed collection, which is a list in a full state and an object
    keyed by index (``{"3": {...}}``) in a delta; keys that are not indexes are dropped."""
    if isinstance(value, list):
        return list(enumerate(value))
    if isinstance(value, dict):
        out = []
        for key, item in value.items():
            idx = as_int(key)
            if idx is not None and idx >= 0:
                out.append((idx, item))
        return out
    return []
