"""The circuit catalogue: one entry per circuit, joining what each source knows (pure logic).

Ids are the Ergast/Jolpica ``circuitRef`` (``monza``, ``americas``, ``interlagos``), the id every
F1 data source shares; a circuit newer than the history tables gets the slug of its place
(``madrid``). The sources are joined by position (WGS 84 degrees; one circuit each, nearest first,
within :data:`MATCH_KM`), as their names differ ("Autodromo Nazionale di Monza", "Monza"):

* the history's ``circuits`` table: id, name, town, country, coordinates, altitude;
* :data:`shared.schedule.circuits.CIRCUITS`: the IANA zone and the place names the schedule
  feeds use (so a meeting's ``location`` finds its circuit);
* bacinger/f1-circuits: the layout (GeoJSON ``LineString``), its length in metres, first GP;
* MultiViewer circuit info (``multiviewer/circuits/<key>/<year>.json``): the corners.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from shared.history.rows import Circuit as HistoryCircuit
from shared.ids import slug
from shared.schedule.circuits import CIRCUITS, COUNTRY_ZONES, Circuit, circuit_for, distance_km

MATCH_KM = 3.0


@dataclass(frozen=True)
class Layout:
    """A bacinger/f1-circuits layout: ``geojson`` is the file's FeatureCollection."""

    layout_id: str  # "it-1922"
    lat: float
    lon: float
    length_m: int | None
    first_gp: int | None
    geojson: Mapping[str, Any] = field(compare=False, repr=False)


@dataclass(frozen=True)
class CircuitEntry:
    circuit_id: str
    name: str
    location: str | None
    country: str | None
    lat: float
    lon: float
    altitude_m: int | None = None
    time_zone: str | None = None
    places: tuple[str, ...] = ()
    history_id: int | None = None  # the history tables' circuitId
    layout: Layout | None = None
    corners: int | None = None


def _pairs(left: Sequence[Any], right: Sequence[Any], pos_l: Any, pos_r: Any) -> dict[int, int]:
    """Greedy one-to-one matching by distance: index in ``left`` -> index in ``right``."""
    candidates = []
    for i, a in enumerate(left):
        for j, b in enumerate(right):
            d = distance_km(*pos_l(a), *pos_r(b))
            if d <= MATCH_KM:
                candidates.append((d, i, j))
    out: dict[int, int] = {}
    used: set[int] = set()
    for _, i, j in sorted(candidates):
        if i not in out and j not in used:
            out[i] = j
            used.add(j)
    return out


def _zone(country: str | None) -> str | None:
    return COUNTRY_ZONES.get(slug(country)) if country else None


class Catalogue:
    """Circuits by id, and by the place names meetings use."""

    def __init__(self, entries: Iterable[CircuitEntry]) -> None:
        self.by_id = {e.circuit_id: e for e in entries}
        self._by_place = {slug(p): e for e in self.by_id.values() for p in e.places}

    def get(self, circuit_id: str) -> CircuitEntry | None:
        return self.by_id.get(circuit_id)

    def for_location(self, location: str | None) -> CircuitEntry | None:
        """The circuit a meeting's ``location`` ("Monza", "Miami Gardens") names, or ``None``."""
        return self._by_place.get(slug(location)) if location else None

    def all(self) -> list[CircuitEntry]:
        return sorted(self.by_id.values(), key=lambda e: e.circuit_id)


def build_catalogue(
    history: Iterable[HistoryCircuit],
    *,
    layouts: Sequence[Layout] = (),
    corners: Mapping[str, int] | None = None,
    schedule_circuits: Sequence[Circuit] = CIRCUITS,
) -> Catalogue:
    """Join the sources (module docstring). ``corners`` maps a place name ("Monza") to a count."""
    rows = [h for h in history if h.lat is not None and h.lng is not None]
    entries = [
        CircuitEntry(
            circuit_id=h.circuit_ref,
            name=h.name,
            location=h.location,
            country=h.country,
            lat=float(h.lat),  # type: ignore[arg-type]
            lon=float(h.lng),  # type: ignore[arg-type]
            altitude_m=h.alt,
            time_zone=_zone(h.country),
            history_id=h.circuit_id,
        )
        for h in rows
    ]
    by_schedule = _pairs(list(schedule_circuits), entries, lambda c: (c.lat, c.lon), lambda e: (e.lat, e.lon))
    for i, j in by_schedule.items():
        c = schedule_circuits[i]
        entries[j] = replace(entries[j], time_zone=c.zone, places=c.places)
    for i, c in enumerate(schedule_circuits):
        if i not in by_schedule:  # a circuit newer than the history tables
            entries.append(
                CircuitEntry(
                    circuit_id=slug(c.places[0]),
                    name=c.name,
                    location=c.places[0],
                    country=None,
                    lat=c.lat,
                    lon=c.lon,
                    time_zone=c.zone,
                    places=c.places,
                )
            )
    for i, j in _pairs(entries, list(layouts), lambda e: (e.lat, e.lon), lambda x: (x.lat, x.lon)).items():
        entries[i] = replace(entries[i], layout=layouts[j])
    catalogue = Catalogue(entries)
    for place, count in (corners or {}).items():
        found = catalogue.for_location(place) or _by_schedule_place(catalogue, place)
        if found is not None:
            catalogue.by_id[found.circuit_id] = replace(found, corners=count)
    return catalogue


def _by_schedule_place(catalogue: Catalogue, place: str) -> CircuitEntry | None:
    circuit = circuit_for(place)
    return catalogue.for_location(circuit.places[0]) if circuit else None


def layout_from_geojson(data: Mapping[str, Any]) -> Layout | None:
    """A bacinger/f1-circuits GeoJSON file as a :class:`Layout`; ``None`` if it has no line."""
    features = data.get("features") or []
    if not features:
        return None
    props = features[0].get("properties") or {}
    coords = (features[0].get("geometry") or {}).get("coordinates") or []
    if not coords:
        return None
    lons = [float(p[0]) for p in coords]
    lats = [float(p[1]) for p in coords]
    return Layout(
        layout_id=str(props.get("id") or data.get("name")),
        lat=(min(lats) + max(lats)) / 2,
        lon=(min(lons) + max(lons)) / 2,
        length_m=int(props["length"]) if props.get("length") else None,
        first_gp=int(props["firstgp"]) if props.get("firstgp") else None,
        geojson=data,
    )
