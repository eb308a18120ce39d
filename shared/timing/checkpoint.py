"""Checkpoint of a :class:`~shared.timing.reducer.SessionReducer`: everything it holds, as JSON.

Restoring a checkpoint and continuing the stream gives the same state, laps and events as never
stopping: the merged topic states, the lap builders (laps still closing included), the stints, the
rows, every lap, message and sample already emitted, the ids of every event emitted and the recent
message digests that drop repeats.
"""

from __future__ import annotations

from collections import Counter, deque
from datetime import datetime
from typing import TYPE_CHECKING, Any

from shared.feed.messages import FeedMessage
from shared.timing.laps import DriverLaps
from shared.timing.models import Lap, RaceControlMessage, WeatherSample
from shared.timing.session import SessionState
from shared.timing.stints import DriverStints

if TYPE_CHECKING:
    from shared.timing.reducer import SessionReducer

VERSION = 1


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _dt(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value is not None else None


def dump(r: SessionReducer) -> dict[str, Any]:
    return {
        "version": VERSION,
        "session_id": r.session_id,
        "stats": {"messages": r.stats.messages, "skipped": dict(r.stats.skipped)},
        "states": r._states,
        "session": r._s.to_json(),
        "builders": {d: b.to_json() for d, b in r._builders.items()},
        "stints": {d: s.to_json() for d, s in r._stints.items()},
        "rows": r._rows,
        "laps": [lap.model_dump(mode="json") for lap in r._laps],
        "race_control": [m.model_dump(mode="json") for m in r._race_control.values()],
        "weather": [w.model_dump(mode="json") for w in r._weather],
        "emitted": sorted(r._emitted),
        "watermark": _iso(r._watermark),
        "recent": [[m.topic, m.payload, _iso(m.utc)] for m in r._recent],
        "next_due": _iso(r._next_due),
    }


def load(r: SessionReducer, data: dict[str, Any]) -> None:
    if data.get("version") != VERSION:
        raise ValueError(f"unsupported checkpoint version {data.get('version')!r}")
    r.stats.messages = int(data["stats"]["messages"])
    r.stats.skipped = Counter({str(k): int(v) for k, v in data["stats"]["skipped"].items()})
    r._states = data["states"]
    r._s = SessionState.from_json(data["session"])
    r._builders = {d: DriverLaps.from_json(b) for d, b in data["builders"].items()}
    r._stints = {d: DriverStints.from_json(s) for d, s in data["stints"].items()}
    r._rows = data["rows"]
    r._laps = [Lap.model_validate(lap) for lap in data["laps"]]
    r._lap_index = {lap.doc_id: i for i, lap in enumerate(r._laps)}
    r._race_control = {m["n"]: RaceControlMessage.model_validate(m) for m in data["race_control"]}
    r._weather = [WeatherSample.model_validate(w) for w in data["weather"]]
    r._emitted = set(data["emitted"])
    r._watermark = _dt(data["watermark"])
    r._recent = deque(FeedMessage(t, p, datetime.fromisoformat(u)) for t, p, u in data["recent"])
    r._next_due = _dt(data["next_due"])
