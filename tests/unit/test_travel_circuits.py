"""Circuit catalogue, circuit facts and circuit history over the real reference data (history
tables, layouts, MultiViewer corners); asserted values are public facts about those circuits."""

from __future__ import annotations

from pathlib import Path

import pytest

from shared.timing.models import Lap
from shared.travel.history import circuit_history, stint_compounds
from shared.travel.info import circuit_info
from shared.travel.reference import Reference, load_reference

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"
pytestmark = pytest.mark.skipif(not DATA.is_dir(), reason="recorded data folder not present")


@pytest.fixture(scope="module")
def ref() -> Reference:
    return load_reference(DATA.resolve())


def test_catalogue_joins_ids_zones_places_and_layouts(ref: Reference) -> None:
    cat = ref.catalogue
    assert cat.for_location("Miami Gardens") is cat.get("miami")
    assert cat.for_location("São Paulo") is cat.get("interlagos")
    assert cat.get("americas").time_zone == "America/Chicago"  # type: ignore[union-attr]
    assert cat.get("vegas").layout.layout_id == "us-2023"  # type: ignore[union-attr]
    assert cat.get("las_vegas").layout is None  # type: ignore[union-attr]  # Caesars Palace, 1981-82
    assert cat.get("madrid").history_id is None  # type: ignore[union-attr]  # new for 2026
    # every circuit on the schedule's zone table is in the catalogue, with its places
    assert all(
        e.places
        for e in cat.all()
        if e.layout and e.time_zone and e.history_id and e.circuit_id != "magny_cours"
    )


def test_monza_facts(ref: Reference) -> None:
    info = circuit_info(ref.catalogue.get("monza"), ref.history)  # type: ignore[arg-type]
    assert (info.time_zone, info.length_m, info.race_laps, info.corners) == ("Europe/Rome", 5793, 53, 11)
    assert info.race_distance_km == pytest.approx(307.029)
    assert info.first_gp == 1950 and info.layout and info.layout["type"] == "FeatureCollection"


def test_baku_history_from_the_tables(ref: Reference) -> None:
    entry = ref.catalogue.get("baku")
    assert entry is not None
    hist = circuit_history(ref.history, circuit_id="baku", history_id=entry.history_id, name=entry.name,
                           strategies={2018: ["ULTRASOFT", "SUPERSOFT"]})  # fmt: skip
    assert (hist.races, hist.first_year, hist.last_year) == (7, 2016, 2023)  # no race in 2020
    by_year = {w.year: w for w in hist.winners}
    assert by_year[2017].driver == "Daniel Ricciardo" and by_year[2017].grid == 10
    assert by_year[2018].driver_code == "HAM" and by_year[2018].compounds == ["ULTRASOFT", "SUPERSOFT"]
    assert (hist.pole_wins.count, hist.pole_wins.races) == (2, 7)  # Rosberg 2016, Bottas 2019
    assert hist.winning_stops and sum(hist.winning_stops.values()) == 7
    # Safety cars in 2017, 2018, 2021 and 2023 (2019 and 2022 had virtual ones only).
    assert (hist.safety_car_races.races, hist.safety_car_races.count) == (7, 4)
    assert hist.red_flag_races.count >= 2  # 2017 and 2021 were stopped
    assert hist.overtakes_per_race is None and hist.overtakes_recorded_races == 0
    assert hist.typical_race_minutes is not None and 85 < hist.typical_race_minutes < 130
    assert hist.winners[0].year == 2023


def test_stint_compounds() -> None:
    def lap(n: int, compound: str | None, stint: int | None) -> Lap:
        return Lap(session_id="s", driver_number="44", lap_number=n, compound=compound, stint=stint)

    laps = [lap(3, "SOFT", 1), lap(1, "SOFT", 1), lap(2, None, 1), lap(4, "HARD", 2), lap(5, "HARD", 2)]
    assert stint_compounds(laps) == ["SOFT", "HARD"]
    assert stint_compounds([lap(1, "MEDIUM", None), lap(2, "HARD", None)]) == ["MEDIUM", "HARD"]
