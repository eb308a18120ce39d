"""Two sources, one set of documents: how OpenF1's documents combine with the live feed's.

Pitlane's preferred source is F1's live-timing feed (``record_live_timing``): it has gaps,
sectors as they happen, pit-lane flags and track status. OpenF1 fills in when that feed is silent,
and imports finished sessions. Both write the same documents with the same ids
(``laps/{driver}_{lap:03d}`` and so on), so a lap is never stored twice; what remains is which
values win when both have a document:

* **Laps** (:func:`merge_lap`): a stored lap from any source other than OpenF1 (the live feed)
  is the base; OpenF1 only fills what the base lacks (``None`` fields, ``None`` sectors). Nothing
  the live feed wrote is ever replaced, so an OpenF1 import can never degrade a live lap. A stored
  lap that OpenF1 itself wrote is replaced by OpenF1's newer version.
* **Listened documents** (session, tower, driver rows; :func:`fill_missing`): importing a
  finished session keeps every stored value and fills only the missing ones; polling a live
  session whose feed has gone silent prefers OpenF1's fresher values but never erases a stored
  value with ``None``.
* **Takeover** (:func:`should_poll`): OpenF1 is polled for a live session only while
  ``record_live_timing`` has written nothing for :data:`LIVE_QUIET_S` seconds.

Pure: no I/O.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, TypeVar

from pydantic import BaseModel

from shared.timing.models import Lap, TrackStatus

M = TypeVar("M", bound=BaseModel)
OPENF1 = "openf1"
LIVE_QUIET_S = 30.0


def _fill(value: Any, other: Any) -> Any:
    if value is None or value is TrackStatus.UNKNOWN:
        return other if other is not None else value
    if isinstance(value, list) and isinstance(other, list) and len(value) == len(other):
        return [_fill(a, b) for a, b in zip(value, other, strict=True)]
    return value


def fill_missing(base: M, extra: M | None) -> M:
    """``base`` with each ``None`` field (and ``None`` list item, e.g. one sector; an unknown track
    status) taken from ``extra``; every value ``base`` has stays. Booleans and counters are values,
    never missing."""
    if extra is None:
        return base
    update = {
        name: filled
        for name in type(base).model_fields
        if (filled := _fill(getattr(base, name), getattr(extra, name))) != getattr(base, name)
    }
    return base.model_copy(update=update) if update else base


def merge_lap(new: Lap, stored: Lap | None) -> Lap:
    """The lap to store when OpenF1 has ``new`` and the store holds ``stored`` (same id)."""
    if stored is None or stored.source == OPENF1:
        return new
    return fill_missing(stored, new)


def should_poll(
    now: datetime,
    last_live_write_utc: datetime | None,
    session_live: bool,
    *,
    quiet_s: float = LIVE_QUIET_S,
) -> bool:
    """Whether OpenF1 should be the source now: the session is live and the live-timing recorder
    wrote nothing for ``quiet_s`` seconds (``None``: it never wrote). Instants are aware UTC."""
    if not session_live:
        return False
    return last_live_write_utc is None or now - last_live_write_utc >= timedelta(seconds=quiet_s)
