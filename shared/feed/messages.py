"""The one message type every feed source is turned into."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any


@dataclass(frozen=True, slots=True)
class FeedMessage:
    """One delta of one live-timing topic.

    ``topic`` is the F1 topic name without any ``.z`` suffix (``TimingData``, ``CarData``...);
    ``payload`` is the decoded JSON delta to merge into that topic's state (see
    :func:`shared.feed.merge.merge_delta`); ``utc`` is when F1 published it, timezone-aware UTC.
    """

    topic: str
    payload: Any
    utc: datetime


def parse_utc(text: str) -> datetime:
    """Parse an F1 timestamp into an aware UTC datetime.

    Accepts the shapes the feed uses: ``2021-03-28T14:52:30.4444696Z`` (100 ns ticks, truncated to
    microseconds), ``2024-07-05T11:50:44.449+00:00`` and naive ``2018-04-29T12:07:10`` (the race
    control ``Utc`` field, which is UTC although it carries no zone). Raises ``ValueError``.
    """
    if not isinstance(text, str) or len(text) < 19 or text[10] != "T":
        raise ValueError(f"not an ISO timestamp: {text!r}")
    head, dot, frac = text.partition(".")
    if dot:
        digits = len(frac) - len(frac.lstrip("0123456789"))
        # Python accepts at most 6 fractional digits reliably; F1 sends up to 7.
        frac = frac[: min(digits, 6)] + frac[digits:]
        text = f"{head}.{frac}" if digits else head + frac[digits:]
    value = datetime.fromisoformat(text)
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def format_utc(value: datetime) -> str:
    """Format an aware datetime as the feed does: ISO 8601, microseconds, ``Z`` suffix."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
