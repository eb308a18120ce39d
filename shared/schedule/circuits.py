"""Circuits: where F1 races, in which IANA time zone, and at which coordinates (pure data).

The feeds give a circuit's place as text (f1schedule ``location`` "Marina Bay", OpenF1
``location`` "Marina Bay", the supporting-series calendars "Singapore") and its offset from UTC
at the time of the event (``"+08:00"``), but no IANA zone; a viewer's calendar and any time not
published by F1 (a reminder, a supporting series' session) need the zone. The table below names
each circuit's zone once; ``tests/unit/test_timezones.py`` checks it against every session of the
2018-2026 f1schedule feeds (the zone's offset at the session's local start must equal the
published ``gmt_offset``). Coordinates (degrees, WGS84) come from bacinger/f1-circuits
(``circuits/f1-locations.json`` in the data folder) and match supporting-series events to F1
weekends by distance.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from shared.ids import slug


@dataclass(frozen=True)
class Circuit:
    """One circuit: display name, IANA zone, latitude/longitude in degrees, and its place names."""

    name: str
    zone: str
    lat: float
    lon: float
    places: tuple[str, ...]


CIRCUITS: tuple[Circuit, ...] = (
    Circuit("Albert Park Circuit", "Australia/Melbourne", -37.846, 144.970, ("Melbourne", "Albert Park")),
    Circuit("Shanghai International Circuit", "Asia/Shanghai", 31.340, 121.221, ("Shanghai",)),
    Circuit("Suzuka", "Asia/Tokyo", 34.844, 136.534, ("Suzuka",)),
    Circuit("Bahrain International Circuit", "Asia/Bahrain", 26.031, 50.512, ("Sakhir", "Bahrain")),
    Circuit("Jeddah Corniche Circuit", "Asia/Riyadh", 21.632, 39.104, ("Jeddah",)),
    Circuit("Miami International Autodrome", "America/New_York", 25.958, -80.239, ("Miami", "Miami Gardens")),
    Circuit("Imola", "Europe/Rome", 44.341, 11.713, ("Imola",)),
    Circuit("Circuit de Monaco", "Europe/Monaco", 43.737, 7.429, ("Monaco", "Monte Carlo")),
    Circuit("Circuit Gilles-Villeneuve", "America/Toronto", 45.506, -73.525, ("Montreal", "Montréal")),
    Circuit("Circuit de Barcelona-Catalunya", "Europe/Madrid", 41.569, 2.259, ("Barcelona", "Catalunya")),
    Circuit("Madring", "Europe/Madrid", 40.471, -3.620, ("Madrid",)),
    Circuit("Red Bull Ring", "Europe/Vienna", 47.223, 14.761, ("Spielberg",)),
    Circuit("Silverstone Circuit", "Europe/London", 52.072, -1.017, ("Silverstone",)),
    Circuit("Hungaroring", "Europe/Budapest", 47.583, 19.250, ("Budapest", "Hungaroring")),
    Circuit("Circuit de Spa-Francorchamps", "Europe/Brussels", 50.436, 5.971, ("Spa-Francorchamps", "Spa")),
    Circuit("Circuit Zandvoort", "Europe/Amsterdam", 52.389, 4.541, ("Zandvoort",)),
    Circuit("Autodromo Nazionale Monza", "Europe/Rome", 45.621, 9.290, ("Monza",)),
    Circuit("Baku City Circuit", "Asia/Baku", 40.369, 49.842, ("Baku",)),
    Circuit("Marina Bay Street Circuit", "Asia/Singapore", 1.291, 103.859, ("Marina Bay", "Singapore")),
    Circuit("Circuit of the Americas", "America/Chicago", 30.135, -97.633, ("Austin",)),
    Circuit("Autódromo Hermanos Rodríguez", "America/Mexico_City", 19.402, -99.091, ("Mexico City",)),
    Circuit("Interlagos", "America/Sao_Paulo", -23.702, -46.698, ("São Paulo", "Interlagos")),
    Circuit("Las Vegas Strip Circuit", "America/Los_Angeles", 36.116, -115.168, ("Las Vegas",)),
    Circuit("Lusail International Circuit", "Asia/Qatar", 25.490, 51.454, ("Lusail", "Doha")),
    Circuit("Yas Marina Circuit", "Asia/Dubai", 24.471, 54.601, ("Yas Marina", "Yas Island", "Abu Dhabi")),
    Circuit("Hockenheimring", "Europe/Berlin", 49.330, 8.572, ("Hockenheim",)),
    Circuit("Circuit Paul Ricard", "Europe/Paris", 43.253, 5.791, ("Le Castellet", "Paul Ricard")),
    Circuit("Istanbul Park", "Europe/Istanbul", 40.958, 29.412, ("Istanbul",)),
    Circuit("Sochi Autodrom", "Europe/Moscow", 43.407, 39.960, ("Sochi",)),
    Circuit("Mugello", "Europe/Rome", 43.998, 11.372, ("Mugello", "Scarperia e San Piero")),
    Circuit("Nürburgring", "Europe/Berlin", 50.334, 6.943, ("Nürburgring", "Nürburg")),
    Circuit("Autódromo Internacional do Algarve", "Europe/Lisbon", 37.232, -8.628, ("Portimão", "Algarve")),
    Circuit("Sepang International Circuit", "Asia/Kuala_Lumpur", 2.761, 101.738, ("Sepang", "Kuala Lumpur")),
)

# Countries with one zone on the mainland, for a place the table does not know (f1schedule names
# some testing venues by country, e.g. location "Spain").
COUNTRY_ZONES: dict[str, str] = {
    "austria": "Europe/Vienna",
    "bahrain": "Asia/Bahrain",
    "belgium": "Europe/Brussels",
    "france": "Europe/Paris",
    "germany": "Europe/Berlin",
    "hungary": "Europe/Budapest",
    "italy": "Europe/Rome",
    "japan": "Asia/Tokyo",
    "monaco": "Europe/Monaco",
    "netherlands": "Europe/Amsterdam",
    "qatar": "Asia/Qatar",
    "saudi_arabia": "Asia/Riyadh",
    "singapore": "Asia/Singapore",
    "spain": "Europe/Madrid",
    "united_kingdom": "Europe/London",
    "great_britain": "Europe/London",
    "united_arab_emirates": "Asia/Dubai",
    "abu_dhabi": "Asia/Dubai",
    "azerbaijan": "Asia/Baku",
    "china": "Asia/Shanghai",
}

_BY_PLACE: dict[str, Circuit] = {slug(place): c for c in CIRCUITS for place in c.places}
EARTH_RADIUS_KM = 6371.0


def circuit_for(location: str | None) -> Circuit | None:
    """The circuit a place name denotes (accents and case ignored), or ``None``."""
    return _BY_PLACE.get(slug(location)) if location else None


def zone_for(location: str | None, country: str | None = None, gmt_offset: str | None = None) -> str | None:
    """The IANA zone of a circuit: by place, else by a single-zone country, else a fixed zone.

    The last resort turns a whole-hour ``gmt_offset`` (``"+08:00"``) into ``Etc/GMT-8`` (POSIX
    sign: ``Etc/GMT-8`` is UTC+8), which is right for that weekend but knows no daylight saving;
    ``None`` when nothing fits.
    """
    circuit = circuit_for(location)
    if circuit is not None:
        return circuit.zone
    if country and slug(country) in COUNTRY_ZONES:
        return COUNTRY_ZONES[slug(country)]
    if gmt_offset:
        offset = parse_gmt_offset(gmt_offset)
        hours, rest = divmod(int(offset.total_seconds()), 3600)
        if rest == 0:
            return "Etc/UTC" if hours == 0 else f"Etc/GMT{-hours:+d}"
    return None


def parse_gmt_offset(text: str) -> timedelta:
    """A UTC offset as f1schedule (``"+08:00"``) or OpenF1 (``"08:00:00"``, ``"-04:00:00"``) writes it."""
    sign = -1 if text.startswith("-") else 1
    parts = [int(p) for p in text.lstrip("+-").split(":")]
    hours, minutes, seconds = [*parts, 0, 0][:3]
    return sign * timedelta(hours=hours, minutes=minutes, seconds=seconds)


def format_offset(offset: timedelta) -> str:
    """``timedelta(hours=-4)`` -> ``"-04:00"`` (the form stored in ``gmt_offset``)."""
    total = int(offset.total_seconds()) // 60
    sign = "-" if total < 0 else "+"
    hours, minutes = divmod(abs(total), 60)
    return f"{sign}{hours:02d}:{minutes:02d}"


def offset_at(zone: str, utc: datetime) -> timedelta:
    """The zone's offset from UTC at the aware instant ``utc``."""
    offset = utc.astimezone(ZoneInfo(zone)).utcoffset()
    assert offset is not None  # an aware datetime in a ZoneInfo always has one
    return offset


def distance_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance in kilometres between two points given in degrees."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(math.sqrt(h))
