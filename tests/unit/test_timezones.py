"""Circuit time zones: every f1schedule session of 2018-2026 against its published ``gmt_offset``.

For each session the IANA zone of its circuit (``shared.schedule.circuits``) must give, at the
session's local start, exactly the offset F1 published for the weekend: a wrong zone, a missing
daylight-saving rule or a mistyped place fails here.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from shared.schedule.circuits import (
    CIRCUITS,
    circuit_for,
    distance_km,
    format_offset,
    offset_at,
    parse_gmt_offset,
    zone_for,
)

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"
needs_data = pytest.mark.skipif(not DATA.is_dir(), reason="recorded data folder not present")
YEARS = range(2018, 2027)


def _events(year: int) -> list[tuple[str, str, str, list[datetime]]]:
    """(location, country, gmt_offset, local session starts) of every event in the year's feed."""
    feed = json.loads((DATA / "f1schedule" / f"schedule_{year}.json").read_text())
    out = []
    for row in feed["event_name"]:
        starts = [
            datetime.fromisoformat(local).replace(tzinfo=None)
            for slot in range(1, 6)
            if (local := (feed.get(f"session{slot}_date") or {}).get(row))
        ]
        out.append((feed["location"][row], feed["country"][row], feed["gmt_offset"][row], starts))
    return out


def _utc(local: datetime, zone: str) -> datetime:
    return local.replace(tzinfo=ZoneInfo(zone)).astimezone(UTC)


@needs_data
@pytest.mark.parametrize("year", YEARS)
def test_zone_offset_equals_every_published_gmt_offset(year: int) -> None:
    """f1schedule publishes one offset per event, the one of race day: the zone must give it at
    the last session; an earlier session may differ only across a daylight-saving change that
    falls within the weekend (then the zone is right and the single offset is not, see below)."""
    wrong = []
    for location, country, gmt_offset, starts in _events(year):
        zone = zone_for(location, country)
        assert zone is not None and not zone.startswith("Etc/"), (location, country)
        last = max(starts)
        if format_offset(offset_at(zone, _utc(last, zone))) != gmt_offset:
            wrong.append((location, zone, last.isoformat(), gmt_offset))
        for local in starts:
            if offset_at(zone, _utc(local, zone)) != offset_at(zone, _utc(last, zone)):
                # only a real transition between this session and race day
                assert ZoneInfo(zone).utcoffset(local) != ZoneInfo(zone).utcoffset(last)
    assert wrong == []


@needs_data
@pytest.mark.parametrize(
    ("year", "location", "fp1_utc"),
    [
        (2018, "Mexico City", "2018-10-26T15:00:00+00:00"),
        (2019, "Mexico City", "2019-10-25T15:00:00+00:00"),
        (2022, "Mexico City", "2022-10-28T18:00:00+00:00"),
        (2023, "Melbourne", "2023-03-31T01:30:00+00:00"),
    ],
)
def test_weekends_across_a_dst_change_take_utc_from_the_zone(year: int, location: str, fp1_utc: str) -> None:
    """Friday before a DST change: the zone, not the race-day offset, gives the UTC start that an
    independent calendar (sportstimes ``calendars/f1``, in UTC) publishes."""
    event = next(e for e in _events(year) if e[0] == location)
    zone = zone_for(location)
    assert zone is not None
    fp1 = min(event[3])
    assert _utc(fp1, zone).isoformat() == fp1_utc
    naive_utc = (fp1 - parse_gmt_offset(event[2])).replace(tzinfo=UTC)
    assert naive_utc != _utc(fp1, zone)  # the single published offset is an hour off here
    f1 = json.loads((DATA / "calendars" / "f1" / f"{year}.json").read_text())
    race = next(r for r in f1["races"] if r["location"] == location)
    assert datetime.fromisoformat(race["sessions"]["fp1"].replace("Z", "+00:00")) == _utc(fp1, zone)


@needs_data
def test_every_supporting_calendar_event_is_near_a_known_circuit() -> None:
    """F2, F3, F1 Academy events with coordinates (some have 0, 0: unknown) lie at a circuit of the
    table (Yas Marina and Sochi are given by town, 26 and 31 km away)."""
    far = []
    paths = [
        p for series in ("f2", "f3", "f1-academy") for p in (DATA / "calendars" / series).glob("2*.json")
    ]
    assert len(paths) >= 14
    for path in sorted(paths):
        for race in json.loads(path.read_text())["races"]:
            if (race["latitude"], race["longitude"]) == (0, 0):
                continue
            nearest = min(distance_km(race["latitude"], race["longitude"], c.lat, c.lon) for c in CIRCUITS)
            if nearest > 60:
                far.append((path.parent.name, path.stem, race["location"], round(nearest)))
    assert far == []


@needs_data
def test_table_coordinates_agree_with_the_circuit_reference_data() -> None:
    ref = json.loads((DATA / "circuits" / "f1-locations.json").read_text())
    checked = 0
    for item in ref:
        circuit = circuit_for(item["location"])
        if circuit is not None:
            assert distance_km(circuit.lat, circuit.lon, item["lat"], item["lon"]) < 5, item["name"]
            checked += 1
    assert checked >= 25


def test_places_and_fallbacks() -> None:
    assert zone_for("Marina Bay") == zone_for("singapore") == "Asia/Singapore"
    assert zone_for("Montréal") == zone_for("MONTREAL") == "America/Toronto"
    assert zone_for("Nowhere", "Spain") == "Europe/Madrid"
    assert zone_for("Nowhere", "Atlantis", "+08:00") == "Etc/GMT-8"
    assert zone_for("Nowhere", None, "-05:00") == "Etc/GMT+5"
    assert zone_for("Nowhere", None, "00:00:00") == "Etc/UTC"
    assert zone_for("Nowhere", None, "+05:30") is None
    assert zone_for(None) is None
    assert parse_gmt_offset("08:00:00") == timedelta(hours=8)
    assert parse_gmt_offset("-04:00:00") == timedelta(hours=-4)
    assert parse_gmt_offset("+05:30") == timedelta(hours=5, minutes=30)
    assert format_offset(timedelta(hours=-3, minutes=-30)) == "-03:30"
    assert round(distance_km(0, 0, 0, 1)) == 111


def test_every_zone_exists_in_the_time_zone_database() -> None:
    for circuit in CIRCUITS:
        ZoneInfo(circuit.zone)
