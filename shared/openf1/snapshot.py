"""Checkpoint of an :class:`~shared.openf1.state.OpenF1State`: its kept records as OpenF1 JSON.

Restoring feeds the records back in the order a poll applies them and rebuilds every document,
marking them (and their events) as already emitted: a poll run that resumes from a checkpoint
writes and publishes only what is new. Fields Pitlane does not use (mini-sector segments, speed
traps, head-shot URLs) are left out; a race's state is ~350 KB of JSON, ~35 KB compressed.
Race control messages and weather samples are saved in their numbering order, so they keep
their numbers (document ids). Pure: no I/O.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from shared.openf1.parse import parse
from shared.timing.models import RaceControlMessage, WeatherSample

if TYPE_CHECKING:
    from shared.openf1.state import OpenF1State

VERSION = 1
_HEAVY = {
    "laps": {
        "segments_sector_1",
        "segments_sector_2",
        "segments_sector_3",
        "i1_speed",
        "i2_speed",
        "st_speed",
    },
    "drivers": {"headshot_url", "broadcast_name", "first_name", "last_name", "country_code"},
}


def _dump(endpoint: str, recs: Any) -> list[dict[str, Any]]:
    return [r.model_dump(mode="json", exclude=_HEAVY.get(endpoint)) for r in recs]


def _keys(s: OpenF1State) -> dict[str, int]:
    meeting = s._session.meeting_key if s._session else 0
    return {"meeting_key": meeting, "session_key": s.session_key}


def dump(s: OpenF1State) -> dict[str, Any]:
    keys = _keys(s)
    rc_order = sorted(s._rc.items(), key=lambda kv: kv[1].n)
    return {
        "version": VERSION,
        "session_key": s.session_key,
        "session_id": s._given_id,
        "finished": s.finished,
        "records": {
            "sessions": _dump("sessions", [s._session] if s._session else []),
            "meetings": _dump("meetings", [s._meeting] if s._meeting else []),
            "drivers": _dump("drivers", s._drivers.values()),
            "stints": _dump("stints", [x for d in s._stints.values() for x in d.values()]),
            "pit": _dump("pit", [p for d in s._pits.values() for p in d.values()]),
            "position": [
                {**keys, "driver_number": int(n), "date": when.isoformat(), "position": pos}
                for n, hist in s._positions.items()
                for when, pos in hist.items()
            ],
            "intervals": _dump("intervals", s._intervals.values()),
            "laps": _dump("laps", [lap for d in s._laps.values() for lap in d.values()]),
            "race_control": [_race_control(keys, when, m) for (when, _), m in rc_order],
            "weather": [_weather(keys, when, w) for when, w in s._weather.items()],
        },
    }


def load(cls: type[OpenF1State], data: dict[str, Any]) -> OpenF1State:
    from shared.openf1.state import POLL_ORDER

    state = cls(session_key=int(data["session_key"]), session_id=data.get("session_id"))
    records = data.get("records") or {}
    for endpoint in POLL_ORDER:
        keys = _keys(state)
        rows = [{**keys, **r} for r in records.get(endpoint) or []]
        for rec in parse(endpoint, rows).items:
            state._keep(endpoint, rec)
        if endpoint == "race_control":
            state._number_race_control()
        elif endpoint == "weather":
            state._number_weather()
    state.finished = bool(data.get("finished"))
    state._refresh()  # rebuilds every document and event id; nothing of it is new
    return state


def _race_control(keys: dict[str, int], when: datetime, m: RaceControlMessage) -> dict[str, Any]:
    number = int(m.driver_number) if m.driver_number and m.driver_number.isdigit() else None
    return {
        **keys,
        "date": when.isoformat(),
        "message": m.message,
        "lap_number": m.lap,
        "category": m.category,
        "flag": m.flag,
        "scope": m.scope,
        "sector": m.sector,
        "driver_number": number,
    }


def _weather(keys: dict[str, int], when: datetime, w: WeatherSample) -> dict[str, Any]:
    return {
        **keys,
        "date": when.isoformat(),
        "air_temperature": w.air_temp_c,
        "track_temperature": w.track_temp_c,
        "humidity": w.humidity_pct,
        "pressure": w.pressure_hpa,
        "rainfall": int(w.rainfall),
        "wind_direction": w.wind_direction_deg,
        "wind_speed": w.wind_speed_ms,
    }
