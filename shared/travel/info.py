"""What a traveller wants to know about a circuit (pure): where it is, its zone, length, laps,
corners and layout.

``race_laps`` is the most common race distance in laps over the last five races held there
(the winner's laps; a shortened race does not move it), else the laps a 305 km race needs
(F1's race distance; Monaco's 260 km is the exception the history covers). ``length_m`` is the
layout's (bacinger/f1-circuits) and ``corners`` MultiViewer's count, where those sources have the
circuit; ``null`` otherwise.
"""

from __future__ import annotations

import math
from collections import Counter
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from shared.history.tables import HistoryTables
from shared.travel.circuits import CircuitEntry

RACE_DISTANCE_M = 305_000
RECENT = 5


class CircuitInfo(BaseModel):
    model_config = ConfigDict(frozen=True, defer_build=True)

    circuit_id: str
    name: str
    location: str | None
    country: str | None
    lat: float = Field(description="degrees, WGS 84")
    lon: float = Field(description="degrees, WGS 84")
    altitude_m: int | None
    time_zone: str | None = Field(description="IANA zone; null for a past circuit in a multi-zone country")
    length_m: int | None
    race_laps: int | None
    race_distance_km: float | None
    corners: int | None
    first_gp: int | None
    races_held: int
    last_race_year: int | None
    layout_id: str | None
    layout: dict[str, Any] | None = Field(description="GeoJSON FeatureCollection of the track (LineString)")


def circuit_info(entry: CircuitEntry, tables: HistoryTables, *, with_layout: bool = True) -> CircuitInfo:
    races = tables.at_circuit(entry.history_id) if entry.history_id is not None else []
    laps = []
    for race in races[-RECENT:]:
        win = next((r for r in tables.results_of(race.race_id) if r.position == 1), None)
        if win is not None:
            laps.append(win.laps)
    length = entry.layout.length_m if entry.layout else None
    race_laps = Counter(laps).most_common(1)[0][0] if laps else None
    if race_laps is None and length:
        race_laps = math.ceil(RACE_DISTANCE_M / length)
    first_gp = entry.layout.first_gp if entry.layout else None
    return CircuitInfo(
        circuit_id=entry.circuit_id,
        name=entry.name,
        location=entry.location,
        country=entry.country,
        lat=entry.lat,
        lon=entry.lon,
        altitude_m=entry.altitude_m,
        time_zone=entry.time_zone,
        length_m=length,
        race_laps=race_laps,
        race_distance_km=round(race_laps * length / 1000, 3) if race_laps and length else None,
        corners=entry.corners,
        first_gp=first_gp if first_gp is not None else (races[0].year if races else None),
        races_held=len(races),
        last_race_year=races[-1].year if races else None,
        layout_id=entry.layout.layout_id if entry.layout else None,
        layout=dict(entry.layout.geojson) if entry.layout and with_layout else None,
    )
